import type { AudioChunk, CallerStream, CallerStreamHandlers, ModelSession, ModelSessionHandlers } from '../../src/bridge/transports';

/** A ModelSession that records what the bridge sends and lets a test play the server's part. */
export class FakeModelSession implements ModelSession {
  handlers!: ModelSessionHandlers;
  readonly sent: { type: string; [k: string]: unknown }[] = [];
  readonly appended: AudioChunk[] = [];
  closed = false;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  readonly ready = new Promise<void>((resolve, reject) => {
    this.resolveReady = resolve;
    this.rejectReady = reject;
  });

  constructor() {
    this.ready.catch(() => undefined);
  }
  becomeReady(): void {
    this.resolveReady();
  }
  failToOpen(message: string): void {
    this.rejectReady(new Error(message));
  }
  setHandlers(h: ModelSessionHandlers): void {
    this.handlers = h;
  }
  appendAudio(chunk: AudioChunk): void {
    this.appended.push(chunk);
  }
  createResponse(options?: { instructions?: string }): void {
    this.sent.push({ type: 'response.create', ...options });
  }
  cancelResponse(): void {
    this.sent.push({ type: 'response.cancel' });
  }
  truncate(itemId: string, contentIndex: number, audioEndMs: number): void {
    this.sent.push({ type: 'conversation.item.truncate', itemId, contentIndex, audioEndMs });
  }
  sendFunctionOutput(callId: string, output: string): void {
    this.sent.push({ type: 'function_call_output', callId, output });
  }
  addItem(role: 'user' | 'assistant' | 'system', text: string): void {
    this.sent.push({ type: 'conversation.item.create', role, text });
  }
  answerMcpApproval(requestId: string, approve: boolean, reason: string): void {
    this.sent.push({ type: 'mcp_approval_response', requestId, approve, reason });
  }
  updateInstructions(instructions: string): void {
    this.sent.push({ type: 'session.update', instructions });
  }
  close(): void {
    this.closed = true;
  }
  of(type: string) {
    return this.sent.filter((e) => e.type === type);
  }
  /** Play `ms` of μ-law assistant audio for an item, as one delta. */
  delta(responseId: string, itemId: string, ms: number): void {
    const bytes = Buffer.alloc(ms * 8, 0x2a);
    this.handlers.audioDelta({ responseId, itemId, contentIndex: 0, chunk: { base64: bytes.toString('base64'), bytes: bytes.length } });
  }
}

/** A CallerStream that records playAudio/clear and lets a test speak as the caller. */
export class FakeCallerStream implements CallerStream {
  handlers!: CallerStreamHandlers;
  readonly played: { atMs: number; bytes: number }[] = [];
  readonly clears: number[] = [];
  closedWith: string | undefined;
  garbageFrames = 0;
  droppedAudioMs = 0;
  isStopped = false;

  constructor(
    readonly callId: string,
    private readonly now: () => number,
    /** Send the `start` frame as soon as the bridge listens (BW §4.2: it is always the first frame). */
    private readonly autoStart = true,
  ) {}
  setHandlers(h: CallerStreamHandlers): void {
    this.handlers = h;
    if (this.autoStart) this.start();
  }
  start(): void {
    this.handlers.start({ streamId: `stream-${this.callId}`, streamName: 'ai-agent', tracks: ['inbound'], params: {} });
  }
  play(chunk: AudioChunk): void {
    this.played.push({ atMs: this.now(), bytes: chunk.bytes });
  }
  clear(): void {
    this.clears.push(this.now());
  }
  close(reason: string): void {
    this.closedWith ??= reason;
  }
  get playedMs(): number {
    return this.played.reduce((a, p) => a + p.bytes, 0) / 8;
  }
  speak(frames: number): void {
    for (let i = 0; i < frames; i++) this.handlers.audio({ base64: Buffer.alloc(160, 0x11).toString('base64'), bytes: 160 });
  }
}
