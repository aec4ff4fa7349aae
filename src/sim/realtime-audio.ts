/**
 * Audio for the Realtime stand-in: the GA audio formats, decoding/encoding them, byte/ms arithmetic, a
 * deterministic speech-like synthesiser and short-term energy. μ-law and PCM16 use the bridge's codec
 * (src/bridge/codec.ts) and byte rates (src/constants.ts); A-law, which the bridge never uses, comes straight
 * from alawmulaw. References are to ../shared/reference/openai-realtime.md ("RT §n").
 */
import { alaw } from 'alawmulaw';
import { mulawToPcm16, pcm16FromBytes, pcm16ToBytes, pcm16ToMulaw } from '../bridge/codec';
import { MULAW_BYTES_PER_MS, PCM24K_BYTES_PER_MS } from '../constants';

/** RT §2: the three GA formats. `audio/pcm` is 16-bit little-endian mono at 24 kHz only; G.711 is 8 kHz. */
export type AudioFormat = { type: 'audio/pcmu' } | { type: 'audio/pcma' } | { type: 'audio/pcm'; rate: 24000 };

export const PCMU: AudioFormat = { type: 'audio/pcmu' };
export const PCM24K: AudioFormat = { type: 'audio/pcm', rate: 24000 };

/**
 * Length of one VAD / energy window (RT §1.4: carriers send 20 ms frames; the VAD looks at the same size).
 * The stand-in's own choice, not the bridge's playout tick (PLAYOUT_TICK_MS), though both are 20 ms.
 */
export const FRAME_MS = 20;

export function sampleRateOf(format: AudioFormat): number {
  return format.type === 'audio/pcm' ? 24000 : 8000;
}

/** RT §2 "Audio-duration arithmetic": μ-law/A-law 8 bytes per ms, PCM16 24 kHz 48 bytes per ms. */
export function bytesPerMs(format: AudioFormat): number {
  return format.type === 'audio/pcm' ? PCM24K_BYTES_PER_MS : MULAW_BYTES_PER_MS; // A-law: the same 8
}

export function bytesToMs(format: AudioFormat, bytes: number): number {
  return bytes / bytesPerMs(format);
}

/** Bytes per sample: 2 for PCM16, 1 for G.711. */
export function bytesPerSample(format: AudioFormat): number {
  return format.type === 'audio/pcm' ? 2 : 1;
}

/** Decode raw bytes in `format` to 16-bit linear samples (an odd trailing PCM byte is ignored; callers carry it). */
export function decodeToPcm(format: AudioFormat, bytes: Uint8Array): Int16Array {
  switch (format.type) {
    case 'audio/pcmu':
      return mulawToPcm16(bytes);
    case 'audio/pcma':
      return alaw.decode(bytes);
    case 'audio/pcm':
      return pcm16FromBytes(bytes.subarray(0, bytes.length - (bytes.length % 2)));
  }
}

/** Encode 16-bit linear samples (already at the format's sample rate) into `format`. */
export function encodeFromPcm(format: AudioFormat, samples: Int16Array): Buffer {
  switch (format.type) {
    case 'audio/pcmu': {
      const bytes = pcm16ToMulaw(samples);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    case 'audio/pcma':
      return Buffer.from(alaw.encode(samples));
    case 'audio/pcm':
      return pcm16ToBytes(samples);
  }
}

/** Digital silence in `format`: μ-law 0xFF, A-law 0xD5, PCM zeros (RT §3.2b pads gaps with μ-law 0xFF). */
export function silence(format: AudioFormat, ms: number): Buffer {
  const bytes = Math.round(ms * bytesPerMs(format));
  const fill = format.type === 'audio/pcmu' ? 0xff : format.type === 'audio/pcma' ? 0xd5 : 0x00;
  return Buffer.alloc(bytes, fill);
}

/** Root-mean-square level of a window in dBFS (full scale = 32768); -Infinity for digital silence. */
export function rmsDbfs(samples: Int16Array, from = 0, to = samples.length): number {
  const n = to - from;
  if (n <= 0) return -Infinity;
  let sum = 0;
  for (let i = from; i < to; i++) {
    const s = samples[i] ?? 0;
    sum += s * s;
  }
  const rms = Math.sqrt(sum / n);
  return rms === 0 ? -Infinity : 20 * Math.log10(rms / 32768);
}

// ---------------------------------------------------------------------------------------------------------
// Speech-like synthesis
// ---------------------------------------------------------------------------------------------------------

export interface SpeechVoice {
  /** Mean fundamental, Hz. */
  f0Hz: number;
  /** Syllables per second (the amplitude-envelope rate). */
  syllableHz: number;
  /** Peak amplitude as a fraction of full scale. */
  peak: number;
}

const HARMONICS = [1, 0.6, 0.35, 0.2, 0.1];
const HARMONIC_SUM = HARMONICS.reduce((a, b) => a + b, 0);
const VOICED_FRACTION = 0.8; // the rest of each syllable is a near-silent gap
const GAP_LEVEL = 0.02;
const EDGE_FADE_S = 0.01;
const VIBRATO_HZ = 0.7;
const VIBRATO_DEPTH = 0.08;

/** A deterministic voice from a seed string (e.g. the session voice name): f0 between 110 and 190 Hz. */
export function voiceFor(seed: string, peak = 0.35): SpeechVoice {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619) >>> 0;
  return { f0Hz: 110 + (h % 80), syllableHz: 4, peak };
}

/**
 * Samples [startSample, startSample + count) of an utterance `totalSamples` long: five harmonics of a slowly
 * wavering fundamental under a syllable-rate envelope (voiced 80 %, gap 20 %), faded in and out at the edges.
 * A pure function of the sample index, so chunks can be produced one at a time and always join seamlessly.
 * Voiced windows sit near -20 dBFS and the gaps near -55 dBFS (at the default peak of 0.35).
 */
export function speechSamples(voice: SpeechVoice, sampleRate: number, startSample: number, count: number, totalSamples: number): Int16Array {
  const out = new Int16Array(Math.max(0, count));
  const totalS = totalSamples / sampleRate;
  const vibratoPhase = voice.f0Hz / 37; // a per-voice offset, deterministic
  for (let i = 0; i < out.length; i++) {
    const n = startSample + i;
    if (n >= totalSamples) break;
    const t = n / sampleRate;
    // Phase of f(t) = f0 (1 + d sin(2π fm t + φ)), integrated in closed form so it is continuous across chunks.
    const phase =
      2 * Math.PI * voice.f0Hz * t -
      (voice.f0Hz * VIBRATO_DEPTH * Math.cos(2 * Math.PI * VIBRATO_HZ * t + vibratoPhase)) / VIBRATO_HZ;
    let wave = 0;
    for (let k = 0; k < HARMONICS.length; k++) wave += (HARMONICS[k] ?? 0) * Math.sin((k + 1) * phase);
    out[i] = Math.round((wave / HARMONIC_SUM) * envelope(voice, t, totalS) * voice.peak * 32767);
  }
  return out;
}

function envelope(voice: SpeechVoice, t: number, totalS: number): number {
  const u = (t * voice.syllableHz) % 1;
  const syllable = u < VOICED_FRACTION ? Math.max(GAP_LEVEL, Math.pow(Math.sin((Math.PI * u) / VOICED_FRACTION), 0.6)) : GAP_LEVEL;
  const edge = Math.min(1, t / EDGE_FADE_S, (totalS - t) / EDGE_FADE_S);
  return syllable * Math.max(0, edge);
}

/** A whole utterance of `ms` milliseconds, encoded in `format`. */
export function synthesizeSpeech(format: AudioFormat, ms: number, voice: SpeechVoice = voiceFor('caller')): Buffer {
  const rate = sampleRateOf(format);
  const total = Math.round((ms * rate) / 1000);
  return encodeFromPcm(format, speechSamples(voice, rate, 0, total, total));
}
