import type { AgentWithDestinations } from '../agents/agent';
import type { Clock, TimerHandle } from '../clock';
import { MAX_PENDING_CALLER_AUDIO_MS, MULAW_BYTES_PER_MS, PLAYOUT_LEAD_MS, PREWARM_TIMEOUT_MS } from '../constants';
import type { Logger } from '../log';
import { greetingInstructions } from '../openai/session-config';
import type { CallEventInput, Store, TranscriptItemInput } from '../store/types';
import { AudioPath } from './audio-path';
import { PlayoutQueue, type PlayoutScheduler } from './playout';
import type { ToolRegistry } from './tools';
import type { AudioChunk, CallerStream, ModelSession, ModelSessionHandlers, StreamStopReason } from './transports';

/**
 * One live call (DESIGN §3): the caller's media stream on one side, an OpenAI Realtime session on the
 * other. Owns the paced playout, barge-in and truncation, transcripts, tool calls, and the failure
 * path. Knows neither wire's JSON: it talks to a CallerStream and a ModelSession.
 */
export type CallSessionState = 'prewarming' | 'live' | 'ended';

export interface CallSessionDeps {
  callId: string;
  agent: AgentWithDestinations;
  store: Store;
  logger: Logger;
  clock: Clock;
  scheduler: PlayoutScheduler;
  tools: ToolRegistry;
  openModel: (agent: AgentWithDestinations) => ModelSession;
  /** Called once when the session is over, so the registry forgets it. */
  onEnded: (session: CallSession) => void;
  leadMs?: number;
}

interface AgentItem {
  itemId: string;
  responseId: string;
  position: number;
  text: string;
  transcriptDone: boolean;
  truncatedAtMs?: number;
}

interface ToolCall {
  callId: string;
  name: string;
  arguments: string;
}

export class CallSession {
  readonly callId: string;
  readonly agent: AgentWithDestinations;
  state: CallSessionState = 'prewarming';
  private readonly model: ModelSession;
  private caller: CallerStream | undefined;
  readonly playout: PlayoutQueue;
  private readonly audio: AudioPath;
  private modelReady = false;
  private modelFailure: string | undefined;
  private readonly pendingCallerAudio: AudioChunk[] = [];
  private pendingCallerBytes = 0;
  private readonly interrupted = new Set<string>();
  private readonly agentItems = new Map<string, AgentItem>();
  private readonly callerPositions = new Map<string, number>();
  private readonly toolCalls = new Map<string, ToolCall[]>();
  private readonly abort = new AbortController();
  private nextPosition = 0;
  private prewarmTimer: TimerHandle | undefined;
  /** Clock time the stream started, and when the caller first got agent audio (first-word latency). */
  streamStartedAtMs: number | undefined;
  readonly stats = { callerFrames: 0, callerBytes: 0, droppedLateDeltas: 0, bargeIns: 0, truncations: 0 };

  constructor(private readonly deps: CallSessionDeps) {
    this.callId = deps.callId;
    this.agent = deps.agent;
    this.audio = new AudioPath(deps.agent.audio);
    this.playout = new PlayoutQueue(deps.clock, deps.leadMs ?? PLAYOUT_LEAD_MS, (chunk) => this.caller?.play(chunk));
    this.model = deps.openModel(deps.agent);
    this.model.setHandlers(this.modelHandlers());
    this.model.ready.then(
      () => this.onModelReady(),
      (err: Error) => this.fail(`OpenAI session failed: ${err.message}`),
    );
    this.prewarmTimer = deps.clock.setTimeout(() => {
      if (!this.caller) this.end('the media stream never arrived');
    }, PREWARM_TIMEOUT_MS);
  }

  /** The caller's media stream arrived (DESIGN §3: hand the pre-warmed session to the call). */
  attach(stream: CallerStream): void {
    if (this.state === 'ended' || this.caller) {
      stream.close(this.caller ? 'a stream for this call is already attached' : 'call already ended');
      return;
    }
    this.deps.clock.clear(this.prewarmTimer);
    this.caller = stream;
    this.state = 'live';
    this.streamStartedAtMs = this.deps.clock.now();
    stream.setHandlers({
      start: (info) => this.record('media.start', { streamId: info.streamId, tracks: info.tracks }),
      audio: (chunk) => this.onCallerAudio(chunk),
      stop: (reason) => this.onStreamStopped(reason),
    });
    if (this.modelFailure) {
      // The model failed before the caller arrived: end the stream so Bandwidth follows the Redirect
      // to /stream-ended, which answers the fallback (DESIGN §4.1, §4.9).
      stream.close('AI unavailable');
      return;
    }
    this.playout.setActive(true);
    this.deps.scheduler.add(this.playout);
  }

  /** Bandwidth says the call is over (status callback), or the server is shutting down. */
  end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.deps.clock.clear(this.prewarmTimer);
    this.abort.abort();
    this.deps.scheduler.remove(this.playout);
    this.playout.setActive(false);
    this.model.close();
    this.caller?.close(reason);
    this.flushAgentItems();
    this.record('bridge.ended', { reason, stats: this.stats, garbageFrames: this.caller?.garbageFrames ?? 0 });
    this.deps.onEnded(this);
  }

  // ---- caller → model ---------------------------------------------------------------------------

  private onCallerAudio(chunk: AudioChunk): void {
    this.stats.callerFrames++;
    this.stats.callerBytes += chunk.bytes;
    if (this.modelReady) {
      this.model.appendAudio(this.audio.toModel(chunk));
      return;
    }
    // Nothing the caller says is lost while the session is still connecting (bounded).
    if (this.pendingCallerBytes < MAX_PENDING_CALLER_AUDIO_MS * MULAW_BYTES_PER_MS) {
      this.pendingCallerAudio.push(chunk);
      this.pendingCallerBytes += chunk.bytes;
    }
  }

  private onModelReady(): void {
    if (this.state === 'ended') return;
    this.modelReady = true;
    this.record('model.ready', { model: this.agent.model, voice: this.agent.voice, audio: this.agent.audio });
    for (const chunk of this.pendingCallerAudio.splice(0)) this.model.appendAudio(this.audio.toModel(chunk));
    this.pendingCallerBytes = 0;
    // Ask for the greeting now, during pre-warm, so its audio is waiting when the stream starts.
    if (this.agent.greeting.trim()) this.model.createResponse({ instructions: greetingInstructions(this.agent.greeting) });
  }

  private onStreamStopped(reason: StreamStopReason): void {
    this.record('media.stop', { reason });
    this.end(`media stream stopped (${reason})`);
  }

  // ---- model → caller ---------------------------------------------------------------------------

  private modelHandlers(): ModelSessionHandlers {
    return {
      speechStarted: (e) => {
        this.callerPositions.set(e.itemId, this.nextPosition++);
        this.bargeIn();
      },
      speechStopped: () => undefined,
      callerItem: (e) => {
        if (!this.callerPositions.has(e.itemId)) this.callerPositions.set(e.itemId, this.nextPosition++);
      },
      callerTranscript: (e) => {
        void this.storeTranscript({ callId: this.callId, role: 'caller', text: e.transcript, itemId: e.itemId, position: this.callerPositions.get(e.itemId) ?? this.nextPosition++ });
      },
      responseCreated: () => undefined,
      audioDelta: (e) => {
        if (this.interrupted.has(e.responseId)) {
          this.stats.droppedLateDeltas++;
          return;
        }
        this.agentItem(e.itemId, e.responseId);
        this.playout.enqueue(e.itemId, e.responseId, e.contentIndex, this.audio.toCaller(e.chunk));
      },
      transcriptDelta: (e) => {
        this.agentItem(e.itemId, e.responseId).text += e.delta;
      },
      transcriptDone: (e) => {
        const item = this.agentItem(e.itemId, e.responseId);
        item.text = e.transcript;
        item.transcriptDone = true;
        this.playout.markDone(e.itemId);
      },
      functionCall: (e) => {
        const calls = this.toolCalls.get(e.responseId) ?? [];
        calls.push({ callId: e.callId, name: e.name, arguments: e.arguments });
        this.toolCalls.set(e.responseId, calls);
      },
      responseDone: (e) => this.onResponseDone(e.responseId, e.status, e.reason, e.usage),
      truncated: (e) => this.record('model.truncated', { itemId: e.itemId, audioEndMs: e.audioEndMs }),
      error: (e) => {
        this.deps.logger.warn({ callId: this.callId, code: e.code, type: e.type }, `OpenAI error: ${e.message}`);
        this.record('model.error', e);
      },
      closed: (e) => {
        if (e.expected || this.state === 'ended') return;
        this.fail(`OpenAI closed the session (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
      },
      trace: (type, data) => {
        if (type === 'rate_limits.updated' || type === 'conversation.item.input_audio_transcription.failed') this.record(`model.${type}`, data);
      },
    };
  }

  /**
   * DESIGN §4.4 barge-in: drop the queue at once, `clear` the carrier, and truncate each assistant item
   * the caller partly heard at what was heard (clamped to what was received; fully played items are
   * left alone). Late deltas of the interrupted responses are dropped.
   */
  private bargeIn(): void {
    const now = this.deps.clock.now();
    if (!this.playout.isPlaying(now)) return;
    const heard = this.playout.interrupt(now);
    this.caller?.clear();
    this.stats.bargeIns++;
    for (const h of heard) {
      this.interrupted.add(h.responseId);
      const audioEndMs = Math.floor(Math.min(h.receivedMs, h.heardMs));
      this.model.truncate(h.itemId, h.contentIndex, audioEndMs);
      this.stats.truncations++;
      const item = this.agentItems.get(h.itemId);
      if (item) item.truncatedAtMs = audioEndMs;
    }
    this.record('bridge.barge-in', { heard: heard.map((h) => ({ itemId: h.itemId, heardMs: Math.floor(h.heardMs), receivedMs: h.receivedMs })) });
  }

  private onResponseDone(responseId: string, status: string, reason: string | undefined, usage: Record<string, number> | undefined): void {
    if (usage) void this.deps.store.calls.addUsage(this.callId, usage).catch((err: Error) => this.storeFailed(err));
    this.record('model.response.done', { responseId, status, reason, usage });
    for (const item of this.agentItems.values()) if (item.responseId === responseId) this.storeAgentItem(item);
    this.playout.retirePlayed();
    const calls = this.toolCalls.get(responseId);
    this.toolCalls.delete(responseId);
    if (calls && calls.length > 0 && status === 'completed') void this.runTools(calls);
  }

  /** Issue #3 §6: every call's output, then exactly one response.create. */
  private async runTools(calls: ToolCall[]): Promise<void> {
    const ctx = { callId: this.callId, agent: this.agent, signal: this.abort.signal };
    const outcomes = await Promise.all(calls.map((c) => this.deps.tools.dispatch(c.name, c.arguments, ctx, () => this.deps.clock.now())));
    if (this.state === 'ended') return;
    calls.forEach((c, i) => {
      const outcome = outcomes[i]!;
      this.model.sendFunctionOutput(c.callId, outcome.output);
      this.record('tool.call', { name: c.name, callId: c.callId, arguments: safeJson(c.arguments), ok: outcome.ok, output: safeJson(outcome.output), durationMs: outcome.durationMs });
    });
    this.model.createResponse();
  }

  // ---- failure ----------------------------------------------------------------------------------

  /**
   * DESIGN §4.9: failure is a call flow. Store the reason on the call, then end the media stream:
   * with the StopStream-wait template Bandwidth follows the Redirect to /stream-ended, which reads the
   * reason and answers the agent's fallback. The caller never sits in dead air.
   */
  private fail(reason: string): void {
    if (this.state === 'ended' || this.modelFailure) return;
    this.modelFailure = reason;
    this.deps.logger.warn({ callId: this.callId, agentId: this.agent.id, reason }, 'AI side failed: sending the call to its fallback');
    void this.deps.store.calls
      .record({ id: this.callId, errorMessage: reason }, { callId: this.callId, source: 'switchboard', type: 'bridge.failed', data: { reason } })
      .catch((err: Error) => this.storeFailed(err))
      .finally(() => {
        if (this.caller) this.end(reason);
        // No caller yet: attach() closes the stream as soon as it arrives.
      });
  }

  // ---- transcripts and trace ----------------------------------------------------------------------

  private agentItem(itemId: string, responseId: string): AgentItem {
    let item = this.agentItems.get(itemId);
    if (!item) {
      item = { itemId, responseId, position: this.nextPosition++, text: '', transcriptDone: false };
      this.agentItems.set(itemId, item);
    }
    return item;
  }

  private storeAgentItem(item: AgentItem): void {
    this.agentItems.delete(item.itemId);
    if (!item.text.trim()) return;
    void this.storeTranscript({
      callId: this.callId,
      role: 'agent',
      text: item.text,
      itemId: item.itemId,
      position: item.position,
      truncated: item.truncatedAtMs !== undefined,
      heardMs: item.truncatedAtMs,
    });
  }

  /** At the end of the call: keep whatever the agent said that no response.done has stored yet. */
  private flushAgentItems(): void {
    for (const item of [...this.agentItems.values()]) this.storeAgentItem(item);
  }

  private async storeTranscript(item: TranscriptItemInput): Promise<void> {
    try {
      await this.deps.store.transcripts.append(item);
    } catch (err) {
      this.storeFailed(err as Error);
    }
  }

  private record(type: string, data: unknown): void {
    const event: CallEventInput = { callId: this.callId, source: type.startsWith('model.') ? 'openai' : type.startsWith('tool.') ? 'tool' : type.startsWith('media.') ? 'media' : 'switchboard', type, data };
    this.deps.store.events.append(event).catch((err: Error) => this.storeFailed(err));
  }

  private storeFailed(err: Error): void {
    this.deps.logger.error({ callId: this.callId, err: err.message }, 'could not write to the store');
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
