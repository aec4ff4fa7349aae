import path from 'node:path';
import { MULAW_BYTES_PER_MS } from '../constants';
import { ensurePrivateDir } from '../files';
import { mulawToPcm16 } from './codec';
import { WavWriter } from './wav';

/**
 * A call's recording: stereo 8 kHz PCM16 WAV, left = the caller, right = the agent as the
 * caller heard it. The caller's audio is continuous (Bandwidth streams 20 ms frames without gaps, BW
 * §4.2), so it is the master timeline; agent audio is placed at its carrier-timeline position (when the
 * playout clock says it started playing) and anything a `clear` cut off is removed again.
 */
interface AgentSegment {
  startSample: number;
  samples: Int16Array;
}

const SAMPLES_PER_MS = MULAW_BYTES_PER_MS; // μ-law 8 kHz: one byte per sample

export class CallRecorder {
  private readonly wav: WavWriter;
  private callerSamples = 0;
  private agent: AgentSegment[] = [];

  constructor(readonly file: string) {
    ensurePrivateDir(path.dirname(file));
    this.wav = new WavWriter(file, { channels: 2, sampleRate: 8000 });
  }

  /** The caller's next frame(s), μ-law. */
  addCaller(mulaw: Uint8Array): void {
    const left = mulawToPcm16(mulaw);
    const right = new Int16Array(left.length);
    const from = this.callerSamples;
    const to = from + left.length;
    for (const seg of this.agent) {
      const a = Math.max(from, seg.startSample);
      const b = Math.min(to, seg.startSample + seg.samples.length);
      if (a < b) right.set(seg.samples.subarray(a - seg.startSample, b - seg.startSample), a - from);
    }
    this.wav.writeStereo(left, right);
    this.callerSamples = to;
    // Segments entirely in the past are done.
    this.agent = this.agent.filter((s) => s.startSample + s.samples.length > to);
  }

  /** Agent audio, μ-law, that starts playing `startMs` after the stream started. */
  addAgent(mulaw: Uint8Array, startMs: number): void {
    this.agent.push({ startSample: Math.max(0, Math.round(startMs * SAMPLES_PER_MS)), samples: mulawToPcm16(mulaw) });
  }

  /** A `clear` at `atMs`: the carrier drops whatever had not played yet. */
  clearFrom(atMs: number): void {
    const cut = Math.round(atMs * SAMPLES_PER_MS);
    this.agent = this.agent
      .filter((s) => s.startSample < cut)
      .map((s) => (s.startSample + s.samples.length > cut ? { startSample: s.startSample, samples: s.samples.subarray(0, cut - s.startSample) } : s));
  }

  get durationMs(): number {
    return this.callerSamples / SAMPLES_PER_MS;
  }

  close(): Promise<void> {
    return this.wav.close();
  }
}
