/**
 * One media stream of the Bandwidth caller stand-in, from its `start` frame to its end (BW §3, §4.2;
 * docs/simulator.md#media): the 20 ms beat of inbound/outbound `media` frames, the messages the server
 * sends (playAudio, clear), and the three ways it stops (caller/BXML, server close, call teardown).
 */
import WebSocket from 'ws';
import type { Clock, TimerHandle } from '../clock';
import { PLAYOUT_TICK_MS } from '../constants';
import { FRAME_BYTES, MULAW_SILENCE } from './bandwidth-audio';
import type { CallbackRecord, CallerStats, ReceivedMessage, SentFrame, StreamEndedBy, StreamInfo } from './bandwidth-call-types';
import type { HttpMethod } from './bandwidth-callbacks';
import { PlayoutQueue, type CarrierPlayout } from './bandwidth-playout';
import type { CallbackAuth } from './callback-delivery';
import { deferred } from './deferred';

/** Frames sent at most per tick after a stall; older ones are lost, as on a real network. */
const MAX_CATCH_UP_FRAMES = 50;

/** Where a stream's lifecycle callbacks go (BW §3). */
export interface StreamEvents {
  info: StreamInfo;
  eventUrl: URL | undefined;
  eventMethod: HttpMethod;
  eventAuth: CallbackAuth | undefined;
  startIso: string;
}

export interface StreamEventExtra {
  cause?: string;
  errorMessage?: string;
  duration?: string;
  original?: StreamEvents;
}

/** What a stream needs from its call. */
export interface MediaStreamHost {
  readonly clock: Clock;
  readonly eventTypePosition: 'first' | 'last' | undefined;
  readonly sent: SentFrame[];
  readonly received: ReceivedMessage[];
  readonly stats: CallerStats;
  readonly playout: CarrierPlayout;
  readonly inboundChunks: Buffer[];
  /** μ-law of what the caller says at `offsetBytes` on the call's audio timeline. */
  callerAudio(offsetBytes: number, length: number): Buffer;
  /** The recorded send time of each inbound frame of the call (SimulatedCallOptions.inboundFrameAtMs), if any. */
  readonly inboundFrameAtMs: readonly number[] | undefined;
  /** Send a stream lifecycle callback (nothing when the verb named no streamEventUrl). */
  streamEvent(events: StreamEvents, eventType: string, extra: StreamEventExtra): Promise<CallbackRecord> | undefined;
}

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

/** A stream event's body (BW §3): the common fields plus `mediaStream` (and `originalMediaStream` for a duplicate). */
export function streamEventBody(common: Record<string, unknown>, events: StreamEvents, extra: StreamEventExtra): Record<string, unknown> {
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
  const body: Record<string, unknown> = { ...common, mediaStream: describe(events, extra.duration) };
  if (extra.cause !== undefined) body.cause = extra.cause;
  if (extra.errorMessage !== undefined) body.errorMessage = extra.errorMessage;
  if (extra.original) body.originalMediaStream = describe(extra.original);
  // The fixtures (and the live toolkit capture) list stream-event keys alphabetically.
  return Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export class MediaStream implements StreamEvents {
  readonly info: StreamInfo;
  readonly eventUrl: URL | undefined;
  readonly eventMethod: HttpMethod;
  readonly eventAuth: CallbackAuth | undefined;
  readonly queue = new PlayoutQueue();
  open = true;
  framesTicked = 0;
  /** Resolves when the stream is over and its mediaStreamStopped has been sent. */
  readonly done: Promise<void>;
  private readonly resolveDone: () => void;
  private ticker: TimerHandle | undefined;
  private inboundSeq = 0;
  private outboundSeq = 0;

  constructor(
    private readonly host: MediaStreamHost,
    events: Omit<StreamEvents, 'startIso'>,
    /** When the socket opened (ISO), for the stream events. */
    readonly startIso: string,
    readonly ws: WebSocket,
    /** Where this stream's frame 1 starts on the caller's audio timeline (bytes; 0 for the first stream). */
    readonly audioOffsetBytes: number,
    readonly metadata: Record<string, unknown>,
  ) {
    this.info = events.info;
    this.eventUrl = events.eventUrl;
    this.eventMethod = events.eventMethod;
    this.eventAuth = events.eventAuth;
    const done = deferred<void>();
    this.done = done.promise;
    this.resolveDone = done.resolve;
  }

  /** Start the 20 ms beat. */
  startTicking(): void {
    this.ticker = this.host.clock.setInterval(() => this.tick(), PLAYOUT_TICK_MS);
  }

  /** JSON for a frame Bandwidth sends, `eventType` placed per the option (last by default). */
  sendFrame(eventType: string, fields: Record<string, unknown>): Record<string, unknown> {
    const frame = this.host.eventTypePosition === 'first' ? { eventType, ...fields } : { ...fields, eventType };
    const text = JSON.stringify(frame);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    this.host.sent.push({ atMs: this.host.clock.now(), eventType, text });
    return frame;
  }

  /** The 20 ms beat: one inbound frame out, one frame of playout heard (plus catch-up after a stall). */
  private tick(): void {
    if (!this.open) return;
    const due = Math.floor((this.host.clock.now() - this.info.startedAtMs) / PLAYOUT_TICK_MS) - this.framesTicked;
    const n = Math.min(due, MAX_CATCH_UP_FRAMES);
    for (let i = 0; i < n; i++) this.frame();
    if (due > n) this.framesTicked += due - n; // a long stall: frames lost, as on a real network
    this.scheduledInbound();
  }

  /** Playback: the call's next recorded inbound frames whose time has come, each with its own bytes. */
  private scheduledInbound(): void {
    const at = this.host.inboundFrameAtMs;
    if (!at || !this.info.tracks.includes('inbound')) return;
    const now = this.host.clock.now();
    for (let g = this.host.stats.inboundFramesSent; g < at.length && at[g]! <= now; g = this.host.stats.inboundFramesSent) this.sendInbound(g * FRAME_BYTES);
  }

  private sendInbound(offsetBytes: number): void {
    const bytes = this.host.callerAudio(offsetBytes, FRAME_BYTES);
    this.host.inboundChunks.push(bytes);
    this.host.stats.inboundFramesSent++;
    this.sendFrame('media', { track: 'inbound', payload: bytes.toString('base64'), sequenceNumber: String(++this.inboundSeq) });
  }

  private frame(): void {
    const { host, info } = this;
    const k = ++this.framesTicked;
    const tickAtMs = info.startedAtMs + k * PLAYOUT_TICK_MS;
    // Playout: the next 20 ms leave the queue and are heard during [tick, tick + 20).
    const heard = host.playout.pull(this.queue, tickAtMs);
    // Frame k carries what the caller said during stream time [20(k-1), 20k) (in playback: scheduledInbound).
    if (info.tracks.includes('inbound') && !host.inboundFrameAtMs) this.sendInbound(this.audioOffsetBytes + (k - 1) * FRAME_BYTES);
    if (info.tracks.includes('outbound')) {
      const out = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
      heard.copy(out);
      host.stats.outboundFramesSent++;
      this.sendFrame('media', { track: 'outbound', payload: out.toString('base64'), sequenceNumber: String(++this.outboundSeq) });
    }
  }

  /** A message from the server: playAudio and clear act on the carrier, anything else is recorded as refused. */
  onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const { stats, received } = this.host;
    const atMs = this.host.clock.now();
    if (isBinary) {
      stats.binaryMessages++;
      stats.invalidMessages++;
      received.push({ atMs, kind: 'invalid', binary: true, error: 'binary frame (Bandwidth takes JSON text frames)' });
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const invalid = (error: string, message?: unknown, eventType?: string): void => {
      stats.invalidMessages++;
      received.push({ atMs, kind: 'invalid', text, error, ...(message !== undefined ? { message } : {}), ...(eventType !== undefined ? { eventType } : {}) });
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
      if (!this.open) {
        received.push({ atMs, kind: eventType, eventType, text, message, ignored: 'arrived after the stream stopped' });
        return;
      }
      if (this.info.mode !== 'bidirectional') {
        invalid(`${eventType} on a unidirectional stream`, message, eventType);
        return;
      }
    }
    if (eventType === 'playAudio') {
      const media = (message as { media?: { contentType?: unknown; payload?: unknown } }).media;
      const decoded = this.queue.decoder.decode(media?.contentType, media?.payload);
      if ('error' in decoded) {
        invalid(decoded.error, message, eventType);
        return;
      }
      stats.playAudioMessages++;
      if (decoded.mulaw.length > 0) this.host.playout.enqueue(this.queue, decoded.mulaw, atMs);
      received.push({ atMs, kind: 'playAudio', eventType, text, message, queuedBytes: decoded.mulaw.length });
      return;
    }
    if (eventType === 'clear') {
      const clearedBytes = this.host.playout.clear(this.queue, atMs);
      stats.clearMessages++;
      stats.clearedBytes += clearedBytes;
      received.push({ atMs, kind: 'clear', eventType, text, message, clearedBytes });
      return;
    }
    stats.unknownMessages++;
    received.push({ atMs, kind: 'unknown', eventType, text, message, error: `unknown eventType ${JSON.stringify(eventType)}` });
  }

  /** Shut the stream down from the platform side; the caller/BXML ended it (BW §4.2 stop, §3 mediaStreamStopped). */
  async stop(by: 'caller' | 'bxml'): Promise<void> {
    if (!this.open) return this.done;
    this.close(by);
    this.sendFrame('stop', { metadata: this.metadata });
    this.ws.close(1000);
    this.info.closeCode = 1000;
    this.info.cause = 'closed';
    await this.host.streamEvent(this, 'mediaStreamStopped', { cause: 'closed', duration: isoDuration((this.info.endedAtMs ?? 0) - this.info.startedAtMs) });
    this.resolveDone();
  }

  /**
   * The server closed the socket. Normal closes (1000, 1001, 1005 and application codes 3000–4999) are
   * reported as `closed`; anything else as `connection-error` (BW §3; the mapping is an assumption).
   */
  async onServerClose(code: number, reason: string): Promise<void> {
    if (!this.open) return;
    this.close('server');
    const info = this.info;
    info.closeCode = code;
    info.closeReason = reason;
    const normal = code === 1000 || code === 1001 || code === 1005 || (code >= 3000 && code <= 4999);
    const cause = normal ? 'closed' : 'connection-error';
    info.cause = cause;
    const extra: { cause: string; duration: string; errorMessage?: string } = { cause, duration: isoDuration((info.endedAtMs ?? 0) - info.startedAtMs) };
    if (!normal) extra.errorMessage = info.errorMessage = `WebSocket connection to destination closed abnormally (code ${code})`;
    await this.host.streamEvent(this, 'mediaStreamStopped', extra);
    this.resolveDone();
  }

  /** Tear the stream down without a stop frame or callback (the stand-in was destroyed or failed). */
  terminate(): void {
    this.host.clock.clear(this.ticker);
    this.open = false;
    this.ws.terminate();
    this.resolveDone();
  }

  private close(by: StreamEndedBy): void {
    this.open = false;
    this.host.clock.clear(this.ticker);
    this.ticker = undefined;
    this.info.endedAtMs = this.host.clock.now();
    this.info.endedBy = by;
    this.host.playout.dropAtStreamEnd(this.queue, this.info.endedAtMs);
  }
}
