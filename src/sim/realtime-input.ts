/**
 * The input audio buffer of one session (RT §1.4 `input_audio_buffer.*`): every appended byte, the audio-time
 * timeline that `audio_start_ms`/`audio_end_ms` count on (RT §1.5: "ms into all audio appended this session"),
 * and the start of the part not yet committed. Durations come from byte counts in the format current at
 * append time (RT §2 "Audio-duration arithmetic"), never from a clock.
 */
import { bytesPerMs, bytesToMs, decodeToPcm, type AudioFormat } from './realtime-audio';

/** A run of appended audio in the format it arrived in (the input format can change mid-session). */
interface AudioSegment {
  startMs: number;
  endMs: number;
  format: AudioFormat;
  bytes: Buffer;
}

export class InputAudioBuffer {
  /** Total bytes appended. */
  appendedBytes = 0;
  /** Audio time appended so far, ms. */
  appendedMs = 0;
  /** Start of the uncommitted part, audio ms. */
  startMs = 0;
  private readonly chunks: Buffer[] = [];
  private readonly segments: AudioSegment[] = [];
  private pcmCarry: Buffer | undefined;

  /** Every appended byte, concatenated (a copy). */
  get audio(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Audio appended since the last commit or clear, ms. */
  get uncommittedMs(): number {
    return this.appendedMs - this.startMs;
  }

  /** Record an append and return it decoded to 16-bit samples (an odd trailing PCM16 byte waits for the next). */
  append(format: AudioFormat, bytes: Buffer): Int16Array {
    this.chunks.push(bytes);
    this.appendedBytes += bytes.length;
    const startMs = this.appendedMs;
    this.appendedMs += bytesToMs(format, bytes.length);
    this.segments.push({ startMs, endMs: this.appendedMs, format, bytes });
    if (format.type !== 'audio/pcm') return decodeToPcm(format, bytes);
    const all = this.pcmCarry ? Buffer.concat([this.pcmCarry, bytes]) : bytes;
    const even = all.length - (all.length % 2);
    this.pcmCarry = even < all.length ? all.subarray(even) : undefined;
    return decodeToPcm(format, all.subarray(0, even));
  }

  /** Everything up to `ms` is committed (or discarded): the uncommitted part starts there. */
  consumeTo(ms: number): void {
    this.startMs = ms;
  }

  /** `input_audio_buffer.clear`, or a format change: drop the uncommitted part and any half sample. */
  clear(): void {
    this.startMs = this.appendedMs;
    this.pcmCarry = undefined;
  }

  formatChanged(): void {
    this.pcmCarry = undefined;
  }

  /** The bytes between two audio times, in the format of the first segment they touch. */
  slice(startMs: number, endMs: number): { bytes: Buffer; format: AudioFormat } | undefined {
    const parts: Buffer[] = [];
    let format: AudioFormat | undefined;
    for (const s of this.segments) {
      if (s.endMs <= startMs || s.startMs >= endMs) continue;
      format ??= s.format;
      if (s.format.type !== format.type) continue;
      const bpm = bytesPerMs(s.format);
      const align = s.format.type === 'audio/pcm' ? 2 : 1;
      const from = Math.floor(((Math.max(startMs, s.startMs) - s.startMs) * bpm) / align) * align;
      const to = Math.floor(((Math.min(endMs, s.endMs) - s.startMs) * bpm) / align) * align;
      parts.push(s.bytes.subarray(from, to));
    }
    return format ? { bytes: Buffer.concat(parts), format } : undefined;
  }
}
