/**
 * What a BXML document may contain: each verb's attributes, required attributes and children.
 * Attribute sets follow bandwidth-sdk 8.1.4's verb attribute interfaces plus the attributes the current
 * dev.bandwidth.com pages add (BW §2.4 Forward `privacy`/`callerDisplayName`, §2.5 Transfer `privacy`).
 */
export interface VerbSpec {
  attributes: readonly string[];
  required?: readonly string[];
  /** Element children allowed; `text` allows character data; `ssml` allows SpeakSentence markup. */
  children?: readonly string[];
  text?: 'required' | 'optional' | 'ssml';
  /** Min/max element children (Transfer: 1 to 8 recipients, BW §2.5; StartStream: at most 12 params, §2.2). */
  minChildren?: number;
  maxChildren?: number;
}

const callbackAuth = ['username', 'password', 'fallbackUsername', 'fallbackPassword'] as const;
const transferRecipient = [
  'transferAnswerUrl',
  'transferAnswerMethod',
  'transferAnswerFallbackUrl',
  'transferAnswerFallbackMethod',
  'transferDisconnectUrl',
  'transferDisconnectMethod',
  ...callbackAuth,
  'tag',
  'uui',
] as const;

export const ROOT_ELEMENTS = ['Response', 'Bxml'] as const;

export const TOP_LEVEL_VERBS = [
  'Bridge',
  'Conference',
  'Forward',
  'Gather',
  'Hangup',
  'Pause',
  'PauseRecording',
  'PlayAudio',
  'Record',
  'Redirect',
  'ResumeRecording',
  'Ring',
  'SendDtmf',
  'SpeakSentence',
  'StartGather',
  'StartRecording',
  'StartStream',
  'StartTranscription',
  'StopGather',
  'StopRecording',
  'StopStream',
  'StopTranscription',
  'Tag',
  'Transfer',
] as const;

/** SSML elements Bandwidth accepts inside SpeakSentence (BW §2.6). */
export const SSML_ELEMENTS = ['break', 'emphasis', 'lang', 'p', 'phoneme', 'prosody', 's', 'say-as', 'sub', 'speak'] as const;

export const VERBS: Record<string, VerbSpec> = {
  Response: { attributes: [], children: TOP_LEVEL_VERBS },
  Bxml: { attributes: [], children: TOP_LEVEL_VERBS },
  Bridge: {
    attributes: [
      'bridgeCompleteUrl', 'bridgeCompleteMethod', 'bridgeCompleteFallbackUrl', 'bridgeCompleteFallbackMethod',
      'bridgeTargetCompleteUrl', 'bridgeTargetCompleteMethod', 'bridgeTargetCompleteFallbackUrl', 'bridgeTargetCompleteFallbackMethod',
      ...callbackAuth, 'tag',
    ],
    text: 'required',
  },
  Conference: {
    attributes: [
      'mute', 'hold', 'callIdsToCoach', 'conferenceEventUrl', 'conferenceEventMethod', 'conferenceEventFallbackUrl',
      'conferenceEventFallbackMethod', ...callbackAuth, 'tag', 'callbackTimeout',
    ],
    text: 'required',
  },
  Forward: {
    attributes: ['to', 'from', 'callTimeout', 'diversionTreatment', 'diversionReason', 'uui', 'privacy', 'callerDisplayName'],
    required: ['to'],
  },
  Gather: {
    attributes: [
      'gatherUrl', 'gatherMethod', 'gatherFallbackUrl', 'gatherFallbackMethod', ...callbackAuth, 'tag', 'terminatingDigits',
      'maxDigits', 'interDigitTimeout', 'firstDigitTimeout', 'repeatCount',
    ],
    children: ['SpeakSentence', 'PlayAudio'],
  },
  Hangup: { attributes: [] },
  Pause: { attributes: ['duration'] },
  PauseRecording: { attributes: [] },
  PlayAudio: { attributes: ['username', 'password'], text: 'required' },
  Record: {
    attributes: [
      'recordCompleteUrl', 'recordCompleteMethod', 'recordCompleteFallbackUrl', 'recordCompleteFallbackMethod',
      'recordingAvailableUrl', 'recordingAvailableMethod', 'transcribe', 'transcriptionAvailableUrl', 'transcriptionAvailableMethod',
      ...callbackAuth, 'tag', 'terminatingDigits', 'maxDuration', 'silenceTimeout', 'fileFormat',
    ],
  },
  Redirect: {
    attributes: ['redirectUrl', 'redirectMethod', 'redirectFallbackUrl', 'redirectFallbackMethod', ...callbackAuth, 'tag'],
    required: ['redirectUrl'],
  },
  ResumeRecording: { attributes: [] },
  Ring: { attributes: ['duration', 'answerCall'] },
  SendDtmf: { attributes: ['toneDuration', 'toneInterval'], text: 'required' },
  SpeakSentence: { attributes: ['voice', 'gender', 'locale'], text: 'ssml', children: SSML_ELEMENTS },
  StartGather: { attributes: ['dtmfUrl', 'dtmfMethod', 'username', 'password', 'tag'] },
  StartRecording: {
    attributes: [
      'recordingAvailableUrl', 'recordingAvailableMethod', 'transcribe', 'transcriptionAvailableUrl',
      'transcriptionAvailableMethod', 'username', 'password', 'tag', 'fileFormat', 'multiChannel',
    ],
  },
  StartStream: {
    attributes: [
      'name', 'mode', 'tracks', 'destination', 'destinationUsername', 'destinationPassword', 'streamEventUrl',
      'streamEventMethod', 'username', 'password',
    ],
    required: ['destination'],
    children: ['StreamParam'],
    maxChildren: 12,
  },
  StreamParam: { attributes: ['name', 'value'], required: ['name', 'value'] },
  StartTranscription: {
    attributes: ['name', 'tracks', 'transcriptionEventUrl', 'transcriptionEventMethod', 'username', 'password', 'destination', 'stabilized'],
    children: ['CustomParam'],
  },
  CustomParam: { attributes: ['name', 'value'], required: ['name', 'value'] },
  StopGather: { attributes: [] },
  StopRecording: { attributes: [] },
  StopStream: { attributes: ['name', 'wait'], required: ['name'] },
  StopTranscription: { attributes: ['name'] },
  Tag: { attributes: [], text: 'optional' },
  Transfer: {
    attributes: [
      'transferCallerId', 'transferCallerDisplayName', 'callTimeout', 'transferCompleteUrl', 'transferCompleteMethod',
      'transferCompleteFallbackUrl', 'transferCompleteFallbackMethod', ...callbackAuth, 'tag', 'diversionTreatment',
      'diversionReason', 'privacy',
    ],
    children: ['PhoneNumber', 'SipUri'],
    minChildren: 1,
    maxChildren: 8,
  },
  PhoneNumber: { attributes: transferRecipient, text: 'required' },
  SipUri: { attributes: transferRecipient, text: 'required' },
};

/**
 * BW §1.3: BXML answering transferAnswer runs on the human's leg before bridging; these verbs are
 * forbidden there.
 */
export const VERBS_FORBIDDEN_ON_TRANSFER_ANSWER = ['Bridge', 'Conference', 'Forward', 'Transfer'] as const;

/** Attributes that name a URL Bandwidth will call back (and so need credentials beside them, BW §1.8). */
export function isCallbackUrlAttribute(attribute: string): boolean {
  return /Url$/.test(attribute) && attribute !== 'destination';
}
export function isFallbackUrlAttribute(attribute: string): boolean {
  return /FallbackUrl$/.test(attribute);
}

/**
 * What only an inbound call may carry, and why (refused in templates that also answer outbound calls).
 * BW §2.4: `<Forward>` forwards an unanswered inbound call only. BW §2.5: `diversionTreatment` (and so
 * `diversionReason`) must not be used when transferring an outbound API call.
 */
export const INBOUND_ONLY_VERBS: Readonly<Record<string, string>> = {
  Forward: '<Forward> only forwards an unanswered inbound call (BW §2.4); use <Transfer>',
};
export const INBOUND_ONLY_ATTRIBUTES: Readonly<Record<string, string>> = {
  diversionTreatment: 'diversionTreatment must not be used when transferring an outbound call (BW §2.5)',
  diversionReason: 'diversionReason must not be used when transferring an outbound call (BW §2.5)',
};
