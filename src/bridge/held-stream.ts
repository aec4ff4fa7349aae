import { MAX_PENDING_CALLER_AUDIO_MS, MULAW_BYTES_PER_MS } from '../constants';
import type { AudioChunk, CallerStream, CallerStreamHandlers, StreamStopReason } from './transports';

type StartInfo = Parameters<CallerStreamHandlers['start']>[0];

/**
 * A caller stream held while its session is set up. A stream that arrives for a call with no pre-warmed
 * session here (DESIGN §4.12: a proxy sent it to another instance, or this one restarted) waits for the
 * store before a session can take it, and the carrier does not wait: its `start` frame (BW §4.2) and first
 * audio come at once. They are kept (audio bounded like a connecting model's, MAX_PENDING_CALLER_AUDIO_MS)
 * and handed to the session's handlers, in order, the moment it sets them.
 */
export class HeldCallerStream implements CallerStream {
  private handlers: CallerStreamHandlers | undefined;
  private startInfo: StartInfo | undefined;
  private readonly audio: AudioChunk[] = [];
  private heldBytes = 0;
  private stopReason: StreamStopReason | undefined;
  /** ms of caller audio dropped while held, beyond the bound. */
  private droppedWhileHeldMs = 0;

  constructor(private readonly inner: CallerStream) {
    inner.setHandlers({
      start: (info) => (this.handlers ? this.handlers.start(info) : (this.startInfo = info)),
      audio: (chunk) => (this.handlers ? this.handlers.audio(chunk) : this.hold(chunk)),
      stop: (reason) => (this.handlers ? this.handlers.stop(reason) : (this.stopReason = reason)),
    });
  }

  get callId(): string {
    return this.inner.callId;
  }

  setHandlers(handlers: CallerStreamHandlers): void {
    this.handlers = handlers;
    if (this.startInfo) handlers.start(this.startInfo);
    for (const chunk of this.audio.splice(0)) handlers.audio(chunk);
    this.heldBytes = 0;
    if (this.stopReason) handlers.stop(this.stopReason);
  }

  play(chunk: AudioChunk): void {
    this.inner.play(chunk);
  }

  clear(): void {
    this.inner.clear();
  }

  close(reason: string): void {
    this.inner.close(reason);
  }

  get garbageFrames(): number {
    return this.inner.garbageFrames;
  }

  get droppedAudioMs(): number {
    return this.inner.droppedAudioMs + this.droppedWhileHeldMs;
  }

  /** Stopped while held too: the session then ends at once (CallSession.attach). */
  get isStopped(): boolean {
    return this.inner.isStopped || this.stopReason !== undefined;
  }

  private hold(chunk: AudioChunk): void {
    if (this.heldBytes + chunk.bytes > MAX_PENDING_CALLER_AUDIO_MS * MULAW_BYTES_PER_MS) {
      this.droppedWhileHeldMs += chunk.bytes / MULAW_BYTES_PER_MS;
      return;
    }
    this.audio.push(chunk);
    this.heldBytes += chunk.bytes;
  }
}
