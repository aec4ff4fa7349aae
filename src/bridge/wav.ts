/**
 * WAV files for call recordings (DESIGN §4.3: the codec module is also used for recordings). Switchboard
 * records stereo 16-bit PCM at 8 kHz, left = caller, right = agent.
 *
 * WavWriter streams to disk (a call can last hours; nothing is held in memory) and patches the RIFF and
 * data sizes when closed. It starts with 0xFFFFFFFF in both ("unknown length, read to end of file"), and
 * rewrites them with what is on disk every WAV_HEADER_REFRESH_MS of audio: many players take 0xFFFFFFFF
 * literally (a billion frames), so a recording cut short by a crash carries sizes at most that stale, and
 * repairWavHeader makes them exact at the next start.
 *
 * readWav is for tests and the simulator: PCM16 (format 1) or 8-bit G.711 μ-law (format 7, decoded to
 * PCM16), including WAVE_FORMAT_EXTENSIBLE wrappers of either. parseRawWav reads the same files without
 * decoding them, and buildWav writes one in memory (both for the simulator and tests).
 */
import fs from 'node:fs';
import { WAV_HEADER_REFRESH_MS } from '../constants';
import { PRIVATE_FILE_MODE } from '../files';
import { mulawToPcm16, pcm16FromBytes, pcm16ToBytes } from './codec';

const UNKNOWN_SIZE = 0xffffffff;
const FORMAT_PCM = 1;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

/** How a WAV file's data chunk is stored: 16-bit little-endian PCM (format 1) or 8-bit G.711 μ-law (format 7). */
export type WavEncoding = 'pcm16' | 'mulaw';

/**
 * The RIFF, fmt and data headers of a WAV file, up to the first data byte. PCM16 is the canonical 44-byte
 * layout. μ-law, like every non-PCM format, has an 18-byte fmt chunk (cbSize 0) and a `fact` chunk holding the
 * frame count: 58 bytes. `dataBytes` of UNKNOWN_SIZE writes the streaming "read to end of file" sizes.
 */
function wavHeader(encoding: WavEncoding, channels: number, sampleRate: number, dataBytes: number): Buffer {
  const pcm = encoding === 'pcm16';
  const bytesPerSample = pcm ? 2 : 1;
  const fmtBytes = pcm ? 16 : 18;
  const headerBytes = 20 + fmtBytes + (pcm ? 0 : 12) + 8;
  const pad = dataBytes === UNKNOWN_SIZE ? 0 : dataBytes & 1; // chunks are padded to even length
  const b = Buffer.alloc(headerBytes);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(dataBytes === UNKNOWN_SIZE ? UNKNOWN_SIZE : Math.min(UNKNOWN_SIZE, headerBytes - 8 + dataBytes + pad), 4);
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(fmtBytes, 16);
  b.writeUInt16LE(pcm ? FORMAT_PCM : FORMAT_MULAW, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * bytesPerSample, 28); // byte rate
  b.writeUInt16LE(channels * bytesPerSample, 32); // block align
  b.writeUInt16LE(8 * bytesPerSample, 34); // bits per sample
  let pos = 20 + fmtBytes;
  if (!pcm) {
    b.writeUInt16LE(0, 36); // cbSize: no extra format bytes
    b.write('fact', pos, 'ascii');
    b.writeUInt32LE(4, pos + 4);
    b.writeUInt32LE(dataBytes === UNKNOWN_SIZE ? UNKNOWN_SIZE : dataBytes / channels, pos + 8); // frames
    pos += 12;
  }
  b.write('data', pos, 'ascii');
  b.writeUInt32LE(Math.min(UNKNOWN_SIZE, dataBytes), pos + 4);
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
  private fd: number | undefined;
  private dataBytes = 0;
  private error: Error | undefined;
  private closing: Promise<void> | undefined;
  /** The header's sizes were last rewritten at this many data bytes; a rewrite in flight, if any. */
  private refreshedAtBytes = 0;
  private refreshing: Promise<void> | undefined;
  private readonly refreshEveryBytes: number;
  private readonly headerBytes: number;

  constructor(path: string, options: WavWriterOptions) {
    const { channels, sampleRate } = options;
    if (!Number.isInteger(channels) || channels < 1 || channels > 8) throw new RangeError(`invalid channel count ${channels}`);
    if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new RangeError(`invalid sample rate ${sampleRate}`);
    this.path = path;
    this.channels = channels;
    this.sampleRate = sampleRate;
    this.stream = fs.createWriteStream(path, { mode: PRIVATE_FILE_MODE });
    // The descriptor the header refreshes write through; the stream owns it and closes it.
    this.stream.once('open', (fd: number) => {
      this.fd = fd;
    });
    // Keep the first error for close(); without a listener a disk error would crash the process.
    this.stream.on('error', (err) => {
      this.error ??= err;
    });
    const header = wavHeader('pcm16', channels, sampleRate, UNKNOWN_SIZE);
    this.headerBytes = header.length;
    this.refreshEveryBytes = ((WAV_HEADER_REFRESH_MS * sampleRate) / 1000) * channels * 2;
    this.stream.write(header);
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
    if (this.dataBytes - this.refreshedAtBytes >= this.refreshEveryBytes) this.refreshHeader();
  }

  /**
   * Rewrite the sizes to cover the whole frames already flushed to the file (not what is still buffered:
   * the header never claims audio a crash would lose). Positional writes beside the stream's appends.
   */
  private refreshHeader(): void {
    const fd = this.fd;
    if (this.refreshing || fd === undefined) return;
    const frameBytes = 2 * this.channels;
    const flushed = this.stream.bytesWritten - this.headerBytes;
    const dataBytes = flushed - (flushed % frameBytes);
    if (dataBytes <= 0) return;
    this.refreshedAtBytes = this.dataBytes;
    const header = wavHeader('pcm16', this.channels, this.sampleRate, dataBytes);
    const write = (offset: number) => new Promise<void>((resolve) => fs.write(fd, header, offset, 4, offset, () => resolve()));
    // A failed refresh is harmless (the close or the next start writes exact sizes); close() waits for it,
    // so the descriptor is never written after the stream has closed it.
    this.refreshing = write(4)
      .then(() => write(40))
      .finally(() => {
        this.refreshing = undefined;
      });
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
    await this.refreshing;
    await new Promise<void>((resolve) => {
      if (this.stream.closed) return resolve();
      this.stream.once('close', () => resolve()); // after 'error', if there was one
      if (!this.stream.destroyed) this.stream.end();
    });
    if (this.error) throw this.error;
    const header = wavHeader('pcm16', this.channels, this.sampleRate, this.dataBytes);
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

/** A WAV file's audio as stored, not decoded: what parseRawWav reads and buildWav writes. */
export interface RawWav {
  encoding: WavEncoding;
  sampleRate: number;
  channels: number;
  /** The data chunk: interleaved little-endian PCM16, or μ-law bytes. Whole frames only. */
  data: Uint8Array;
}

/**
 * Parse a WAV file held in memory, leaving the audio encoded (the simulator passes μ-law through byte for
 * byte). Sizes beyond the end of the buffer (streaming/truncated files) are clamped, and a torn last frame is
 * dropped. `data` is a view into `buf`.
 */
export function parseRawWav(buf: Uint8Array): RawWav {
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
      let encoding: WavEncoding;
      if (format === FORMAT_PCM && bits === 16) encoding = 'pcm16';
      else if (format === FORMAT_MULAW && bits === 8) encoding = 'mulaw';
      else throw new Error(`unsupported WAV encoding: format ${format}, ${bits} bits (PCM16 and μ-law only)`);
      const frameBytes = (encoding === 'pcm16' ? 2 : 1) * channels;
      return { encoding, sampleRate, channels, data: data.subarray(0, data.length - (data.length % frameBytes)) };
    }
    if (size === UNKNOWN_SIZE) break;
    pos = body + size + (size & 1); // chunks are padded to even length
  }
  throw new Error('WAV has no data chunk');
}

/** Parse a WAV file held in memory, decoded to PCM16. */
export function parseWav(buf: Uint8Array): WavData {
  const { encoding, sampleRate, channels, data } = parseRawWav(buf);
  return { sampleRate, channels, samples: encoding === 'pcm16' ? pcm16FromBytes(data) : mulawToPcm16(data) };
}

/**
 * A whole WAV file in memory around already-encoded audio (test fixtures; saving what the simulated caller
 * heard, e.g. `buildWav({ encoding: 'mulaw', sampleRate: 8000, channels: 1, data: call.heard.audio })`).
 * For PCM16 samples, pass `data: pcm16ToBytes(samples)`. The inverse of parseRawWav.
 */
export function buildWav(wav: RawWav): Buffer {
  const { encoding, sampleRate, channels, data } = wav;
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) throw new RangeError(`invalid channel count ${channels}`);
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new RangeError(`invalid sample rate ${sampleRate}`);
  const frameBytes = (encoding === 'pcm16' ? 2 : 1) * channels;
  if (data.length % frameBytes !== 0) throw new RangeError(`${data.length} data bytes is not a whole number of ${frameBytes}-byte frames`);
  return Buffer.concat([wavHeader(encoding, channels, sampleRate, data.length), data, Buffer.alloc(data.length & 1)]);
}

/**
 * After a crash: give a recording that WavWriter never closed the exact sizes of what reached the disk
 * (whole frames). Only the layout WavWriter writes (44-byte PCM16 header) is touched. Returns whether the
 * header changed and the data bytes it now claims.
 */
export function repairWavHeader(file: string): { repaired: boolean; dataBytes: number } {
  const fd = fs.openSync(file, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(44);
    if (size < 44 || fs.readSync(fd, head, 0, 44, 0) !== 44) throw new Error(`${file} is too short for a WAV header`);
    const ours = head.toString('ascii', 0, 4) === 'RIFF' && head.toString('ascii', 8, 16) === 'WAVEfmt ' && head.readUInt32LE(16) === 16 && head.readUInt16LE(20) === FORMAT_PCM && head.toString('ascii', 36, 40) === 'data';
    if (!ours) throw new Error(`${file} is not a PCM16 WAV as Switchboard records them`);
    const blockAlign = head.readUInt16LE(32) || 1;
    const dataBytes = size - 44 - ((size - 44) % blockAlign);
    const exact = wavHeader('pcm16', head.readUInt16LE(22), head.readUInt32LE(24), dataBytes);
    if (exact.equals(head)) return { repaired: false, dataBytes };
    fs.writeSync(fd, exact, 0, 44, 0);
    return { repaired: true, dataBytes };
  } finally {
    fs.closeSync(fd);
  }
}

/** Read a WAV file (tests, simulator). */
export function readWav(path: string): WavData {
  return parseWav(fs.readFileSync(path));
}
