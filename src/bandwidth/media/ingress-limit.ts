import { MEDIA_BURST_MS, MEDIA_FLOOD_CLOSE_MS, MULAW_BYTES_PER_MS } from '../../constants';

/**
 * Caller audio may not arrive faster than real time for long (BW §4.2: Bandwidth sends 20 ms every 20 ms).
 * A token bucket in milliseconds of audio: credit grows with the clock up to `burstMs` (a network stall
 * delivers its backlog at once, and that is fine), each frame spends its duration, and a frame without
 * credit is dropped and counted. Audio relayed to OpenAI is billed, so a peer that keeps sending faster
 * than real time (one socket sent 880× real time) is cut off once `closeAfterDroppedMs` has been dropped.
 */
export class IngressLimit {
  private creditMs: number;
  private lastMs: number;
  droppedMs = 0;
  droppedFrames = 0;

  constructor(
    nowMs: number,
    private readonly burstMs: number = MEDIA_BURST_MS,
    private readonly closeAfterDroppedMs: number = MEDIA_FLOOD_CLOSE_MS,
  ) {
    this.creditMs = burstMs;
    this.lastMs = nowMs;
  }

  /** May a frame of `bytes` μ-law pass at `nowMs`? A refusal is counted. */
  admit(bytes: number, nowMs: number): boolean {
    this.creditMs = Math.min(this.burstMs, this.creditMs + Math.max(0, nowMs - this.lastMs));
    this.lastMs = nowMs;
    const durationMs = bytes / MULAW_BYTES_PER_MS;
    if (durationMs <= this.creditMs) {
      this.creditMs -= durationMs;
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
