import { MEDIA_BURST_MS, MEDIA_FLOOD_CLOSE_MS, MULAW_BYTES_PER_MS } from '../../constants';

/**
 * Caller audio may not arrive faster than real time (BW §4.2: Bandwidth sends 20 ms every 20 ms). The
 * invariant: audio admitted since the stream started ≤ the time since it started + `burstMs`. A network
 * stall's backlog, however long, arrives within that (the time it stalled was earned), and so does jitter;
 * a peer that sends faster than real time breaks it at once, and what breaks it is dropped and counted.
 * The burst also absorbs clock drift between Bandwidth's media clock and ours (±50 ppm: 1 s after 5 hours).
 * Audio relayed to OpenAI is billed, so a peer that keeps it up (one socket sent 880× real time) is cut off
 * once `closeAfterDroppedMs` has been dropped; a well-behaved peer never has anything dropped.
 */
export class IngressLimit {
  private admittedMs = 0;
  droppedMs = 0;
  droppedFrames = 0;

  constructor(
    private readonly startedAtMs: number,
    private readonly burstMs: number = MEDIA_BURST_MS,
    private readonly closeAfterDroppedMs: number = MEDIA_FLOOD_CLOSE_MS,
  ) {}

  /** May a frame of `bytes` μ-law pass at `nowMs`? A refusal is counted. */
  admit(bytes: number, nowMs: number): boolean {
    const durationMs = bytes / MULAW_BYTES_PER_MS;
    if (this.admittedMs + durationMs <= nowMs - this.startedAtMs + this.burstMs) {
      this.admittedMs += durationMs;
      return true;
    }
    this.droppedMs += durationMs;
    this.droppedFrames++;
    return false;
  }

  /** Has the peer kept it up long enough to be cut off? */
  get flooding(): boolean {
    return this.droppedMs >= this.closeAfterDroppedMs;
  }
}
