/**
 * The browser test call's audio codec (docs/console.md, "Test call"), shared by the AudioWorklet and the page, and
 * loaded by the jest suite too: plain functions, no DOM, no imports.
 *
 * - G.711 μ-law, the very coder of src/bridge/codec.ts (alawmulaw's reference coder: bias 0x84, clip 32635),
 *   so what the page sends decodes on the server exactly as Bandwidth's PCMU does.
 * - A streaming down-sampler from the AudioContext's rate (44.1 or 48 kHz) to 8 kHz: a windowed-sinc
 *   low-pass below 4 kHz first (sampling at 8 kHz folds anything above 4 kHz back into the band), then
 *   linear interpolation at the fractional step, with state kept across the worklet's 128-frame blocks.
 * - A streaming up-sampler from 8 kHz to the context's rate for the agent's audio (linear interpolation).
 */

export const SAMPLE_RATE_HZ = 8000;
/** BW §4.2: Bandwidth sends 20 ms frames of 160 μ-law bytes; the page does the same. */
export const FRAME_BYTES = 160;
/** μ-law: 8 bytes per ms (DESIGN §4.3). */
export const MULAW_BYTES_PER_MS = 8;

const BIAS = 0x84;
const CLIP = 32635;
const DECODE_EXPONENT_BASE = [0, 132, 396, 924, 1980, 4092, 8316, 16764];

/** PCM16 sample → μ-law code (0–255). */
export function encodeMulawSample(pcm16) {
  let sample = pcm16 | 0;
  const sign = (sample >> 8) & 0x80;
  if (sign !== 0) sample = -sample;
  sample += BIAS;
  if (sample > CLIP) sample = CLIP;
  const top = (sample >> 7) & 0xff;
  const exponent = top < 2 ? 0 : 31 - Math.clz32(top);
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** μ-law code → PCM16 sample. */
export function decodeMulawSample(code) {
  const inverted = ~code & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const sample = DECODE_EXPONENT_BASE[exponent] + ((inverted & 0x0f) << (exponent + 3));
  return inverted & 0x80 ? 0 - sample : sample; // 0 - 0 is +0, as the server's table has it
}

/** Web Audio float (−1…1) → PCM16, clamped. */
export function floatToPcm16(value) {
  const v = value > 1 ? 1 : value < -1 ? -1 : value;
  return Math.round(v < 0 ? v * 32768 : v * 32767);
}

/** Windowed-sinc (Blackman) low-pass taps; `cutoff` is a fraction of the sample rate (< 0.5). Unity gain at DC. */
export function lowPassTaps(count, cutoff) {
  const taps = new Float64Array(count);
  const middle = (count - 1) / 2;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const x = i - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (count - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (count - 1));
    taps[i] = sinc * window;
    sum += taps[i];
  }
  for (let i = 0; i < count; i++) taps[i] /= sum;
  return taps;
}

/** Streaming resampler from `inputRateHz` down to 8 kHz (see the file's comment). */
export class Downsampler {
  constructor(inputRateHz, taps = 63) {
    this.step = inputRateHz / SAMPLE_RATE_HZ;
    // The pass band ends at 3.4 kHz (telephone speech); the cutoff sits short of the 4 kHz fold.
    this.taps = lowPassTaps(taps, 3600 / inputRateHz);
    this.history = new Float64Array(taps);
    this.writeAt = 0;
    /** Inputs consumed so far, and the input position (in samples) of the next output. */
    this.seen = 0;
    this.next = 0;
    this.previous = 0;
  }

  /** Feed input floats; returns the 8 kHz floats they complete. */
  process(input) {
    const out = [];
    const n = this.taps.length;
    for (let i = 0; i < input.length; i++) {
      this.history[this.writeAt] = input[i];
      this.writeAt = (this.writeAt + 1) % n;
      let filtered = 0;
      for (let k = 0, j = this.writeAt; k < n; k++, j = (j + 1) % n) filtered += this.taps[k] * this.history[j];
      this.seen++;
      const at = this.seen - 1;
      while (this.next <= at) {
        const fraction = this.next - (at - 1);
        out.push(this.previous + (filtered - this.previous) * fraction);
        this.next += this.step;
      }
      this.previous = filtered;
    }
    return out;
  }
}

/** Floats → μ-law frames of FRAME_BYTES, keeping the remainder for the next call. */
export class MulawFramer {
  constructor() {
    this.frame = new Uint8Array(FRAME_BYTES);
    this.filled = 0;
  }

  /** Returns the complete frames (each a fresh Uint8Array of FRAME_BYTES). */
  push(samples) {
    const frames = [];
    for (let i = 0; i < samples.length; i++) {
      this.frame[this.filled++] = encodeMulawSample(floatToPcm16(samples[i]));
      if (this.filled === FRAME_BYTES) {
        frames.push(this.frame);
        this.frame = new Uint8Array(FRAME_BYTES);
        this.filled = 0;
      }
    }
    return frames;
  }
}

/** μ-law bytes → 8 kHz floats. */
export function mulawToFloats(bytes) {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = decodeMulawSample(bytes[i]) / 32768;
  return out;
}

/**
 * The agent's audio, queued gapless at 8 kHz and read out at the context's rate. `clear` drops what is
 * queued (BW §4.3: the carrier drops its queue on `clear`). Counts the 8 kHz samples played.
 */
export class PlayoutQueue {
  constructor(outputRateHz) {
    // Positions count in 1/outputRateHz of an 8 kHz sample, integers all the way: no drift over a long call.
    this.outputRateHz = outputRateHz;
    this.chunks = [];
    this.position = 0; // in chunks[0]
    this.playedSamples = 0;
  }

  push(samples) {
    if (samples.length > 0) this.chunks.push(samples);
  }

  clear() {
    this.chunks = [];
    this.position = 0;
  }

  get queuedSamples() {
    let total = -Math.floor(this.position / this.outputRateHz);
    for (const c of this.chunks) total += c.length;
    return Math.max(0, total);
  }

  /** Fill `out` (output-rate floats); silence where nothing is queued. Returns how many were audio. */
  fill(out) {
    let audible = 0;
    const rate = this.outputRateHz;
    for (let i = 0; i < out.length; i++) {
      const chunk = this.chunks[0];
      if (!chunk) {
        out[i] = 0;
        continue;
      }
      const index = Math.floor(this.position / rate);
      const fraction = (this.position - index * rate) / rate;
      const a = chunk[index];
      const b = index + 1 < chunk.length ? chunk[index + 1] : this.chunks[1] ? this.chunks[1][0] : a;
      out[i] = a + (b - a) * fraction;
      audible++;
      this.position += SAMPLE_RATE_HZ;
      while (this.chunks[0] && this.position >= this.chunks[0].length * rate) {
        this.position -= this.chunks[0].length * rate;
        this.playedSamples += this.chunks[0].length;
        this.chunks.shift();
      }
    }
    return audible;
  }

  /** ms of agent audio played so far (8 samples per ms at 8 kHz). */
  get playedMs() {
    return Math.floor((this.playedSamples + Math.floor(this.position / this.outputRateHz)) / MULAW_BYTES_PER_MS);
  }
}
