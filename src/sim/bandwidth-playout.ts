/**
 * The carrier's playout model for the Bandwidth caller stand-in (BW §4.3; docs/simulator.md#carrier-playout):
 * playAudio audio queues per stream, leaves in ≤ 20 ms pieces on the stream's tick once its latency
 * (and, after silence, the jitter buffer) has passed, and what leaves is what the caller heard.
 */
import { mulawBytesToMs } from '../bridge/codec';
import { FRAME_BYTES, PlayAudioDecoder } from './bandwidth-audio';
import type { CallerStats } from './bandwidth-call-types';

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

interface QueuedChunk {
  bytes: Buffer;
  offset: number;
  playableAtMs: number;
}

/** One stream's carrier queue: what playAudio delivered and has not left yet, and its decoder. */
export class PlayoutQueue {
  chunks: QueuedChunk[] = [];
  bytes = 0;
  readonly decoder = new PlayAudioDecoder();
}

/**
 * What the caller heard over the whole call (across streams): the audio, its segments, and the runs
 * between one `clear` and the next. Counts go into the call's shared `stats`.
 */
export class CarrierPlayout {
  readonly heardChunks: Buffer[] = [];
  readonly heardSegments: HeardSegment[] = [];
  readonly runs: PlayoutRun[] = [];
  firstHeardAtMs: number | undefined;
  private openRun: PlayoutRun | undefined;

  constructor(
    private readonly stats: CallerStats,
    private readonly latencyMs: number,
    private readonly jitterMs: number,
  ) {}

  /** playAudio audio arrives: queued, playable after the latency (plus the jitter buffer on an empty carrier). */
  enqueue(queue: PlayoutQueue, mulaw: Buffer, atMs: number): void {
    const lastHeard = this.heardSegments[this.heardSegments.length - 1];
    const empty = queue.bytes === 0 && !(lastHeard && lastHeard.endMs > atMs);
    queue.chunks.push({ bytes: mulaw, offset: 0, playableAtMs: atMs + this.latencyMs + (empty ? this.jitterMs : 0) });
    if (!this.openRun) this.runs.push((this.openRun = { startedAtMs: atMs, receivedBytes: 0, playedBytes: 0 }));
    this.openRun.receivedBytes += mulaw.length;
    queue.bytes += mulaw.length;
    this.stats.queuedBytes += mulaw.length;
    this.stats.maxQueueBytes = Math.max(this.stats.maxQueueBytes, queue.bytes);
  }

  /** The next ≤ 20 ms leave the queue at `tickAtMs` and are heard during [tick, tick + bytes/8). */
  pull(queue: PlayoutQueue, tickAtMs: number): Buffer {
    const parts: Buffer[] = [];
    let want = FRAME_BYTES;
    while (want > 0) {
      const head = queue.chunks[0];
      if (!head || head.playableAtMs > tickAtMs) break;
      const take = Math.min(want, head.bytes.length - head.offset);
      parts.push(head.bytes.subarray(head.offset, head.offset + take));
      head.offset += take;
      want -= take;
      if (head.offset >= head.bytes.length) queue.chunks.shift();
    }
    const heard = Buffer.concat(parts);
    if (heard.length === 0) return heard;
    queue.bytes -= heard.length;
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

  /** `clear`: the queue empties at once (a frame already taken is heard in full). Returns the bytes dropped. */
  clear(queue: PlayoutQueue, atMs: number): number {
    const clearedBytes = queue.bytes;
    queue.chunks = [];
    queue.bytes = 0;
    queue.decoder.reset();
    this.endRun(atMs, 'clear');
    return clearedBytes;
  }

  /** The stream ended: what is still queued is never heard. */
  dropAtStreamEnd(queue: PlayoutQueue, atMs: number): void {
    this.stats.droppedAtStreamEndBytes += queue.bytes;
    this.endRun(atMs, 'stream-end');
    queue.chunks = [];
    queue.bytes = 0;
  }

  /** What the caller heard; `streamStartedAtMs` (the audio timeline's 0) gives `firstHeardMs`. */
  heard(streamStartedAtMs: number | undefined): HeardRecord {
    const audio = Buffer.concat(this.heardChunks);
    return {
      segments: this.heardSegments.map((s) => ({ ...s })),
      audio,
      totalMs: mulawBytesToMs(audio.length),
      firstHeardAtMs: this.firstHeardAtMs,
      firstHeardMs: this.firstHeardAtMs !== undefined && streamStartedAtMs !== undefined ? this.firstHeardAtMs - streamStartedAtMs : undefined,
    };
  }

  private endRun(atMs: number, by: 'clear' | 'stream-end'): void {
    if (!this.openRun) return;
    this.openRun.endedAtMs = atMs;
    this.openRun.endedBy = by;
    this.openRun = undefined;
  }
}
