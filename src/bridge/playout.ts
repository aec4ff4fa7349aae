import type { Clock, TimerHandle } from '../clock';
import { MULAW_BYTES_PER_MS, PLAYOUT_LEAD_MS, PLAYOUT_REFILL_BELOW_MS, PLAYOUT_TICK_MS } from '../constants';
import type { AudioChunk } from './transports';

/**
 * Paced playout (DESIGN §4.4). Bandwidth has no playback acknowledgement (BW §4.3), so the bridge
 * keeps each call's outbound audio itself and sends it at real-time rate, at most `leadMs` ahead of
 * what the carrier is playing. It models the carrier's buffer as a timeline: everything sent so far
 * finishes playing at `bufferedUntilMs`. Then for any item, "heard" = now − when its first byte
 * started playing, clamped to what was sent; and on barge-in the unsent rest is simply dropped.
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

/** Per assistant audio item: what arrived, what was sent, and where on the carrier timeline it began. */
export interface PlayoutItem {
  itemId: string;
  responseId: string;
  contentIndex: number;
  receivedBytes: number;
  sentBytes: number;
  /** Carrier time (clock ms) at which this item's first byte starts playing; undefined until sent. */
  startsAtMs: number | undefined;
  done: boolean;
}

/** What the caller heard of each item at the moment of a barge-in. */
export interface HeardItem {
  itemId: string;
  responseId: string;
  contentIndex: number;
  receivedMs: number;
  heardMs: number;
  done: boolean;
}

/** How far ahead of the carrier a queue stays: between `refillBelowMs` and `leadMs` once it is talking. */
export interface PlayoutPacing {
  leadMs: number;
  refillBelowMs: number;
}

export const DEFAULT_PACING: PlayoutPacing = { leadMs: PLAYOUT_LEAD_MS, refillBelowMs: PLAYOUT_REFILL_BELOW_MS };

interface Pending {
  item: PlayoutItem;
  data: Buffer;
  offset: number;
}

export class PlayoutQueue {
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
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
    /** Sends one playAudio; `startsAtMs` is the clock time its first byte starts playing at the carrier. */
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
      item = { itemId, responseId, contentIndex, receivedBytes: 0, sentBytes: 0, startsAtMs: undefined, done: false };
      this.items.set(itemId, item);
      this.order.push(item);
    }
    item.receivedBytes += mulaw.length;
    this.pending.push({ item, data: mulaw, offset: 0 });
    this.pendingBytes += mulaw.length;
    this.pump();
  }

  markDone(itemId: string): void {
    const item = this.items.get(itemId);
    if (item) item.done = true;
  }

  /** ms of audio queued here and not yet sent. */
  get queuedMs(): number {
    return this.pendingBytes / MULAW_BYTES_PER_MS;
  }

  /** ms of sent audio the carrier has not played yet, at `now`. */
  aheadMs(now: number = this.clock.now()): number {
    return Math.max(0, this.bufferedUntilMs - now);
  }

  /** Is the caller hearing (or about to hear) agent audio? */
  isPlaying(now: number = this.clock.now()): boolean {
    return this.pendingBytes > 0 || this.aheadMs(now) > 0;
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
    const startsAtMs = Math.max(this.bufferedUntilMs, now);
    let position = startsAtMs;
    while (written < wantBytes) {
      const head = this.pending[0]!;
      const take = Math.min(wantBytes - written, head.data.length - head.offset);
      head.data.copy(out, written, head.offset, head.offset + take);
      if (head.item.startsAtMs === undefined) head.item.startsAtMs = position;
      head.item.sentBytes += take;
      position += take / MULAW_BYTES_PER_MS;
      head.offset += take;
      written += take;
      if (head.offset === head.data.length) this.pending.shift();
    }
    this.pendingBytes -= wantBytes;
    this.bufferedUntilMs = position;
    this.firstSentAtMs ??= now;
    this.sentMessages++;
    this.sentBytes += wantBytes;
    this.send({ base64: out.toString('base64'), bytes: wantBytes }, out, startsAtMs);
  }

  /** How much of an item the caller has heard by `now`. */
  heardMs(item: PlayoutItem, now: number = this.clock.now()): number {
    if (item.startsAtMs === undefined) return 0;
    return Math.min(Math.max(0, now - item.startsAtMs), item.sentBytes / MULAW_BYTES_PER_MS);
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
      report.push({ itemId: item.itemId, responseId: item.responseId, contentIndex: item.contentIndex, receivedMs, heardMs, done: item.done });
    }
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.bufferedUntilMs = now;
    this.items.clear();
    this.order.length = 0;
    return report;
  }

  /** Report and forget items that have fully played (also keeps the maps small over a long call). */
  retirePlayed(now: number = this.clock.now()): void {
    while (this.order.length > 0) {
      const item = this.order[0]!;
      if (!item.done || this.heardMs(item, now) < item.receivedBytes / MULAW_BYTES_PER_MS) break;
      this.order.shift();
      this.items.delete(item.itemId);
      this.onItemPlayed(item.itemId);
    }
  }

  /** Is this item still waiting to be heard (queued, or sent but not yet played)? */
  holds(itemId: string): boolean {
    return this.items.has(itemId);
  }
}
