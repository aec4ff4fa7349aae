/**
 * The Bandwidth caller stand-in: Bandwidth's platform plus the person on the phone, for tests, the demo
 * and benchmarks. It dials Switchboard the way Bandwidth delivers an inbound call and follows the BXML it
 * gets back. Every wire detail follows shared/reference/bandwidth-protocol.md (cited as BW §n).
 *
 *   const call = new SimulatedCall({ baseUrl, callbackAuth, clock, audio: speechLikeAudio({ startMs: 500, durationMs: 1200 }) });
 *   await call.dial();            // initiate → BXML → media socket up (or rejected → Redirect followed)
 *   await clock.advanceAsync(1000);
 *   call.heard / call.received / call.sentInbound / call.stats
 *   await call.hangup();          // stop frame, close, mediaStreamStopped, disconnect
 *
 * The platform side (BW §1–§4):
 * - `initiate` POSTed as JSON shaped like fixtures/bandwidth/callbacks/initiate.json, with the
 *   application's CallbackCreds as Basic auth (BW §1.8). The reply must be 200 with an XML content type.
 * - Every callback (initiate, status, verb and transfer callbacks, stream events) is challenge-first by
 *   default, as Bandwidth's are (BW §1.8): sent without Authorization, and sent again with the
 *   credentials only after a 401 carrying `WWW-Authenticate: Basic`; a 401 without it is a failed
 *   callback. `callbackAuthMode: 'upfront'` sends the credentials at once (see callback-delivery.ts).
 *   The media WebSocket upgrade always carries its credentials (whether Bandwidth challenges there is
 *   undocumented, BW §1.8).
 * - The BXML is executed verb by verb (a small interpreter):
 *   - `<StartStream>` opens a WebSocket (the `ws` client) to `destination` with
 *     `Authorization: Basic base64(destinationUsername:destinationPassword)` (BW §4.1). On success it
 *     sends the `start` frame, POSTs `mediaStreamStarted` to `streamEventUrl` (with the verb's
 *     `username`/`password`), and moves on: StartStream does not block (BW §2.1). On failure it POSTs
 *     `mediaStreamRejected` (cause `connection-error`) and moves on.
 *     A call can have several streams one after the other (e.g. back to the AI after a failed transfer):
 *     each gets a new id `s-…`, its own `start` frame, sequence numbers from "1" and mediaStreamStarted;
 *     the caller's audio continues on one timeline (0 = when the first stream started) and `heard`
 *     accumulates. A StartStream whose name is that of a stream still running is rejected
 *     (`mediaStreamRejected` cause `duplicate`, BW §2.2); two streams running at once (different names)
 *     are not modelled: execution is held there (`heldAt`).
 *   - `<StopStream name wait="true">` blocks while that stream's socket is open; on a stream that is not
 *     running it does nothing (BW §2.3). Without `wait` it stops the stream (stop frame, close, callback).
 *   - `<Redirect>` POSTs a `redirect` callback (the verb's credentials; its `tag` is applied first) and
 *     runs the BXML it returns; `redirectFallbackUrl` is tried when the primary fails. `<Pause>` waits on
 *     the clock. `<Hangup>` and the end of a document hang up. `<Tag>` sets the tag sent on later
 *     callbacks. `<SpeakSentence>`/`<PlayAudio>` are recorded in `spoken` and take no time.
 *   - `<Transfer>` rings its `<PhoneNumber>`/`<SipUri>` targets at once (BW §2.5), each a B-leg with its
 *     own `c-…` id, and follows the `transfer` option's script for each (default: answered after 2 s of
 *     ringing, 5 s of talk, then the human hangs up). The first leg to answer wins (the others get
 *     `transferDisconnect` cause `cancel`). On answer: `transferAnswer` to the target's
 *     transferAnswerUrl (its username/password; the fallback URL on failure); the BXML is the whisper
 *     (recorded; forbidden verbs flagged as violations; Pause delays the bridge, Hangup ends the B-leg).
 *     Then the legs are bridged for talkMs. When the B-leg ends (hang-up, busy, rejected, error, or
 *     `callTimeout` without an answer → `timeout`), `transferDisconnect` goes to its
 *     transferDisconnectUrl, then `transferComplete` to the Transfer's transferCompleteUrl (its
 *     username/password) and the BXML returned runs on the A-leg; without transferCompleteUrl the verbs
 *     after `<Transfer>` run (BW §1.3, §2.5). When the caller hangs up during the transfer, each live leg
 *     gets `transferDisconnect` (cause `hangup` if bridged, `cancel` if ringing), then the call's
 *     `disconnect`; no transferComplete is sent (whether Bandwidth sends one then is unknown, BW §9.12:
 *     the A-leg is gone, so BXML returned could not run anyway). An updateCall/updateCallBxml during a
 *     transfer ends it the same way (assumption) before the new BXML runs. See `transfers`.
 *   - Any other verb (Forward, Gather, …) is not modelled: execution stops there (`heldAt`) and the
 *     call stays up until hangup() or an update. `heldAt` is also set (verb 'Transfer') while a transfer
 *     is ringing or bridged.
 * - The Calls API's effect on a live call: `updateCall({ redirectUrl, … })` interrupts the current BXML
 *   and follows a `redirect` callback; `updateCall({ state: 'completed' })` hangs up; `updateCallBxml(xml)`
 *   replaces the BXML (for a Bandwidth REST stand-in to call: see bandwidth-rest.ts `attach`).
 * - Media (BW §4.2): one `media` frame per 20 ms of clock time per streamed track, 160 bytes of μ-law,
 *   `sequenceNumber` a string from "1" (per track), continuous (0xFF silence when nobody speaks).
 *   `eventType` is the last key of every frame, as in Bandwidth's live capture (option to put it first).
 * - Carrier playout (BW §4.3): `playAudio` audio (audio/pcmu, or 16-bit PCM at 8/16/24 kHz in the long
 *   contentType form, taken down to 8 kHz μ-law by PlayAudioDecoder) joins a FIFO queue. On each 20 ms
 *   tick at clock time T the next ≤160 bytes leave the queue and are heard during [T, T + bytes/8). A chunk cannot leave earlier
 *   than `playoutLatencyMs` after it arrived. A jitter buffer (`jitterBufferMs`, default 0): audio that
 *   reaches an empty carrier (nothing queued, nothing playing) waits that much longer before playout
 *   resumes, as after the model stalls mid-response (DESIGN §4.10). `clear` empties the queue at once: a
 *   frame already taken is heard in full (so playout stops within one frame), the rest never is. When the
 *   stream ends, what is still queued is dropped (stats.droppedAtStreamEndBytes). There is no
 *   acknowledgement; `heard` records exactly what the caller heard and when, and `playoutRuns` how much of
 *   the audio between one `clear` and the next was played: the ground truth a truncation should match.
 * - Ending: `hangup()` = the caller hangs up: `stop` frame, socket closed (1000), `mediaStreamStopped`
 *   (cause `closed`), `disconnect` (cause `hangup`) to the status URL with the CallbackCreds. When the
 *   server closes the socket first, `mediaStreamStopped` is POSTed and the BXML continues (normally
 *   through `<StopStream wait>` to the `<Redirect>`; that document is `afterStream`).
 *
 * Time: every timer and timestamp goes through the injected Clock (ManualClock in tests). Callback
 * `eventTime`s are `epochMs` + clock time elapsed since construction. HTTP and WebSocket deadlines are
 * real time (they guard I/O, not call time).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { elementChildren, parseXml, textContent, type XmlElement } from '../bandwidth/bxml/xml';
import { mulawBytesToMs } from '../bridge/codec';
import { systemClock, type Clock, type TimerHandle } from '../clock';
import { PLAYOUT_TICK_MS } from '../constants';
import {
  FRAME_BYTES,
  MULAW_SILENCE,
  PlayAudioDecoder,
  renderMulaw,
  shiftAudio,
  silence,
  type AudioSegment,
  type AudioSource,
} from './bandwidth-audio';
import { basicAuthHeader, deliverCallback, type CallbackAuth, type CallbackAuthMode } from './callback-delivery';
import {
  analyseWhisper,
  legEnd,
  normaliseTransferScript,
  transferCallTimeoutMs,
  transferTargets,
  type TransferEndedBy,
  type TransferLegRecord,
  type TransferOutcome,
  type TransferRecord,
  type TransferScriptFn,
} from './bandwidth-transfer';

export * from './bandwidth-audio';
export * from './bandwidth-transfer';
export { basicAuthHeader, offersBasic, type CallbackAuth, type CallbackAuthMode } from './callback-delivery';

// ---------------------------------------------------------------------------------------------------
// Types

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

export interface HeardSegment {
  /** Clock time the first byte was heard. */
  startMs: number;
  /** Clock time the last byte finished (startMs + bytes / 8). */
  endMs: number;
  bytes: number;
}

export interface HeardRecord {
  segments: HeardSegment[];
  /** Everything heard, concatenated, 8 kHz μ-law. */
  audio: Buffer;
  totalMs: number;
  /** When audio was first heard, ms after the stream started; undefined if nothing was heard. */
  firstHeardMs: number | undefined;
  /** The same as a clock time. */
  firstHeardAtMs: number | undefined;
}

/**
 * The playAudio audio between one `clear` and the next (or the stream's end): the truth about what the
 * caller heard. playAudio names no item, but audio plays in the order it was sent, so the items of a run
 * split `playedBytes` in that order (`playedPerItem`).
 */
export interface PlayoutRun {
  /** Clock time the run's first playAudio arrived. */
  startedAtMs: number;
  /** μ-law bytes of playAudio received in the run. */
  receivedBytes: number;
  /** μ-law bytes of it played (a frame being played when `clear` arrived counts: it is heard in full). */
  playedBytes: number;
  /** Clock time the run ended, and why; unset while it is still playing. */
  endedAtMs?: number;
  endedBy?: 'clear' | 'stream-end';
}

/** ms of each item the caller heard, for a run whose items were sent in this order with these lengths (ms). */
export function playedPerItem(run: PlayoutRun, itemMs: readonly number[]): number[] {
  let leftMs = mulawBytesToMs(run.playedBytes);
  return itemMs.map((ms) => {
    const played = Math.min(ms, leftMs);
    leftMs -= played;
    return played;
  });
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

// ---------------------------------------------------------------------------------------------------
// Internals

interface QueuedChunk {
  bytes: Buffer;
  offset: number;
  playableAtMs: number;
}

/** Where a stream's lifecycle callbacks go (BW §3). */
interface StreamEvents {
  info: StreamInfo;
  eventUrl: URL | undefined;
  eventMethod: 'POST' | 'GET';
  eventAuth: CallbackAuth | undefined;
  startIso: string;
}

interface LiveStream extends StreamEvents {
  ws: WebSocket;
  /** Where this stream's frame 1 starts on the caller's audio timeline (bytes; 0 for the first stream). */
  audioOffsetBytes: number;
  metadata: Record<string, unknown>;
  ticker: TimerHandle | undefined;
  framesTicked: number;
  inboundSeq: number;
  outboundSeq: number;
  queue: QueuedChunk[];
  queueBytes: number;
  decoder: PlayAudioDecoder;
  open: boolean;
  /** Resolves when the stream is over and its mediaStreamStopped has been sent. */
  done: Promise<void>;
  resolveDone: () => void;
}

/** A ringing / bridged B-leg of the transfer in progress. */
interface TransferLeg {
  rec: TransferLegRecord;
  element: XmlElement;
  /** Clock time ringing ends: the answer, the failure, or the callTimeout. */
  ringEndsAtMs: number;
  /** What happens then. */
  ringOutcome: 'answered' | 'busy' | 'rejected' | 'error' | 'no-answer';
  startIso: string;
  answerIso?: string;
  errorId?: string;
}

interface ActiveTransfer {
  record: TransferRecord;
  legs: TransferLeg[];
  docUrl: string;
  /** The `heldAt` value set while it runs. */
  held: { verb: string; atMs: number };
  /** Set once the A-leg side has ended it (caller hang-up, interruption). */
  aborting?: Promise<void>;
  /** The leg that ended last (transferComplete describes it when none answered). */
  lastEnded?: TransferLeg;
}

interface SocketHandlers {
  message(data: WebSocket.RawData, isBinary: boolean): void;
  close(code: number, reason: Buffer): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const KNOWN_VERBS = new Set([
  'Bridge', 'Conference', 'Connect', 'Forward', 'Gather', 'Hangup', 'Pause', 'PauseRecording', 'PlayAudio', 'Record', 'Redirect',
  'ResumeRecording', 'Ring', 'SendDtmf', 'SpeakSentence', 'StartGather', 'StartRecording', 'StartStream', 'StartTranscription',
  'StopGather', 'StopRecording', 'StopStream', 'StopTranscription', 'Tag', 'Transfer',
]);

/** Verbs that do not answer an unanswered inbound call. */
const NON_ANSWERING = new Set(['Hangup', 'Forward', 'Tag']);

const MAX_CATCH_UP_FRAMES = 50;

/** ISO-8601 duration as in mediaStreamStopped (`PT1M53.274S`). */
export function isoDuration(ms: number): string {
  const totalMs = Math.max(0, Math.round(ms));
  const h = Math.floor(totalMs / 3_600_000);
  const m = Math.floor((totalMs % 3_600_000) / 60_000);
  const s = (totalMs % 60_000) / 1000;
  let out = 'PT';
  if (h) out += `${h}H`;
  if (m) out += `${m}M`;
  if (s || (!h && !m)) out += `${Number(s.toFixed(3))}S`;
  return out;
}

function newCallId(): string {
  return `c-${randomBytes(4).toString('hex')}-${randomUUID()}`;
}

function credsOf(el: XmlElement, user = 'username', pass = 'password'): CallbackAuth | undefined {
  const username = el.attributes[user];
  const password = el.attributes[pass];
  return username !== undefined || password !== undefined ? { username: username ?? '', password: password ?? '' } : undefined;
}

function methodOf(value: string | undefined): 'POST' | 'GET' {
  return value?.toUpperCase() === 'GET' ? 'GET' : 'POST';
}

/** Stops the interpreter when the call ends mid-document. */
class CallOver extends Error {}

// ---------------------------------------------------------------------------------------------------

/**
 * One simulated inbound call. Create, `dial()`, drive the clock, inspect, `hangup()`.
 * A SimulatedCall dials once.
 */
export class SimulatedCall {
  readonly callId: string;
  readonly from: string;
  readonly to: string;
  readonly accountId: string;
  readonly applicationId: string;
  readonly callUrl: string;

  /** Every callback sent, in order. */
  readonly callbacks: CallbackRecord[] = [];
  /** Every BXML document received (initiate first). */
  readonly documents: BxmlDocument[] = [];
  /** Every message received on the media socket. */
  readonly received: ReceivedMessage[] = [];
  /** Every frame sent on the media socket (start, media, stop). */
  readonly sent: SentFrame[] = [];
  /** SpeakSentence / PlayAudio verbs executed (instantaneous in this stand-in). */
  readonly spoken: { atMs: number; verb: string; text: string; attributes: Record<string, string> }[] = [];
  readonly stats: CallerStats = {
    inboundFramesSent: 0,
    outboundFramesSent: 0,
    playAudioMessages: 0,
    clearMessages: 0,
    unknownMessages: 0,
    invalidMessages: 0,
    binaryMessages: 0,
    queuedBytes: 0,
    clearedBytes: 0,
    droppedAtStreamEndBytes: 0,
    heardBytes: 0,
    maxQueueBytes: 0,
  };

  /** The `start` frame sent most recently (parsed). */
  startFrame: Record<string, unknown> | undefined;
  /** The latest media stream (the running one, if any). */
  stream: StreamInfo | undefined;
  /** Every StartStream run, in order (including rejected ones). */
  readonly streams: StreamInfo[] = [];
  /** Every `<Transfer>` executed, in order. */
  readonly transfers: TransferRecord[] = [];
  /** The first BXML fetched after the stream ended or was rejected (normally the Redirect's). */
  afterStream: BxmlDocument | undefined;
  /** How the call ended, once it has. */
  ended: CallEnd | undefined;
  /** Set when execution reached a verb this stand-in does not model (Forward, Gather, …): the call stays up there; also while a Transfer rings or is bridged. */
  heldAt: { verb: string; atMs: number } | undefined;
  /** The call's current tag (sent on callbacks after initiate; absent when unset, BW §1.9). */
  tag: string | undefined;
  /** Resolves when the call is over for the stand-in (see CallEnd). Never rejects. */
  readonly closed: Promise<CallEnd>;
  /** Resolves when the latest media stream is over (its callback sent), or at once with undefined if none started. */
  get streamEnded(): Promise<StreamInfo | undefined> {
    const live = this.live;
    return live ? live.done.then(() => live.info) : Promise.resolve(this.stream);
  }

  private readonly clock: Clock;
  private readonly opts: SimulatedCallOptions;
  private readonly clockOrigin: number;
  private readonly epochMs: number;
  private readonly latencyMs: number;
  private audio: AudioSource;
  private live: LiveStream | undefined;
  /** Clock time the first stream opened: 0 ms of the caller's audio timeline. */
  private audioOriginMs: number | undefined;
  private activeTransfer: ActiveTransfer | undefined;
  private destroyed = false;
  private readonly inboundChunks: Buffer[] = [];
  private readonly heardChunks: Buffer[] = [];
  private readonly heardSegments: HeardSegment[] = [];
  private readonly runs: PlayoutRun[] = [];
  private openRun: PlayoutRun | undefined;
  private readonly jitterMs: number;
  private firstHeardAtMs: number | undefined;
  private dialed = false;
  private startIso = '';
  private answerIso: string | undefined;
  private ending: Promise<CallEnd> | undefined;
  private readonly closedDeferred = deferred<CallEnd>();
  private blocked = deferred<void>();
  private generation = 0;
  private readonly waits = new Set<() => void>();

  constructor(options: SimulatedCallOptions) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.clockOrigin = this.clock.now();
    this.epochMs = options.epochMs ?? Date.now();
    this.latencyMs = options.playoutLatencyMs ?? 20;
    this.jitterMs = options.jitterBufferMs ?? 0;
    this.audio = options.audio ?? silence();
    this.callId = options.callId ?? newCallId();
    this.from = options.from ?? '+19195550142';
    this.to = options.to ?? '+19195550100';
    this.accountId = options.accountId ?? '9901234';
    this.applicationId = options.applicationId ?? '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47';
    this.tag = options.tag || undefined;
    this.callUrl = `https://voice.bandwidth.com/api/v2/accounts/${this.accountId}/calls/${this.callId}`;
    this.closed = this.closedDeferred.promise;
  }

  // -------------------------------------------------------------------------------------------------
  // Public API

  /** The initiate BXML. */
  get initiateBxml(): BxmlDocument | undefined {
    return this.documents.find((d) => d.eventType === 'initiate');
  }

  /** Clock time the first media stream started (its `start` frame), if one did: 0 ms of the audio timeline. */
  get streamStartedAtMs(): number | undefined {
    return this.audioOriginMs;
  }

  /** Whether the Calls API could modify the call now (answered and not over); Bandwidth answers 409 otherwise. */
  get modifiable(): boolean {
    return this.dialed && this.answerIso !== undefined && !this.ending && !this.ended;
  }

  /** The transfer in progress (ringing or bridged), if any. */
  get transferInProgress(): TransferRecord | undefined {
    return this.activeTransfer?.record;
  }

  /** True while the media socket is open. */
  get connected(): boolean {
    return !!this.live?.open;
  }

  /** Every inbound media payload sent, concatenated (what Switchboard should have forwarded). */
  get sentInbound(): Buffer {
    return Buffer.concat(this.inboundChunks);
  }

  get heard(): HeardRecord {
    const audio = Buffer.concat(this.heardChunks);
    const start = this.streamStartedAtMs;
    return {
      segments: this.heardSegments.map((s) => ({ ...s })),
      audio,
      totalMs: mulawBytesToMs(audio.length),
      firstHeardAtMs: this.firstHeardAtMs,
      firstHeardMs: this.firstHeardAtMs !== undefined && start !== undefined ? this.firstHeardAtMs - start : undefined,
    };
  }

  /** The playAudio audio between clears, oldest first, with how much of each was played (a copy). */
  get playoutRuns(): PlayoutRun[] {
    return this.runs.map((r) => ({ ...r }));
  }

  /** Audio waiting in the carrier's playout queue, in ms. */
  get queuedMs(): number {
    return mulawBytesToMs(this.live?.queueBytes ?? 0);
  }

  /** Callbacks of one eventType. */
  callbacksOf(eventType: string): CallbackRecord[] {
    return this.callbacks.filter((c) => c.eventType === eventType);
  }

  /** Received messages of one kind. */
  receivedOf(kind: ReceivedKind): ReceivedMessage[] {
    return this.received.filter((m) => m.kind === kind);
  }

  /**
   * Deliver the `initiate` callback and follow the BXML until it blocks (the stream is up and held by
   * `<StopStream wait>` or `<Pause>`) or the call ends. Rejects with InitiateFailedError when initiate
   * fails (after sending the `disconnect` Bandwidth would send).
   */
  async dial(): Promise<this> {
    if (this.dialed) throw new Error('this SimulatedCall has already dialed');
    this.dialed = true;
    this.startIso = this.iso();
    const base = this.opts.baseUrl.replace(/\/+$/, '');
    let fetched: Awaited<ReturnType<SimulatedCall['fetchBxml']>>;
    if (this.opts.answerUrl !== undefined) {
      // BW §1.5 answer: the callee picked up, so answerTime is set; no initiate-only fields.
      this.answerIso = this.startIso;
      fetched = await this.fetchBxml('answer', this.opts.answerUrl, 'POST', this.commonFields('answer'), this.opts.callbackAuth);
    } else {
      const initiateUrl = this.opts.initiateUrl ?? `${base}/bandwidth/voice/initiate`;
      // Nothing has answered or tagged the call yet, so the common fields are exactly initiate's.
      const body = {
        ...this.commonFields('initiate'),
        privacy: false,
        callerDisplayName: '',
        ...this.opts.initiateExtras,
      };
      fetched = await this.fetchBxml('initiate', initiateUrl, 'POST', body, this.opts.callbackAuth);
    }
    if (!fetched.ok) {
      const rec = fetched.record;
      await this.endCall(fetched.invalid ? 'invalid-bxml' : 'callback-error', fetched.invalid ? 'invalid-bxml' : 'callback-error', fetched.error);
      throw new InitiateFailedError(`${fetched.record.eventType} failed: ${fetched.error}`, rec.status, rec.contentType, rec.responseText);
    }
    await this.startRun(fetched.doc);
    return this;
  }

  /**
   * What Bandwidth does on the Calls API's updateCall (BW §5): `state: 'completed'` hangs up
   * (`disconnect` cause hangup); otherwise the current BXML is interrupted and a `redirect` callback goes to
   * `redirectUrl` with `username`/`password` (if it fails, to `redirectFallbackUrl` with
   * `fallbackUsername`/`fallbackPassword`; see fetchBxmlWithFallback), whose BXML then runs. A transfer in
   * progress ends first (its legs get transferDisconnect). Resolves when that BXML blocks or the call ends. Throws
   * CallNotModifiableError (Bandwidth's 409) if the call is not answered yet or already over.
   * The running media stream is left alone: whether a redirect stops it is undocumented (BW §9.8).
   */
  async updateCall(update: UpdateCallRequest): Promise<void> {
    this.assertModifiable();
    if (update.state === 'completed') {
      await this.endCall('api-hangup', 'hangup');
      return;
    }
    if (!update.redirectUrl) throw new Error('updateCall: redirectUrl is required unless state is completed');
    const attributes: Record<string, string> = {};
    for (const key of ['redirectUrl', 'redirectMethod', 'username', 'password', 'redirectFallbackUrl', 'redirectFallbackMethod', 'fallbackUsername', 'fallbackPassword', 'tag'] as const) {
      const v = update[key];
      if (v !== undefined) attributes[key] = v;
    }
    const redirect: XmlElement = { kind: 'element', name: 'Redirect', attributes, children: [], line: 0 };
    const root: XmlElement = { kind: 'element', name: 'Response', attributes: {}, children: [redirect], line: 0 };
    await this.startRun({ atMs: this.clock.now(), eventType: 'updateCall', url: update.redirectUrl, xml: '', root });
  }

  /**
   * What Bandwidth does on PUT /calls/{id}/bxml (BW §5): interrupt the current BXML and run `xml`.
   * Relative URLs in it resolve against `baseUrl`. Throws CallNotModifiableError as updateCall does, and
   * an XmlSyntaxError for a document that does not parse.
   */
  async updateCallBxml(xml: string): Promise<void> {
    this.assertModifiable();
    const doc: BxmlDocument = { atMs: this.clock.now(), eventType: 'updateCallBxml', url: this.opts.baseUrl, xml, root: parseXml(xml) };
    this.documents.push(doc);
    await this.startRun(doc);
  }

  /**
   * The caller speaks: `source`'s segment times are taken relative to the next frame boundary of the
   * running stream (plus `delayMs`). Returns the start of the speech on the caller's audio timeline
   * (ms after the first stream started; the same as stream-relative for the first stream) and its
   * clock time.
   */
  say(source: AudioSource | Uint8Array | AudioSegment, options: { delayMs?: number } = {}): { streamMs: number; atMs: number } {
    const live = this.live;
    if (!live?.open) throw new Error('say(): the media stream is not connected');
    const src: AudioSource = source instanceof Uint8Array ? { segments: [{ startMs: 0, mulaw: source }] } : 'segments' in source ? source : { segments: [source] };
    // On the caller's audio timeline (0 = the first stream's start), which later streams continue.
    const streamMs = live.audioOffsetBytes / 8 + live.framesTicked * PLAYOUT_TICK_MS + (options.delayMs ?? 0);
    this.audio = { segments: [...this.audio.segments, ...shiftAudio(src, streamMs).segments] };
    return { streamMs, atMs: (this.audioOriginMs ?? live.info.startedAtMs) + streamMs };
  }

  /** The caller hangs up (BW §4.2 stop, §3 mediaStreamStopped, §1.2 disconnect). Idempotent. */
  hangup(): Promise<CallEnd> {
    return this.endCall('caller-hangup', 'hangup');
  }

  /** Tear everything down without any callbacks or frames (test cleanup). */
  destroy(): void {
    this.destroyed = true;
    const live = this.live;
    if (live) {
      this.clock.clear(live.ticker);
      live.open = false;
      live.ws.terminate();
      live.resolveDone();
    }
    if (!this.ended) this.finish({ reason: 'internal-error', atMs: this.clock.now(), errorMessage: 'destroyed' });
    this.ending ??= Promise.resolve(this.ended ?? { reason: 'internal-error', atMs: this.clock.now() });
    this.wakeAll();
  }

  // -------------------------------------------------------------------------------------------------
  // Time

  private iso(): string {
    return new Date(this.epochMs + (this.clock.now() - this.clockOrigin)).toISOString();
  }

  // -------------------------------------------------------------------------------------------------
  // BXML interpreter

  /**
   * Run a document as the call's current BXML, interrupting whatever ran before (each run has a
   * generation; an older run stops at its next step). Resolves when the new run first blocks or ends.
   */
  private startRun(doc: BxmlDocument): Promise<void> {
    const gen = ++this.generation;
    this.blocked = deferred<void>();
    this.heldAt = undefined;
    const blocked = this.blocked.promise;
    this.wakeAll();
    // A transfer in progress ends (its legs get transferDisconnect) before the new BXML runs.
    const interrupted = this.activeTransfer;
    const run = (async () => {
      if (interrupted) await this.abortTransfer(interrupted, 'interrupted');
      await this.runDocument(doc, 0, gen);
    })().catch((err: unknown) => this.internalError(err));
    return Promise.race([blocked, run]);
  }

  /** Mark that the current run now waits on something external. */
  private markBlocked(gen?: number): void {
    if (gen === undefined || gen === this.generation) this.blocked.resolve();
  }

  /** Stop a run whose call has ended or whose BXML was replaced. */
  private checkLive(gen: number): void {
    if (this.ending || gen !== this.generation) throw new CallOver();
  }

  private wakeAll(): void {
    for (const wake of [...this.waits]) wake();
  }

  /** Block the run on a promise or a clock delay; woken early by hang-up or interruption. */
  private async waitOn(gen: number, what: Promise<unknown> | number): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.waits.add(wake);
    const timer = typeof what === 'number' ? this.clock.setTimeout(wake, what) : undefined;
    if (typeof what !== 'number') void what.then(wake);
    this.markBlocked(gen);
    await woken;
    this.waits.delete(wake);
    this.clock.clear(timer);
    this.checkLive(gen);
  }

  private assertModifiable(): void {
    if (!this.modifiable) {
      throw new CallNotModifiableError(`Call [${this.callId}] cannot be modified in its current state`);
    }
  }

  private async runDocument(doc: BxmlDocument, depth: number, gen: number): Promise<void> {
    try {
      await this.execute(doc, depth, gen);
    } catch (err) {
      if (err instanceof CallOver) return;
      throw err;
    }
  }

  private async execute(doc: BxmlDocument, depth: number, gen: number): Promise<void> {
    const root = doc.root;
    if (root.name !== 'Response' && root.name !== 'Bxml') {
      await this.endCall('invalid-bxml', 'invalid-bxml', `root element <${root.name}> is not <Response> or <Bxml>`);
      return;
    }
    const verbs = elementChildren(root);
    const unknown = verbs.find((v) => !KNOWN_VERBS.has(v.name));
    if (unknown) {
      await this.endCall('invalid-bxml', 'invalid-bxml', `unknown verb <${unknown.name}> (line ${unknown.line})`);
      return;
    }
    for (const verb of verbs) {
      this.checkLive(gen);
      if (!NON_ANSWERING.has(verb.name) && this.answerIso === undefined) this.answerIso = this.iso();
      switch (verb.name) {
        case 'StartStream': {
          const running = this.live?.open ? this.live : undefined;
          if (running && verb.attributes.name !== running.info.name) {
            // Two streams at once (different names) are legal on Bandwidth but not modelled here.
            this.holdAt('StartStream (a second concurrent stream)', gen);
            return;
          }
          await this.startStream(verb, doc.url, gen);
          break;
        }
        case 'StopStream':
          await this.stopStreamVerb(verb, gen);
          break;
        case 'Pause': {
          const seconds = Number(verb.attributes.duration ?? '1');
          await this.waitOn(gen, Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : 1000);
          break;
        }
        case 'Redirect':
          await this.redirect(verb, doc.url, depth, gen);
          return; // Redirect ends the document (BW §2.1)
        case 'Transfer':
          // With transferCompleteUrl, its BXML replaces the rest of this document (BW §1.3).
          if ((await this.transfer(verb, doc.url, depth, gen)) === 'replaced') return;
          break;
        case 'Hangup':
          await this.endCall('bxml-hangup', 'hangup');
          return;
        case 'Tag':
          this.tag = textContent(verb).trim() || undefined;
          break;
        case 'SpeakSentence':
        case 'PlayAudio':
          this.spoken.push({ atMs: this.clock.now(), verb: verb.name, text: textContent(verb).trim(), attributes: { ...verb.attributes } });
          break;
        default:
          this.holdAt(verb.name, gen);
          return;
      }
    }
    this.checkLive(gen);
    // Running off the end of the document is an implicit <Hangup> (BW §2.1).
    await this.endCall('end-of-bxml', 'hangup');
  }

  /** A verb this stand-in does not model: execution stops there and the call stays up. */
  private holdAt(verb: string, gen: number): void {
    this.heldAt = { verb, atMs: this.clock.now() };
    this.markBlocked(gen);
  }

  private async stopStreamVerb(verb: XmlElement, gen: number): Promise<void> {
    const live = this.live;
    const name = verb.attributes.name;
    if (!name || !live || !live.open || live.info.name !== name) return; // no such running stream: no-op (BW §2.3)
    if (verb.attributes.wait === 'true') {
      await this.waitOn(gen, live.done);
      return;
    }
    await this.stopStream(live, 'bxml');
  }

  private async redirect(verb: XmlElement, docUrl: string, depth: number, gen: number): Promise<void> {
    if (depth >= (this.opts.maxRedirects ?? 20)) {
      await this.endCall('callback-error', 'callback-error', `more than ${this.opts.maxRedirects ?? 20} chained redirects`);
      return;
    }
    const rawUrl = verb.attributes.redirectUrl;
    if (!rawUrl) {
      await this.endCall('invalid-bxml', 'invalid-bxml', '<Redirect> without redirectUrl');
      return;
    }
    if (verb.attributes.tag !== undefined) this.tag = verb.attributes.tag || undefined;
    const primary = new URL(rawUrl, docUrl).toString();
    const fallbackUrl = verb.attributes.redirectFallbackUrl;
    const fetched = await this.fetchBxmlWithFallback(
      'redirect',
      () => this.commonFields('redirect'),
      { url: primary, method: methodOf(verb.attributes.redirectMethod), auth: credsOf(verb) },
      fallbackUrl ? { url: new URL(fallbackUrl, docUrl).toString(), method: methodOf(verb.attributes.redirectFallbackMethod), auth: credsOf(verb, 'fallbackUsername', 'fallbackPassword') } : undefined,
      gen,
    );
    if (!fetched.ok) {
      if (fetched.invalid) await this.endCall('invalid-bxml', 'invalid-bxml', fetched.error);
      else await this.endCall('callback-error', 'callback-error', `Callback to ${primary} failed`);
      return;
    }
    if (this.stream?.endedBy !== undefined && !this.afterStream) this.afterStream = fetched.doc;
    await this.execute(fetched.doc, depth + 1, gen);
  }

  // -------------------------------------------------------------------------------------------------
  // Transfer (BW §1.3, §1.5, §1.6, §2.5)

  /**
   * Execute `<Transfer>`. Returns 'continue' when the verbs after it should run (no
   * transferCompleteUrl), 'replaced' when transferComplete's BXML ran instead. Throws CallOver when the
   * call ended or the BXML was replaced meanwhile.
   */
  private async transfer(verb: XmlElement, docUrl: string, depth: number, gen: number): Promise<'continue' | 'replaced'> {
    const a = verb.attributes;
    const targets = transferTargets(verb);
    if (targets.length === 0 || targets.length > 8) {
      await this.endCall('invalid-bxml', 'invalid-bxml', `<Transfer> needs 1 to 8 <PhoneNumber>/<SipUri> (line ${verb.line})`);
      throw new CallOver();
    }
    if (a.tag !== undefined) this.tag = a.tag || undefined;
    const startedAtMs = this.clock.now();
    const startIso = this.iso();
    const callTimeoutMs = transferCallTimeoutMs(a.callTimeout);
    const prefix = /^c-([0-9a-f]{8})-/i.exec(this.callId)?.[1] ?? randomBytes(4).toString('hex');
    const legs: TransferLeg[] = targets.map(({ element, target }) => {
      const script = normaliseTransferScript(this.opts.transfer?.(target));
      const ringMs = script.outcome === 'no-answer' ? callTimeoutMs : (script.ringMs ?? 0);
      // Anything that would happen after callTimeout is a timeout instead (BW §1.6).
      const timesOut = script.outcome === 'no-answer' || ringMs > callTimeoutMs;
      return {
        rec: { target, script, bLegCallId: `c-${prefix}-${randomUUID()}`, state: 'ringing', startedAtMs },
        element,
        ringEndsAtMs: startedAtMs + Math.min(ringMs, callTimeoutMs),
        ringOutcome: timesOut ? 'no-answer' : script.outcome,
        startIso,
      };
    });
    const first = legs[0]!;
    const record: TransferRecord = {
      attributes: { ...a },
      // "default: pass the remote party's number through" (BW §2.5).
      transferCallerId: a.transferCallerId ?? this.from,
      callTimeoutMs,
      legs: legs.map((l) => l.rec),
      target: first.rec.target,
      bLegCallId: first.rec.bLegCallId,
      state: 'ringing',
      transferCompleteSent: false,
      timings: { startedAtMs },
      violations: [],
    };
    this.transfers.push(record);
    const active: ActiveTransfer = { record, legs, docUrl, held: { verb: 'Transfer', atMs: startedAtMs } };
    this.activeTransfer = active;
    this.heldAt = active.held;
    try {
      return await this.runTransfer(active, verb, depth, gen);
    } catch (err) {
      if (err instanceof CallOver) await this.abortTransfer(active, 'call-ended');
      throw err;
    } finally {
      this.finishTransfer(active);
    }
  }

  private async runTransfer(active: ActiveTransfer, verb: XmlElement, depth: number, gen: number): Promise<'continue' | 'replaced'> {
    const { record, legs } = active;
    // Ringing: the legs' ring ends come in clock order until one answers or none is left.
    let winner: TransferLeg | undefined;
    for (;;) {
      const ringing = legs.filter((l) => l.rec.state === 'ringing');
      if (ringing.length === 0) break;
      const next = ringing.reduce((x, y) => (y.ringEndsAtMs < x.ringEndsAtMs ? y : x)); // ties: document order
      const delay = next.ringEndsAtMs - this.clock.now();
      if (delay > 0) await this.waitOn(gen, delay);
      if (next.ringOutcome === 'answered') {
        winner = next;
        break;
      }
      await this.endLeg(active, next, next.ringOutcome);
      this.checkLive(gen);
    }

    if (winner) {
      const leg = winner;
      leg.rec.state = 'answered';
      leg.rec.outcome = 'answered';
      leg.rec.answeredAtMs = record.timings.answeredAtMs = this.clock.now();
      leg.answerIso = this.iso();
      record.state = 'answered';
      record.outcome = 'answered';
      record.target = leg.rec.target;
      record.bLegCallId = leg.rec.bLegCallId;
      // The first answer wins: the other legs stop ringing.
      for (const other of legs) {
        if (other.rec.state !== 'ringing') continue;
        await this.endLeg(active, other, 'cancelled');
        this.checkLive(gen);
      }
      const el = leg.element.attributes;
      let bridge = true;
      if (el.transferAnswerUrl) {
        // The BXML runs on the B-leg only, before the bridge (BW §1.3).
        const fetched = await this.fetchBxmlWithFallback(
          'transferAnswer',
          () => this.bLegFields('transferAnswer', active, leg),
          { url: new URL(el.transferAnswerUrl, active.docUrl).toString(), method: methodOf(el.transferAnswerMethod), auth: credsOf(leg.element) },
          el.transferAnswerFallbackUrl
            ? { url: new URL(el.transferAnswerFallbackUrl, active.docUrl).toString(), method: methodOf(el.transferAnswerFallbackMethod), auth: credsOf(leg.element, 'fallbackUsername', 'fallbackPassword') }
            : undefined,
          gen,
        );
        if (!fetched.ok) {
          // The B-leg cannot get its BXML: it fails, and the transfer with it.
          record.violations.push(`transferAnswer failed: ${fetched.error}`);
          record.endedBy = 'callback-error';
          await this.endLeg(active, leg, 'answered', fetched.invalid ? { cause: 'invalid-bxml', errorMessage: fetched.error } : { cause: 'callback-error', errorMessage: fetched.error });
          this.checkLive(gen);
          bridge = false;
        } else {
          const whisper = analyseWhisper(fetched.doc.root, fetched.doc.xml, fetched.doc.url, this.clock.now());
          leg.rec.whisper = record.whisper = whisper;
          record.violations.push(...whisper.violations);
          if (whisper.pauseMs > 0) await this.waitOn(gen, whisper.pauseMs);
          if (whisper.hangup) {
            record.endedBy = 'whisper-hangup';
            await this.endLeg(active, leg, 'answered');
            this.checkLive(gen);
            bridge = false;
          }
        }
      }
      if (bridge) {
        leg.rec.state = record.state = 'bridged';
        leg.rec.bridgedAtMs = record.timings.bridgedAtMs = this.clock.now();
        const script = leg.rec.script;
        const talkMs = script.outcome === 'answered' ? (script.talkMs ?? 0) : 0;
        if (talkMs > 0) await this.waitOn(gen, talkMs);
        if (script.outcome === 'answered' && script.hangsUp === 'caller') {
          // The caller hangs up on the human: the B-leg gets transferDisconnect, the call its disconnect.
          await this.endCall('caller-hangup', 'hangup');
          throw new CallOver();
        }
        record.endedBy = 'human';
        await this.endLeg(active, leg, 'answered');
        this.checkLive(gen);
      }
    } else {
      record.endedBy = 'not-answered';
    }

    // transferComplete describes the winning leg, else the last one to end (BW §1.5).
    const described = this.describeTransfer(active);
    this.finishTransfer(active);
    const completeUrl = verb.attributes.transferCompleteUrl;
    if (!completeUrl) return 'continue'; // the verbs after <Transfer> run (BW §2.5)
    const a = verb.attributes;
    const errorId = randomUUID();
    const body = (): Record<string, unknown> => {
      const b: Record<string, unknown> = { ...this.commonFields('transferComplete'), transferCallerId: record.transferCallerId, transferTo: described.rec.target.address, cause: described.rec.cause };
      if (described.rec.errorMessage !== undefined) {
        b.errorMessage = described.rec.errorMessage;
        b.errorId = described.errorId ?? errorId;
      }
      return b;
    };
    record.transferCompleteSent = true;
    record.timings.completedAtMs = this.clock.now();
    const fetched = await this.fetchBxmlWithFallback(
      'transferComplete',
      body,
      { url: new URL(completeUrl, active.docUrl).toString(), method: methodOf(a.transferCompleteMethod), auth: credsOf(verb) },
      a.transferCompleteFallbackUrl
        ? { url: new URL(a.transferCompleteFallbackUrl, active.docUrl).toString(), method: methodOf(a.transferCompleteFallbackMethod), auth: credsOf(verb, 'fallbackUsername', 'fallbackPassword') }
        : undefined,
      gen,
    );
    if (!fetched.ok) {
      if (fetched.invalid) await this.endCall('invalid-bxml', 'invalid-bxml', fetched.error);
      else await this.endCall('callback-error', 'callback-error', `Callback to ${completeUrl} failed`);
      throw new CallOver();
    }
    record.transferCompleteBxml = fetched.doc.xml;
    // Its BXML runs on the A-leg, in place of the rest of the document (BW §1.3).
    await this.execute(fetched.doc, depth + 1, gen);
    return 'replaced';
  }

  /** A B-leg ends: record it and POST transferDisconnect to its transferDisconnectUrl (no BXML, BW §1.3). */
  private async endLeg(active: ActiveTransfer, leg: TransferLeg, outcome: TransferOutcome, override?: { cause: string; errorMessage?: string }): Promise<void> {
    if (leg.rec.state === 'ended') return;
    const end = override ?? legEnd(outcome, active.record.callTimeoutMs);
    leg.rec.state = 'ended';
    leg.rec.outcome = outcome;
    leg.rec.cause = end.cause;
    if (end.errorMessage !== undefined) {
      leg.rec.errorMessage = end.errorMessage;
      leg.errorId = randomUUID();
    }
    leg.rec.endedAtMs = this.clock.now();
    active.lastEnded = leg;
    const el = leg.element.attributes;
    if (!el.transferDisconnectUrl || this.destroyed) return;
    await this.sendAsync('transferDisconnect', new URL(el.transferDisconnectUrl, active.docUrl).toString(), methodOf(el.transferDisconnectMethod), this.bLegFields('transferDisconnect', active, leg), credsOf(leg.element));
  }

  /**
   * B-leg callback fields (BW §1.4, §1.5; fixtures transferAnswer.json, transferDisconnect.json): the
   * B-leg's callId and times, the original call's from/to, parentCallId = the A-leg (unless
   * `omitParentCallId`), direction outbound. Tag: the PhoneNumber/SipUri's, else the Transfer's (the B-leg is a new call; whether it
   * inherits the A-leg's tag otherwise is not documented, so it does not here).
   */
  private bLegFields(eventType: 'transferAnswer' | 'transferDisconnect', active: ActiveTransfer, leg: TransferLeg): Record<string, unknown> {
    const body: Record<string, unknown> = {
      eventType,
      eventTime: this.iso(),
      accountId: this.accountId,
      applicationId: this.applicationId,
      from: this.from,
      to: this.to,
      direction: 'outbound',
      callId: leg.rec.bLegCallId,
      ...(this.opts.omitParentCallId ? {} : { parentCallId: this.callId }),
      callUrl: `https://voice.bandwidth.com/api/v2/accounts/${this.accountId}/calls/${leg.rec.bLegCallId}`,
      startTime: leg.startIso,
    };
    if (leg.answerIso !== undefined) body.answerTime = leg.answerIso;
    if (eventType === 'transferDisconnect') body.endTime = this.iso();
    const tag = leg.element.attributes.tag ?? active.record.attributes.tag;
    if (tag) body.tag = tag;
    body.transferCallerId = active.record.transferCallerId;
    body.transferTo = leg.rec.target.address;
    if (eventType === 'transferDisconnect') {
      body.cause = leg.rec.cause;
      if (leg.rec.errorMessage !== undefined) {
        body.errorMessage = leg.rec.errorMessage;
        body.errorId = leg.errorId;
      }
    }
    return body;
  }

  /** Point the record at the leg transferComplete describes: the one that answered, else the last to end. */
  private describeTransfer(active: ActiveTransfer): TransferLeg {
    const leg = active.legs.find((l) => l.rec.outcome === 'answered') ?? active.lastEnded ?? active.legs[0]!;
    const r = active.record;
    r.target = leg.rec.target;
    r.bLegCallId = leg.rec.bLegCallId;
    r.outcome = leg.rec.outcome;
    if (leg.rec.cause !== undefined) r.cause = leg.rec.cause;
    if (leg.rec.errorMessage !== undefined) r.errorMessage = leg.rec.errorMessage;
    if (leg.rec.endedAtMs !== undefined) r.timings.bLegEndedAtMs = leg.rec.endedAtMs;
    return leg;
  }

  /**
   * The A-leg side ends a transfer in progress (the caller hung up, the BXML was replaced, the call was
   * ended through the API): every leg still up gets transferDisconnect (`cancel` while ringing,
   * `hangup` once answered). No transferComplete (see the header). Idempotent.
   */
  private abortTransfer(active: ActiveTransfer, by: TransferEndedBy): Promise<void> {
    if (active.aborting) return active.aborting;
    if (active.record.state === 'ended') return Promise.resolve();
    active.aborting = (async () => {
      active.record.endedBy ??= by;
      for (const leg of active.legs) {
        if (leg.rec.state === 'ended') continue;
        await this.endLeg(active, leg, leg.rec.state === 'ringing' ? 'cancelled' : 'answered');
      }
      this.describeTransfer(active);
      this.finishTransfer(active);
    })();
    return active.aborting;
  }

  private finishTransfer(active: ActiveTransfer): void {
    const r = active.record;
    if (r.state !== 'ended') {
      r.state = 'ended';
      r.timings.endedAtMs = this.clock.now();
    }
    if (this.activeTransfer === active) this.activeTransfer = undefined;
    if (this.heldAt === active.held) this.heldAt = undefined;
  }

  // -------------------------------------------------------------------------------------------------
  // Callbacks

  private commonFields(eventType: string): Record<string, unknown> {
    const body: Record<string, unknown> = {
      eventType,
      eventTime: this.iso(),
      accountId: this.accountId,
      applicationId: this.applicationId,
      from: this.from,
      to: this.to,
      direction: this.opts.answerUrl === undefined ? 'inbound' : 'outbound',
      callId: this.callId,
      callUrl: this.callUrl,
      startTime: this.startIso,
    };
    if (this.answerIso !== undefined) body.answerTime = this.answerIso;
    if (this.tag !== undefined) body.tag = this.tag;
    return body;
  }

  private async send(eventType: string, url: string, method: 'POST' | 'GET', body: Record<string, unknown>, auth: CallbackAuth | undefined, retry: boolean): Promise<CallbackRecord> {
    const record: CallbackRecord = { atMs: this.clock.now(), eventType, method, url, body };
    const headers: Record<string, string> = {};
    let target = url;
    let payload: string | undefined;
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    } else {
      const u = new URL(url);
      for (const [k, v] of Object.entries(body)) u.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
      target = u.toString();
    }
    this.callbacks.push(record);
    for (let attempt = 0; ; attempt++) {
      try {
        const delivery = await deliverCallback(target, { method, headers, body: payload, timeoutMs: this.opts.callbackTimeoutMs ?? 15_000 }, auth, this.opts.callbackAuthMode);
        const res = delivery.response;
        record.authorization = delivery.authorization;
        record.challenged = delivery.challenged || undefined;
        record.status = res.status;
        record.contentType = res.headers.get('content-type') ?? undefined;
        record.responseText = await res.text();
        record.error = undefined;
        return record;
      } catch (err) {
        record.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        // Asynchronous callbacks are retried once on a connection exception (BW §1.7).
        if (!retry || attempt >= 1) return record;
      }
    }
  }

  /** An asynchronous callback (no BXML expected; any body ignored). */
  private sendAsync(eventType: string, url: string, method: 'POST' | 'GET', body: Record<string, unknown>, auth: CallbackAuth | undefined): Promise<CallbackRecord> {
    return this.send(eventType, url, method, body, auth, true);
  }

  private async fetchBxml(
    eventType: string,
    url: string,
    method: 'POST' | 'GET',
    body: Record<string, unknown>,
    auth: CallbackAuth | undefined,
  ): Promise<{ ok: true; doc: BxmlDocument; record: CallbackRecord } | { ok: false; invalid: boolean; error: string; record: CallbackRecord }> {
    const record = await this.send(eventType, url, method, body, auth, false);
    if (record.error) return { ok: false, invalid: false, error: `${url}: ${record.error}`, record };
    if (record.status !== 200) return { ok: false, invalid: false, error: `${url} answered ${record.status}`, record };
    if (!/^(application|text)\/xml\b/i.test(record.contentType ?? '')) {
      return { ok: false, invalid: false, error: `${url} answered 200 with content-type ${record.contentType ?? '(none)'}, not XML`, record };
    }
    let root: XmlElement;
    try {
      root = parseXml(record.responseText ?? '');
    } catch (err) {
      return { ok: false, invalid: true, error: `invalid BXML from ${url}: ${err instanceof Error ? err.message : String(err)}`, record };
    }
    const doc: BxmlDocument = { atMs: this.clock.now(), eventType, url, xml: record.responseText ?? '', root };
    this.documents.push(doc);
    return { ok: true, doc, record };
  }

  /**
   * A BXML callback with its fallback (BW §1.7): when the primary fails, the same event (fresh
   * eventTime) goes to the fallback URL with the fallback credentials. Which failures trigger the
   * fallback on the real platform is unconfirmed (BW §1.7 [U], §9.9); this stand-in treats a connection
   * error, a timeout, and any answer that is not a 200 with an XML body (so any non-2xx) as a failure
   * of the primary. A 200 whose BXML does not parse is `invalid-bxml`, not a reason to fall back.
   */
  private async fetchBxmlWithFallback(
    eventType: string,
    body: () => Record<string, unknown>,
    primary: { url: string; method: 'POST' | 'GET'; auth: CallbackAuth | undefined },
    fallback: { url: string; method: 'POST' | 'GET'; auth: CallbackAuth | undefined } | undefined,
    gen: number,
  ): Promise<{ ok: true; doc: BxmlDocument; record: CallbackRecord } | { ok: false; invalid: boolean; error: string; record: CallbackRecord }> {
    let fetched = await this.fetchBxml(eventType, primary.url, primary.method, body(), primary.auth);
    this.checkLive(gen);
    if (!fetched.ok && !fetched.invalid && fallback) {
      fetched = await this.fetchBxml(eventType, fallback.url, fallback.method, body(), fallback.auth);
      this.checkLive(gen);
    }
    return fetched;
  }

  private streamCallback(
    live: StreamEvents,
    eventType: string,
    extra: { cause?: string; errorMessage?: string; duration?: string; original?: StreamEvents },
  ): Promise<CallbackRecord> | undefined {
    if (!live.eventUrl) return undefined;
    const describe = (s: StreamEvents, duration?: string): Record<string, unknown> => {
      const out: Record<string, unknown> = { destination: s.info.destination };
      if (duration !== undefined) out.duration = duration;
      out.id = s.info.id;
      out.name = s.info.name;
      out.startTime = s.startIso;
      out.tracks = [...s.info.tracks];
      out.type = 'WebSocket';
      return out;
    };
    const body: Record<string, unknown> = { ...this.commonFields(eventType), mediaStream: describe(live, extra.duration) };
    if (extra.cause !== undefined) body.cause = extra.cause;
    if (extra.errorMessage !== undefined) body.errorMessage = extra.errorMessage;
    if (extra.original) body.originalMediaStream = describe(extra.original);
    // The fixtures (and the live toolkit capture) list stream-event keys alphabetically.
    const sorted = Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return this.sendAsync(eventType, live.eventUrl.toString(), live.eventMethod, sorted, live.eventAuth);
  }

  // -------------------------------------------------------------------------------------------------
  // Ending

  private finish(end: CallEnd): void {
    if (this.ended) return;
    this.ended = end;
    this.closedDeferred.resolve(end);
  }

  private internalError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.destroyed = true; // the stand-in itself failed: no further callbacks
    if (this.live?.open) {
      this.clock.clear(this.live.ticker);
      this.live.open = false;
      this.live.ws.terminate();
      this.live.resolveDone();
    }
    this.finish({ reason: 'internal-error', atMs: this.clock.now(), errorMessage: message });
    this.ending ??= Promise.resolve(this.ended ?? { reason: 'internal-error', atMs: this.clock.now() });
    this.wakeAll(); // a transfer still waiting on the clock ends, silently
    this.markBlocked();
  }

  /** End the call as Bandwidth would: stop the stream (if any), then `disconnect` to the status URL. */
  private endCall(reason: CallEndReason, cause: string, errorMessage?: string): Promise<CallEnd> {
    if (this.ending) return this.ending;
    this.ending = (async () => {
      const atMs = this.clock.now();
      this.wakeAll();
      // Legs of a transfer in progress end first (transferDisconnect), then the A-leg's disconnect.
      const transfer = this.activeTransfer;
      if (transfer) await this.abortTransfer(transfer, reason === 'caller-hangup' ? 'caller' : 'call-ended');
      const live = this.live;
      if (live?.open) await this.stopStream(live, reason === 'caller-hangup' ? 'caller' : 'bxml');
      const base = this.opts.baseUrl.replace(/\/+$/, '');
      const statusUrl = this.opts.statusUrl ?? `${base}/bandwidth/voice/status`;
      const body = this.commonFields('disconnect');
      delete body.tag;
      body.endTime = this.iso();
      body.cause = cause;
      if (errorMessage !== undefined) {
        body.errorMessage = errorMessage;
        body.errorId = randomUUID();
      }
      if (this.tag !== undefined) body.tag = this.tag;
      await this.sendAsync('disconnect', statusUrl, 'POST', body, this.opts.callbackAuth);
      const end: CallEnd = { reason, atMs, cause, ...(errorMessage !== undefined ? { errorMessage } : {}) };
      this.finish(end);
      this.markBlocked();
      return this.ended ?? end;
    })();
    return this.ending;
  }

  // -------------------------------------------------------------------------------------------------
  // Media stream

  private async startStream(verb: XmlElement, docUrl: string, gen: number): Promise<void> {
    const a = verb.attributes;
    const streamParams: Record<string, string> = {};
    for (const p of elementChildren(verb)) if (p.name === 'StreamParam' && p.attributes.name !== undefined) streamParams[p.attributes.name] = p.attributes.value ?? '';
    const idPart = /^c-([0-9a-f]{8})-/i.exec(this.callId)?.[1] ?? randomBytes(4).toString('hex');
    const id = `s-${idPart}-${randomUUID()}`;
    const destination = a.destination ?? '';
    if (!destination) {
      await this.endCall('invalid-bxml', 'invalid-bxml', `<StartStream> without destination (line ${verb.line})`);
      throw new CallOver();
    }
    const tracksAttr = a.tracks ?? 'inbound';
    const tracks: ('inbound' | 'outbound')[] = tracksAttr === 'both' ? ['inbound', 'outbound'] : tracksAttr === 'outbound' ? ['outbound'] : ['inbound'];
    const info: StreamInfo = {
      id,
      name: a.name ?? id,
      destination,
      mode: a.mode === 'bidirectional' ? 'bidirectional' : 'unidirectional',
      tracks,
      streamParams,
      startedAtMs: this.clock.now(),
    };
    const startIso = this.iso();
    const eventUrl = a.streamEventUrl ? new URL(a.streamEventUrl, docUrl) : undefined;
    this.streams.push(info);
    const running = this.live?.open ? this.live : undefined;
    if (running && running.info.name === info.name) {
      // Names are unique among the call's running streams (BW §2.2): rejected, and execution moves on.
      info.endedAtMs = info.startedAtMs;
      info.endedBy = 'duplicate';
      info.cause = 'duplicate';
      info.errorMessage = `A stream with the name ${info.name} already exists`;
      const rejected: StreamEvents = { info, eventUrl, eventMethod: methodOf(a.streamEventMethod), eventAuth: credsOf(verb), startIso };
      await this.streamCallback(rejected, 'mediaStreamRejected', { cause: 'duplicate', errorMessage: info.errorMessage, original: running });
      this.checkLive(gen);
      return;
    }
    this.stream = info;
    const metadata = {
      accountId: this.accountId,
      callId: this.callId,
      streamId: id,
      streamName: info.name,
      tracks: tracks.map((name) => ({ name, mediaFormat: { encoding: 'PCMU', sampleRate: 8000 } })),
    };
    const events: StreamEvents = { info, eventUrl, eventMethod: methodOf(a.streamEventMethod), eventAuth: credsOf(verb), startIso };

    // Bandwidth needs a moment between running StartStream and opening the socket; this is what a
    // pre-warmed OpenAI session uses. Clock time, so tests choose it (0 = connect at once).
    const setupMs = this.opts.streamSetupMs ?? 0;
    if (setupMs > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, setupMs));
    const connected = await this.connect(destination, credsOf(verb, 'destinationUsername', 'destinationPassword'));
    if (this.ending) {
      if (connected.ok) connected.ws.terminate();
      throw new CallOver();
    }
    if (!connected.ok) {
      info.endedAtMs = this.clock.now();
      info.endedBy = 'connect-failed';
      info.cause = 'connection-error';
      info.errorMessage = `Unable to connect to ${destination}: ${connected.error}`;
      await this.streamCallback(events, 'mediaStreamRejected', { cause: 'connection-error', errorMessage: info.errorMessage });
      this.checkLive(gen);
      return;
    }

    const done = deferred<void>();
    info.startedAtMs = this.clock.now();
    // The caller's audio runs on one timeline across streams: a later stream picks it up where the
    // call is now (whole ms, so frames stay byte-aligned).
    this.audioOriginMs ??= info.startedAtMs;
    const live: LiveStream = {
      ...events,
      startIso: this.iso(),
      ws: connected.ws,
      audioOffsetBytes: Math.max(0, Math.round(info.startedAtMs - this.audioOriginMs)) * 8,
      metadata,
      ticker: undefined,
      framesTicked: 0,
      inboundSeq: 0,
      outboundSeq: 0,
      queue: [],
      queueBytes: 0,
      decoder: new PlayAudioDecoder(),
      open: true,
      done: done.promise,
      resolveDone: done.resolve,
    };
    this.live = live;
    const start: Record<string, unknown> = { metadata };
    if (Object.keys(streamParams).length > 0) start.streamParams = { ...streamParams };
    this.startFrame = this.sendFrame(live, 'start', start); // always the first frame (BW §4.2)
    live.ticker = this.clock.setInterval(() => this.tick(live), PLAYOUT_TICK_MS);
    // (An 'error' after the upgrade is followed by 'close' with 1006; connect() keeps an error listener.)
    connected.attach({
      message: (data, isBinary) => this.onMessage(live, data, isBinary),
      close: (code, reason) => void this.onServerClose(live, code, reason.toString()),
    });
    await this.streamCallback(live, 'mediaStreamStarted', {});
    this.checkLive(gen);
  }

  /**
   * Open the media socket as Bandwidth does (BW §4.1). Messages or a close that arrive before `attach`
   * are held and replayed, so nothing the server sends right after the upgrade is lost.
   */
  private connect(destination: string, auth: CallbackAuth | undefined): Promise<{ ok: true; ws: WebSocket; attach: (handlers: SocketHandlers) => void } | { ok: false; error: string }> {
    if (!/^wss?:\/\//i.test(destination)) return Promise.resolve({ ok: false, error: `destination must be a ws:// or wss:// URL` });
    return new Promise((resolve) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(destination, {
          headers: auth ? { Authorization: basicAuthHeader(auth) } : {},
          handshakeTimeout: this.opts.connectTimeoutMs ?? 5000,
          perMessageDeflate: false,
          followRedirects: false,
        });
      } catch (err) {
        resolve({ ok: false, error: err instanceof Error ? err.message : String(err) });
        return;
      }
      let settled = false;
      let handlers: SocketHandlers | undefined;
      const early: [WebSocket.RawData, boolean][] = [];
      let earlyClose: [number, Buffer] | undefined;
      ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => (handlers ? handlers.message(data, isBinary) : early.push([data, isBinary])));
      ws.on('close', (code: number, reason: Buffer) => (handlers ? handlers.close(code, reason) : (earlyClose = [code, reason])));
      const attach = (h: SocketHandlers): void => {
        handlers = h;
        for (const [data, isBinary] of early.splice(0)) h.message(data, isBinary);
        if (earlyClose) h.close(...earlyClose);
      };
      ws.once('open', () => {
        settled = true;
        resolve({ ok: true, ws, attach });
      });
      ws.on('error', (err: Error) => {
        if (settled) return;
        settled = true;
        ws.terminate();
        resolve({ ok: false, error: err.message });
      });
    });
  }

  /** JSON for a frame Bandwidth sends, `eventType` placed per the option (last by default). */
  private sendFrame(live: LiveStream, eventType: string, fields: Record<string, unknown>): Record<string, unknown> {
    const frame = this.opts.eventTypePosition === 'first' ? { eventType, ...fields } : { ...fields, eventType };
    const text = JSON.stringify(frame);
    if (live.ws.readyState === WebSocket.OPEN) live.ws.send(text);
    this.sent.push({ atMs: this.clock.now(), eventType, text });
    return frame;
  }

  /** The 20 ms beat: one inbound frame out, one frame of playout heard (plus catch-up after a stall). */
  private tick(live: LiveStream): void {
    if (!live.open) return;
    const due = Math.floor((this.clock.now() - live.info.startedAtMs) / PLAYOUT_TICK_MS) - live.framesTicked;
    const n = Math.min(due, MAX_CATCH_UP_FRAMES);
    for (let i = 0; i < n; i++) this.frame(live);
    if (due > n) live.framesTicked += due - n; // a long stall: frames lost, as on a real network
  }

  private frame(live: LiveStream): void {
    const k = ++live.framesTicked;
    const tickAtMs = live.info.startedAtMs + k * PLAYOUT_TICK_MS;
    // Playout: the next 20 ms leave the queue and are heard during [tick, tick + 20).
    const heard = this.pullPlayout(live, tickAtMs);
    if (live.info.tracks.includes('inbound')) {
      // Frame k carries what the caller said during stream time [20(k-1), 20k).
      const bytes = renderMulaw(this.audio, live.audioOffsetBytes + (k - 1) * FRAME_BYTES, FRAME_BYTES);
      this.inboundChunks.push(bytes);
      this.stats.inboundFramesSent++;
      this.sendFrame(live, 'media', { track: 'inbound', payload: bytes.toString('base64'), sequenceNumber: String(++live.inboundSeq) });
    }
    if (live.info.tracks.includes('outbound')) {
      const out = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
      heard.copy(out);
      this.stats.outboundFramesSent++;
      this.sendFrame(live, 'media', { track: 'outbound', payload: out.toString('base64'), sequenceNumber: String(++live.outboundSeq) });
    }
  }

  private pullPlayout(live: LiveStream, tickAtMs: number): Buffer {
    const parts: Buffer[] = [];
    let want = FRAME_BYTES;
    while (want > 0) {
      const head = live.queue[0];
      if (!head || head.playableAtMs > tickAtMs) break;
      const take = Math.min(want, head.bytes.length - head.offset);
      parts.push(head.bytes.subarray(head.offset, head.offset + take));
      head.offset += take;
      want -= take;
      if (head.offset >= head.bytes.length) live.queue.shift();
    }
    const heard = Buffer.concat(parts);
    if (heard.length === 0) return heard;
    live.queueBytes -= heard.length;
    if (this.openRun) this.openRun.playedBytes += heard.length;
    this.heardChunks.push(heard);
    this.stats.heardBytes += heard.length;
    if (this.firstHeardAtMs === undefined) this.firstHeardAtMs = tickAtMs;
    const endMs = tickAtMs + mulawBytesToMs(heard.length);
    const last = this.heardSegments[this.heardSegments.length - 1];
    if (last && last.endMs === tickAtMs) {
      last.endMs = endMs;
      last.bytes += heard.length;
    } else {
      this.heardSegments.push({ startMs: tickAtMs, endMs, bytes: heard.length });
    }
    return heard;
  }

  private onMessage(live: LiveStream, data: WebSocket.RawData, isBinary: boolean): void {
    const atMs = this.clock.now();
    if (isBinary) {
      this.stats.binaryMessages++;
      this.stats.invalidMessages++;
      this.received.push({ atMs, kind: 'invalid', binary: true, error: 'binary frame (Bandwidth takes JSON text frames)' });
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const invalid = (error: string, message?: unknown, eventType?: string): void => {
      this.stats.invalidMessages++;
      this.received.push({ atMs, kind: 'invalid', text, error, ...(message !== undefined ? { message } : {}), ...(eventType !== undefined ? { eventType } : {}) });
    };
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      invalid('not JSON');
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      invalid('not a JSON object', message);
      return;
    }
    const eventType = (message as { eventType?: unknown }).eventType;
    if (typeof eventType !== 'string') {
      invalid('no string eventType', message);
      return;
    }
    if (eventType === 'playAudio' || eventType === 'clear') {
      if (!live.open) {
        this.received.push({ atMs, kind: eventType, eventType, text, message, ignored: 'arrived after the stream stopped' });
        return;
      }
      if (live.info.mode !== 'bidirectional') {
        invalid(`${eventType} on a unidirectional stream`, message, eventType);
        return;
      }
    }
    if (eventType === 'playAudio') {
      const media = (message as { media?: { contentType?: unknown; payload?: unknown } }).media;
      const decoded = live.decoder.decode(media?.contentType, media?.payload);
      if ('error' in decoded) {
        invalid(decoded.error, message, eventType);
        return;
      }
      this.stats.playAudioMessages++;
      if (decoded.mulaw.length > 0) {
        const lastHeard = this.heardSegments[this.heardSegments.length - 1];
        const empty = live.queueBytes === 0 && !(lastHeard && lastHeard.endMs > atMs);
        live.queue.push({ bytes: decoded.mulaw, offset: 0, playableAtMs: atMs + this.latencyMs + (empty ? this.jitterMs : 0) });
        if (!this.openRun) this.runs.push((this.openRun = { startedAtMs: atMs, receivedBytes: 0, playedBytes: 0 }));
        this.openRun.receivedBytes += decoded.mulaw.length;
        live.queueBytes += decoded.mulaw.length;
        this.stats.queuedBytes += decoded.mulaw.length;
        this.stats.maxQueueBytes = Math.max(this.stats.maxQueueBytes, live.queueBytes);
      }
      this.received.push({ atMs, kind: 'playAudio', eventType, text, message, queuedBytes: decoded.mulaw.length });
      return;
    }
    if (eventType === 'clear') {
      const clearedBytes = live.queueBytes;
      live.queue = [];
      live.queueBytes = 0;
      live.decoder.reset();
      this.endRun(atMs, 'clear');
      this.stats.clearMessages++;
      this.stats.clearedBytes += clearedBytes;
      this.received.push({ atMs, kind: 'clear', eventType, text, message, clearedBytes });
      return;
    }
    this.stats.unknownMessages++;
    this.received.push({ atMs, kind: 'unknown', eventType, text, message, error: `unknown eventType ${JSON.stringify(eventType)}` });
  }

  private endRun(atMs: number, by: 'clear' | 'stream-end'): void {
    if (!this.openRun) return;
    this.openRun.endedAtMs = atMs;
    this.openRun.endedBy = by;
    this.openRun = undefined;
  }

  /** Shut the stream down from the platform side; the caller/BXML ended it. */
  private async stopStream(live: LiveStream, by: 'caller' | 'bxml'): Promise<void> {
    if (!live.open) return live.done;
    this.closeLive(live, by);
    this.sendFrame(live, 'stop', { metadata: live.metadata });
    live.ws.close(1000);
    live.info.closeCode = 1000;
    live.info.cause = 'closed';
    await this.streamCallback(live, 'mediaStreamStopped', { cause: 'closed', duration: isoDuration((live.info.endedAtMs ?? 0) - live.info.startedAtMs) });
    live.resolveDone();
  }

  private closeLive(live: LiveStream, by: StreamEndedBy): void {
    live.open = false;
    this.clock.clear(live.ticker);
    live.ticker = undefined;
    live.info.endedAtMs = this.clock.now();
    live.info.endedBy = by;
    this.stats.droppedAtStreamEndBytes += live.queueBytes;
    this.endRun(live.info.endedAtMs, 'stream-end');
    live.queue = [];
    live.queueBytes = 0;
  }

  /**
   * The server closed the socket. Normal closes (1000, 1001, 1005 and application codes 3000–4999) are
   * reported as `closed`; anything else as `connection-error` (BW §3; the mapping is an assumption).
   */
  private async onServerClose(live: LiveStream, code: number, reason: string): Promise<void> {
    if (!live.open) return;
    this.closeLive(live, 'server');
    live.info.closeCode = code;
    live.info.closeReason = reason;
    const normal = code === 1000 || code === 1001 || code === 1005 || (code >= 3000 && code <= 4999);
    const cause = normal ? 'closed' : 'connection-error';
    live.info.cause = cause;
    const extra: { cause: string; duration: string; errorMessage?: string } = { cause, duration: isoDuration((live.info.endedAtMs ?? 0) - live.info.startedAtMs) };
    if (!normal) extra.errorMessage = live.info.errorMessage = `WebSocket connection to destination closed abnormally (code ${code})`;
    await this.streamCallback(live, 'mediaStreamStopped', extra);
    live.resolveDone();
  }
}
