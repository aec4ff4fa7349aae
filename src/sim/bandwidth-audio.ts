/**
 * Audio for the Bandwidth caller stand-in (src/sim/bandwidth-caller.ts): what the simulated person says
 * (AudioSource), how it is rendered into 20 ms μ-law frames, WAV files as caller audio, and the decoder the
 * stand-in's carrier uses for incoming `playAudio` payloads (BW §4.3). The G.711 coder, the 24 → 8 kHz
 * resampler and the WAV reader are the bridge's own (src/bridge/codec.ts, src/bridge/wav.ts).
 *
 * Everything here is 8 kHz G.711 μ-law unless a name says otherwise: MULAW_BYTES_PER_MS (8) bytes per
 * millisecond, FRAME_BYTES (160) per PLAYOUT_TICK_MS (20 ms) frame, 0xFF is digital silence.
 */
import fs from 'node:fs';
import { mulawBytesToMs, mulawToPcm16, msToMulawBytes, pcm16FromBytes, pcm16ToMulaw, Resampler } from '../bridge/codec';
import { parseRawWav, type RawWav } from '../bridge/wav';
import { MULAW_BYTES_PER_MS, PLAYOUT_TICK_MS } from '../constants';
import { rmsDbfs } from './realtime-audio';

/** One sample per μ-law byte. */
const MULAW_SAMPLE_RATE = MULAW_BYTES_PER_MS * 1000;
/** One 20 ms media frame of μ-law (BW §4.2: 160 bytes). */
export const FRAME_BYTES = msToMulawBytes(PLAYOUT_TICK_MS);
/** μ-law code for a zero sample (what Bandwidth sends while nobody speaks). */
export const MULAW_SILENCE = 0xff;

/** A stretch of caller audio, `startMs` after the media stream starts (the `start` frame). */
export interface AudioSegment {
  startMs: number;
  /** 8 kHz μ-law bytes. */
  mulaw: Uint8Array;
  label?: string;
}

/** What the caller says over the call: segments at given times, silence everywhere else. */
export interface AudioSource {
  readonly segments: readonly AudioSegment[];
}

export function silence(): AudioSource {
  return { segments: [] };
}

/** Combine sources and segments into one source (where they overlap, the later argument wins). */
export function audioSource(...parts: (AudioSource | AudioSegment)[]): AudioSource {
  const segments: AudioSegment[] = [];
  for (const p of parts) {
    if ('segments' in p) segments.push(...p.segments);
    else segments.push(p);
  }
  return { segments };
}

/** Shift every segment of a source by `offsetMs`. */
export function shiftAudio(source: AudioSource, offsetMs: number): AudioSource {
  return { segments: source.segments.map((s) => ({ ...s, startMs: s.startMs + offsetMs })) };
}

export function fromMulaw(bytes: Uint8Array, options: { startMs?: number; label?: string } = {}): AudioSource {
  return { segments: [{ startMs: options.startMs ?? 0, mulaw: Uint8Array.from(bytes), label: options.label }] };
}

/** A WAV file (PCM16 mono at 8 kHz or an integer multiple of it, or 8-bit μ-law mono at 8 kHz) as caller audio. */
export function fromWavFile(path: string, options: { startMs?: number; label?: string } = {}): AudioSource {
  const mulaw = mulawFromWav(parseRawWav(fs.readFileSync(path)));
  return { segments: [{ startMs: options.startMs ?? 0, mulaw, label: options.label ?? path }] };
}

/**
 * `length` bytes of the source starting `offsetBytes` into the stream timeline (byte i is at i/8 ms),
 * silence where no segment speaks. Later segments win where segments overlap.
 */
export function renderMulaw(source: AudioSource, offsetBytes: number, length: number): Buffer {
  const out = Buffer.alloc(length, MULAW_SILENCE);
  const end = offsetBytes + length;
  for (const seg of source.segments) {
    const segStart = msToMulawBytes(seg.startMs);
    const segEnd = segStart + seg.mulaw.length;
    const from = Math.max(segStart, offsetBytes);
    const to = Math.min(segEnd, end);
    if (from >= to) continue;
    out.set(seg.mulaw.subarray(from - segStart, to - segStart), from - offsetBytes);
  }
  return out;
}

/** End of the last segment, in ms after stream start (0 for silence). */
export function audioEndMs(source: AudioSource): number {
  let end = 0;
  for (const s of source.segments) end = Math.max(end, s.startMs + mulawBytesToMs(s.mulaw.length));
  return end;
}

// ---------------------------------------------------------------------------------------------------
// Levels

/** PCM16 → μ-law, as a Buffer over the codec's output (no copy). */
function toMulawBuffer(samples: Int16Array): Buffer {
  const bytes = pcm16ToMulaw(samples);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** RMS level of μ-law audio in dBFS (full scale = 32768); -Infinity for digital silence or no audio. */
export function mulawRmsDbfs(bytes: Uint8Array): number {
  return rmsDbfs(mulawToPcm16(bytes));
}

// ---------------------------------------------------------------------------------------------------
// Speech-like audio

/** Small seeded PRNG (mulberry32): the same seed gives the same audio (or fuzz input) on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SpeechLikeOptions {
  /** When the speech starts, ms after stream start (or after "now" for `call.say`). Default 0. */
  startMs?: number;
  durationMs: number;
  /** Same seed, same bytes. Default 1. */
  seed?: number;
  /** RMS level of the whole utterance in dBFS. Default -20 (comfortably above an energy VAD's threshold). */
  levelDbfs?: number;
  /** Mean pitch in Hz. Default 140. */
  pitchHz?: number;
  label?: string;
}

/**
 * Synthetic speech: voiced harmonics of a wandering pitch, shaped by two vowel-like formants that change
 * per syllable, under a syllable envelope (120–280 ms syllables, 20–70 ms dips), normalised to `levelDbfs`
 * RMS. Not words, but it has speech's spectrum, rhythm and level, so energy VADs and speech detectors trip on it.
 */
export function speechLikeAudio(options: SpeechLikeOptions): AudioSource {
  const { startMs = 0, durationMs, seed = 1, levelDbfs = -20, pitchHz = 140, label = `speech#${seed}` } = options;
  const n = Math.max(0, msToMulawBytes(durationMs));
  const rand = prng(seed);
  const pcm = new Float64Array(n);

  let i = 0;
  let phase = 0;
  while (i < n) {
    const sylLen = msToMulawBytes(120 + rand() * 160);
    const gapLen = msToMulawBytes(20 + rand() * 50);
    const f0Start = pitchHz * (0.85 + rand() * 0.3);
    const f0End = f0Start * (0.88 + rand() * 0.17);
    const f1 = 350 + rand() * 500; // first formant (vowel height)
    const f2 = 900 + rand() * 1400; // second formant (vowel front/back)
    const gain = 0.6 + rand() * 0.4;
    let weights: number[] = [];
    for (let j = 0; j < sylLen && i < n; j++, i++) {
      const x = j / sylLen;
      const env = gain * Math.pow(Math.sin(Math.PI * x), 0.7);
      const f0 = f0Start + (f0End - f0Start) * x + 3 * Math.sin((2 * Math.PI * 5 * i) / MULAW_SAMPLE_RATE);
      phase += (2 * Math.PI * f0) / MULAW_SAMPLE_RATE;
      if (j % 40 === 0) {
        // Harmonic weights (1/k roll-off plus two formant peaks) change slowly: refresh every 5 ms.
        weights = [];
        for (let k = 1; k * f0 < 3400; k++) {
          const f = k * f0;
          weights.push((1 / k) * (0.3 + 2.2 * Math.exp(-(((f - f1) / 160) ** 2)) + 1.4 * Math.exp(-(((f - f2) / 220) ** 2))));
        }
      }
      let v = 0;
      for (let k = 1; k <= weights.length; k++) v += (weights[k - 1] ?? 0) * Math.sin(k * phase);
      pcm[i] = env * v + 0.01 * (rand() - 0.5);
    }
    for (let j = 0; j < gapLen && i < n; j++, i++) pcm[i] = 0.004 * (rand() - 0.5);
  }

  let sum = 0;
  for (const v of pcm) sum += v * v;
  const rms = n > 0 ? Math.sqrt(sum / n) : 0;
  const target = 32768 * Math.pow(10, levelDbfs / 20);
  const scale = rms > 0 ? target / rms : 0;
  const samples = new Int16Array(n);
  for (let k = 0; k < n; k++) samples[k] = Math.max(-32767, Math.min(32767, Math.round((pcm[k] ?? 0) * scale)));
  return { segments: [{ startMs, mulaw: toMulawBuffer(samples), label }] };
}

// ---------------------------------------------------------------------------------------------------
// Downsampling to 8 kHz, and WAV files as caller audio

/**
 * 24 kHz PCM16 → 8 kHz with the codec's anti-alias FIR, for a whole recording: the filter is flushed and its
 * group delay removed, so sample k of the output is input sample 3k. (The streaming PlayAudioDecoder keeps the
 * delay, as a live carrier would.)
 */
function downsample24kWhole(samples: Int16Array): Int16Array {
  const resampler = new Resampler('24k->8k');
  const head = resampler.process(samples);
  const tail = resampler.flush();
  const all = new Int16Array(head.length + tail.length);
  all.set(head);
  all.set(tail, head.length);
  const from = resampler.delaySamples;
  return all.subarray(from, from + Math.floor(samples.length / 3));
}

/**
 * Average each run of `factor` samples: a simple low-pass-and-decimate, for the rates the codec's resampler
 * does not cover (it is 24 ↔ 8 kHz only): 16 kHz playAudio, and WAV files at 16, 32, 48 … kHz.
 */
function boxDownsample(samples: Int16Array, factor: number): Int16Array {
  if (factor === 1) return samples;
  const out = new Int16Array(Math.floor(samples.length / factor));
  for (let k = 0; k < out.length; k++) {
    let sum = 0;
    for (let j = 0; j < factor; j++) sum += samples[k * factor + j] ?? 0;
    out[k] = Math.round(sum / factor);
  }
  return out;
}

/**
 * A mono WAV file's audio as 8 kHz μ-law caller audio: μ-law (8 kHz) byte for byte; PCM16 at 8 kHz encoded,
 * at 24 kHz resampled with the codec's filter, at other multiples of 8 kHz box-downsampled.
 */
export function mulawFromWav(wav: RawWav): Buffer {
  if (wav.channels !== 1) throw new Error(`WAV file has ${wav.channels} channels; only mono is supported`);
  if (wav.encoding === 'mulaw') {
    if (wav.sampleRate !== MULAW_SAMPLE_RATE) throw new Error(`μ-law WAV at ${wav.sampleRate} Hz; only ${MULAW_SAMPLE_RATE} Hz is supported`);
    return Buffer.from(wav.data);
  }
  if (wav.sampleRate % MULAW_SAMPLE_RATE !== 0) throw new Error(`PCM WAV at ${wav.sampleRate} Hz; use ${MULAW_SAMPLE_RATE} Hz or a multiple of it`);
  const samples = pcm16FromBytes(wav.data);
  const factor = wav.sampleRate / MULAW_SAMPLE_RATE;
  return toMulawBuffer(factor === 3 ? downsample24kWhole(samples) : boxDownsample(samples, factor));
}

// ---------------------------------------------------------------------------------------------------
// playAudio payloads (BW §4.3)

/** `contentType` of μ-law playAudio. */
export const CONTENT_TYPE_PCMU = 'audio/pcmu';
/** The long linear-PCM form Bandwidth's own code sends (S8), at 8, 16 or 24 kHz. */
export function pcmContentType(rate: 8000 | 16000 | 24000): string {
  return `audio/pcm;rate=${rate};channels=1;bit-depth=16;endian=little;encoding=signed`;
}
/** The only contentTypes with evidence behind them (BW §4.3). Anything else is refused. */
export const SUPPORTED_PLAY_CONTENT_TYPES: readonly string[] = [CONTENT_TYPE_PCMU, pcmContentType(8000), pcmContentType(16000), pcmContentType(24000)];

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Turns playAudio payloads into 8 kHz μ-law for the carrier's playout queue. 24 kHz PCM goes through the
 * codec's anti-alias resampler, streaming (so what the caller hears lags the payloads by its 1.625 ms group
 * delay, as behind a real carrier's filter); 16 kHz PCM is box-downsampled, 8 kHz PCM only encoded. A payload
 * that ends mid-sample (or, at 16 kHz, mid-decimation-group) carries the remainder into the next payload of
 * the same contentType, and the resampler keeps its history across them, as a continuous stream would. Any
 * other contentType in between, and `reset()` (on `clear`), start afresh.
 */
export class PlayAudioDecoder {
  private carryType: string | undefined;
  private carryBytes: Buffer = Buffer.alloc(0);
  private readonly resampler = new Resampler('24k->8k');

  reset(): void {
    this.carryType = undefined;
    this.carryBytes = Buffer.alloc(0);
    this.resampler.reset();
  }

  decode(contentType: unknown, payload: unknown): { mulaw: Buffer } | { error: string } {
    if (typeof contentType !== 'string') return { error: 'playAudio without media.contentType' };
    if (typeof payload !== 'string') return { error: 'playAudio without a string media.payload' };
    if (!SUPPORTED_PLAY_CONTENT_TYPES.includes(contentType)) return { error: `unsupported playAudio contentType ${JSON.stringify(contentType)}` };
    if (payload.length % 4 !== 0 || !BASE64_RE.test(payload)) return { error: 'playAudio payload is not valid base64' };
    const bytes = Buffer.from(payload, 'base64');
    if (contentType === CONTENT_TYPE_PCMU) {
      this.reset();
      return { mulaw: bytes };
    }
    if (this.carryType !== contentType) this.reset();
    const factor = Number(/rate=(\d+)/.exec(contentType)?.[1]) / MULAW_SAMPLE_RATE;
    const input = Buffer.concat([this.carryBytes, bytes]);
    const groupBytes = factor === 3 ? 2 : 2 * factor; // the resampler tracks its own decimation phase
    const usable = input.length - (input.length % groupBytes);
    this.carryType = contentType;
    this.carryBytes = Buffer.from(input.subarray(usable));
    const samples = pcm16FromBytes(input.subarray(0, usable));
    return { mulaw: toMulawBuffer(factor === 3 ? this.resampler.process(samples) : boxDownsample(samples, factor)) };
  }
}
