/**
 * Audio for the Bandwidth caller stand-in (src/sim/bandwidth-caller.ts): what the simulated person says
 * (AudioSource), how it is rendered into 20 ms μ-law frames, a small WAV reader/writer, and the decoder the
 * stand-in's carrier uses for incoming `playAudio` payloads (BW §4.3).
 *
 * Everything here is 8 kHz G.711 μ-law unless a name says otherwise: 8 bytes per millisecond, 160 bytes
 * per 20 ms frame, 0xFF is digital silence.
 */
import fs from 'node:fs';
import { mulaw } from 'alawmulaw';

export const MULAW_SAMPLE_RATE = 8000;
export const MULAW_BYTES_PER_MS = 8;
export const FRAME_MS = 20;
export const FRAME_BYTES = FRAME_MS * MULAW_BYTES_PER_MS;
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
  const wav = parseWav(fs.readFileSync(path));
  return { segments: [{ startMs: options.startMs ?? 0, mulaw: wav.mulaw, label: options.label ?? path }] };
}

/** Byte offset in the 8 kHz timeline of a time in ms. */
function byteOffset(ms: number): number {
  return Math.round(ms * MULAW_BYTES_PER_MS);
}

/**
 * `length` bytes of the source starting `offsetBytes` into the stream timeline (byte i is at i/8 ms),
 * silence where no segment speaks. Later segments win where segments overlap.
 */
export function renderMulaw(source: AudioSource, offsetBytes: number, length: number): Buffer {
  const out = Buffer.alloc(length, MULAW_SILENCE);
  const end = offsetBytes + length;
  for (const seg of source.segments) {
    const segStart = byteOffset(seg.startMs);
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
  for (const s of source.segments) end = Math.max(end, s.startMs + s.mulaw.length / MULAW_BYTES_PER_MS);
  return end;
}

// ---------------------------------------------------------------------------------------------------
// Levels

export function decodeMulaw(bytes: Uint8Array): Int16Array {
  return mulaw.decode(bytes);
}

export function encodeMulaw(samples: Int16Array): Buffer {
  return Buffer.from(mulaw.encode(samples));
}

/** RMS level of μ-law audio in dBFS (full scale = 32768); -Infinity for digital silence or no audio. */
export function mulawRmsDbfs(bytes: Uint8Array): number {
  if (bytes.length === 0) return -Infinity;
  const pcm = decodeMulaw(bytes);
  let sum = 0;
  for (const s of pcm) sum += s * s;
  const rms = Math.sqrt(sum / pcm.length);
  return rms === 0 ? -Infinity : 20 * Math.log10(rms / 32768);
}

// ---------------------------------------------------------------------------------------------------
// Speech-like audio

/** Small seeded PRNG (mulberry32): the same seed gives the same audio on every machine. */
function prng(seed: number): () => number {
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
  const n = Math.max(0, Math.round(durationMs * MULAW_BYTES_PER_MS));
  const rand = prng(seed);
  const pcm = new Float64Array(n);

  let i = 0;
  let phase = 0;
  while (i < n) {
    const sylLen = Math.round((120 + rand() * 160) * MULAW_BYTES_PER_MS);
    const gapLen = Math.round((20 + rand() * 50) * MULAW_BYTES_PER_MS);
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
  return { segments: [{ startMs, mulaw: encodeMulaw(samples), label }] };
}

// ---------------------------------------------------------------------------------------------------
// WAV

export interface ParsedWav {
  /** The audio as 8 kHz μ-law. */
  mulaw: Buffer;
  /** The file's own format. */
  format: 'pcm16' | 'mulaw';
  sampleRate: number;
  durationMs: number;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Read a RIFF/WAVE file: PCM16 mono (8 kHz or a multiple, box-downsampled) or μ-law mono 8 kHz. */
export function parseWav(buf: Buffer): ParsedWav {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a WAV file (no RIFF/WAVE header)');
  }
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let data: Buffer | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = buf.subarray(off + 8, Math.min(buf.length, off + 8 + size));
    if (id === 'fmt ') {
      if (body.length < 16) throw new Error('WAV fmt chunk too short');
      let format = body.readUInt16LE(0);
      if (format === WAVE_FORMAT_EXTENSIBLE && body.length >= 26) format = body.readUInt16LE(24);
      fmt = { format, channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
    } else if (id === 'data') {
      data = body;
    }
    off += 8 + size + (size % 2);
  }
  if (!fmt) throw new Error('WAV file has no fmt chunk');
  if (!data) throw new Error('WAV file has no data chunk');
  if (fmt.channels !== 1) throw new Error(`WAV file has ${fmt.channels} channels; only mono is supported`);
  if (fmt.format === WAVE_FORMAT_MULAW && fmt.bits === 8) {
    if (fmt.sampleRate !== MULAW_SAMPLE_RATE) throw new Error(`μ-law WAV at ${fmt.sampleRate} Hz; only 8000 Hz is supported`);
    return { mulaw: Buffer.from(data), format: 'mulaw', sampleRate: fmt.sampleRate, durationMs: data.length / MULAW_BYTES_PER_MS };
  }
  if (fmt.format === WAVE_FORMAT_PCM && fmt.bits === 16) {
    if (fmt.sampleRate % MULAW_SAMPLE_RATE !== 0) throw new Error(`PCM WAV at ${fmt.sampleRate} Hz; use 8000 Hz or a multiple of it`);
    const samples = new Int16Array(Math.floor(data.length / 2));
    for (let k = 0; k < samples.length; k++) samples[k] = data.readInt16LE(k * 2);
    const down = boxDownsample(samples, fmt.sampleRate / MULAW_SAMPLE_RATE);
    return { mulaw: encodeMulaw(down), format: 'pcm16', sampleRate: fmt.sampleRate, durationMs: (samples.length / fmt.sampleRate) * 1000 };
  }
  throw new Error(`unsupported WAV encoding (format ${fmt.format}, ${fmt.bits} bits); use PCM16 or 8-bit μ-law`);
}

/** A μ-law WAV file (format 7, 8 kHz mono) holding `bytes`: e.g. to listen to what the caller heard. */
export function wavFromMulaw(bytes: Uint8Array): Buffer {
  const header = Buffer.alloc(58);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(50 + bytes.length + (bytes.length % 2), 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(18, 16);
  header.writeUInt16LE(WAVE_FORMAT_MULAW, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(MULAW_SAMPLE_RATE, 24);
  header.writeUInt32LE(MULAW_SAMPLE_RATE, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.writeUInt16LE(0, 36);
  header.write('fact', 38, 'ascii');
  header.writeUInt32LE(4, 42);
  header.writeUInt32LE(bytes.length, 46);
  header.write('data', 50, 'ascii');
  header.writeUInt32LE(bytes.length, 54);
  return Buffer.concat([header, Buffer.from(bytes), Buffer.alloc(bytes.length % 2)]);
}

/** A PCM16 mono WAV file. */
export function wavFromPcm16(samples: Int16Array, sampleRate: number): Buffer {
  const header = Buffer.alloc(44);
  const dataBytes = samples.length * 2;
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  const data = Buffer.alloc(dataBytes);
  for (let k = 0; k < samples.length; k++) data.writeInt16LE(samples[k] ?? 0, k * 2);
  return Buffer.concat([header, data]);
}

/** Average each run of `factor` samples: a simple low-pass-and-decimate, enough for a stand-in. */
export function boxDownsample(samples: Int16Array, factor: number): Int16Array {
  if (factor === 1) return samples;
  const out = new Int16Array(Math.floor(samples.length / factor));
  for (let k = 0; k < out.length; k++) {
    let sum = 0;
    for (let j = 0; j < factor; j++) sum += samples[k * factor + j] ?? 0;
    out[k] = Math.round(sum / factor);
  }
  return out;
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
 * Turns playAudio payloads into 8 kHz μ-law for the carrier's playout queue. PCM is decoded and
 * box-downsampled; a payload that ends mid-sample or mid-decimation-group carries the remainder into
 * the next payload of the same contentType (as a continuous stream would). `reset()` on `clear`.
 */
export class PlayAudioDecoder {
  private carryType: string | undefined;
  private carryBytes: Buffer = Buffer.alloc(0);

  reset(): void {
    this.carryType = undefined;
    this.carryBytes = Buffer.alloc(0);
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
    const rate = Number(/rate=(\d+)/.exec(contentType)?.[1]);
    const factor = rate / MULAW_SAMPLE_RATE;
    const input = this.carryType === contentType ? Buffer.concat([this.carryBytes, bytes]) : bytes;
    const groupBytes = 2 * factor;
    const usable = input.length - (input.length % groupBytes);
    this.carryType = contentType;
    this.carryBytes = Buffer.from(input.subarray(usable));
    const samples = new Int16Array(usable / 2);
    for (let k = 0; k < samples.length; k++) samples[k] = input.readInt16LE(k * 2);
    return { mulaw: encodeMulaw(boxDownsample(samples, factor)) };
  }
}
