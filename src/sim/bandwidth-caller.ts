/**
 * The Bandwidth caller stand-in: Bandwidth's platform plus the person on the phone, for tests, the demo
 * and benchmarks. It dials Switchboard the way Bandwidth delivers an inbound call and follows the BXML it
 * gets back. What it models, and the protocol sections it follows (BW §1–§4 of
 * shared/reference/bandwidth-protocol.md), is in docs/simulator.md; its parts are the other
 * src/sim/bandwidth-*.ts files.
 *
 *   const call = new SimulatedCall({ baseUrl, callbackAuth, clock, audio: speechLikeAudio({ startMs: 500, durationMs: 1200 }) });
 *   await call.dial();            // initiate → BXML → media socket up (or rejected → Redirect followed)
 *   await clock.advanceAsync(1000);
 *   call.heard / call.received / call.sentInbound / call.stats
 *   await call.hangup();          // stop frame, close, mediaStreamStopped, disconnect
 */
import { randomUUID } from 'node:crypto';
import { parseXml, type XmlElement } from '../bandwidth/bxml/xml';
import { mulawBytesToMs } from '../bridge/codec';
import { systemClock, type Clock } from '../clock';
import { PLAYOUT_TICK_MS } from '../constants';
import { renderMulaw, shiftAudio, silence, type AudioSegment, type AudioSource } from './bandwidth-audio';
import { BxmlInterpreter } from './bandwidth-bxml-interpreter';
import type { ActiveTransferView, CallHost, HeldAt, SpokenVerb } from './bandwidth-call-host';
import {
  CallNotModifiableError,
  InitiateFailedError,
  type BxmlDocument,
  type CallbackRecord,
  type CallEnd,
  type CallEndReason,
  type CallerStats,
  type ReceivedKind,
  type ReceivedMessage,
  type SentFrame,
  type SimulatedCallOptions,
  type StreamInfo,
  type UpdateCallRequest,
} from './bandwidth-call-types';
import { CallbackSender, type CallbackTarget, type FetchedBxml } from './bandwidth-callbacks';
import { detectionPlan, machineDetectionBody } from './bandwidth-machine-detection';
import { newCallId } from './bandwidth-ids';
import { streamEventBody, type MediaStream, type MediaStreamHost, type StreamEventExtra, type StreamEvents } from './bandwidth-media-stream';
import { CarrierPlayout, type HeardRecord, type PlayoutRun } from './bandwidth-playout';
import { RunControl } from './bandwidth-run-control';
import type { TransferRecord } from './bandwidth-transfer';
import { deferred } from './deferred';

export * from './bandwidth-audio';
export * from './bandwidth-transfer';
export type { CalleeModel, MachineDetectionValue } from './bandwidth-machine-detection';
export * from './bandwidth-call-types';
export { playedPerItem, type HeardRecord, type HeardSegment, type PlayoutRun } from './bandwidth-playout';
export { isoDuration } from './bandwidth-media-stream';
export { basicAuthHeader, offersBasic, type CallbackAuth, type CallbackAuthMode } from './callback-delivery';

/** Carrier buffering when the options give none (`playoutLatencyMs`). */
const DEFAULT_PLAYOUT_LATENCY_MS = 20;

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

  /** Callbacks sent and neither answered nor failed yet: Bandwidth is still waiting for them (BW §1.7). */
  get callbacksInFlight(): number {
    return this.callbacks.filter((c) => c.status === undefined && c.error === undefined).length;
  }
  /** Every BXML document received (initiate first). */
  readonly documents: BxmlDocument[] = [];
  /** Every message received on the media socket. */
  readonly received: ReceivedMessage[] = [];
  /** Every frame sent on the media socket (start, media, stop). */
  readonly sent: SentFrame[] = [];
  /** SpeakSentence / PlayAudio verbs executed (instantaneous in this stand-in). */
  readonly spoken: SpokenVerb[] = [];
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
  heldAt: HeldAt | undefined;
  /** The call's current tag (sent on callbacks after initiate; absent when unset, BW §1.9). */
  tag: string | undefined;
  /** Where key presses go while a `<StartGather>` is active (its dtmfUrl, method and credentials). */
  gather: CallbackTarget | undefined;
  /** The machineDetectionComplete callback, once sent (outbound calls with async machine detection). */
  machineDetectionSent: Promise<CallbackRecord> | undefined;
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
  private audio: AudioSource;
  private live: MediaStream | undefined;
  /** Clock time the first stream opened: 0 ms of the caller's audio timeline. */
  private audioOriginMs: number | undefined;
  private activeTransfer: ActiveTransferView | undefined;
  private destroyed = false;
  private readonly inboundChunks: Buffer[] = [];
  private dialed = false;
  private startIso = '';
  private answerIso: string | undefined;
  private ending: Promise<CallEnd> | undefined;
  private readonly closedDeferred = deferred<CallEnd>();
  private readonly sender: CallbackSender;
  private readonly playout: CarrierPlayout;
  private readonly control: RunControl;
  private readonly interpreter: BxmlInterpreter;

  constructor(options: SimulatedCallOptions) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.clockOrigin = this.clock.now();
    this.epochMs = options.epochMs ?? Date.now();
    this.audio = options.audio ?? silence();
    this.callId = options.callId ?? newCallId();
    this.from = options.from ?? '+19195550142';
    this.to = options.to ?? '+19195550100';
    this.accountId = options.accountId ?? '9901234';
    this.applicationId = options.applicationId ?? '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47';
    this.tag = options.tag || undefined;
    this.callUrl = `https://voice.bandwidth.com/api/v2/accounts/${this.accountId}/calls/${this.callId}`;
    this.closed = this.closedDeferred.promise;
    this.sender = new CallbackSender(this.clock, options, this.callbacks, this.documents);
    this.playout = new CarrierPlayout(this.stats, options.playoutLatencyMs ?? DEFAULT_PLAYOUT_LATENCY_MS, options.jitterBufferMs ?? 0);
    this.control = new RunControl(this.clock, () => !!this.ending);
    this.interpreter = new BxmlInterpreter(this.callHost(), (err) => this.internalError(err));
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
    return this.playout.heard(this.streamStartedAtMs);
  }

  /** The playAudio audio between clears, oldest first, with how much of each was played (a copy). */
  get playoutRuns(): PlayoutRun[] {
    return this.playout.runs.map((r) => ({ ...r }));
  }

  /** Audio waiting in the carrier's playout queue, in ms. */
  get queuedMs(): number {
    return mulawBytesToMs(this.live?.queue.bytes ?? 0);
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
    let fetched: FetchedBxml;
    if (this.opts.answerUrl !== undefined) {
      // BW §1.5 answer: the callee picked up, so answerTime is set; no initiate-only fields.
      this.answerIso = this.startIso;
      fetched = await this.sender.fetchBxml('answer', this.opts.answerUrl, 'POST', this.commonFields('answer'), this.opts.callbackAuth);
    } else {
      const initiateUrl = this.opts.initiateUrl ?? `${base}/bandwidth/voice/initiate`;
      // Nothing has answered or tagged the call yet, so the common fields are exactly initiate's.
      const body = {
        ...this.commonFields('initiate'),
        privacy: false,
        callerDisplayName: '',
        ...this.opts.initiateExtras,
      };
      fetched = await this.sender.fetchBxml('initiate', initiateUrl, 'POST', body, this.opts.callbackAuth);
    }
    if (!fetched.ok) {
      const rec = fetched.record;
      await this.endCall(fetched.invalid ? 'invalid-bxml' : 'callback-error', fetched.invalid ? 'invalid-bxml' : 'callback-error', fetched.error);
      throw new InitiateFailedError(`${fetched.record.eventType} failed: ${fetched.error}`, rec.status, rec.contentType, rec.responseText);
    }
    if (this.opts.answerUrl !== undefined) this.scheduleMachineDetection();
    await this.interpreter.startRun(fetched.doc);
    return this;
  }

  /**
   * The caller presses keys: one `dtmf` callback per key, in order, to the active `<StartGather>`'s dtmfUrl
   * (bandwidth.yml dtmfCallback: "sent for every digit detected after a <StartGather> verb is executed").
   */
  async pressKeys(keys: string): Promise<CallbackRecord[]> {
    const sent: CallbackRecord[] = [];
    for (const digit of keys) {
      const gather = this.gather;
      if (!gather) throw new Error('pressKeys(): no <StartGather> is active, so Bandwidth reports no key presses');
      sent.push(await this.sender.sendAsync('dtmf', gather.url, gather.method, { ...this.commonFields('dtmf'), digit }, gather.auth));
    }
    return sent;
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
    await this.interpreter.startRun({ atMs: this.clock.now(), eventType: 'updateCall', url: update.redirectUrl, xml: '', root });
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
    await this.interpreter.startRun(doc);
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
    const streamMs = mulawBytesToMs(live.audioOffsetBytes) + live.framesTicked * PLAYOUT_TICK_MS + (options.delayMs ?? 0);
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
    if (live) live.terminate();
    if (!this.ended) this.finish({ reason: 'internal-error', atMs: this.clock.now(), errorMessage: 'destroyed' });
    this.ending ??= Promise.resolve(this.ended ?? { reason: 'internal-error', atMs: this.clock.now() });
    this.control.wakeAll();
  }

  // -------------------------------------------------------------------------------------------------
  // The parts' view of the call (bandwidth-call-host.ts)

  /**
   * Built once, in the constructor. The parts read and write the call's state through these accessors,
   * so what tests inspect stays plain fields on SimulatedCall.
   */
  private callHost(): CallHost {
    const call = this;
    const mediaHost: MediaStreamHost = {
      clock: this.clock,
      eventTypePosition: this.opts.eventTypePosition,
      sent: this.sent,
      received: this.received,
      stats: this.stats,
      playout: this.playout,
      inboundChunks: this.inboundChunks,
      callerAudio: (offsetBytes, length) => renderMulaw(this.audio, offsetBytes, length),
      inboundFrameAtMs: this.opts.inboundFrameAtMs,
      streamEvent: (events, eventType, extra) => this.streamEvent(events, eventType, extra),
    };
    return {
      clock: this.clock,
      opts: this.opts,
      callId: this.callId,
      from: this.from,
      to: this.to,
      accountId: this.accountId,
      applicationId: this.applicationId,
      callbacks: this.sender,
      control: this.control,
      spoken: this.spoken,
      transfers: this.transfers,
      streams: this.streams,
      mediaHost,
      get destroyed() { return call.destroyed; },
      get ending() { return !!call.ending; },
      get tag() { return call.tag; },
      set tag(v) { call.tag = v; },
      get heldAt() { return call.heldAt; },
      set heldAt(v) { call.heldAt = v; },
      get afterStream() { return call.afterStream; },
      set afterStream(v) { call.afterStream = v; },
      get answerIso() { return call.answerIso; },
      set answerIso(v) { call.answerIso = v; },
      get stream() { return call.stream; },
      set stream(v) { call.stream = v; },
      get startFrame() { return call.startFrame; },
      set startFrame(v) { call.startFrame = v; },
      get live() { return call.live; },
      set live(v) { call.live = v; },
      get audioOriginMs() { return call.audioOriginMs; },
      set audioOriginMs(v) { call.audioOriginMs = v; },
      get activeTransfer() { return call.activeTransfer; },
      set activeTransfer(v) { call.activeTransfer = v; },
      get gather() { return call.gather; },
      set gather(v) { call.gather = v; },
      iso: () => this.iso(),
      commonFields: (eventType) => this.commonFields(eventType),
      endCall: (reason, cause, errorMessage) => this.endCall(reason, cause, errorMessage),
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Callbacks

  private iso(): string {
    return new Date(this.epochMs + (this.clock.now() - this.clockOrigin)).toISOString();
  }

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

  /** A stream lifecycle callback (BW §3) to the verb's streamEventUrl, if it named one. */
  private streamEvent(events: StreamEvents, eventType: string, extra: StreamEventExtra): Promise<CallbackRecord> | undefined {
    if (!events.eventUrl) return undefined;
    return this.sender.sendAsync(eventType, events.eventUrl.toString(), events.eventMethod, streamEventBody(this.commonFields(eventType), events, extra), events.eventAuth);
  }

  /** Machine detection runs beside the answer's BXML; its verdict comes when the callee model says (async mode only). */
  private scheduleMachineDetection(): void {
    const plan = detectionPlan(this.opts.machineDetection, this.opts.callee ?? { result: 'human' });
    if (!plan) return;
    this.clock.setTimeout(() => {
      if (this.ending || this.destroyed) return;
      const body = machineDetectionBody(this.commonFields('machineDetectionComplete'), plan.value, plan.afterMs);
      this.machineDetectionSent = this.sender.sendAsync('machineDetectionComplete', plan.url, plan.method, body, plan.auth);
    }, plan.afterMs);
  }

  private assertModifiable(): void {
    if (!this.modifiable) {
      throw new CallNotModifiableError(`Call [${this.callId}] cannot be modified in its current state`);
    }
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
    if (this.live?.open) this.live.terminate();
    this.finish({ reason: 'internal-error', atMs: this.clock.now(), errorMessage: message });
    this.ending ??= Promise.resolve(this.ended ?? { reason: 'internal-error', atMs: this.clock.now() });
    this.control.wakeAll(); // a transfer still waiting on the clock ends, silently
    this.control.markBlocked();
  }

  /** End the call as Bandwidth would: stop the stream (if any), then `disconnect` to the status URL. */
  private endCall(reason: CallEndReason, cause: string, errorMessage?: string): Promise<CallEnd> {
    if (this.ending) return this.ending;
    this.ending = (async () => {
      const atMs = this.clock.now();
      this.control.wakeAll();
      // Legs of a transfer in progress end first (transferDisconnect), then the A-leg's disconnect.
      const transfer = this.activeTransfer;
      if (transfer) await transfer.abort(reason === 'caller-hangup' ? 'caller' : 'call-ended');
      const live = this.live;
      if (live?.open) await live.stop(reason === 'caller-hangup' ? 'caller' : 'bxml');
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
      await this.sender.sendAsync('disconnect', statusUrl, 'POST', body, this.opts.callbackAuth);
      const end: CallEnd = { reason, atMs, cause, ...(errorMessage !== undefined ? { errorMessage } : {}) };
      this.finish(end);
      this.control.markBlocked();
      return this.ended ?? end;
    })();
    return this.ending;
  }
}
