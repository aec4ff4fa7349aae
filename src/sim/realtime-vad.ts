/**
 * The stand-in's server VAD: short-term energy on 20 ms windows of *audio time* (RT §1.3 "server_vad:
 * energy/VAD-based"; RT §1.5 `audio_start_ms`/`audio_end_ms` are offsets into all audio appended this session,
 * so positions here never come from a wall clock).
 *
 * Threshold mapping (our choice; OpenAI does not publish one): the GA `threshold` in [0, 1] maps linearly to a
 * window level in dBFS, `dBFS = -60 + 50 * threshold`: 0 → -60 dBFS (line hiss triggers it), the default
 * 0.5 → -35 dBFS (normal telephone speech at -15…-25 dBFS triggers it, comfort noise does not), 1 → -10 dBFS
 * (only shouting). RT §7 P3's "0.72 made the agent deaf" lands at -24 dBFS here, i.e. quiet callers go unheard.
 */
import { FRAME_MS, rmsDbfs } from './realtime-audio';

export interface VadParams {
  /** GA `threshold`, 0..1. */
  threshold: number;
  /** GA `prefix_padding_ms`: audio before the onset that belongs to the user turn. Applied by the caller. */
  prefixPaddingMs: number;
  /** GA `silence_duration_ms`: quiet audio that ends a turn. */
  silenceDurationMs: number;
  /** Stand-in knob: consecutive loud audio needed to call it speech (filters clicks). */
  minSpeechMs: number;
}

export type VadEvent =
  /** Speech confirmed; `onsetMs` is the start of the first loud window of the run. */
  | { kind: 'start'; onsetMs: number }
  /** `silenceDurationMs` of quiet reached; `endMs` is where that silence ends (RT §1.5, SDK doc: includes the silence). */
  | { kind: 'stop'; endMs: number; lastSpeechMs: number };

/** RT §1.3 threshold → window level; see the module comment. */
export function thresholdToDbfs(threshold: number): number {
  return -60 + 50 * Math.min(1, Math.max(0, threshold));
}

export class EnergyVad {
  private pending = new Int16Array(0);
  private sampleRate = 0;
  /** Audio time at the start of `pending`. */
  private positionMs: number;
  private speaking = false;
  private loudRunStartMs = 0;
  private loudRunMs = 0;
  private quietMs = 0;
  private lastSpeechEndMs = 0;

  constructor(
    private params: VadParams,
    startMs = 0,
  ) {
    this.positionMs = startMs;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  setParams(params: VadParams): void {
    this.params = params;
  }

  /** Forget any speech in progress and restart counting at `positionMs` (after a commit, clear or format change). */
  reset(positionMs: number): void {
    this.pending = new Int16Array(0);
    this.positionMs = positionMs;
    this.speaking = false;
    this.loudRunMs = 0;
    this.quietMs = 0;
  }

  /** Feed decoded samples; returns the start/stop transitions they contain, in order. */
  push(samples: Int16Array, sampleRate: number): VadEvent[] {
    if (sampleRate !== this.sampleRate) {
      this.sampleRate = sampleRate;
      this.pending = new Int16Array(0);
    }
    const all = concat(this.pending, samples);
    const frame = (sampleRate * FRAME_MS) / 1000;
    const events: VadEvent[] = [];
    let offset = 0;
    for (; offset + frame <= all.length; offset += frame) {
      const event = this.step(rmsDbfs(all, offset, offset + frame) >= thresholdToDbfs(this.params.threshold));
      if (event) events.push(event);
    }
    this.pending = all.slice(offset);
    return events;
  }

  /** One 20 ms window. */
  private step(loud: boolean): VadEvent | undefined {
    const start = this.positionMs;
    const end = start + FRAME_MS;
    this.positionMs = end;
    if (!this.speaking) {
      if (!loud) {
        this.loudRunMs = 0;
        return undefined;
      }
      if (this.loudRunMs === 0) this.loudRunStartMs = start;
      this.loudRunMs += FRAME_MS;
      if (this.loudRunMs < this.params.minSpeechMs) return undefined;
      this.speaking = true;
      this.quietMs = 0;
      this.lastSpeechEndMs = end;
      return { kind: 'start', onsetMs: this.loudRunStartMs };
    }
    if (loud) {
      this.quietMs = 0;
      this.lastSpeechEndMs = end;
      return undefined;
    }
    this.quietMs += FRAME_MS;
    if (this.quietMs < this.params.silenceDurationMs) return undefined;
    this.speaking = false;
    this.loudRunMs = 0;
    return { kind: 'stop', endMs: end, lastSpeechMs: this.lastSpeechEndMs };
  }
}

function concat(a: Int16Array, b: Int16Array): Int16Array {
  if (a.length === 0) return b;
  const out = new Int16Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
