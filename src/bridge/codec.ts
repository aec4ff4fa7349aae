/**
 * Audio codecs for the `pcm24k` path and for recordings (DESIGN §4.3). The default `pcmu` path does not
 * use them: Bandwidth's μ-law goes to OpenAI unchanged. With `pcm24k` the bridge converts
 * μ-law 8 kHz ⇄ PCM16 24 kHz, which OpenAI requires for `audio/pcm` (openai-realtime.md §2: "rate must be
 * 24000"), and takes the model's 24 kHz output down to 8 kHz with a real anti-alias low-pass
 * (openai-realtime.md §2: "naive decimation aliases").
 *
 * Everything here is allocation-light: one output array per call, lookup tables built once per process.
 */
import { MULAW_BYTES_PER_MS, PCM24K_BYTES_PER_MS } from '../constants';
import { mulaw } from 'alawmulaw';

// ---------------------------------------------------------------------------------------------------
// G.711 μ-law ⇄ linear PCM16 (alawmulaw's reference coder, tabulated once)
// ---------------------------------------------------------------------------------------------------

/** μ-law code → PCM16. 256 entries; 0xFF and 0x7F are +0 and −0, both decoding to 0. */
const MULAW_DECODE: Int16Array = (() => {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) table[code] = mulaw.decodeSample(code);
  return table;
})();

/** PCM16 (indexed by its unsigned 16-bit pattern, `sample & 0xffff`) → μ-law code. 64 KiB. */
const MULAW_ENCODE: Uint8Array = (() => {
  const table = new Uint8Array(65536);
  for (let u = 0; u < 65536; u++) table[u] = mulaw.encodeSample((u << 16) >> 16) & 0xff;
  return table;
})();

export function mulawToPcm16(mulawBytes: Uint8Array): Int16Array {
  const n = mulawBytes.length;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = MULAW_DECODE[mulawBytes[i]!]!;
  return out;
}

export function pcm16ToMulaw(pcm: Int16Array): Uint8Array {
  const n = pcm.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = MULAW_ENCODE[pcm[i]! & 0xffff]!;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// PCM16 little-endian bytes ⇄ samples. OpenAI's `audio/pcm` is 16-bit LE (openai-realtime.md §2). Decoded
// base64 and Buffer slices can start at any byte offset, so neither direction views memory in place.
// ---------------------------------------------------------------------------------------------------

/** Little-endian PCM16 bytes → samples. An odd byte count is a framing bug upstream, so it throws. */
export function pcm16FromBytes(buf: Uint8Array): Int16Array {
  if (buf.length % 2 !== 0) throw new RangeError(`PCM16 byte length must be even, got ${buf.length}`);
  const n = buf.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0, b = 0; i < n; i++, b += 2) out[i] = buf[b]! | (buf[b + 1]! << 8); // Int16Array wraps to signed
  return out;
}

/** Samples → little-endian PCM16 bytes, in a fresh Buffer (independent of host byte order). */
export function pcm16ToBytes(pcm: Int16Array): Buffer {
  const n = pcm.length;
  const out = Buffer.allocUnsafe(n * 2);
  for (let i = 0, b = 0; i < n; i++, b += 2) {
    const s = pcm[i]!;
    out[b] = s & 0xff;
    out[b + 1] = (s >> 8) & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Durations from byte counts, in one place (DESIGN §4.3: "never assume frame sizes"; openai-realtime.md
// §2 "Audio-duration arithmetic"). Fractional milliseconds are returned as such; callers round if needed.
// ---------------------------------------------------------------------------------------------------

/** Byte rates live in one place (src/constants.ts); re-exported for codec users. */
export { MULAW_BYTES_PER_MS, PCM24K_BYTES_PER_MS };

export function mulawBytesToMs(bytes: number): number {
  return bytes / MULAW_BYTES_PER_MS;
}

export function pcm24kBytesToMs(bytes: number): number {
  return bytes / PCM24K_BYTES_PER_MS;
}

/** Whole μ-law samples covering `ms` (rounded to the nearest sample). */
export function msToMulawBytes(ms: number): number {
  return Math.round(ms * MULAW_BYTES_PER_MS);
}

/** Whole PCM16 24 kHz samples covering `ms` (rounded to the nearest sample; always an even byte count). */
export function msToPcm24kBytes(ms: number): number {
  return Math.round((ms * PCM24K_BYTES_PER_MS) / 2) * 2;
}

// ---------------------------------------------------------------------------------------------------
// 8 kHz ⇄ 24 kHz resampling (factor 3), polyphase windowed-sinc FIR.
//
// Filter design (one prototype low-pass shared by both directions, designed at 24 kHz):
//   taps      169 (odd, linear phase, symmetric; (169 − 1) / 2 = 84 is a multiple of 3 so the delay is a
//             whole number of samples at 8 kHz as well as at 24 kHz)
//   window    Kaiser, β = 7
//   cutoff    3.7 kHz (the −6 dB point), i.e. telephone band; measured response of the prototype:
//             ±0.002 dB to 3.3 kHz, −0.01 dB at 3.4 kHz, −2 dB at 3.6 kHz, −57 dB at 4.0 kHz,
//             ≤ −78 dB from 4.3 kHz to 12 kHz
//   DC gain   normalised to exactly 1 (×3 in the upsampler, which inserts two zeros per input sample)
//   delay     84 samples at 24 kHz = 28 samples at 8 kHz = 3.5 ms, per direction;
//             `delaySamples` gives it at the instance's output rate (84 for 8k→24k, 28 for 24k→8k), so a
//             round trip 8k→24k→8k is delayed by 28 + 28 = 56 samples at 8 kHz (7 ms).
//
// Upsampling splits the filter into 3 phases of 57 taps (the prototype zero-padded to 171), so no zero is
// ever multiplied; downsampling evaluates the full 169-tap filter only at the kept (every third) input
// position. State between calls is the filter history plus, for 24k→8k, the input position modulo 3, so
// chunked input gives bit-identical output to whole-buffer input.
// ---------------------------------------------------------------------------------------------------

const FACTOR = 3;
const TAPS = 169;
const KAISER_BETA = 7;
const CUTOFF_HZ = 3700;
const RATE_HIGH_HZ = 24_000;
/** Group delay of the prototype, in 24 kHz samples. */
const DELAY_24K = (TAPS - 1) / 2;

/** Zeroth-order modified Bessel function of the first kind (power series; converges fast for β ≤ 20). */
function besselI0(x: number): number {
  const q = (x * x) / 4;
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 100; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** The prototype low-pass at 24 kHz, Kaiser-windowed sinc, normalised to unit DC gain. */
const PROTOTYPE: Float64Array = (() => {
  const h = new Float64Array(TAPS);
  const mid = (TAPS - 1) / 2;
  const fc = (2 * CUTOFF_HZ) / RATE_HIGH_HZ; // cutoff as a fraction of Nyquist
  const i0Beta = besselI0(KAISER_BETA);
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const x = n - mid;
    const sinc = x === 0 ? fc : Math.sin(Math.PI * fc * x) / (Math.PI * x);
    const r = x / mid;
    const w = besselI0(KAISER_BETA * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    h[n] = sinc * w;
    sum += h[n]!;
  }
  for (let n = 0; n < TAPS; n++) h[n] = h[n]! / sum;
  return h;
})();

/** Taps per upsampling phase. */
const PHASE_TAPS = Math.ceil(TAPS / FACTOR);

/**
 * Upsampler phases, each stored reversed so the inner loop walks the input forwards:
 * output[3j + p] = Σ_i UP_PHASES[p][i] · x[j − (PHASE_TAPS − 1) + i], with gain ×3.
 */
const UP_PHASES: readonly Float64Array[] = Array.from({ length: FACTOR }, (_, p) => {
  const e = new Float64Array(PHASE_TAPS);
  for (let i = 0; i < PHASE_TAPS; i++) {
    const k = p + FACTOR * (PHASE_TAPS - 1 - i);
    e[i] = k < TAPS ? FACTOR * PROTOTYPE[k]! : 0;
  }
  return e;
});

/** Downsampler taps, reversed for a forward inner loop (the prototype is symmetric, but say what we mean). */
const DOWN_TAPS: Float64Array = Float64Array.from(PROTOTYPE).reverse();

export type ResampleDirection = '8k->24k' | '24k->8k';

function clip16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/**
 * Streaming resampler, one per direction per call (it holds that call's filter history).
 * `process` may be called with any chunk length, including 0 and lengths that are not multiples of 3.
 */
export class Resampler {
  readonly direction: ResampleDirection;
  readonly inputRate: number;
  readonly outputRate: number;
  /** Group delay in output-rate samples: 84 for 8k→24k, 28 for 24k→8k (3.5 ms either way). */
  readonly delaySamples: number;

  /** Samples of history kept in front of each chunk. */
  private readonly historyLength: number;
  /** [history | current chunk] as float; grown on demand, history lives at its start between calls. */
  private work: Float64Array;
  /** 24k→8k: input samples consumed so far, modulo 3 (which input positions produce output). */
  private phase = 0;

  constructor(direction: ResampleDirection) {
    this.direction = direction;
    if (direction === '8k->24k') {
      this.inputRate = 8000;
      this.outputRate = 24_000;
      this.delaySamples = DELAY_24K;
      this.historyLength = PHASE_TAPS - 1;
    } else if (direction === '24k->8k') {
      this.inputRate = 24_000;
      this.outputRate = 8000;
      this.delaySamples = DELAY_24K / FACTOR;
      this.historyLength = TAPS - 1;
    } else {
      throw new RangeError(`unsupported resample direction: ${String(direction)}`);
    }
    this.work = new Float64Array(this.historyLength + 960);
  }

  /** Resample one chunk. Output length: 3 × input for 8k→24k; the count of kept positions for 24k→8k. */
  process(input: Int16Array): Int16Array {
    const hist = this.historyLength;
    const n = input.length;
    if (this.work.length < hist + n) {
      const grown = new Float64Array(Math.max(hist + n, 2 * this.work.length));
      grown.set(this.work.subarray(0, hist));
      this.work = grown;
    }
    const w = this.work;
    for (let i = 0; i < n; i++) w[hist + i] = input[i]!;

    const out = this.direction === '8k->24k' ? this.up(w, n) : this.down(w, n);

    // Keep the last `hist` samples for the next call.
    w.copyWithin(0, n, n + hist);
    return out;
  }

  /** Push enough silence through to release everything still held in the filter delay. */
  flush(): Int16Array {
    return this.process(new Int16Array(this.direction === '8k->24k' ? DELAY_24K / FACTOR : DELAY_24K));
  }

  /** Forget all history (as if freshly constructed). */
  reset(): void {
    this.work.fill(0);
    this.phase = 0;
  }

  private up(w: Float64Array, n: number): Int16Array {
    const out = new Int16Array(n * FACTOR);
    const e0 = UP_PHASES[0]!;
    const e1 = UP_PHASES[1]!;
    const e2 = UP_PHASES[2]!;
    for (let j = 0, o = 0; j < n; j++, o += FACTOR) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      for (let i = 0; i < PHASE_TAPS; i++) {
        const x = w[j + i]!;
        a0 += e0[i]! * x;
        a1 += e1[i]! * x;
        a2 += e2[i]! * x;
      }
      out[o] = clip16(a0);
      out[o + 1] = clip16(a1);
      out[o + 2] = clip16(a2);
    }
    return out;
  }

  private down(w: Float64Array, n: number): Int16Array {
    const first = (FACTOR - this.phase) % FACTOR; // first chunk index that sits on a kept position
    const count = first < n ? Math.floor((n - 1 - first) / FACTOR) + 1 : 0;
    const out = new Int16Array(count);
    const h = DOWN_TAPS;
    for (let k = 0, j = first; k < count; k++, j += FACTOR) {
      let acc = 0;
      for (let i = 0; i < TAPS; i++) acc += h[i]! * w[j + i]!;
      out[k] = clip16(acc);
    }
    this.phase = (this.phase + n) % FACTOR;
    return out;
  }
}
