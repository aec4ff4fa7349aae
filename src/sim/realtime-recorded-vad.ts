/**
 * Server VAD as a recording says it went (a whole-call replay, realtime-playback.ts): OpenAI's VAD is not an
 * energy detector, so on a call recorded against it the caller's turns start and stop where it put them, not
 * where the stand-in's EnergyVad would. Each recorded `speech_started`/`speech_stopped` (RT §1.5: its
 * `audio_start_ms`/`audio_end_ms`, offsets into all audio appended this session) is given again once as much
 * audio has been appended as had been when it came then. Positions are audio time, never a clock.
 */
import type { VadEvent, VadParams } from './realtime-vad';

export interface RecordedVadEvent {
  kind: 'start' | 'stop';
  /** Audio appended this session (ms) when the event came. */
  atMs: number;
  /** Its `audio_start_ms` (start) or `audio_end_ms` (stop). */
  audioMs: number;
}

/** The turn detector a session uses: EnergyVad, or RecordedVad in playback. */
export interface TurnDetector {
  push(samples: Int16Array, sampleRate: number): VadEvent[];
  reset(positionMs: number): void;
  setParams(params: VadParams): void;
}

export class RecordedVad implements TurnDetector {
  private next = 0;

  constructor(
    private readonly events: readonly RecordedVadEvent[],
    private params: VadParams,
    private positionMs: number,
  ) {}

  setParams(params: VadParams): void {
    this.params = params;
  }

  /** A commit or clear moves nothing here: the recorded turns are on the session's whole audio timeline. */
  reset(positionMs: number): void {
    this.positionMs = positionMs;
  }

  push(samples: Int16Array, sampleRate: number): VadEvent[] {
    this.positionMs += (samples.length * 1000) / sampleRate;
    const out: VadEvent[] = [];
    for (let e = this.events[this.next]; e && e.atMs <= this.positionMs + 1e-6; e = this.events[++this.next]) {
      // InputTurns takes the prefix padding off an onset (RT §1.5: audio_start_ms includes it): add it back.
      out.push(e.kind === 'start' ? { kind: 'start', onsetMs: e.audioMs + this.params.prefixPaddingMs } : { kind: 'stop', endMs: e.audioMs, lastSpeechMs: e.audioMs });
    }
    return out;
  }
}
