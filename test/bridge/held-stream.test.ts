import { HeldCallerStream } from '../../src/bridge/held-stream';
import type { AudioChunk, CallerStream, CallerStreamHandlers } from '../../src/bridge/transports';
import { MAX_PENDING_CALLER_AUDIO_MS, MULAW_BYTES_PER_MS } from '../../src/constants';

/** A carrier stream driven by hand: what it was told to do, and its handlers to feed. */
class HandStream implements CallerStream {
  handlers: CallerStreamHandlers | undefined;
  played: AudioChunk[] = [];
  closedWith: string | undefined;
  garbageFrames = 2;
  droppedAudioMs = 0;
  isStopped = false;
  constructor(readonly callId: string) {}
  setHandlers(handlers: CallerStreamHandlers): void {
    this.handlers = handlers;
  }
  play(chunk: AudioChunk): void {
    this.played.push(chunk);
  }
  clear(): void {}
  close(reason: string): void {
    this.closedWith = reason;
  }
}

const chunk = (ms: number, fill = 0x10): AudioChunk => {
  const bytes = ms * MULAW_BYTES_PER_MS;
  return { base64: Buffer.alloc(bytes, fill).toString('base64'), bytes };
};
const START = { streamId: 's-1', streamName: 'ai-agent', tracks: ['inbound'], params: {} };

describe('a caller stream held while its session is set up', () => {
  it('hands the start frame and the audio that came meanwhile to the session, in order, then passes the rest straight on', () => {
    const inner = new HandStream('c-1');
    const held = new HeldCallerStream(inner);
    inner.handlers!.start(START);
    inner.handlers!.audio(chunk(20, 1));
    inner.handlers!.audio(chunk(20, 2));
    const seen: string[] = [];
    held.setHandlers({
      start: (info) => seen.push(`start ${info.streamId}`),
      audio: (c) => seen.push(`audio ${Buffer.from(c.base64, 'base64')[0]}`),
      stop: (reason) => seen.push(`stop ${reason}`),
    });
    expect(seen).toEqual(['start s-1', 'audio 1', 'audio 2']);
    inner.handlers!.audio(chunk(20, 3));
    inner.handlers!.stop('stop-frame');
    expect(seen).toEqual(['start s-1', 'audio 1', 'audio 2', 'audio 3', 'stop stop-frame']);
    // Everything else is the carrier's stream.
    held.play(chunk(20));
    held.close('done');
    expect(inner.played).toHaveLength(1);
    expect(inner.closedWith).toBe('done');
    expect(held.callId).toBe('c-1');
    expect(held.garbageFrames).toBe(2);
  });

  it('keeps at most MAX_PENDING_CALLER_AUDIO_MS of audio, counting the rest as dropped', () => {
    const inner = new HandStream('c-2');
    const held = new HeldCallerStream(inner);
    inner.handlers!.start(START);
    const frames = MAX_PENDING_CALLER_AUDIO_MS / 20 + 5;
    for (let i = 0; i < frames; i++) inner.handlers!.audio(chunk(20));
    let heldMs = 0;
    held.setHandlers({ start: () => undefined, audio: (c) => (heldMs += c.bytes / MULAW_BYTES_PER_MS), stop: () => undefined });
    expect(heldMs).toBe(MAX_PENDING_CALLER_AUDIO_MS);
    expect(held.droppedAudioMs).toBe(100);
  });

  it('a stream that stopped while held reads as stopped, so the session ends at once', () => {
    const inner = new HandStream('c-3');
    const held = new HeldCallerStream(inner);
    expect(held.isStopped).toBe(false);
    inner.handlers!.stop('socket-closed');
    expect(held.isStopped).toBe(true);
    const stops: string[] = [];
    held.setHandlers({ start: () => undefined, audio: () => undefined, stop: (reason) => stops.push(reason) });
    expect(stops).toEqual(['socket-closed']);
  });
});
