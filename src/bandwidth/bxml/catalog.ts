import fs from 'node:fs';
import path from 'node:path';
import { SwitchboardError } from '../../errors';
import { VERBS_FORBIDDEN_ON_TRANSFER_ANSWER } from './verbs';
import { BxmlTemplate, TemplateError, type FieldSpec, type TemplateSpec, type TemplateView } from './template';

/**
 * The templates Switchboard answers with, one per situation (DESIGN §4.2), and the placeholders each
 * may use. Start-up renders every template with the sample views below and refuses to start on any
 * problem, so a typo is found by the operator at deploy time and never by a caller.
 */
export const TEMPLATE_NAMES = [
  'stream',
  'stream-pause',
  'forward-sip',
  'transfer-sip',
  'transfer-phone',
  'whisper',
  'fallback',
  'reject',
  'hangup',
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

const value = 'value' as const;

/** Fields every template may use. */
const COMMON_FIELDS = {
  callId: value,
  agentId: value,
  agentName: value,
  from: value,
  to: value,
  callbackBaseUrl: value,
  callbackUsername: value,
  callbackPassword: value,
  speakVoice: value,
} satisfies Record<string, FieldSpec>;

const STREAM_FIELDS = {
  ...COMMON_FIELDS,
  streamName: value,
  tracks: value,
  mediaUrl: value,
  mediaUsername: value,
  mediaPassword: value,
  streamEventsUrl: value,
  streamEndedUrl: value,
  /** Set when the agent listens for key presses: `<StartGather>` beside the stream. */
  dtmfUrl: value,
} satisfies Record<string, FieldSpec>;

const TRANSFER_FIELDS = {
  ...COMMON_FIELDS,
  streamName: value,
  target: value,
  uui: value,
  transferCallerId: value,
  callTimeout: value,
  holdMessage: value,
  tag: value,
  diversionTreatment: value,
  diversionReason: value,
  transferCompleteUrl: value,
  transferAnswerUrl: value,
  transferDisconnectUrl: value,
} satisfies Record<string, FieldSpec>;

const FORWARD_FIELDS = {
  ...COMMON_FIELDS,
  sipTarget: value,
  forwardFrom: value,
  callTimeout: value,
  diversionTreatment: value,
  diversionReason: value,
  uui: value,
} satisfies Record<string, FieldSpec>;

const WHISPER_FIELDS = { ...COMMON_FIELDS, caller: value, reason: value, summary: value } satisfies Record<string, FieldSpec>;

const FALLBACK_FIELDS = {
  ...COMMON_FIELDS,
  message: value,
  hasTransfer: value,
  transferPhone: value,
  transferSip: value,
  transferCallerId: value,
  callTimeout: value,
  transferCompleteUrl: value,
  transferAnswerUrl: value,
  transferDisconnectUrl: value,
} satisfies Record<string, FieldSpec>;

const HANGUP_FIELDS = { ...COMMON_FIELDS, message: value } satisfies Record<string, FieldSpec>;

/** Views per template: what the code passes in, typed from the field lists above. */
type ViewOf<F> = { [K in keyof F]?: string | number | boolean | undefined };
export type CommonView = ViewOf<typeof COMMON_FIELDS>;
export type StreamView = ViewOf<typeof STREAM_FIELDS>;
export type TransferView = ViewOf<typeof TRANSFER_FIELDS>;
export type ForwardView = ViewOf<typeof FORWARD_FIELDS>;
export type WhisperView = ViewOf<typeof WHISPER_FIELDS>;
export type FallbackView = ViewOf<typeof FALLBACK_FIELDS>;
export type HangupView = ViewOf<typeof HANGUP_FIELDS>;

export interface TemplateViews {
  stream: StreamView;
  'stream-pause': StreamView;
  'forward-sip': ForwardView;
  'transfer-sip': TransferView;
  'transfer-phone': TransferView;
  whisper: WhisperView;
  fallback: FallbackView;
  reject: CommonView;
  hangup: HangupView;
}

const sampleCommon: CommonView = {
  callId: 'c-6f2a91d4-8b3c17e0-4a5d-4c1e-9f7b-2d6e8a0c4b13',
  agentId: 'default',
  agentName: 'Front desk & "support"',
  from: '+19195550142',
  to: '+19195550100',
  callbackBaseUrl: 'https://switchboard.example.com/bandwidth/voice',
  callbackUsername: 'bw-callbacks',
  callbackPassword: 's3cr3t<&>"Pass',
  speakVoice: 'julie',
};
const sampleTransferUrls = {
  transferCompleteUrl: 'https://switchboard.example.com/bandwidth/voice/transfer-complete?t=abc.def',
  transferAnswerUrl: 'https://switchboard.example.com/bandwidth/voice/transfer-answer?t=abc.def',
  transferDisconnectUrl: 'https://switchboard.example.com/bandwidth/voice/transfer-disconnect?t=abc.def',
};

const streamSample: StreamView = {
  ...sampleCommon,
  streamName: 'ai-agent',
  tracks: 'inbound',
  mediaUrl: 'wss://switchboard.example.com/media/abc.def',
  mediaUsername: 'bw-media',
  mediaPassword: 'Med1a-WS-Pass',
  streamEventsUrl: 'https://switchboard.example.com/bandwidth/voice/stream-events',
  streamEndedUrl: 'https://switchboard.example.com/bandwidth/voice/stream-ended?t=abc.def',
};
const streamSampleWithKeys: StreamView = { ...streamSample, dtmfUrl: 'https://switchboard.example.com/bandwidth/voice/dtmf' };
/** A transfer with only the fields Switchboard always supplies; the optional ones are absent. */
const transferSample = (target: string): TransferView => ({
  ...sampleCommon,
  ...sampleTransferUrls,
  streamName: 'ai-agent',
  target,
  transferCallerId: '+19195550142',
  callTimeout: 30,
  tag: 'sb:transfer',
});
const transferSampleFull = (target: string): TransferView => ({
  ...transferSample(target),
  uui: 'c2I9Yy0xMjM;encoding=base64',
  holdMessage: 'Please hold while I connect you.',
  diversionTreatment: 'stack',
  diversionReason: 'unconditional',
});

/** The same view as an outbound call renders it: Switchboard never passes diversion for one (BW §2.5). */
function asOutbound(view: TemplateView): TemplateView {
  const { diversionTreatment: _t, diversionReason: _r, ...rest } = view;
  return rest;
}

/**
 * Templates that answer outbound calls too are also checked as for an outbound call; only forward-sip
 * is inbound-only (an outbound SIP-mode call is answered with transfer-sip, BW §2.4).
 */
const INBOUND_ONLY_TEMPLATES: readonly TemplateName[] = ['forward-sip'];

const BASE_SPECS: Record<TemplateName, TemplateSpec> = {
  stream: {
    fields: STREAM_FIELDS,
    requiredFields: ['mediaUrl', 'mediaUsername', 'mediaPassword'],
    samples: [streamSampleWithKeys, streamSample],
  },
  'stream-pause': {
    fields: STREAM_FIELDS,
    requiredFields: ['mediaUrl', 'mediaUsername', 'mediaPassword'],
    samples: [streamSampleWithKeys, streamSample],
  },
  'forward-sip': {
    fields: FORWARD_FIELDS,
    requiredFields: ['sipTarget'],
    samples: [
      {
        ...sampleCommon,
        sipTarget: 'sip:proj_abc@sip.api.openai.com;transport=tls',
        forwardFrom: '+19195550100',
        callTimeout: 30,
        diversionTreatment: 'stack',
        diversionReason: 'unconditional',
        uui: 'c2I9Yy0xMjM;encoding=base64',
      },
      { ...sampleCommon, sipTarget: 'sip:agent@example.com', forwardFrom: '+19195550100', callTimeout: 30 },
    ],
  },
  'transfer-sip': {
    fields: TRANSFER_FIELDS,
    requiredFields: ['target', 'transferCompleteUrl'],
    samples: [transferSampleFull('sip:agent@example.com'), transferSample('sip:agent@example.com')],
  },
  'transfer-phone': {
    fields: TRANSFER_FIELDS,
    requiredFields: ['target', 'transferCompleteUrl'],
    samples: [transferSampleFull('+19195550177'), transferSample('+19195550177')],
  },
  whisper: {
    fields: WHISPER_FIELDS,
    samples: [
      { ...sampleCommon, caller: '+1 919 555 0142', reason: 'billing question', summary: 'Wants to change the card on file.' },
      { ...sampleCommon },
    ],
    forbiddenVerbs: VERBS_FORBIDDEN_ON_TRANSFER_ANSWER,
  },
  fallback: {
    fields: FALLBACK_FIELDS,
    samples: [
      { ...sampleCommon, ...sampleTransferUrls, message: 'Sorry, please hold.', hasTransfer: true, transferPhone: '+19195550177', transferCallerId: '+19195550142', callTimeout: 30 },
      { ...sampleCommon, ...sampleTransferUrls, message: 'Sorry, please hold.', hasTransfer: true, transferSip: 'sip:desk@pbx.example.com', transferCallerId: '+19195550142', callTimeout: 30 },
      { ...sampleCommon, message: 'Sorry, our assistant is unavailable right now.' },
    ],
  },
  reject: { fields: COMMON_FIELDS, samples: [sampleCommon] },
  hangup: { fields: HANGUP_FIELDS, samples: [{ ...sampleCommon, message: 'Goodbye.' }, sampleCommon] },
};

export const TEMPLATE_SPECS = Object.fromEntries(
  TEMPLATE_NAMES.map((name) => {
    const spec = BASE_SPECS[name];
    return [name, INBOUND_ONLY_TEMPLATES.includes(name) ? spec : { ...spec, outboundSamples: spec.samples.map(asOutbound) }];
  }),
) as Record<TemplateName, TemplateSpec>;

/** All templates, loaded and checked. Immutable once built: a new set is built to reload. */
export class TemplateCatalog {
  private constructor(
    readonly dir: string,
    private readonly templates: Map<TemplateName, BxmlTemplate>,
  ) {}

  /** Load every template from `dir`. Throws one error listing every file and line that is wrong. */
  static load(dir: string): TemplateCatalog {
    const templates = new Map<TemplateName, BxmlTemplate>();
    const failures: string[] = [];
    for (const name of TEMPLATE_NAMES) {
      const file = path.join(dir, `${name}.xml`);
      let source: string;
      try {
        source = fs.readFileSync(file, 'utf8');
      } catch {
        failures.push(`${file}: missing (every template in ${TEMPLATE_NAMES.join(', ')} is required)`);
        continue;
      }
      try {
        templates.set(name, BxmlTemplate.compile(name, file, source, TEMPLATE_SPECS[name]));
      } catch (err) {
        if (err instanceof TemplateError) failures.push(err.message);
        else throw err;
      }
    }
    const known = new Set(TEMPLATE_NAMES.map((n) => `${n}.xml`));
    for (const extra of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (extra.endsWith('.xml') && !known.has(extra)) failures.push(`${path.join(dir, extra)}: not a known template (expected one of ${[...known].join(', ')})`);
    }
    if (failures.length > 0) {
      throw new SwitchboardError('template_invalid', `BXML templates in ${dir} are invalid:\n${failures.join('\n')}`);
    }
    return new TemplateCatalog(dir, templates);
  }

  render<N extends TemplateName>(name: N, view: TemplateViews[N]): string {
    return this.templates.get(name)!.render(view as TemplateView);
  }
}
