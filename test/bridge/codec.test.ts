import { mulaw } from 'alawmulaw';
import {
  MULAW_BYTES_PER_MS,
  PCM24K_BYTES_PER_MS,
  Resampler,
  mulawBytesToMs,
  mulawToPcm16,
  msToMulawBytes,
  msToPcm24kBytes,
  pcm16FromBytes,
  pcm16ToBytes,
  pcm16ToMulaw,
  pcm24kBytesToMs,
} from '../../src/bridge/codec';

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

/** Magnitude of one DFT bin at `freqHz` over x[from, to). */
function dftMagnitude(x: Int16Array, freqHz: number, rateHz: number, from: number, to: number): number {
  let re = 0;
  let im = 0;
  for (let n = from; n < to; n++) {
    const w = (2 * Math.PI * freqHz * n) / rateHz;
    re += x[n]! * Math.cos(w);
    im -= x[n]! * Math.sin(w);
  }
  return Math.hypot(re, im);
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
  it('reports the group delay it has (impulse peak position)', () => {
    const up = new Resampler('8k->24k');
    const down = new Resampler('24k->8k');
    expect(up.delaySamples).toBe(84);
    expect(down.delaySamples).toBe(28);
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
    const delay = up.delaySamples / 3 + down.delaySamples; // both in 8 kHz samples: 28 + 28
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

  it('attenuates a 6 kHz tone at 24 kHz by ≥ 40 dB on the way to 8 kHz (and the whole stop band by ≥ 40 dB)', () => {
    const skip = 100;
    for (const f of [6000, 4400, 5000, 7000, 9000, 11_000]) {
      const x = tone(f, 24_000, 24_000, 16000);
      const y = new Resampler('24k->8k').process(x);
      expect(y.length).toBe(8000);
      const attenuationDb = dB(rms(x, 3 * skip, x.length - 3 * skip) / Math.max(rms(y, skip, y.length - skip), 1e-9));
      expect(attenuationDb).toBeGreaterThanOrEqual(40);
    }
  });

  it('upsamples a 1 kHz tone at its level with images at 7 and 9 kHz below −40 dB', () => {
    const x = tone(1000, 8000, 4000, 16000);
    const y = new Resampler('8k->24k').process(x);
    expect(y.length).toBe(3 * x.length);
    // Windows of whole periods of every frequency measured, past the warm-up.
    const inFrom = 400;
    const inTo = inFrom + 2400; // 300 ms at 8 kHz
    const outFrom = 3 * inFrom;
    const outTo = 3 * inTo;
    const inLevel = dftMagnitude(x, 1000, 8000, inFrom, inTo) / (inTo - inFrom);
    const outLevel = dftMagnitude(y, 1000, 24_000, outFrom, outTo) / (outTo - outFrom);
    expect(Math.abs(dB(outLevel / inLevel))).toBeLessThanOrEqual(0.5);
    expect(Math.abs(dB(rms(y, outFrom, outTo) / rms(x, inFrom, inTo)))).toBeLessThanOrEqual(0.5);
    for (const image of [7000, 9000]) {
      const imageLevel = dftMagnitude(y, image, 24_000, outFrom, outTo) / (outTo - outFrom);
      expect(dB(imageLevel / outLevel)).toBeLessThanOrEqual(-40);
    }
  });

  it('clips to int16 instead of wrapping (Gibbs overshoot of a full-scale square wave)', () => {
    const square = new Int16Array(800).map((_, n) => (Math.floor(n / 40) % 2 === 0 ? 32767 : -32768));
    const y = new Resampler('8k->24k').process(square);
    expect(Math.max(...y)).toBe(32767);
    expect(Math.min(...y)).toBe(-32768);
    // Middle of each plateau (input samples 10..30 of each 40), shifted by the delay: never the wrong sign.
    for (let block = 2; block < 18; block++) {
      const sign = block % 2 === 0 ? 1 : -1;
      for (let n = block * 40 + 10; n < block * 40 + 30; n++) expect(Math.sign(y[3 * n + 84]!)).toBe(sign);
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
      for (const seed of [1, 2, 3]) {
        const chunked = processChunked(direction, x, sizes(seed));
        expect(chunked.length).toBe(whole.length);
        expect(Buffer.from(chunked.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
      }
      expect(Buffer.from(processChunked(direction, x, () => 1).buffer).equals(Buffer.from(whole.buffer))).toBe(true);
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
    expect(rms(tail, 0, tail.length)).toBeGreaterThan(1000); // the last 3.5 ms of the tone was still inside
    up.reset();
    expect(Buffer.from(up.process(burst).buffer).equals(Buffer.from(head.buffer))).toBe(true);
  });
});
