import type { AgentWithDestinations, TransferDestination } from '../agents/agent';
import type { VoicemailPlan } from '../agents/telephony';
/**
 * What the bridge sees of each wire (DESIGN §5: one adapter per wire; the bridge knows neither wire's
 * JSON). The Bandwidth media socket is a CallerStream; the OpenAI Realtime socket is a ModelSession.
 * Audio crosses as base64 strings so the zero-transcode path never decodes a byte.
 */

/** Audio as it travels on both wires: base64 text plus its decoded length (durations come from bytes). */
export interface AudioChunk {
  base64: string;
  bytes: number;
}

/** An AudioChunk for a base64 string, its decoded length computed without decoding it. */
export function chunkOf(base64: string): AudioChunk {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return { base64, bytes: (base64.length * 3) / 4 - padding };
}

export function chunkFromBytes(bytes: Uint8Array): AudioChunk {
  return { base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), bytes: bytes.byteLength };
}

export type StreamStopReason = 'stop-frame' | 'socket-closed' | 'heartbeat-timeout' | 'no-start-frame' | 'server-closed' | 'audio-flood';

export interface CallerStreamHandlers {
  start(info: { streamId: string; streamName: string; tracks: string[]; params: Record<string, string> }): void;
  /** Inbound (caller) audio, G.711 μ-law 8 kHz. Outbound-track media is not delivered. */
  audio(chunk: AudioChunk): void;
  stop(reason: StreamStopReason): void;
}

/** The caller's side of a live call: Bandwidth's bidirectional media stream (BW §4). */
export interface CallerStream {
  readonly callId: string;
  setHandlers(handlers: CallerStreamHandlers): void;
  /** Queue μ-law audio for playback to the caller (BW §4.3 playAudio). */
  play(chunk: AudioChunk): void;
  /** Drop everything queued at the carrier (BW §4.3 clear). */
  clear(): void;
  /** End the stream; with `<StopStream wait="true">` Bandwidth then runs the next verb (DESIGN §4.1). */
  close(reason: string): void;
  /** Frames that could not be understood (counted, logged; the call continues). */
  readonly garbageFrames: number;
  /** ms of caller audio dropped for arriving faster than real time. */
  readonly droppedAudioMs: number;
  /** True once the stream has stopped; a session attached after that ends at once. */
  readonly isStopped: boolean;
}

export interface ModelUsage {
  [key: string]: number;
}

export interface ModelSessionHandlers {
  speechStarted(e: { itemId: string; audioStartMs: number }): void;
  speechStopped(e: { itemId: string; audioEndMs: number }): void;
  /** A user (caller) item was committed to the conversation. */
  callerItem(e: { itemId: string }): void;
  callerTranscript(e: { itemId: string; transcript: string }): void;
  responseCreated(e: { responseId: string }): void;
  /** Assistant audio, in the session's output format. */
  audioDelta(e: { responseId: string; itemId: string; contentIndex: number; chunk: AudioChunk }): void;
  /**
   * The item's audio is complete: no more deltas will come for it (also sent when the response was
   * interrupted or cancelled). Its transcript may still be on its way.
   */
  audioDone(e: { responseId: string; itemId: string; contentIndex: number }): void;
  transcriptDelta(e: { responseId: string; itemId: string; delta: string }): void;
  /** The item's text is complete (it can come seconds after the audio). */
  transcriptDone(e: { responseId: string; itemId: string; transcript: string }): void;
  functionCall(e: { responseId: string; itemId: string; callId: string; name: string; arguments: string }): void;
  responseDone(e: { responseId: string; status: string; reason?: string; usage?: ModelUsage }): void;
  /** The caller pressed a key (openai-sip: the sideband's DTMF event; a stream call's keys come from the carrier). */
  keyPress(e: { digit: string }): void;
  truncated(e: { itemId: string; audioEndMs: number }): void;
  /** Recoverable protocol errors; the session stays open. */
  error(e: { code?: string; message: string; type?: string; eventId?: string }): void;
  /** The session ended. `expected` is true when we closed it. */
  closed(e: { code: number; reason: string; expected: boolean }): void;
  /** Anything worth keeping in the call's trace (session created/updated, rate limits). */
  trace(type: string, data: unknown): void;
  /** What OpenAI did with the agent's MCP servers (it calls them itself; we only watch and answer approvals). */
  mcp(e: McpActivity): void;
}

/**
 * MCP activity, wire-free (README "MCP tools"): OpenAI lists each server's tools when the session is
 * configured, calls them during responses, and asks before a call that needs approval.
 */
export type McpActivity =
  | { kind: 'tools-listed'; itemId: string; serverLabel: string; tools: string[] }
  | { kind: 'list-failed'; itemId: string; serverLabel?: string }
  | { kind: 'call'; itemId: string; responseId: string; serverLabel: string; name: string; arguments: string; ok: boolean; output?: string; error?: string; approvalRequestId?: string }
  | { kind: 'approval-request'; requestId: string; responseId: string; serverLabel: string; name: string; arguments: string };

export interface ModelSession {
  /** Resolves when the session is configured (session.updated), rejects if it could not be opened. */
  readonly ready: Promise<void>;
  /**
   * Requests sent before the socket is open are queued and go out right after the session's own
   * configuration, in order; so the greeting can be asked for at once, without waiting for `ready`.
   */
  setHandlers(handlers: ModelSessionHandlers): void;
  appendAudio(chunk: AudioChunk): void;
  createResponse(options?: { instructions?: string }): void;
  cancelResponse(): void;
  /** SIP/WebRTC only: cut off the audio OpenAI is playing to the caller (`output_audio_buffer.clear`, after a cancel). */
  clearOutputAudio?(): void;
  truncate(itemId: string, contentIndex: number, audioEndMs: number): void;
  sendFunctionOutput(callId: string, output: string): void;
  /** Add a text item (priming a new session with the conversation so far, or a system note). */
  addItem(role: 'user' | 'assistant' | 'system', text: string): void;
  /** Answer an MCP approval request (the conversation decides, by the agent's rule). */
  answerMcpApproval(requestId: string, approve: boolean, reason: string): void;
  /** Replace the session's instructions (the per-call context arrived after the session was opened). */
  updateInstructions(instructions: string): void;
  close(): void;
}

/**
 * What the bridge hears from a carrier's call set-up (the webhooks): pre-warm when a stream is answered,
 * clean up when the call ends. The carrier's adapter calls it; the bridge implements it.
 */
export interface CallLifecycleListener {
  /** A stream was answered for this call: a media socket should follow shortly. */
  streamAnswered?(call: { callId: string; agent: AgentWithDestinations; from?: string; to?: string; direction?: string; resumeNote?: string }): void;
  /** The carrier says the call is over. */
  callEnded?(callId: string, cause: string | undefined): void;
  /** The carrier could not open a stream for this call. */
  streamRejected?(callId: string): void;
  /**
   * The caller pressed a key (stream mode's carrier reports it). False when no live session has the call (here,
   * or on the instance holding it: a promise when it had to be asked, src/cluster/live-calls.ts).
   */
  callerKeyPress?(callId: string, digit: string): boolean | Promise<boolean>;
  /** An outbound call reached an answering machine. False when no live session has the call (as above). */
  answeredByMachine?(callId: string, plan: VoicemailPlan): boolean | Promise<boolean>;
  /** False while the server drains for shutdown: no new stream sessions. */
  accepting?(): boolean;
}

/** Where an authenticated caller stream goes: the bridge, which attaches it to its call's session. */
export interface MediaStreamSink {
  attach(stream: CallerStream): void;
}

/** The call a hand-off is for. */
export interface HandOffCall {
  callId: string;
  agent: AgentWithDestinations;
}

/**
 * What became of a hand-off:
 * - `done`: the carrier is moving the call on (a transfer stops the stream itself; a hang-up ends the call);
 * - `gone`: the call had already ended (the caller hung up while the agent was still speaking);
 * - `on-stream-end`: it happens when the session ends its media stream, as the adapter has arranged.
 */
export type HandOffOutcome = 'done' | 'gone' | 'on-stream-end' | HandOffRefused;

/** The carrier refused the hand-off (a refused SIP REFER): the caller stays with the agent, which is told why. */
export interface HandOffRefused {
  refused: string;
}

/**
 * How a call leaves the agent (docs/architecture.md#hand-off-how-a-call-leaves-the-agent): one module per
 * carrier implements it, and the bridge calls nothing else to transfer, hang up or fall back. An
 * implementation never throws: what it cannot do at once it arranges for the stream's end, and says so.
 */
export interface CallControl {
  transfer(call: HandOffCall, destination: TransferDestination, reason: string, summary: string): Promise<HandOffOutcome>;
  hangUp(call: HandOffCall, reason: string): Promise<HandOffOutcome>;
  /** The AI side failed (DESIGN §4.9): the agent's fallback takes the call. */
  fallback(call: HandOffCall, reason: string): Promise<HandOffOutcome>;
  /**
   * Throws when this carrier can never transfer the call there (no safe SIP target): asked when the agent
   * asks for the transfer, so the tool's output says why and the agent does not say goodbye for nothing.
   */
  checkTransfer?(call: HandOffCall, destination: TransferDestination): void;
  /**
   * The call's live session is over, for `reason`. A carrier that reports the call's end itself (Bandwidth's
   * disconnect callback) needs nothing here; one without such a report (the browser test call) closes the
   * call's record now.
   */
  sessionEnded?(call: HandOffCall, reason: string): void;
}

/**
 * The events a live session writes to its call's trace (docs/architecture.md; the call's timeline). One
 * closed list, so a misspelt event is a type error, not a timeline entry nobody finds.
 */
export type SessionEventType =
  | 'media.start'
  | 'media.stop'
  | 'recording.saved'
  | 'bridge.barge-in'
  | 'bridge.ended'
  | 'bridge.transfer-requested'
  | 'bridge.hangup-requested'
  | 'bridge.handed-off'
  | 'bridge.hand-off-refused'
  | 'bridge.silence-prompt'
  | 'bridge.silence-timeout'
  | 'bridge.time-limit-warning'
  | 'bridge.time-limit'
  | 'bridge.agent-speaking'
  | 'bridge.voicemail'
  | 'caller.key-press'
  | 'model.ready'
  | 'model.resumed'
  | 'model.truncated'
  | 'model.response.done'
  | 'model.error'
  | 'model.failed'
  | 'model.renewing'
  | 'model.renewed'
  | 'model.renewal-failed'
  | 'model.rate_limits.updated'
  | 'model.conversation.item.input_audio_transcription.failed'
  | 'tool.call'
  | 'mcp.tools-listed'
  | 'mcp.list-failed'
  | 'mcp.call'
  | 'mcp.approval'
  | 'mcp.unavailable'
  | 'context.hook';
