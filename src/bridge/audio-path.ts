import type { AgentWithDestinations } from '../agents/agent';
import { mulawToPcm16, pcm16FromBytes, pcm16ToBytes, pcm16ToMulaw, Resampler } from './codec';
import { chunkFromBytes, type AudioChunk } from './transports';

/**
 * Audio between the caller and the model (DESIGN §4.3). Default `pcmu`: zero-transcode — the caller's
 * base64 μ-law goes to OpenAI untouched and OpenAI's μ-law comes back as bytes for playout. `pcm24k`:
 * μ-law 8 kHz ⇄ PCM16 24 kHz with the anti-aliased resampler; playout stays μ-law, the format every
 * Bandwidth sample uses (BW §4.3). Resamplers keep state across chunks, so one AudioPath per call.
 */
export class AudioPath {
  private readonly up: Resampler | undefined;
  private readonly down: Resampler | undefined;
  private carry: Buffer | undefined;

  constructor(readonly format: AgentWithDestinations['audio']) {
    if (format === 'pcm24k') {
      this.up = new Resampler('8k->24k');
      this.down = new Resampler('24k->8k');
    }
  }

  /** Caller μ-law → the model's input format. */
  toModel(chunk: AudioChunk): AudioChunk {
    if (!this.up) return chunk;
    const pcm8k = mulawToPcm16(Buffer.from(chunk.base64, 'base64'));
    return chunkFromBytes(pcm16ToBytes(this.up.process(pcm8k)));
  }

  /** Model output → μ-law bytes for the playout queue. */
  toCaller(chunk: AudioChunk): Buffer {
    let bytes = Buffer.from(chunk.base64, 'base64');
    if (!this.down) return bytes;
    // PCM16 samples may straddle two deltas: carry an odd trailing byte into the next one.
    if (this.carry) bytes = Buffer.concat([this.carry, bytes]);
    this.carry = bytes.length % 2 === 1 ? bytes.subarray(bytes.length - 1) : undefined;
    const even = this.carry ? bytes.subarray(0, bytes.length - 1) : bytes;
    const mulaw = pcm16ToMulaw(this.down.process(pcm16FromBytes(even)));
    return Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength);
  }
}
