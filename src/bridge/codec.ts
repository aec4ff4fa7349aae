/**
 * Audio codecs for the `pcm24k` path and for recordings (DESIGN §4.3). The default `pcmu` path does not
 * use them: Bandwidth's μ-law goes to OpenAI unchanged. With `pcm24k` the bridge converts
 * μ-law 8 kHz ⇄ PCM16 24 kHz, which OpenAI requires for `audio/pcm` (openai-realtime.md §2: "rate must be
 * 24000"), and takes the model's 24 kHz output down to 8 kHz with a real anti-alias low-pass
 * (openai-realtime.md §2: "naive decimation aliases").
 *
 * Everything here is allocation-light: lookup tables and filter taps are built once per process, and each
 * conversion allocates at most its output array, none when the caller passes one to fill (the `pcm24k` path
 * in audio-path.ts does, for samples it consumes within the call) or takes a view (`pcm16AsBytes`,
 * `pcm16ViewOfBytes`).
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

/**
 * The first `length` elements of a caller's output array (the part a conversion fills), which must have room
 * for them. Typed-array allocation costs V8 about as much as converting a 20 ms frame, hence `out` parameters.
 */
function filledPart<T extends { readonly length: number; subarray(begin: number, end: number): T }>(out: T, length: number): T {
  if (out.length < length) throw new RangeError(`output has room for ${out.length} samples, ${length} needed`);
  return out.length === length ? out : out.subarray(0, length);
}

/** μ-law → PCM16, into `out` if given (the filled part is returned), else into a fresh array. */
export function mulawToPcm16(mulawBytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = mulawBytes.length;
  const pcm = out ? filledPart(out, n) : new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = MULAW_DECODE[mulawBytes[i]!]!;
  return pcm;
}

/** PCM16 → μ-law, into `out` if given (the filled part is returned), else into a fresh array. */
export function pcm16ToMulaw(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  const n = pcm.length;
  const codes = out ? filledPart(out, n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) codes[i] = MULAW_ENCODE[pcm[i]! & 0xffff]!;
  return codes;
}

// ---------------------------------------------------------------------------------------------------
// PCM16 little-endian bytes ⇄ samples. OpenAI's `audio/pcm` is 16-bit LE (openai-realtime.md §2). Decoded
// base64 and Buffer slices can start at any byte offset, so the copying pair below never views memory in
// place; the viewing pair does where the host's byte order and the alignment allow it, and copies otherwise.
// ---------------------------------------------------------------------------------------------------

/** Whether an Int16Array's memory is already little-endian PCM16 on this host (true on x64 and arm64). */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Int16Array.of(1).buffer)[0] === 1;

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

/**
 * Little-endian PCM16 bytes as samples, sharing `buf`'s memory when the host is little-endian and `buf`
 * starts at an even offset (decoded base64 does: Node aligns its buffer pool), else copied. Throws on an
 * odd byte count, like pcm16FromBytes.
 */
export function pcm16ViewOfBytes(buf: Uint8Array): Int16Array {
  if (!HOST_IS_LITTLE_ENDIAN || buf.byteOffset % 2 !== 0) return pcm16FromBytes(buf);
  if (buf.length % 2 !== 0) throw new RangeError(`PCM16 byte length must be even, got ${buf.length}`);
  return new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
}

/** Samples as little-endian PCM16 bytes, sharing `pcm`'s memory on a little-endian host, else copied. */
export function pcm16AsBytes(pcm: Int16Array): Uint8Array {
  return HOST_IS_LITTLE_ENDIAN ? new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength) : pcm16ToBytes(pcm);
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
// 8 kHz ⇄ 24 kHz resampling (factor 3): polyphase FIR, fixed point.
//
// Filter design: one linear-phase low-pass at 24 kHz serves both directions, sized for telephony. The 8 kHz
// side carries 0–3.4 kHz, so the filter passes 0–3.4 kHz and stops 4.6–12 kHz: that covers everything that
// folds into 0–3.4 kHz when 24 kHz is decimated to 8 kHz (f → 8 kHz − f, f − 8 kHz) and every image of
// 0–3.4 kHz that zero-stuffing 8 kHz up to 24 kHz creates (8 kHz ± f). 60 dB is ample below μ-law's own
// ~38 dB SNR.
//   length    Kaiser's estimate N − 1 = (A − 8) / (2.285 Δω) for A = 60 dB and Δω = 2π · 1.2 / 24 is 72.4;
//             rounded up to 78 so the half-length, 39, is a multiple of 3 (a whole-sample delay at 8 kHz
//             too): 79 taps
//   window    Kaiser, β = 6.09: β = 0.1102 (A − 8.7) for the 64 dB that 78 taps buy by the same estimate
//   cutoff    4 kHz (the −6 dB point), midway through the transition band. 4 kHz is 24 kHz / 6, which makes
//             this a third-band (Nyquist) filter: every third tap either side of the centre is zero.
//   response  of the quantised taps, either direction: within ±0.01 dB over 0–3.4 kHz, −0.37 dB at 3.6 kHz,
//             −6.0 dB at 4 kHz, ≤ −63.5 dB from 4.6 to 12 kHz (test/bridge/codec.test.ts measures it with
//             tones: flatness, images of 8k→24k, aliases of 24k→8k)
//   delay     39 samples at 24 kHz = 13 samples at 8 kHz = 1.625 ms, per direction; a round trip
//             8k→24k→8k is delayed 26 samples at 8 kHz (3.25 ms)
//
// Structure: polyphase, so no zero is ever multiplied. The taps split into three branches by position modulo
// 3: the centre branch is the lone centre tap (the other taps in it are the Nyquist zeros) and branches 1 and
// 2 hold 26 taps each. Upsampling computes output phase p of each input sample with branch p: phase 0 is the
// input delayed by 13 samples, copied; phases 1 and 2 are 26-tap dot products. Downsampling computes only the
// kept (every third) outputs: 52 taps + the centre tap each. Each branch is normalised to a DC gain of exactly
// 1/3 (×3 for upsampling), so DC passes exactly and a constant input leaves no 8 kHz ripple after upsampling.
//
// Fixed point, because V8's integer multiply-add and int16 loads and stores are cheaper than float
// arithmetic followed by round-and-clip per sample: int16 samples, integer coefficients, sums truncated to
// int32 with `| 0`, and each output rounded by one shift. No coefficient reaches 2^14, so every product is
// below 2^29 and exact. Precision is as fine as int32 allows for any input, full-scale worst case included
// (codec.test.ts feeds it): the upsampler's branches have Σ|tap| = 2.17, so Q14 (|sum| ≤ 2.17 · 2^14 · 2^15
// < 2^31); the downsampler's taps have Σ|tap| = 1.78, so Q15 (≤ 1.78 · 2^30 < 2^31). Either moves the
// response by less than 0.002 dB in the pass band and keeps the stop band within 0.3 dB of the unquantised
// filter's −63.6 dB.
//
// State between calls is the filter history (and, for 24k→8k, the input position modulo 3), kept in a
// per-instance int16 buffer [history | chunk | slack], so chunked input gives bit-identical output to whole-
// buffer input. The inner loops compute two outputs per pass (sharing each sample load); the slack holds the
// samples the second of a pair reads when the chunk ends on the first, and the output is not stored.
// ---------------------------------------------------------------------------------------------------

const FACTOR = 3;
const RATE_HIGH_HZ = 24_000;
const PASSBAND_EDGE_HZ = 3400;
const STOPBAND_EDGE_HZ = 4600;
const REQUIRED_ATTENUATION_DB = 60;

/** Transition band width in radians per 24 kHz sample. */
const TRANSITION_RAD = (2 * Math.PI * (STOPBAND_EDGE_HZ - PASSBAND_EDGE_HZ)) / RATE_HIGH_HZ;
/** Kaiser's estimate of the filter order (taps − 1) for `attenuationDb` over the transition band. */
const kaiserOrder = (attenuationDb: number): number => (attenuationDb - 8) / (2.285 * TRANSITION_RAD);
/** The converse: the attenuation an order buys. */
const kaiserAttenuationDb = (order: number): number => 8 + 2.285 * TRANSITION_RAD * order;

/** Half the filter length, a multiple of 3: 39. Also the group delay, in 24 kHz samples. */
const HALF_TAPS = FACTOR * Math.ceil(kaiserOrder(REQUIRED_ATTENUATION_DB) / (2 * FACTOR));
const TAPS = 2 * HALF_TAPS + 1;
/** Kaiser's β for the attenuation the rounded-up length buys (64 dB; valid above 50 dB): 6.09. */
const KAISER_BETA = 0.1102 * (kaiserAttenuationDb(TAPS - 1) - 8.7);
/** The −6 dB point, 4 kHz: RATE_HIGH_HZ / (2 · FACTOR), the third-band cutoff. */
const CUTOFF_HZ = (PASSBAND_EDGE_HZ + STOPBAND_EDGE_HZ) / 2;
/** Taps in each of branches 1 and 2 (positions 1, 4, … 76 and 2, 5, … 77): 26. */
const TAPS_PER_BRANCH = (TAPS - 1) / FACTOR;
/** Group delay in 8 kHz samples: 13. */
const DELAY_8K = HALF_TAPS / FACTOR;

/** Coefficient precision in fraction bits, as fine as int32 accumulators allow (see "Fixed point" above). */
const UP_FRACTION_BITS = 14;
const DOWN_FRACTION_BITS = 15;
/** Samples past the chunk that the second output of a pair may read (see `work`). */
const PAIR_SLACK = 2;

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

/** The prototype low-pass at 24 kHz, Kaiser-windowed sinc, each branch normalised to a DC gain of 1/3. */
const PROTOTYPE: Float64Array = (() => {
  const h = new Float64Array(TAPS);
  const fc = (2 * CUTOFF_HZ) / RATE_HIGH_HZ; // cutoff as a fraction of Nyquist
  const i0Beta = besselI0(KAISER_BETA);
  for (let n = 0; n < TAPS; n++) {
    const x = n - HALF_TAPS;
    const sinc = x === 0 ? fc : Math.sin(Math.PI * fc * x) / (Math.PI * x);
    const r = x / HALF_TAPS;
    h[n] = (sinc * besselI0(KAISER_BETA * Math.sqrt(Math.max(0, 1 - r * r)))) / i0Beta;
  }
  for (let p = 0; p < FACTOR; p++) {
    let sum = 0;
    for (let n = p; n < TAPS; n += FACTOR) sum += h[n]!;
    for (let n = p; n < TAPS; n += FACTOR) h[n] = h[n]! / (FACTOR * sum);
  }
  return h;
})();

/**
 * `coefs` as integers in units of 2^−fractionBits, rounded so that their sum is exactly the rounded sum of
 * the unquantised ones (quantisation leaves the DC gain exact): after plain rounding, the few taps that
 * rounding moved furthest against the residual take it up, one unit each (largest remainder), so no tap
 * is off by more than one unit.
 */
function quantize(coefs: readonly number[], fractionBits: number): Int32Array {
  const scaled = coefs.map((c) => c * 2 ** fractionBits);
  const q = Int32Array.from(scaled, Math.round);
  const sum = (xs: Iterable<number>): number => {
    let total = 0;
    for (const x of xs) total += x;
    return total;
  };
  let residual = Math.round(sum(scaled)) - sum(q);
  const step = Math.sign(residual);
  const byRemainder = scaled.map((_, i) => i).sort((a, b) => step * (scaled[b]! - q[b]!) - step * (scaled[a]! - q[a]!));
  for (let k = 0; residual !== 0; k++, residual -= step) q[byRemainder[k]!] = q[byRemainder[k]!]! + step;
  return q;
}

/** Branch `p` of the prototype, oldest-sample tap first (reversed, so inner loops walk the input forwards). */
const branch = (p: number): number[] =>
  Array.from({ length: TAPS_PER_BRANCH }, (_, i) => PROTOTYPE[p + FACTOR * (TAPS_PER_BRANCH - 1 - i)]!);

/** Upsampler phases 1 and 2, gain ×3 (zero-stuffing leaves a third of the amplitude), each summing to 1. */
const UP_PHASE_1 = quantize(branch(1).map((c) => FACTOR * c), UP_FRACTION_BITS);
const UP_PHASE_2 = quantize(branch(2).map((c) => FACTOR * c), UP_FRACTION_BITS);

/** Downsampler taps, quantised together (sum exactly 1): branches 1 and 2, then the centre tap. */
const [DOWN_BRANCH_1, DOWN_BRANCH_2, DOWN_CENTRE] = ((): [Int32Array, Int32Array, number] => {
  const q = quantize([...branch(1), ...branch(2), PROTOTYPE[HALF_TAPS]!], DOWN_FRACTION_BITS);
  return [q.subarray(0, TAPS_PER_BRANCH), q.subarray(TAPS_PER_BRANCH, 2 * TAPS_PER_BRANCH), q[2 * TAPS_PER_BRANCH]!];
})();

export type ResampleDirection = '8k->24k' | '24k->8k';

/** Rounded accumulator, shifted down to sample scale → int16, clipped rather than wrapped. */
function clampInt16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/**
 * Streaming resampler, one per direction per call (it holds that call's filter history).
 * `process` may be called with any chunk length, including 0 and lengths that are not multiples of 3.
 */
export class Resampler {
  readonly direction: ResampleDirection;
  readonly inputRate: number;
  readonly outputRate: number;
  /** Group delay in output-rate samples: 39 for 8k→24k, 13 for 24k→8k (1.625 ms either way). */
  readonly delaySamples: number;

  /**
   * Input samples kept in front of each chunk, as far back as the filter reaches: 25 at 8 kHz (a branch's
   * oldest tap), 77 at 24 kHz (tap 77; tap 78 is a Nyquist zero).
   */
  private readonly historyLength: number;
  /** [history | current chunk | PAIR_SLACK]; grown on demand, history lives at its start between calls. */
  private work: Int16Array;
  /** 24k→8k: input samples consumed so far, modulo 3 (which input positions produce output). */
  private phase = 0;

  constructor(direction: ResampleDirection) {
    this.direction = direction;
    let typicalChunk: number;
    if (direction === '8k->24k') {
      this.inputRate = 8000;
      this.outputRate = RATE_HIGH_HZ;
      this.delaySamples = HALF_TAPS;
      this.historyLength = TAPS_PER_BRANCH - 1;
      typicalChunk = 160; // a 20 ms caller frame
    } else if (direction === '24k->8k') {
      this.inputRate = RATE_HIGH_HZ;
      this.outputRate = 8000;
      this.delaySamples = DELAY_8K;
      this.historyLength = TAPS - 2;
      typicalChunk = 2400; // a 100 ms model delta
    } else {
      throw new RangeError(`unsupported resample direction: ${String(direction)}`);
    }
    this.work = new Int16Array(this.historyLength + typicalChunk + PAIR_SLACK);
  }

  /** The most samples `process` returns for `inputLength` input samples (what an `out` array needs). */
  maxOutputLength(inputLength: number): number {
    return this.direction === '8k->24k' ? inputLength * FACTOR : Math.ceil(inputLength / FACTOR);
  }

  /**
   * Resample one chunk, into `out` if given (the filled part is returned), else into a fresh array. Output
   * length: 3 × input for 8k→24k; the count of kept positions for 24k→8k.
   */
  process(input: Int16Array, out?: Int16Array): Int16Array {
    const n = input.length;
    const first = (FACTOR - this.phase) % FACTOR; // 24k→8k: first chunk index that sits on a kept position
    const count = this.direction === '8k->24k' ? n * FACTOR : first < n ? Math.floor((n - 1 - first) / FACTOR) + 1 : 0;
    const output = out ? filledPart(out, count) : new Int16Array(count);

    const hist = this.historyLength;
    if (this.work.length < hist + n + PAIR_SLACK) {
      const grown = new Int16Array(Math.max(hist + n + PAIR_SLACK, 2 * this.work.length));
      grown.set(this.work.subarray(0, hist));
      this.work = grown;
    }
    const w = this.work;
    w.set(input, hist);
    if (this.direction === '8k->24k') {
      upsample(w, n, output);
    } else {
      downsample(w, first, output);
      this.phase = (this.phase + n) % FACTOR;
    }

    // Keep the last `hist` samples for the next call.
    w.copyWithin(0, n, n + hist);
    return output;
  }

  /** Push enough silence through to release everything still held in the filter delay. */
  flush(): Int16Array {
    return this.process(new Int16Array(this.direction === '8k->24k' ? DELAY_8K : HALF_TAPS));
  }

  /** Forget all history (as if freshly constructed). */
  reset(): void {
    this.work.fill(0);
    this.phase = 0;
  }
}

// The two kernels copy the module's tables and sizes into locals: V8 does not hoist module-scope loads out
// of hot loops, and those loads cost as much as the arithmetic.

/**
 * 8k→24k. Input sample j (j < n) is w[j + 25]; its outputs are out[3j] = w[j + 12] (the 13-sample delay) and
 * out[3j + p] = Σ_i phase_p[i] · w[j + i] for p = 1, 2. Pairs of inputs (j, j + 1) share each sample load.
 */
function upsample(w: Int16Array, n: number, out: Int16Array): void {
  const phase1 = UP_PHASE_1;
  const phase2 = UP_PHASE_2;
  const taps = TAPS_PER_BRANCH;
  const copyOffset = TAPS_PER_BRANCH - 1 - DELAY_8K;
  const shift = UP_FRACTION_BITS;
  const rounding = 1 << (shift - 1); // so that the final shift rounds to nearest (half up)
  for (let j = 0; j < n; j += 2) {
    let a1 = rounding;
    let a2 = rounding;
    let b1 = rounding;
    let b2 = rounding;
    let x = w[j]!;
    for (let i = 0; i < taps; i++) {
      const next = w[j + i + 1]!;
      const c1 = phase1[i]!;
      const c2 = phase2[i]!;
      a1 = (a1 + c1 * x) | 0;
      a2 = (a2 + c2 * x) | 0;
      b1 = (b1 + c1 * next) | 0;
      b2 = (b2 + c2 * next) | 0;
      x = next;
    }
    const o = FACTOR * j;
    out[o] = w[j + copyOffset]!;
    out[o + 1] = clampInt16(a1 >> shift);
    out[o + 2] = clampInt16(a2 >> shift);
    if (j + 1 < n) {
      out[o + 3] = w[j + 1 + copyOffset]!;
      out[o + 4] = clampInt16(b1 >> shift);
      out[o + 5] = clampInt16(b2 >> shift);
    }
  }
}

/**
 * 24k→8k. Kept input position j (chunk index, first, first + 3, …) is w[j + 77]; its output is
 * centre · w[j + 38] + Σ_i (branch2[i] · w[j + 3i] + branch1[i] · w[j + 3i + 1]). Pairs of outputs (j, j + 3)
 * share each sample load: the second one's window is the first one's moved on by 3 samples, one tap per branch.
 */
function downsample(w: Int16Array, first: number, out: Int16Array): void {
  const branch1 = DOWN_BRANCH_1;
  const branch2 = DOWN_BRANCH_2;
  const centre = DOWN_CENTRE;
  const taps = TAPS_PER_BRANCH;
  const centreOffset = TAPS - 2 - HALF_TAPS;
  const shift = DOWN_FRACTION_BITS;
  const rounding = 1 << (shift - 1);
  const count = out.length;
  for (let k = 0, j = first; k < count; k += 2, j += 2 * FACTOR) {
    let a = (rounding + centre * w[j + centreOffset]!) | 0;
    let b = (rounding + centre * w[j + FACTOR + centreOffset]!) | 0;
    let x2 = w[j]!;
    let x1 = w[j + 1]!;
    for (let i = 0, s = j + FACTOR; i < taps; i++, s += FACTOR) {
      const next2 = w[s]!;
      const next1 = w[s + 1]!;
      const c1 = branch1[i]!;
      const c2 = branch2[i]!;
      a = (a + c2 * x2 + c1 * x1) | 0;
      b = (b + c2 * next2 + c1 * next1) | 0;
      x2 = next2;
      x1 = next1;
    }
    out[k] = clampInt16(a >> shift);
    if (k + 1 < count) out[k + 1] = clampInt16(b >> shift);
  }
}
