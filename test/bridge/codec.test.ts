import os from 'node:os';
import { mulaw } from 'alawmulaw';
import { AudioPath } from '../../src/bridge/audio-path';
import {
  MULAW_BYTES_PER_MS,
  PCM24K_BYTES_PER_MS,
  Resampler,
  mulawBytesToMs,
  mulawToPcm16,
  msToMulawBytes,
  msToPcm24kBytes,
  pcm16AsBytes,
  pcm16FromBytes,
  pcm16ToBytes,
  pcm16ToMulaw,
  pcm16ViewOfBytes,
  pcm24kBytesToMs,
} from '../../src/bridge/codec';
import { chunkFromBytes } from '../../src/bridge/transports';

// ---------------------------------------------------------------------------------------------------
// Deterministic signals and measurements
// ---------------------------------------------------------------------------------------------------

/** Numerical Recipes LCG: deterministic "random" numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function tone(freqHz: number, rateHz: number, length: number, amplitude: number, phase = 0.3): Int16Array {
  const out = new Int16Array(length);
  for (let n = 0; n < length; n++) out[n] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * n) / rateHz + phase));
  return out;
}

function rms(x: Int16Array, from: number, to: number): number {
  let sum = 0;
  for (let n = from; n < to; n++) sum += x[n]! * x[n]!;
  return Math.sqrt(sum / (to - from));
}

/** Amplitude and phase of one DFT bin at `freqHz` over x[from, to) (exact for whole periods in the window). */
function dftBin(x: Int16Array, freqHz: number, rateHz: number, from: number, to: number): { re: number; im: number } {
  let re = 0;
  let im = 0;
  for (let n = from; n < to; n++) {
    const w = (2 * Math.PI * freqHz * n) / rateHz;
    re += x[n]! * Math.cos(w);
    im -= x[n]! * Math.sin(w);
  }
  const scale = 2 / (to - from);
  return { re: re * scale, im: im * scale };
}

interface ToneFit {
  /** Amplitude of the tone at the fitted frequency. */
  amplitude: number;
  /** RMS of what is left once the tone is subtracted: everything at other frequencies. */
  residualRms: number;
  /** Amplitude at another frequency over the same window. */
  amplitudeAt(freqHz: number): number;
}

/** Least-squares fit of a sinusoid at `freqHz` to x[from, to), a window of whole periods. */
function fitTone(x: Int16Array, freqHz: number, rateHz: number, from: number, to: number): ToneFit {
  const { re, im } = dftBin(x, freqHz, rateHz, from, to);
  const amplitude = Math.hypot(re, im);
  // Over whole periods the tone is orthogonal to the rest, so the residual's power is the total minus the tone's.
  const residualPower = rms(x, from, to) ** 2 - amplitude ** 2 / 2;
  return {
    amplitude,
    residualRms: Math.sqrt(Math.max(0, residualPower)),
    amplitudeAt: (f) => {
      const bin = dftBin(x, f, rateHz, from, to);
      return Math.hypot(bin.re, bin.im);
    },
  };
}

const dB = (ratio: number): number => 20 * Math.log10(ratio);

/** Feed `input` through a fresh resampler in chunks of the given sizes (cycled), concatenating the output. */
function processChunked(direction: '8k->24k' | '24k->8k', input: Int16Array, nextSize: () => number): Int16Array {
  const r = new Resampler(direction);
  const parts: Int16Array[] = [];
  for (let pos = 0; pos < input.length; ) {
    const size = Math.min(nextSize(), input.length - pos);
    parts.push(r.process(input.subarray(pos, pos + size)));
    pos += size;
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Int16Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

describe('G.711 μ-law', () => {
  /** Exponent (segment) of a μ-law code; the quantiser step in that segment is 2^(exponent+3). */
  const exponentOf = (code: number): number => ((~code) >> 4) & 0x07;

  it('round-trips a full-scale ramp within the quantisation error of each segment', () => {
    const ramp = new Int16Array(65536);
    for (let i = 0; i < 65536; i++) ramp[i] = i - 32768;
    const codes = pcm16ToMulaw(ramp);
    const decoded = mulawToPcm16(codes);
    let worstExcess = -Infinity;
    for (let i = 0; i < ramp.length; i++) {
      const x = ramp[i]!;
      const halfStep = 2 ** (exponentOf(codes[i]!) + 2);
      // G.711 clips magnitudes above 32635 (alawmulaw CLIP); beyond that the error grows with the excess.
      const clipExcess = Math.max(0, Math.abs(x) - 32635);
      worstExcess = Math.max(worstExcess, Math.abs(x - decoded[i]!) - halfStep - clipExcess);
    }
    expect(worstExcess).toBeLessThanOrEqual(0);
    // And relative to the signal: ≥ 30 dB per-sample SNR in the log segments (|x| ≥ 256).
    for (const x of [256, 1000, 4000, 12345, 30000, -300, -7777, -29999]) {
      const y = mulawToPcm16(pcm16ToMulaw(Int16Array.of(x)))[0]!;
      expect(dB(Math.abs(x) / Math.abs(x - y || 1))).toBeGreaterThanOrEqual(30);
    }
  });

  it('matches the alawmulaw reference coder bit for bit', () => {
    const ramp = new Int16Array(65536);
    for (let i = 0; i < 65536; i++) ramp[i] = i - 32768;
    expect(Buffer.from(pcm16ToMulaw(ramp)).equals(Buffer.from(mulaw.encode(ramp)))).toBe(true);
    const all = new Uint8Array(256).map((_, i) => i);
    expect(Array.from(mulawToPcm16(all))).toEqual(Array.from(mulaw.decode(all)));
  });

  it('decodes and re-encodes all 256 codes consistently (only −0 collapses to +0)', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const decoded = mulawToPcm16(all);
    const reencoded = pcm16ToMulaw(decoded);
    for (let code = 0; code < 256; code++) {
      expect(reencoded[code]).toBe(code === 0x7f ? 0xff : code);
      // Sign bit: codes below 0x80 are negative (or −0).
      if (code < 0x7f) expect(decoded[code]).toBeLessThan(0);
      if (code >= 0x80 && code < 0xff) expect(decoded[code]).toBeGreaterThan(0);
    }
    expect(decoded[0x7f]).toBe(0);
    expect(decoded[0xff]).toBe(0);
    expect(Math.max(...decoded)).toBe(32124);
    expect(Math.min(...decoded)).toBe(-32124);
  });
});

describe('caller-supplied output arrays', () => {
  it('μ-law coding fills the array it is given and returns the filled part; a short one is refused', () => {
    const codes = new Uint8Array(200).map((_, i) => (i * 37) & 0xff);
    const samples = new Int16Array(16);
    const decoded = mulawToPcm16(codes.subarray(0, 10), samples);
    expect(decoded.buffer).toBe(samples.buffer);
    expect(Array.from(decoded)).toEqual(Array.from(mulawToPcm16(codes.subarray(0, 10))));
    const encoded = pcm16ToMulaw(decoded, new Uint8Array(10));
    expect(encoded.length).toBe(10);
    expect(Array.from(encoded)).toEqual(Array.from(pcm16ToMulaw(decoded)));
    expect(() => mulawToPcm16(codes, samples)).toThrow(RangeError);
    expect(() => pcm16ToMulaw(new Int16Array(11), new Uint8Array(10))).toThrow(RangeError);
  });

  it('the resampler fills the array it is given, as long as maxOutputLength says, with the same samples', () => {
    for (const direction of ['8k->24k', '24k->8k'] as const) {
      const fresh = new Resampler(direction);
      const filling = new Resampler(direction);
      const out = new Int16Array(filling.maxOutputLength(500));
      const x = tone(440, 8000, 3000, 12000);
      for (let pos = 0, size = 1; pos < x.length; pos += size, size = (size * 7 + 3) % 500) {
        const chunk = x.subarray(pos, pos + size);
        const expected = fresh.process(chunk);
        expect(expected.length).toBeLessThanOrEqual(filling.maxOutputLength(chunk.length));
        const got = filling.process(chunk, out);
        expect(got.buffer).toBe(out.buffer);
        expect(Array.from(got)).toEqual(Array.from(expected));
      }
      // Refused before any state changes: the next chunk still continues the stream.
      expect(() => filling.process(new Int16Array(3 * out.length + 3), out)).toThrow(RangeError);
      expect(Array.from(filling.process(x.subarray(0, 99), out))).toEqual(Array.from(fresh.process(x.subarray(0, 99))));
    }
  });
});

describe('PCM16 little-endian bytes', () => {
  it('reads and writes at any byte offset', () => {
    const samples = Int16Array.of(0, 1, -1, 32767, -32768, 0x1234, -0x1234);
    const bytes = pcm16ToBytes(samples);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0, 0, 1, 0, 0xff, 0xff, 0xff, 0x7f]);
    const unaligned = Buffer.alloc(bytes.length + 1);
    bytes.copy(unaligned, 1);
    const view = unaligned.subarray(1);
    expect(view.byteOffset % 2).toBe(1);
    expect(Array.from(pcm16FromBytes(view))).toEqual(Array.from(samples));
    expect(Array.from(pcm16FromBytes(pcm16ToBytes(samples.subarray(1))))).toEqual(Array.from(samples.subarray(1)));
  });

  it('refuses an odd byte count', () => {
    expect(() => pcm16FromBytes(new Uint8Array(3))).toThrow(RangeError);
    expect(() => pcm16ViewOfBytes(new Uint8Array(3))).toThrow(RangeError);
    expect(() => pcm16ViewOfBytes(Buffer.alloc(4).subarray(1))).toThrow(RangeError);
  });

  it('views samples as bytes and bytes as samples in place where it can, and copies where it cannot', () => {
    const samples = Int16Array.of(0, 1, -1, 32767, -32768, 0x1234, -0x1234);
    const bytes = pcm16AsBytes(samples);
    expect(Buffer.from(bytes).equals(pcm16ToBytes(samples))).toBe(true);
    const aligned = Buffer.alloc(bytes.length + 2);
    aligned.set(bytes, 2);
    const even = pcm16ViewOfBytes(aligned.subarray(2));
    const odd = Buffer.alloc(bytes.length + 1);
    odd.set(bytes, 1);
    expect(Array.from(even)).toEqual(Array.from(samples));
    expect(Array.from(pcm16ViewOfBytes(odd.subarray(1)))).toEqual(Array.from(samples));
    if (os.endianness() === 'LE') {
      expect(bytes.buffer).toBe(samples.buffer);
      expect(even.buffer).toBe(aligned.buffer);
    }
  });
});

describe('durations from byte counts', () => {
  it('μ-law 8 kHz is 8 bytes per ms, PCM16 24 kHz is 48', () => {
    expect(MULAW_BYTES_PER_MS).toBe(8);
    expect(PCM24K_BYTES_PER_MS).toBe(48);
    expect(mulawBytesToMs(160)).toBe(20);
    expect(mulawBytesToMs(1)).toBe(0.125);
    expect(pcm24kBytesToMs(960)).toBe(20);
    expect(pcm24kBytesToMs(2)).toBeCloseTo(1 / 24, 12);
    expect(msToMulawBytes(20)).toBe(160);
    expect(msToPcm24kBytes(20)).toBe(960);
    expect(msToMulawBytes(0.3)).toBe(2);
    expect(msToPcm24kBytes(0.03)).toBe(2); // always whole 2-byte samples
    for (const ms of [0, 1, 20, 137, 60_000]) {
      expect(mulawBytesToMs(msToMulawBytes(ms))).toBe(ms);
      expect(pcm24kBytesToMs(msToPcm24kBytes(ms))).toBe(ms);
    }
  });
});

describe('Resampler', () => {
  const rateOf = { '8k->24k': [8000, 24_000], '24k->8k': [24_000, 8000] } as const;

  /**
   * One second of a tone at `freqHz` (amplitude 16000, about −6 dBFS) through a fresh resampler, and the
   * output window to measure: 0.8 s past the warm-up, whole periods of every frequency used here (multiples
   * of 1.25 Hz).
   */
  function toneThrough(direction: '8k->24k' | '24k->8k', freqHz: number): { y: Int16Array; rate: number; from: number; to: number } {
    const [inRate, outRate] = rateOf[direction];
    const y = new Resampler(direction).process(tone(freqHz, inRate, inRate, 16000));
    const from = outRate / 10;
    return { y, rate: outRate, from, to: from + (8 * outRate) / 10 };
  }
  const fitThrough = (direction: '8k->24k' | '24k->8k', freqHz: number): ToneFit => {
    const { y, rate, from, to } = toneThrough(direction, freqHz);
    return fitTone(y, freqHz, rate, from, to);
  };
  const rmsThrough = (freqHz: number): number => {
    const { y, from, to } = toneThrough('24k->8k', freqHz);
    return rms(y, from, to);
  };

  const PASSBAND_TONES_HZ = [300, 500, 1000, 2000, 3000, 3400];

  it('reports the group delay it has (impulse peak position): 1.625 ms each way', () => {
    const up = new Resampler('8k->24k');
    const down = new Resampler('24k->8k');
    expect(up.delaySamples).toBe(39);
    expect(down.delaySamples).toBe(13);
    expect((1000 * up.delaySamples) / up.outputRate).toBe(1.625);
    expect((1000 * down.delaySamples) / down.outputRate).toBe(1.625);
    const argmax = (x: Int16Array): number => x.reduce((best, v, i) => (v > x[best]! ? i : best), 0);
    const impulse8 = new Int16Array(100);
    impulse8[0] = 10000;
    expect(argmax(up.process(impulse8))).toBe(up.delaySamples);
    const impulse24 = new Int16Array(300);
    impulse24[0] = 10000;
    expect(argmax(down.process(impulse24))).toBe(down.delaySamples);
  });

  it('keeps a 1 kHz tone through 8k→24k→8k with ≥ 30 dB SNR', () => {
    const x = tone(1000, 8000, 8000, 16000);
    const up = new Resampler('8k->24k');
    const down = new Resampler('24k->8k');
    const y = down.process(up.process(x));
    expect(y.length).toBe(x.length);
    const delay = up.delaySamples / 3 + down.delaySamples; // both in 8 kHz samples: 13 + 13
    const skip = 200; // filter warm-up
    let signal = 0;
    let noise = 0;
    for (let n = delay + skip; n < y.length - skip; n++) {
      const ref = x[n - delay]!;
      signal += ref * ref;
      noise += (y[n]! - ref) ** 2;
    }
    const snrDb = 10 * Math.log10(signal / noise);
    expect(snrDb).toBeGreaterThanOrEqual(30);
  });

  it.each(['8k->24k', '24k->8k'] as const)('passes 300 Hz – 3.4 kHz flat within ±1 dB (%s)', (direction) => {
    for (const f of PASSBAND_TONES_HZ) {
      expect(Math.abs(dB(fitThrough(direction, f).amplitude / 16000))).toBeLessThanOrEqual(1);
    }
  });

  it('upsamples 300 Hz – 3.4 kHz with the images (8 kHz ± f, all within 4.6–12 kHz) ≥ 50 dB down', () => {
    for (const f of PASSBAND_TONES_HZ) {
      const fit = fitThrough('8k->24k', f);
      // Everything that is not the tone: the images, plus rounding noise far below them.
      expect(dB(fit.residualRms / (fit.amplitude / Math.SQRT2))).toBeLessThanOrEqual(-50);
      for (const image of [8000 - f, 8000 + f]) expect(dB(fit.amplitudeAt(image) / fit.amplitude)).toBeLessThanOrEqual(-50);
    }
  });

  it('rejects 24 kHz tones at 4.6–11.4 kHz by ≥ 50 dB below the pass band on the way to 8 kHz (their aliases land in 0–3.4 kHz)', () => {
    const passbandRms = rmsThrough(1000);
    for (const f of [4600, 5000, 6000, 7000, 8000, 9000, 10_000, 11_000, 11_400]) {
      expect(dB(rmsThrough(f) / passbandRms)).toBeLessThanOrEqual(-50);
    }
  });

  it('clips to int16 instead of wrapping (Gibbs overshoot of a full-scale square wave)', () => {
    const square = new Int16Array(800).map((_, n) => (Math.floor(n / 40) % 2 === 0 ? 32767 : -32768));
    const up = new Resampler('8k->24k');
    const y = up.process(square);
    expect(Math.max(...y)).toBe(32767);
    expect(Math.min(...y)).toBe(-32768);
    // Middle of each plateau (input samples 10..30 of each 40), shifted by the delay: never the wrong sign.
    for (let block = 2; block < 18; block++) {
      const sign = block % 2 === 0 ? 1 : -1;
      for (let n = block * 40 + 10; n < block * 40 + 30; n++) expect(Math.sign(y[3 * n + up.delaySamples]!)).toBe(sign);
    }
  });

  it("never wraps, even on the input that drives an output hardest (full scale, each sample matching its tap's sign)", () => {
    const worstCase = (signs: number[], polarity: 1 | -1): number[] =>
      signs.map((s) => (s * polarity >= 0 ? 32767 : -32768));
    for (const polarity of [1, -1] as const) {
      const expected = polarity > 0 ? 32767 : -32768;
      // 8k→24k: output 3j + p is Σ_m tap_p[m] · x[j − m]; an impulse shows tap_p[m] at output 3m + p.
      const impulse = new Int16Array(30);
      impulse[0] = 32767;
      const response = new Resampler('8k->24k').process(impulse);
      for (const p of [1, 2]) {
        const signs = Array.from({ length: 26 }, (_, m) => Math.sign(response[3 * m + p]!));
        const x = Int16Array.from(worstCase(signs, polarity).reverse()); // x[25 − m] matches tap m
        expect(new Resampler('8k->24k').process(x)[3 * 25 + p]).toBe(expected);
      }
      // 24k→8k: output k is Σ_t h[t] · x[3k − t]; an impulse at input d shows h[3k − d] at output k.
      const taps = 79;
      const signs = new Array<number>(taps).fill(0);
      for (const d of [0, 1, 2]) {
        const shifted = new Int16Array(90);
        shifted[d] = 32767;
        new Resampler('24k->8k').process(shifted).forEach((v, k) => {
          if (3 * k - d >= 0 && 3 * k - d < taps) signs[3 * k - d] = Math.sign(v);
        });
      }
      const x = Int16Array.from(worstCase(signs, polarity).reverse()); // x[78 − t] matches h[t]
      expect(new Resampler('24k->8k').process(x)[26]).toBe(expected);
    }
  });

  it('gives bit-identical output for any chunking, in both directions', () => {
    const rand = lcg(42);
    const signal = (length: number, rate: number): Int16Array => {
      const x = new Int16Array(length);
      for (let n = 0; n < length; n++) {
        const v = 12000 * Math.sin((2 * Math.PI * 440 * n) / rate) + 20000 * (rand() - 0.5) + (n % 997 === 0 ? 30000 : 0);
        x[n] = Math.max(-32768, Math.min(32767, Math.round(v)));
      }
      return x;
    };
    const sizes = (seed: number): (() => number) => {
      const r = lcg(seed);
      const small = [0, 1, 2, 7, 1, 2];
      let i = 0;
      return () => (i++ % 3 === 0 ? Math.floor(r() * 500) : small[Math.floor(r() * small.length)]!) || 1;
    };
    for (const [direction, rate, length] of [
      ['8k->24k', 8000, 5003],
      ['24k->8k', 24_000, 15_007],
    ] as const) {
      const x = signal(length, rate);
      const whole = new Resampler(direction).process(x);
      const samePerChunking = (chunked: Int16Array): void => {
        expect(chunked.length).toBe(whole.length);
        expect(Buffer.from(chunked.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
      };
      for (const seed of [1, 2, 3]) samePerChunking(processChunked(direction, x, sizes(seed)));
      // 20 ms and 100 ms, as the bridge sees them, and odd fixed sizes (chunks ending mid-pair, mid-group of 3).
      for (const ms of [20, 100]) samePerChunking(processChunked(direction, x, () => (rate * ms) / 1000));
      for (const size of [1, 3, 7, 161]) samePerChunking(processChunked(direction, x, () => size));
    }
  });

  it('produces exactly one output per kept input position for 24k→8k, whatever the chunk lengths', () => {
    const r = new Resampler('24k->8k');
    const lengths = [1, 1, 1, 2, 4, 5, 0, 7];
    const counts = lengths.map((n) => r.process(new Int16Array(n)).length);
    // Kept positions are global indices 0, 3, 6, …: chunks start at 0,1,2,3,5,9,14,14.
    expect(counts).toEqual([1, 0, 0, 1, 1, 2, 0, 2]);
  });

  it('flush releases the delayed tail; reset forgets history', () => {
    const up = new Resampler('8k->24k');
    const burst = tone(1000, 8000, 80, 10000);
    const head = up.process(burst);
    const tail = up.flush();
    expect(tail.length).toBe(up.delaySamples);
    expect(rms(tail, 0, tail.length)).toBeGreaterThan(1000); // the last 1.625 ms of the tone was still inside
    up.reset();
    expect(Buffer.from(up.process(burst).buffer).equals(Buffer.from(head.buffer))).toBe(true);
  });
});

describe('pcm24k audio path (audio-path.ts, the codec as the bridge runs it)', () => {
  it('gives what the codec gives step by step, chunk after chunk, and never reuses what it returned', () => {
    const path = new AudioPath('pcm24k');
    // Caller → model: 20 ms μ-law frames and odd sizes, against a fresh resampler fed the same frames.
    const callerMulaw = pcm16ToMulaw(tone(700, 8000, 1000, 9000));
    const up = new Resampler('8k->24k');
    let pos = 0;
    for (const size of [160, 160, 7, 160, 1, 320, 160]) {
      const frame = callerMulaw.subarray(pos, (pos += size));
      const sent = path.toModel(chunkFromBytes(frame));
      expect(sent).toEqual(chunkFromBytes(pcm16ToBytes(up.process(mulawToPcm16(frame)))));
    }
    // Model → caller: PCM16 deltas, some ending mid-sample (the odd byte is carried into the next delta).
    const modelBytes = pcm16ToBytes(tone(500, 24_000, 6000, 12000));
    const down = new Resampler('24k->8k');
    const played: Buffer[] = [];
    const expected: Buffer[] = [];
    let byte = 0;
    for (const size of [4800, 961, 479, 1, 2, 4800, 3]) {
      played.push(path.toCaller(chunkFromBytes(modelBytes.subarray(byte, byte + size))));
      const wholeSamples = modelBytes.subarray(byte - (byte % 2), (byte += size) - (byte % 2));
      expected.push(Buffer.from(pcm16ToMulaw(down.process(pcm16FromBytes(wholeSamples)))));
    }
    // Compared only now: later calls must not have written into earlier results.
    played.forEach((p, i) => expect(p.equals(expected[i]!)).toBe(true));
  });
});
