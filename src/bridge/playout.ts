import type { Clock, TimerHandle } from '../clock';
import { CARRIER_PLAYOUT_DELAY_MS, MULAW_BYTES_PER_MS, PLAYOUT_LEAD_MS, PLAYOUT_REFILL_BELOW_MS, PLAYOUT_TICK_MS } from '../constants';
import type { AudioChunk } from './transports';

/**
 * Paced playout (DESIGN §4.4). Bandwidth has no playback acknowledgement (BW §4.3), so the bridge
 * keeps each call's outbound audio itself and sends it at real-time rate, at most `leadMs` ahead of
 * what the carrier is playing; on barge-in the unsent rest is simply dropped.
 *
 * Two timelines, kept apart on purpose. Pacing runs on the SEND timeline: what was sent, laid end to end
 * from when it was sent, with no carrier delay. It keeps `refillBelowMs`–`leadMs` of audio at the carrier
 * even if the carrier plays it the moment it arrives, so a tick of timer jitter or a GC pause never
 * empties it (DESIGN §4.4). Were pacing to count the modelled carrier delay as buffer, every refill would
 * go out `carrierDelayMs` later, and a carrier that in fact plays at once would be left with
 * `refillBelowMs − carrierDelayMs` before each refill. The delay belongs to heard accounting only.
 *
 * What the caller heard comes from a model of the carrier's timeline (DESIGN §4.10). Each playAudio
 * occupies [startMs, endMs) on it: right behind the previous one while the carrier still has audio
 * (BW §4.3: "queued and played in order"), or, when it arrives at an empty carrier (the call's first
 * words, a new response, or the model stalling mid-response), `carrierDelayMs` after it was sent: a
 * carrier's jitter buffer fills before it resumes playout. An item's heard audio is the sum of the
 * parts of its segments played by `now`, so a stall inside an item is a gap, not heard audio.
 *
 * One PlayoutScheduler timer serves every call; each tick tops up every queue that fell below its refill
 * mark, to its lead, in one playAudio.
 */
export class PlayoutScheduler {
  private readonly queues = new Set<PlayoutQueue>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly tickMs: number = PLAYOUT_TICK_MS,
  ) {}

  add(queue: PlayoutQueue): void {
    this.queues.add(queue);
    queue.pump();
    this.timer ??= this.clock.setInterval(() => this.tick(), this.tickMs);
  }

  remove(queue: PlayoutQueue): void {
    this.queues.delete(queue);
    if (this.queues.size === 0 && this.timer) {
      this.clock.clear(this.timer);
      this.timer = undefined;
    }
  }

  get size(): number {
    return this.queues.size;
  }

  tick(): void {
    const now = this.clock.now();
    for (const queue of this.queues) queue.pump(now);
  }
}

/**
 * Per assistant audio item: what arrived, what was sent, and where its audio lies on the carrier
 * timeline. Segments that have fully played are folded into `playedMs`, so an item holds at most a few
 * open segments however many stalls it has (bounded memory over a long call).
 */
export interface PlayoutItem {
  itemId: string;
  responseId: string;
  contentIndex: number;
  receivedBytes: number;
  sentBytes: number;
  /** ms of this item in segments that had ended on the carrier timeline when they were folded. */
  playedMs: number;
  /** Open segments on the carrier timeline, flattened: [start0, end0, start1, end1, …] (clock ms). */
  segments: number[];
  done: boolean;
}

/** What the caller heard of each item at the moment of a barge-in. */
export interface HeardItem {
  itemId: string;
  responseId: string;
  contentIndex: number;
  receivedMs: number;
  /** Sent to the carrier for this item: the caller cannot have heard more. */
  sentMs: number;
  heardMs: number;
  done: boolean;
}

/**
 * How far ahead of real time a queue keeps what it sent (between `refillBelowMs` and `leadMs` once it is
 * talking: the send timeline, pacing), and how long the carrier is modelled to wait before it plays audio
 * that reaches it empty (`carrierDelayMs`: the carrier timeline, heard accounting only).
 */
export interface PlayoutPacing {
  leadMs: number;
  refillBelowMs: number;
  carrierDelayMs: number;
}

export const DEFAULT_PACING: PlayoutPacing = { leadMs: PLAYOUT_LEAD_MS, refillBelowMs: PLAYOUT_REFILL_BELOW_MS, carrierDelayMs: CARRIER_PLAYOUT_DELAY_MS };

interface Pending {
  item: PlayoutItem;
  data: Buffer;
  offset: number;
}

export class PlayoutQueue {
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
  /** Where the last audio sent ends on the send timeline (clock ms): pacing, no carrier delay. */
  private sentUntilMs = 0;
  /** Where the last audio sent ends on the modelled carrier timeline (clock ms): heard accounting. Never before `sentUntilMs`. */
  private bufferedUntilMs = 0;
  private readonly items = new Map<string, PlayoutItem>();
  /** Items in the order their audio arrived (for heard accounting). */
  private readonly order: PlayoutItem[] = [];
  private active = false;
  sentMessages = 0;
  sentBytes = 0;
  /** When the first audio of the call was sent (clock ms), for first-word latency. */
  firstSentAtMs: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly pacing: PlayoutPacing,
    /** Sends one playAudio; `startsAtMs` is the clock time its first byte starts playing at the carrier (modelled). */
    private readonly send: (chunk: AudioChunk, bytes: Buffer, startsAtMs: number) => void,
    /** An item's audio is complete and the caller has heard all of it. */
    private readonly onItemPlayed: (itemId: string) => void = () => undefined,
  ) {}

  /** Audio is only sent while active (a caller is attached); before that it waits (pre-warm greeting). */
  setActive(active: boolean): void {
    this.active = active;
    if (active) this.pump();
  }

  /** Queue μ-law audio of an assistant item, and send at once whatever the lead allows. */
  enqueue(itemId: string, responseId: string, contentIndex: number, mulaw: Buffer): void {
    let item = this.items.get(itemId);
    if (!item) {
      item = { itemId, responseId, contentIndex, receivedBytes: 0, sentBytes: 0, playedMs: 0, segments: [], done: false };
      this.items.set(itemId, item);
      this.order.push(item);
    }
    item.receivedBytes += mulaw.length;
    this.pending.push({ item, data: mulaw, offset: 0 });
    this.pendingBytes += mulaw.length;
    this.pump();
  }

  /** The item's audio is complete: nothing more will arrive for it (it can retire once played). */
  markDone(itemId: string): void {
    const item = this.items.get(itemId);
    if (item) item.done = true;
  }

  /** ms of audio queued here and not yet sent. */
  get queuedMs(): number {
    return this.pendingBytes / MULAW_BYTES_PER_MS;
  }

  /** ms of audio sent ahead of real time at `now` on the send timeline (what pacing keeps within the lead). */
  aheadMs(now: number = this.clock.now()): number {
    return Math.max(0, this.sentUntilMs - now);
  }

  /** Is the caller hearing (or about to hear) agent audio? Carrier timeline: a jitter-buffer wait counts. */
  isPlaying(now: number = this.clock.now()): boolean {
    return this.pendingBytes > 0 || this.bufferedUntilMs > now;
  }

  /**
   * Is an item still unfinished for the caller: audio queued or playing, or an item whose audio is not
   * complete yet although everything sent has played (the model stalled mid-response, DESIGN §4.10)?
   * Items that have fully played are retired first.
   */
  hasUnfinishedItems(now: number = this.clock.now()): boolean {
    this.retirePlayed(now);
    return this.order.length > 0 || this.isPlaying(now);
  }

  /**
   * Once the carrier has less than `refillBelowMs` ahead, top it up to `leadMs` in one playAudio. New
   * audio for an idle carrier (a response's first delta) therefore goes out at once.
   */
  pump(now: number = this.clock.now()): void {
    if (this.order.length > 0) this.retirePlayed(now);
    if (!this.active || this.pendingBytes === 0) return;
    const ahead = this.aheadMs(now);
    if (ahead >= this.pacing.refillBelowMs) return;
    const frameBytes = PLAYOUT_TICK_MS * MULAW_BYTES_PER_MS;
    // Whole 20 ms frames: equal, frame-aligned chunks (peers' "choppy audio" complaints, peers.md §B.7).
    const wantBytes = Math.min(this.pendingBytes, Math.ceil(((this.pacing.leadMs - ahead) * MULAW_BYTES_PER_MS) / frameBytes) * frameBytes);
    const out = Buffer.allocUnsafe(wantBytes);
    let written = 0;
    // An empty carrier (its buffer ran dry, or never had audio) plays only after its jitter buffer fills.
    const startsAtMs = this.bufferedUntilMs > now ? this.bufferedUntilMs : now + this.pacing.carrierDelayMs;
    let position = startsAtMs;
    while (written < wantBytes) {
      const head = this.pending[0]!;
      const take = Math.min(wantBytes - written, head.data.length - head.offset);
      head.data.copy(out, written, head.offset, head.offset + take);
      const endMs = position + take / MULAW_BYTES_PER_MS;
      addSegment(head.item, position, endMs, now);
      head.item.sentBytes += take;
      position = endMs;
      head.offset += take;
      written += take;
      if (head.offset === head.data.length) this.pending.shift();
    }
    this.pendingBytes -= wantBytes;
    this.sentUntilMs = (this.sentUntilMs > now ? this.sentUntilMs : now) + wantBytes / MULAW_BYTES_PER_MS;
    this.bufferedUntilMs = position;
    this.firstSentAtMs ??= now;
    this.sentMessages++;
    this.sentBytes += wantBytes;
    this.send({ base64: out.toString('base64'), bytes: wantBytes }, out, startsAtMs);
  }

  /** How much of an item the caller has heard by `now`: the played part of each of its segments. */
  heardMs(item: PlayoutItem, now: number = this.clock.now()): number {
    let heard = item.playedMs;
    const s = item.segments;
    for (let i = 0; i < s.length; i += 2) heard += Math.max(0, Math.min(now, s[i + 1]!) - s[i]!);
    return heard;
  }

  /**
   * Barge-in: drop everything unsent, forget what the carrier had buffered (the caller's `clear`
   * empties it), and report what was heard of each item that was not already fully played.
   */
  interrupt(now: number = this.clock.now()): HeardItem[] {
    this.retirePlayed(now);
    const report: HeardItem[] = [];
    for (const item of this.order) {
      const heardMs = this.heardMs(item, now);
      const receivedMs = item.receivedBytes / MULAW_BYTES_PER_MS;
      if (item.done && heardMs >= receivedMs) continue; // fully played: nothing to truncate
      report.push({ itemId: item.itemId, responseId: item.responseId, contentIndex: item.contentIndex, receivedMs, sentMs: item.sentBytes / MULAW_BYTES_PER_MS, heardMs, done: item.done });
    }
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.sentUntilMs = now;
    this.bufferedUntilMs = now;
    this.items.clear();
    this.order.length = 0;
    return report;
  }

  /** Report and forget items that have fully played (also keeps the maps small over a long call). */
  retirePlayed(now: number = this.clock.now()): void {
    while (this.order.length > 0) {
      const item = this.order[0]!;
      if (!item.done || item.sentBytes < item.receivedBytes || this.heardMs(item, now) < item.receivedBytes / MULAW_BYTES_PER_MS) break;
      this.order.shift();
      this.items.delete(item.itemId);
      this.onItemPlayed(item.itemId);
    }
  }

  /** Items held and open carrier segments among them: what a long call's memory use grows with (it must not). */
  get footprint(): { items: number; openSegments: number } {
    let openSegments = 0;
    for (const item of this.order) openSegments += item.segments.length / 2;
    return { items: this.order.length, openSegments };
  }

  /** Is this item still waiting to be heard (queued, or sent but not yet played)? */
  holds(itemId: string): boolean {
    return this.items.has(itemId);
  }
}

/**
 * Put [startMs, endMs) of carrier timeline on an item: extend its last segment when the audio follows on
 * without a gap (the usual case: no allocation), else open a new one, first folding the segments that
 * have ended by `now` into `playedMs`.
 */
function addSegment(item: PlayoutItem, startMs: number, endMs: number, now: number): void {
  const s = item.segments;
  if (s.length > 0 && s[s.length - 1] === startMs) {
    s[s.length - 1] = endMs;
    return;
  }
  let kept = 0;
  for (let i = 0; i < s.length; i += 2) {
    if (s[i + 1]! <= now) item.playedMs += s[i + 1]! - s[i]!;
    else {
      s[kept++] = s[i]!;
      s[kept++] = s[i + 1]!;
    }
  }
  s.length = kept;
  s.push(startMs, endMs);
}
