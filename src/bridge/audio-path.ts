import type { AgentWithDestinations } from '../agents/agent';
import { mulawToPcm16, pcm16AsBytes, pcm16ToMulaw, pcm16ViewOfBytes, Resampler } from './codec';
import { chunkFromBytes, type AudioChunk } from './transports';

/**
 * Audio between the caller and the model (DESIGN §4.3). Default `pcmu`: zero-transcode — the caller's
 * base64 μ-law goes to OpenAI untouched and OpenAI's μ-law comes back as bytes for playout. `pcm24k`:
 * μ-law 8 kHz ⇄ PCM16 24 kHz with the anti-aliased resampler; playout stays μ-law, the format every
 * Bandwidth sample uses (BW §4.3). Resamplers keep state across chunks, so one AudioPath per call.
 *
 * Samples that live only within one toModel/toCaller call go into per-call scratch arrays (grown when a
 * chunk is larger than any before, so steady chunk sizes allocate once) or are views of the decoded
 * base64: allocating a typed array costs V8 about as much as transcoding a 20 ms frame. What leaves the
 * path (the base64 string, the μ-law Buffer the playout queue keeps) is always fresh.
 */
export class AudioPath {
  private readonly up: Resampler | undefined;
  private readonly down: Resampler | undefined;
  private carry: Buffer | undefined;
  /** Scratch: 8 kHz samples (decoded caller audio; downsampled model audio). */
  private pcm8k: Int16Array = new Int16Array(0);
  /** Scratch: 24 kHz samples (upsampled caller audio). */
  private pcm24k: Int16Array = new Int16Array(0);

  constructor(readonly format: AgentWithDestinations['audio']) {
    if (format === 'pcm24k') {
      this.up = new Resampler('8k->24k');
      this.down = new Resampler('24k->8k');
    }
  }

  /** Caller μ-law → the model's input format. */
  toModel(chunk: AudioChunk): AudioChunk {
    if (!this.up) return chunk;
    const mulaw = Buffer.from(chunk.base64, 'base64');
    this.pcm8k = atLeast(this.pcm8k, mulaw.length);
    this.pcm24k = atLeast(this.pcm24k, this.up.maxOutputLength(mulaw.length));
    const pcm24k = this.up.process(mulawToPcm16(mulaw, this.pcm8k), this.pcm24k);
    return chunkFromBytes(pcm16AsBytes(pcm24k));
  }

  /** Model output → μ-law bytes for the playout queue. */
  toCaller(chunk: AudioChunk): Buffer {
    let bytes = Buffer.from(chunk.base64, 'base64');
    if (!this.down) return bytes;
    // PCM16 samples may straddle two deltas: carry an odd trailing byte into the next one.
    if (this.carry) bytes = Buffer.concat([this.carry, bytes]);
    this.carry = bytes.length % 2 === 1 ? bytes.subarray(bytes.length - 1) : undefined;
    const pcm24k = pcm16ViewOfBytes(this.carry ? bytes.subarray(0, bytes.length - 1) : bytes);
    this.pcm8k = atLeast(this.pcm8k, this.down.maxOutputLength(pcm24k.length));
    const pcm8k = this.down.process(pcm24k, this.pcm8k);
    const mulaw = Buffer.allocUnsafe(pcm8k.length);
    pcm16ToMulaw(pcm8k, mulaw);
    return mulaw;
  }
}

/** `scratch` if it holds `length` samples, else a replacement that does. */
function atLeast(scratch: Int16Array, length: number): Int16Array {
  return scratch.length >= length ? scratch : new Int16Array(length);
}
