import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mulawToPcm16, pcm16ToBytes, pcm16ToMulaw } from '../../src/bridge/codec';
import { WavWriter, buildWav, parseRawWav, parseWav, readWav } from '../../src/bridge/wav';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-wav-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Deterministic samples: a ramp folded into int16. */
function ramp(length: number, start: number, step: number): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = ((start + i * step) << 16) >> 16;
  return out;
}

describe('WavWriter', () => {
  it('writes stereo 8 kHz PCM16 that reads back exactly, with correct header fields', async () => {
    const file = path.join(dir, 'call.wav');
    const wav = new WavWriter(file, { channels: 2, sampleRate: 8000 });
    const caller1 = ramp(160, 0, 397);
    const agent1 = ramp(100, -5000, 911); // shorter: padded with silence
    const caller2 = ramp(7, 1234, -3);
    const agent2 = ramp(20, 32000, 1);
    wav.writeStereo(caller1, agent1);
    wav.writeStereo(caller2, agent2);
    wav.write(Int16Array.of(-32768, 32767));
    expect(wav.frames).toBe(160 + 20 + 1);
    expect(wav.durationMs).toBeCloseTo((181 / 8000) * 1000, 9);
    await wav.close();
    await wav.close(); // idempotent
    expect(() => wav.write(new Int16Array(2))).toThrow(/after close/);

    const frames = 181;
    const dataBytes = frames * 2 * 2;
    const raw = fs.readFileSync(file);
    expect(raw.length).toBe(44 + dataBytes);
    expect(raw.toString('ascii', 0, 4)).toBe('RIFF');
    expect(raw.readUInt32LE(4)).toBe(36 + dataBytes);
    expect(raw.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(raw.readUInt32LE(16)).toBe(16);
    expect(raw.readUInt16LE(20)).toBe(1); // PCM
    expect(raw.readUInt16LE(22)).toBe(2);
    expect(raw.readUInt32LE(24)).toBe(8000);
    expect(raw.readUInt32LE(28)).toBe(8000 * 2 * 2);
    expect(raw.readUInt16LE(32)).toBe(4);
    expect(raw.readUInt16LE(34)).toBe(16);
    expect(raw.toString('ascii', 36, 40)).toBe('data');
    expect(raw.readUInt32LE(40)).toBe(dataBytes);

    const expected = new Int16Array(frames * 2);
    const put = (left: Int16Array, right: Int16Array, at: number): void => {
      left.forEach((v, i) => (expected[2 * (at + i)] = v));
      right.forEach((v, i) => (expected[2 * (at + i) + 1] = v));
    };
    put(caller1, agent1, 0);
    put(caller2, agent2, 160);
    expected[360] = -32768;
    expected[361] = 32767;

    const read = readWav(file);
    expect(read.sampleRate).toBe(8000);
    expect(read.channels).toBe(2);
    expect(Array.from(read.samples)).toEqual(Array.from(expected));
    // Padding really is silence: agent side of frames 100..159.
    for (let f = 100; f < 160; f++) expect(read.samples[2 * f + 1]).toBe(0);
  });

  it('writes a valid empty file', async () => {
    const file = path.join(dir, 'empty.wav');
    await new WavWriter(file, { channels: 1, sampleRate: 24_000 }).close();
    const raw = fs.readFileSync(file);
    expect(raw.length).toBe(44);
    expect(raw.readUInt32LE(4)).toBe(36);
    expect(raw.readUInt32LE(40)).toBe(0);
    expect(readWav(file)).toEqual({ sampleRate: 24_000, channels: 1, samples: new Int16Array(0) });
  });

  it('refuses partial frames and writeStereo on a mono file', async () => {
    const mono = new WavWriter(path.join(dir, 'mono.wav'), { channels: 1, sampleRate: 8000 });
    expect(() => mono.writeStereo(new Int16Array(1), new Int16Array(1))).toThrow(/2|channel/);
    await mono.close();
    const stereo = new WavWriter(path.join(dir, 'odd.wav'), { channels: 2, sampleRate: 8000 });
    expect(() => stereo.write(new Int16Array(3))).toThrow(RangeError);
    await stereo.close();
  });

  it('reports a write error on close instead of crashing', async () => {
    const wav = new WavWriter(path.join(dir, 'no-such-dir', 'x.wav'), { channels: 2, sampleRate: 8000 });
    wav.writeStereo(new Int16Array(10), new Int16Array(10));
    await expect(wav.close()).rejects.toThrow(/ENOENT/);
  });

  it('reads a file whose sizes were never patched (recording cut short) up to the end of the data', async () => {
    const file = path.join(dir, 'cut.wav');
    const wav = new WavWriter(file, { channels: 2, sampleRate: 8000 });
    const samples = ramp(2 * 50, 7, 1001);
    wav.write(samples);
    await wav.close();
    const raw = fs.readFileSync(file);
    raw.writeUInt32LE(0xffffffff, 4);
    raw.writeUInt32LE(0xffffffff, 40);
    // And a torn last frame: 3 stray bytes after 50 whole frames.
    const torn = Buffer.concat([raw, Buffer.from([1, 2, 3])]);
    expect(Array.from(parseWav(torn).samples)).toEqual(Array.from(samples));
  });
});

describe('readWav', () => {
  it('decodes an 8-bit μ-law WAV (format 7) with extra chunks and odd-size padding', () => {
    const pcm = new Int16Array(401).map((_, n) => Math.round(12000 * Math.sin((2 * Math.PI * 1000 * n) / 8000)));
    const mu = Buffer.from(pcm16ToMulaw(pcm)); // odd length: the data chunk gets a pad byte
    const fmt = Buffer.alloc(8 + 18);
    fmt.write('fmt ', 0, 'ascii');
    fmt.writeUInt32LE(18, 4);
    fmt.writeUInt16LE(7, 8); // WAVE_FORMAT_MULAW
    fmt.writeUInt16LE(1, 10);
    fmt.writeUInt32LE(8000, 12);
    fmt.writeUInt32LE(8000, 16);
    fmt.writeUInt16LE(1, 20);
    fmt.writeUInt16LE(8, 22);
    fmt.writeUInt16LE(0, 24); // cbSize
    const fact = Buffer.alloc(12);
    fact.write('fact', 0, 'ascii');
    fact.writeUInt32LE(4, 4);
    fact.writeUInt32LE(mu.length, 8);
    const list = Buffer.concat([Buffer.from('LIST', 'ascii'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0])]);
    const dataHeader = Buffer.alloc(8);
    dataHeader.write('data', 0, 'ascii');
    dataHeader.writeUInt32LE(mu.length, 4);
    const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), fmt, fact, list, dataHeader, mu, Buffer.from([0])]);
    const riff = Buffer.alloc(8);
    riff.write('RIFF', 0, 'ascii');
    riff.writeUInt32LE(body.length, 4);
    const file = path.join(dir, 'mulaw.wav');
    fs.writeFileSync(file, Buffer.concat([riff, body]));

    const read = readWav(file);
    expect(read.sampleRate).toBe(8000);
    expect(read.channels).toBe(1);
    expect(read.samples.length).toBe(401);
    expect(Array.from(read.samples)).toEqual(Array.from(mulawToPcm16(mu)));
    // And it is the tone, within μ-law quantisation.
    let worst = 0;
    for (let n = 0; n < pcm.length; n++) worst = Math.max(worst, Math.abs(read.samples[n]! - pcm[n]!));
    expect(worst).toBeLessThanOrEqual(256);
  });

  it('rejects what it cannot read', () => {
    expect(() => parseWav(Buffer.from('not a wav file at all'))).toThrow(/RIFF/);
    const wav = Buffer.alloc(44);
    wav.write('RIFF', 0, 'ascii');
    wav.writeUInt32LE(36, 4);
    wav.write('WAVEfmt ', 8, 'ascii');
    wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(3, 20); // IEEE float
    wav.writeUInt16LE(1, 22);
    wav.writeUInt32LE(8000, 24);
    wav.writeUInt16LE(32, 34);
    wav.write('data', 36, 'ascii');
    expect(() => parseWav(wav)).toThrow(/unsupported/);
  });
});

describe('buildWav and parseRawWav', () => {
  it('builds PCM16 files byte for byte as WavWriter writes them', async () => {
    const samples = ramp(2 * 37, -300, 1777);
    const file = path.join(dir, 'writer.wav');
    const wav = new WavWriter(file, { channels: 2, sampleRate: 16_000 });
    wav.write(samples);
    await wav.close();
    const built = buildWav({ encoding: 'pcm16', sampleRate: 16_000, channels: 2, data: pcm16ToBytes(samples) });
    expect(built.equals(fs.readFileSync(file))).toBe(true);
    const raw = parseRawWav(built);
    expect(raw).toMatchObject({ encoding: 'pcm16', sampleRate: 16_000, channels: 2 });
    expect(Buffer.from(raw.data).equals(pcm16ToBytes(samples))).toBe(true);
    expect(Array.from(parseWav(built).samples)).toEqual(Array.from(samples));
  });

  it('builds μ-law files with the fmt extension, fact chunk and pad byte, and reads the bytes back undecoded', () => {
    const mu = Buffer.from([0x00, 0x7f, 0x80, 0xff, 0x12]); // odd length; 0x7F (−0) must survive as is
    const built = buildWav({ encoding: 'mulaw', sampleRate: 8000, channels: 1, data: mu });
    expect(built.length).toBe(58 + 5 + 1);
    expect(built.toString('ascii', 0, 4)).toBe('RIFF');
    expect(built.readUInt32LE(4)).toBe(built.length - 8);
    expect(built.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(built.readUInt32LE(16)).toBe(18);
    expect(built.readUInt16LE(20)).toBe(7); // WAVE_FORMAT_MULAW
    expect(built.readUInt16LE(22)).toBe(1);
    expect(built.readUInt32LE(24)).toBe(8000);
    expect(built.readUInt32LE(28)).toBe(8000);
    expect(built.readUInt16LE(32)).toBe(1);
    expect(built.readUInt16LE(34)).toBe(8);
    expect(built.readUInt16LE(36)).toBe(0); // cbSize
    expect(built.toString('ascii', 38, 42)).toBe('fact');
    expect(built.readUInt32LE(46)).toBe(5);
    expect(built.toString('ascii', 50, 54)).toBe('data');
    expect(built.readUInt32LE(54)).toBe(5);
    expect(built[built.length - 1]).toBe(0);

    const raw = parseRawWav(built);
    expect(raw).toMatchObject({ encoding: 'mulaw', sampleRate: 8000, channels: 1 });
    expect(Buffer.from(raw.data).equals(mu)).toBe(true);
    expect(Array.from(parseWav(built).samples)).toEqual(Array.from(mulawToPcm16(mu)));
  });

  it('refuses data that is not whole frames, and parseRawWav drops a torn last frame', () => {
    expect(() => buildWav({ encoding: 'pcm16', sampleRate: 8000, channels: 1, data: Buffer.alloc(3) })).toThrow(/whole number/);
    expect(() => buildWav({ encoding: 'mulaw', sampleRate: 8000, channels: 2, data: Buffer.alloc(3) })).toThrow(/whole number/);
    expect(() => buildWav({ encoding: 'mulaw', sampleRate: 0, channels: 1, data: Buffer.alloc(2) })).toThrow(/sample rate/);
    const built = buildWav({ encoding: 'pcm16', sampleRate: 8000, channels: 2, data: Buffer.alloc(8) });
    expect(parseRawWav(Buffer.concat([built, Buffer.from([9, 9, 9])])).data.length).toBe(8);
  });
});
