import fs from 'node:fs';
import path from 'node:path';
import { mulaw } from 'alawmulaw';
import { mulawToPcm16 } from '../../src/bridge/codec';

/**
 * The page's codec (src/console/assets/test-call-codec.js) is a browser ES module with no imports: loaded here
 * by evaluating its source with its exports turned into a returned object, so the very file the worklet runs is
 * what is tested.
 */
interface PageCodec {
  encodeMulawSample(pcm16: number): number;
  decodeMulawSample(code: number): number;
  floatToPcm16(value: number): number;
  mulawToFloats(bytes: Uint8Array): Float32Array;
  Downsampler: new (inputRateHz: number) => { process(input: Float32Array): number[] };
  MulawFramer: new () => { push(samples: ArrayLike<number>): Uint8Array[] };
  PlayoutQueue: new (outputRateHz: number) => { push(s: Float32Array): void; clear(): void; fill(out: Float32Array): number; playedMs: number; queuedSamples: number };
  FRAME_BYTES: number;
}

function loadPageCodec(): PageCodec {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'console', 'assets', 'test-call-codec.js'), 'utf8');
  const names = [...source.matchAll(/^export (?:const|function|class) (\w+)/gm)].map((m) => m[1]!);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(`${source.replace(/^export /gm, '')}\nreturn { ${names.join(', ')} };`)() as PageCodec;
}

const codec = loadPageCodec();

function sine(rateHz: number, freqHz: number, ms: number, amplitude = 0.5): Float32Array {
  const n = Math.round((rateHz * ms) / 1000);
  return Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * freqHz * i) / rateHz));
}

function rms(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  return Math.sqrt(sum / values.length);
}

describe('the test-call page codec', () => {
  it('encodes every PCM16 sample to the same μ-law code as the server (alawmulaw) and decodes every code alike', () => {
    for (let sample = -32768; sample <= 32767; sample++) {
      if (codec.encodeMulawSample(sample) !== (mulaw.encodeSample(sample) & 0xff)) throw new Error(`sample ${sample} encodes differently`);
    }
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const server = mulawToPcm16(codes);
    for (let code = 0; code < 256; code++) expect(codec.decodeMulawSample(code)).toBe(server[code]);
  });

  it('clamps floats into PCM16', () => {
    expect(codec.floatToPcm16(1.5)).toBe(32767);
    expect(codec.floatToPcm16(-2)).toBe(-32768);
    expect(codec.floatToPcm16(0)).toBe(0);
  });

  it.each([48000, 44100])('resamples %i Hz to 8 kHz: 8 samples per ms, speech band kept, above 4 kHz filtered out', (rate) => {
    const down = new codec.Downsampler(rate);
    // Fed in 128-frame blocks, as the AudioWorklet is.
    const tone = sine(rate, 1000, 1000);
    const out: number[] = [];
    for (let i = 0; i < tone.length; i += 128) out.push(...down.process(tone.subarray(i, i + 128)));
    expect(Math.abs(out.length - 8000)).toBeLessThanOrEqual(1);
    expect(rms(out.slice(100))).toBeGreaterThan(0.33); // 0.5 / √2 ≈ 0.354 through the pass band
    // A 6 kHz tone would fold to 2 kHz if sampled without the low-pass: it is attenuated by more than 30 dB.
    const high = new codec.Downsampler(rate).process(sine(rate, 6000, 500));
    expect(rms(high.slice(100))).toBeLessThan(0.354 * 0.03);
  });

  it('frames μ-law in 160-byte (20 ms) frames, keeping the remainder', () => {
    const framer = new codec.MulawFramer();
    expect(framer.push(new Float32Array(100))).toHaveLength(0);
    const frames = framer.push(new Float32Array(300));
    expect(frames).toHaveLength(2);
    expect(frames.every((f) => f.length === codec.FRAME_BYTES && f.length === 160)).toBe(true);
    expect(frames[0]![0]).toBe(0xff); // μ-law silence
  });

  it('plays queued audio gapless at the output rate, counts ms played, and drops the queue on clear', () => {
    const queue = new codec.PlayoutQueue(48000);
    queue.push(codec.mulawToFloats(new Uint8Array(160).fill(0x80))); // 20 ms, loud
    queue.push(codec.mulawToFloats(new Uint8Array(160).fill(0x80)));
    const out = new Float32Array(128);
    let audible = 0;
    for (let block = 0; block < 30; block++) audible += queue.fill(out);
    expect(audible).toBe(40 * 48); // 40 ms at 48 kHz, no gap between the chunks
    expect(queue.playedMs).toBe(40);
    queue.push(codec.mulawToFloats(new Uint8Array(800)));
    queue.fill(out);
    queue.clear();
    expect(queue.queuedSamples).toBe(0);
    expect(queue.fill(out)).toBe(0);
  });
});
