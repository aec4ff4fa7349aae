/**
 * WAV files for call recordings (DESIGN §4.3: the codec module is also used for recordings). Switchboard
 * records stereo 16-bit PCM at 8 kHz, left = caller, right = agent.
 *
 * WavWriter streams to disk (a call can last hours; nothing is held in memory) and patches the RIFF and
 * data sizes when closed. Until then both size fields hold 0xFFFFFFFF, the streaming convention for
 * "unknown length, read to end of file", so a recording cut short by a crash is still playable, and
 * readWav accepts it.
 *
 * readWav is for tests and the simulator: PCM16 (format 1) or 8-bit G.711 μ-law (format 7, decoded to
 * PCM16), including WAVE_FORMAT_EXTENSIBLE wrappers of either.
 */
import fs from 'node:fs';
import { mulawToPcm16, pcm16FromBytes, pcm16ToBytes } from './codec';

const HEADER_BYTES = 44;
const UNKNOWN_SIZE = 0xffffffff;
const FORMAT_PCM = 1;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

function pcm16Header(channels: number, sampleRate: number, dataBytes: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(dataBytes === UNKNOWN_SIZE ? UNKNOWN_SIZE : Math.min(UNKNOWN_SIZE, 36 + dataBytes), 4);
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(FORMAT_PCM, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * 2, 28); // byte rate
  b.writeUInt16LE(channels * 2, 32); // block align
  b.writeUInt16LE(16, 34); // bits per sample
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(Math.min(UNKNOWN_SIZE, dataBytes), 40);
  return b;
}

export interface WavWriterOptions {
  channels: number;
  sampleRate: number;
}

export class WavWriter {
  readonly path: string;
  readonly channels: number;
  readonly sampleRate: number;
  private readonly stream: fs.WriteStream;
  private dataBytes = 0;
  private error: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(path: string, options: WavWriterOptions) {
    const { channels, sampleRate } = options;
    if (!Number.isInteger(channels) || channels < 1 || channels > 8) throw new RangeError(`invalid channel count ${channels}`);
    if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new RangeError(`invalid sample rate ${sampleRate}`);
    this.path = path;
    this.channels = channels;
    this.sampleRate = sampleRate;
    this.stream = fs.createWriteStream(path);
    // Keep the first error for close(); without a listener a disk error would crash the process.
    this.stream.on('error', (err) => {
      this.error ??= err;
    });
    this.stream.write(pcm16Header(channels, sampleRate, UNKNOWN_SIZE));
  }

  /** Frames written so far. */
  get frames(): number {
    return this.dataBytes / (2 * this.channels);
  }

  /** Audio written so far, in milliseconds. */
  get durationMs(): number {
    return (this.frames * 1000) / this.sampleRate;
  }

  /** Append interleaved frames (length must be a multiple of `channels`). */
  write(samples: Int16Array): void {
    if (this.closing) throw new Error(`WavWriter ${this.path}: write after close`);
    if (samples.length % this.channels !== 0) {
      throw new RangeError(`sample count ${samples.length} is not a whole number of ${this.channels}-channel frames`);
    }
    if (samples.length === 0) return;
    this.stream.write(pcm16ToBytes(samples));
    this.dataBytes += samples.length * 2;
  }

  /** Append a stereo block; the shorter side is padded with silence. */
  writeStereo(left: Int16Array, right: Int16Array): void {
    if (this.channels !== 2) throw new Error(`WavWriter ${this.path}: writeStereo on a ${this.channels}-channel file`);
    const frames = Math.max(left.length, right.length);
    const interleaved = new Int16Array(frames * 2);
    for (let i = 0; i < left.length; i++) interleaved[2 * i] = left[i]!;
    for (let i = 0; i < right.length; i++) interleaved[2 * i + 1] = right[i]!;
    this.write(interleaved);
  }

  /** Flush, close and patch the header sizes. Idempotent; rejects with the first write error, if any. */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (this.stream.closed) return resolve();
      this.stream.once('close', () => resolve()); // after 'error', if there was one
      if (!this.stream.destroyed) this.stream.end();
    });
    if (this.error) throw this.error;
    const header = pcm16Header(this.channels, this.sampleRate, this.dataBytes);
    const fh = await fs.promises.open(this.path, 'r+');
    try {
      await fh.write(header, 4, 4, 4); // RIFF size
      await fh.write(header, 40, 4, 40); // data size
    } finally {
      await fh.close();
    }
  }
}

export interface WavData {
  sampleRate: number;
  channels: number;
  /** Interleaved PCM16 (μ-law files are decoded). */
  samples: Int16Array;
}

/** Parse a WAV file held in memory. Sizes beyond the end of the buffer (streaming/truncated files) are clamped. */
export function parseWav(buf: Uint8Array): WavData {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let format: number | undefined;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let pos = 12;
  while (pos + 8 <= b.length) {
    const id = b.toString('ascii', pos, pos + 4);
    const size = b.readUInt32LE(pos + 4);
    const body = pos + 8;
    const end = Math.min(b.length, body + size);
    if (id === 'fmt ') {
      if (end - body < 16) throw new Error('WAV fmt chunk too short');
      format = b.readUInt16LE(body);
      channels = b.readUInt16LE(body + 2);
      sampleRate = b.readUInt32LE(body + 4);
      bits = b.readUInt16LE(body + 14);
      if (format === FORMAT_EXTENSIBLE) {
        if (end - body < 26) throw new Error('WAV extensible fmt chunk too short');
        format = b.readUInt16LE(body + 24); // first two bytes of the SubFormat GUID
      }
    } else if (id === 'data') {
      if (format === undefined) throw new Error('WAV data chunk before fmt chunk');
      if (channels < 1) throw new Error('WAV has no channels');
      const data = b.subarray(body, end);
      if (format === FORMAT_PCM && bits === 16) {
        const frameBytes = 2 * channels;
        const usable = data.length - (data.length % frameBytes);
        return { sampleRate, channels, samples: pcm16FromBytes(data.subarray(0, usable)) };
      }
      if (format === FORMAT_MULAW && bits === 8) {
        const usable = data.length - (data.length % channels);
        return { sampleRate, channels, samples: mulawToPcm16(data.subarray(0, usable)) };
      }
      throw new Error(`unsupported WAV encoding: format ${format}, ${bits} bits (PCM16 and μ-law only)`);
    }
    if (size === UNKNOWN_SIZE) break;
    pos = body + size + (size & 1); // chunks are padded to even length
  }
  throw new Error('WAV has no data chunk');
}

/** Read a WAV file (tests, simulator). */
export function readWav(path: string): WavData {
  return parseWav(fs.readFileSync(path));
}
