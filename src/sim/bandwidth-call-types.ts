/**
 * The public types of the Bandwidth caller stand-in (src/sim/bandwidth-caller.ts; what it models:
 * docs/simulator.md): its options, what it records, how a call ends, and the Calls API errors it raises.
 */
import type { XmlElement } from '../bandwidth/bxml/xml';
import type { Clock } from '../clock';
import type { AudioSource } from './bandwidth-audio';
import type { TransferScriptFn } from './bandwidth-transfer';
import type { CallbackAuth, CallbackAuthMode } from './callback-delivery';
import type { CalleeModel } from './bandwidth-machine-detection';

export interface SimulatedCallOptions {
  /** Switchboard's base URL, e.g. http://127.0.0.1:PORT. */
  baseUrl: string;
  /** The Voice application's CallbackCreds (initiate and disconnect). Omit to send no Authorization. */
  callbackAuth?: CallbackAuth;
  /**
   * How every callback presents its credentials (BW §1.8). Default 'challenge', as Bandwidth does: first
   * without Authorization, then again with it only after a 401 carrying `WWW-Authenticate: Basic`
   * (no such header: not retried, the callback failed). 'upfront': credentials on the first request.
   */
  callbackAuthMode?: CallbackAuthMode;
  /** Default systemClock. */
  clock?: Clock;
  /** Caller (E.164). Default +19195550142. */
  from?: string;
  /** Called number (E.164). Default +19195550100. */
  to?: string;
  /** Default: a fresh `c-xxxxxxxx-<uuid>`. */
  callId?: string;
  accountId?: string;
  applicationId?: string;
  /** What the caller says; times are ms after the media stream starts. Default: silence. */
  audio?: AudioSource;
  /**
   * Playback (a whole-call replay): the clock ms at which each inbound media frame of the call goes out, the
   * recorded ones in order. Frame g then carries bytes [160g, 160g + 160) of `audio`'s timeline, and no
   * inbound frame goes out after the last. Default: one frame per 20 ms beat while a stream is up.
   */
  inboundFrameAtMs?: readonly number[];
  /** Carrier buffering: queued playAudio audio cannot be heard earlier than this after it arrived. Default 20. */
  playoutLatencyMs?: number;
  /**
   * The carrier's jitter buffer: audio that reaches an empty carrier (nothing queued, nothing playing)
   * starts playing this much later again (on top of `playoutLatencyMs`). Default 0.
   */
  jitterBufferMs?: number;
  /** Clock ms between StartStream running and the media socket opening (Bandwidth's stream setup). Default 0. */
  streamSetupMs?: number;
  /** Default `${baseUrl}/bandwidth/voice/initiate` (CallInitiatedCallbackUrl). */
  initiateUrl?: string;
  /** Default `${baseUrl}/bandwidth/voice/status` (CallStatusCallbackUrl; an outbound call's disconnectUrl). */
  statusUrl?: string;
  /**
   * Make this an outbound call placed with createCall (BW §1.2, §1.3): `dial()` then delivers `answer`
   * to this URL (createCall's answerUrl, with its signed query as given) instead of `initiate`; the
   * callee has answered, `direction` is `outbound`. Send `from`/`to` as createCall's.
   */
  answerUrl?: string;
  /**
   * Outbound calls: createCall's `machineDetection` as it was sent (bandwidth.yml MachineDetectionConfiguration).
   * In async mode the stand-in sends `machineDetectionComplete` to its callbackUrl (bandwidth-machine-detection.ts).
   */
  machineDetection?: Record<string, unknown>;
  /** Outbound calls: who answered, as machine detection finds it (default: a person, decided after 2 s). */
  callee?: CalleeModel;
  /** createCall's `tag`: sent on every callback until BXML changes it (BW §1.9). */
  tag?: string;
  /** Wall-clock time (ms since 1970) the clock's current reading maps to, for eventTime etc. Default Date.now(). */
  epochMs?: number;
  /** Extra initiate fields (diversion, stirShaken, uui, …); `privacy`/`callerDisplayName` default false/"". */
  initiateExtras?: Record<string, unknown>;
  /** Real-time limit for each callback (Bandwidth waits 15 s, BW §1.7). Default 15000. */
  callbackTimeoutMs?: number;
  /** Real-time limit for the WebSocket opening handshake. Default 5000. */
  connectTimeoutMs?: number;
  /** Where `eventType` goes in frames Bandwidth sends. Default 'last' (the live capture, BW §4.1). */
  eventTypePosition?: 'first' | 'last';
  /** Cap on chained Redirects, to stop a redirect loop. Default 20. */
  maxRedirects?: number;
  /**
   * What happens at each `<Transfer>` target (called once per PhoneNumber/SipUri, when it starts
   * ringing). Default: answered after 2 s of ringing, 5 s of talk, then the human hangs up.
   */
  transfer?: TransferScriptFn;
  /**
   * Leave `parentCallId` out of B-leg callbacks (transferAnswer, transferDisconnect). bandwidth.yml's
   * transferAnswerCallback has no such field (BW §1.4 says docs only), so live Bandwidth may omit it.
   * Default false: sent, as the docs and fixtures show.
   */
  omitParentCallId?: boolean;
}

export interface CallbackRecord {
  /** Clock time the callback was sent. */
  atMs: number;
  eventType: string;
  method: 'POST' | 'GET';
  url: string;
  /** The Authorization header on the last request sent, if any. */
  authorization?: string;
  /** The first request went without credentials, was answered 401 + `WWW-Authenticate: Basic`, and was retried with them (BW §1.8). */
  challenged?: boolean;
  body: Record<string, unknown>;
  status?: number;
  contentType?: string;
  responseText?: string;
  /** Network error or timeout. */
  error?: string;
}

export interface BxmlDocument {
  atMs: number;
  /** The callback that returned it (`initiate`, `redirect`). */
  eventType: string;
  /** The URL that served it (relative URLs in it resolve against this). */
  url: string;
  xml: string;
  root: XmlElement;
}

export type ReceivedKind = 'playAudio' | 'clear' | 'unknown' | 'invalid';

export interface ReceivedMessage {
  /** Clock time it arrived. */
  atMs: number;
  kind: ReceivedKind;
  /** `eventType` if the message had one. */
  eventType?: string;
  /** The frame's text (absent for binary frames). */
  text?: string;
  binary?: boolean;
  /** Parsed JSON, when it parsed. */
  message?: unknown;
  /** Why it was refused (kind invalid or unknown). */
  error?: string;
  /** playAudio: μ-law bytes queued for playout. */
  queuedBytes?: number;
  /** clear: μ-law bytes dropped from the queue. */
  clearedBytes?: number;
  /** Set when a well-formed message arrived too late to act on (after the stream stopped); not counted in stats. */
  ignored?: string;
}

export interface SentFrame {
  atMs: number;
  eventType: string;
  text: string;
}


export interface CallerStats {
  inboundFramesSent: number;
  outboundFramesSent: number;
  playAudioMessages: number;
  clearMessages: number;
  /** JSON objects whose eventType Bandwidth does not take (start/media/stop echoed back, typos, …). */
  unknownMessages: number;
  /** Not JSON, not an object, binary, a playAudio that cannot be played, or playAudio/clear on a unidirectional stream. */
  invalidMessages: number;
  binaryMessages: number;
  /** μ-law bytes accepted into the playout queue. */
  queuedBytes: number;
  /** μ-law bytes `clear` dropped before they were heard. */
  clearedBytes: number;
  /** μ-law bytes still queued when the stream ended (never heard). */
  droppedAtStreamEndBytes: number;
  heardBytes: number;
  maxQueueBytes: number;
}

/** 'duplicate': rejected because a stream of the same name was running (the stream never opened). */
export type StreamEndedBy = 'caller' | 'server' | 'bxml' | 'connect-failed' | 'duplicate';

export interface StreamInfo {
  id: string;
  name: string;
  destination: string;
  mode: 'bidirectional' | 'unidirectional';
  tracks: ('inbound' | 'outbound')[];
  streamParams: Record<string, string>;
  /** Clock time the socket opened and `start` was sent (the attempt time if it never opened). */
  startedAtMs: number;
  endedAtMs?: number;
  endedBy?: StreamEndedBy;
  /** WebSocket close code and reason seen by the stand-in. */
  closeCode?: number;
  closeReason?: string;
  /** The cause reported in mediaStreamStopped / mediaStreamRejected. */
  cause?: string;
  errorMessage?: string;
}

export type CallEndReason =
  | 'caller-hangup'
  | 'bxml-hangup'
  | 'end-of-bxml'
  | 'callback-error'
  | 'invalid-bxml'
  | 'api-hangup'
  | 'internal-error';

export interface CallEnd {
  reason: CallEndReason;
  atMs: number;
  /** The disconnect cause sent (absent when the stand-in was destroyed or failed internally). */
  cause?: string;
  errorMessage?: string;
}

/** The Calls API's UpdateCall body (BW §5). */
export interface UpdateCallRequest {
  state?: 'active' | 'completed';
  redirectUrl?: string;
  redirectMethod?: 'POST' | 'GET';
  username?: string;
  password?: string;
  redirectFallbackUrl?: string;
  redirectFallbackMethod?: 'POST' | 'GET';
  fallbackUsername?: string;
  fallbackPassword?: string;
  tag?: string;
}

/** Bandwidth's 409: "Call [c-…] cannot be modified in its current state". */
export class CallNotModifiableError extends Error {
  readonly status = 409;
  constructor(message: string) {
    super(message);
    this.name = 'CallNotModifiableError';
  }
}

export class InitiateFailedError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly contentType: string | undefined,
    readonly responseText: string | undefined,
  ) {
    super(message);
    this.name = 'InitiateFailedError';
  }
}
