import { greetingInstructions, type AgentWithDestinations, type TransferDestination } from '../agents/agent';
import type { Clock, TimerHandle } from '../clock';
import { AGENT_AUDIO_DEADLINE_MS, MAX_PENDING_CALLER_AUDIO_MS, MULAW_BYTES_PER_MS, PREWARM_TIMEOUT_MS, REALTIME_SESSION_RENEW_AFTER_MS } from '../constants';
import { fileStemFor } from '../files';
import type { Logger } from '../log';
import { eventSource, type CallEventInput, type Store, type TranscriptItemInput } from '../store/types';
import path from 'node:path';
import { AudioPath } from './audio-path';
import { CallRecorder } from './recorder';
import { DEFAULT_PACING, PlayoutQueue, type PlayoutPacing, type PlayoutScheduler } from './playout';
import type { CallActions, ToolRegistry } from './tools';
import type { AudioChunk, CallControl, CallerStream, ModelSession, ModelSessionHandlers, StreamStopReason } from './transports';

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
  /** Playout lead and refill mark (default: PLAYOUT_LEAD_MS / PLAYOUT_REFILL_BELOW_MS). */
  pacing?: PlayoutPacing;
  /** Renew the OpenAI session after this long (Realtime sessions end at 60 minutes). */
  renewAfterMs?: number;
  /** Fallback when no agent audio is ready this long after the stream's start frame (default AGENT_AUDIO_DEADLINE_MS). */
  agentAudioDeadlineMs?: number;
  /** Where recordings go (DATA_DIR/recordings) for agents with `record: true`. */
  recordingsDir?: string;
  /** How the call leaves the agent: transfer, hang-up, fallback (the carrier's adapter). */
  control: CallControl;
  /** This stream resumes a call (a transfer failed): prime the model with the conversation and this note. */
  resume?: { note: string };
}


/**
 * Why the AI side failed, stored with the reason on `bridge.failed` (DESIGN §4.9). The model adapter's
 * own codes (its error's `failure`, e.g. openai_refused) pass through, spelled like the other causes
 * (openai-refused).
 */
export type BridgeFailureCause = 'agent-audio-timeout' | 'model-closed' | 'model-failed' | (string & {});

type PendingAction = { kind: 'transfer'; destination: TransferDestination; reason: string; summary: string } | { kind: 'hangup'; reason: string };

/** The longest the agent's last words may delay a transfer or hang-up (bounded, so a silent model cannot hold a hand-off). */
const ACTION_MAX_WAIT_MS = 10_000;

/** How long a replaced OpenAI session stays open for late caller transcripts before it is closed. */
const RETIRED_SESSION_GRACE_MS = 10_000;

/**
 * An assistant item on its way to the transcript. It is stored once its response is done AND the
 * caller has heard all of it or was cut off (the model generates faster than real time, so "done"
 * usually comes long before the caller has heard the words).
 */
interface AgentItem {
  itemId: string;
  responseId: string;
  position: number;
  text: string;
  responseDone: boolean;
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
  private model: ModelSession;
  /** A session being primed to replace `model` (Realtime sessions end at 60 minutes, OpenAI reference §6.1), swapped in between turns. */
  private successor: ModelSession | undefined;
  private successorReady = false;
  private swapping = false;
  private renewTimer: TimerHandle | undefined;
  private callerSpeaking = false;
  /** Responses created and not yet done (current session). */
  private readonly activeResponses = new Set<string>();
  /**
   * Active responses whose audio is complete (`audioDone`), though their `response.done` has not come:
   * the transcript, which comes before it, can be seconds late. A hand-off waits for audio, not text.
   */
  private readonly audioCompleteResponses = new Set<string>();
  renewals = 0;
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
  /** Armed at the stream's start frame; cleared once the model has shown it answers (see modelAnswers). */
  private agentAudioTimer: TimerHandle | undefined;
  /**
   * The model has shown it answers: the first greeting audio is queued for playout, the caller took the
   * turn (the session's VAD heard them), or (no greeting expected) the session is configured.
   */
  private modelAnswered = false;
  private recorder: CallRecorder | undefined;
  private pendingAction: PendingAction | undefined;
  private actionTimer: TimerHandle | undefined;
  /** Responses created since the pending action was asked for; it waits for the one that speaks it. */
  private responsesSinceAction = 0;
  private handedOff = false;
  /** Clock time the stream started, and when the caller first got agent audio (first-word latency). */
  streamStartedAtMs: number | undefined;
  readonly stats = { callerFrames: 0, callerBytes: 0, droppedLateDeltas: 0, bargeIns: 0, truncations: 0 };

  constructor(private readonly deps: CallSessionDeps) {
    this.callId = deps.callId;
    this.agent = deps.agent;
    this.audio = new AudioPath(deps.agent.audio);
    this.playout = new PlayoutQueue(
      deps.clock,
      deps.pacing ?? DEFAULT_PACING,
      (chunk, bytes, startsAtMs) => {
        this.caller?.play(chunk);
        this.recorder?.addAgent(bytes, startsAtMs - (this.streamStartedAtMs ?? startsAtMs));
      },
      (itemId) => {
        this.settleAgentItem(itemId);
        this.maybeRunPendingAction();
        this.maybeSwapSession();
      },
    );
    this.model = deps.openModel(deps.agent);
    this.model.setHandlers(this.modelHandlers(this.model));
    // Ask for the greeting now, during pre-warm: it goes out right behind the session's configuration,
    // one round trip before session.updated would come back, and its audio waits for the stream.
    if (!deps.resume && this.agent.greeting.trim()) this.model.createResponse({ instructions: greetingInstructions(this.agent.greeting) });
    this.model.ready.then(
      () => this.onModelReady(),
      (err: Error) => this.fail(`OpenAI session failed: ${err.message}`, failureOf(err)),
    );
    this.renewTimer = deps.clock.setTimeout(() => this.startRenewal(), deps.renewAfterMs ?? REALTIME_SESSION_RENEW_AFTER_MS);
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
    if (stream.isStopped) {
      this.end('the media stream stopped before its session was ready');
      return;
    }
    stream.setHandlers({
      start: (info) => this.onStreamStarted(info),
      audio: (chunk) => this.onCallerAudio(chunk),
      stop: (reason) => this.onStreamStopped(reason),
    });
    if (this.modelFailure) {
      // The model failed before the caller arrived: end the stream so Bandwidth follows the Redirect
      // to /stream-ended, which answers the fallback (DESIGN §4.1, §4.9).
      stream.close('AI unavailable');
    }
  }

  /**
   * BW §4.2: `start` is always the stream's first frame; audio is sent only after it, so nothing is
   * played into a stream the carrier has not announced yet (the pre-warmed greeting waits until here).
   */
  private onStreamStarted(info: { streamId: string; tracks: string[] }): void {
    if (this.state === 'ended' || this.modelFailure) return;
    this.record('media.start', { streamId: info.streamId, tracks: info.tracks });
    this.streamStartedAtMs = this.deps.clock.now();
    this.armAgentAudioDeadline();
    if (this.agent.record && this.deps.recordingsDir) this.startRecording(this.deps.recordingsDir);
    this.playout.setActive(true);
    this.deps.scheduler.add(this.playout);
  }

  private startRecording(dir: string): void {
    try {
      this.recorder = new CallRecorder(path.join(dir, `${fileStemFor(this.callId)}.wav`));
      void this.deps.store.calls.record({ id: this.callId, recordingPath: this.recorder.file }).catch((err: Error) => this.storeFailed(err));
    } catch (err) {
      this.deps.logger.error({ callId: this.callId, err: (err as Error).message }, 'could not start the recording; the call goes on without it');
    }
  }

  /** Bandwidth says the call is over (status callback), or the server is shutting down. */
  end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.deps.clock.clear(this.prewarmTimer);
    this.deps.clock.clear(this.agentAudioTimer);
    this.deps.clock.clear(this.renewTimer);
    this.deps.clock.clear(this.actionTimer);
    this.successor?.close();
    this.abort.abort();
    this.deps.scheduler.remove(this.playout);
    this.playout.setActive(false);
    this.model.close();
    this.caller?.close(reason);
    this.flushAgentItems();
    if (this.recorder) {
      const recorder = this.recorder;
      recorder.close().then(
        () => this.record('recording.saved', { file: recorder.file, durationMs: recorder.durationMs }),
        (err: Error) => this.deps.logger.error({ callId: this.callId, err: err.message }, 'the recording could not be finished'),
      );
    }
    this.record('bridge.ended', { reason, stats: this.stats, garbageFrames: this.caller?.garbageFrames ?? 0, droppedAudioMs: this.caller?.droppedAudioMs ?? 0 });
    this.deps.onEnded(this);
  }

  // ---- caller → model ---------------------------------------------------------------------------

  private onCallerAudio(chunk: AudioChunk): void {
    // ws still delivers frames while a socket closes; after end() they go nowhere (and never to a closed recording).
    if (this.state === 'ended') return;
    this.stats.callerFrames++;
    this.stats.callerBytes += chunk.bytes;
    this.recorder?.addCaller(Buffer.from(chunk.base64, 'base64'));
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
    if (!this.expectsGreetingAudio()) this.modelAnswers();
    for (const chunk of this.pendingCallerAudio.splice(0)) this.model.appendAudio(this.audio.toModel(chunk));
    this.pendingCallerBytes = 0;
    if (this.deps.resume) void this.primeResumed(this.deps.resume.note);
  }

  /** Back from a failed transfer — the conversation so far, why, then the agent speaks. */
  private async primeResumed(note: string): Promise<void> {
    const history = await this.deps.store.transcripts.list(this.callId).catch(() => []);
    primeWithHistory(this.model, history);
    this.model.addItem('system', note);
    this.record('model.resumed', { historyItems: history.length, note });
    this.model.createResponse();
  }

  private onStreamStopped(reason: StreamStopReason): void {
    this.record('media.stop', { reason });
    this.end(`media stream stopped (${reason})`);
  }

  // ---- model → caller ---------------------------------------------------------------------------

  /**
   * Handlers bound to one model session. Audio and turn events count only from the current session;
   * a retired one may still deliver late caller transcripts, which are kept.
   */
  private modelHandlers(session: ModelSession): ModelSessionHandlers {
    const current = () => session === this.model;
    return {
      speechStarted: (e) => {
        if (!current()) return;
        this.callerSpeaking = true;
        this.callerPositions.set(e.itemId, this.nextPosition++);
        this.bargeIn();
        this.callerTookTheTurn();
      },
      speechStopped: () => {
        if (current()) this.callerSpeaking = false;
      },
      callerItem: (e) => {
        if (!this.callerPositions.has(e.itemId)) this.callerPositions.set(e.itemId, this.nextPosition++);
      },
      callerTranscript: (e) => {
        void this.storeTranscript({ callId: this.callId, role: 'caller', text: e.transcript, itemId: e.itemId, position: this.callerPositions.get(e.itemId) ?? this.nextPosition++ });
      },
      responseCreated: (e) => {
        if (!current()) return;
        this.activeResponses.add(e.responseId);
        if (this.pendingAction) this.responsesSinceAction++;
      },
      audioDelta: (e) => {
        if (!current()) return;
        if (this.interrupted.has(e.responseId)) {
          this.stats.droppedLateDeltas++;
          return;
        }
        this.agentItem(e.itemId, e.responseId);
        if (this.audioCompleteResponses.size > 0) this.audioCompleteResponses.delete(e.responseId); // a further item speaks
        this.playout.enqueue(e.itemId, e.responseId, e.contentIndex, this.audio.toCaller(e.chunk));
        if (!this.modelAnswered) this.modelAnswers();
      },
      transcriptDelta: (e) => {
        this.agentItem(e.itemId, e.responseId).text += e.delta;
      },
      audioDone: (e) => {
        if (!current()) return;
        this.playout.markDone(e.itemId);
        if (this.activeResponses.has(e.responseId)) this.audioCompleteResponses.add(e.responseId);
        this.maybeRunPendingAction();
      },
      transcriptDone: (e) => {
        // Text only: the audio's end is `audioDone` (or, failing that, response.done).
        this.agentItem(e.itemId, e.responseId).text = e.transcript;
      },
      functionCall: (e) => {
        if (!current()) return;
        const calls = this.toolCalls.get(e.responseId) ?? [];
        calls.push({ callId: e.callId, name: e.name, arguments: e.arguments });
        this.toolCalls.set(e.responseId, calls);
      },
      responseDone: (e) => {
        if (!current()) return;
        this.activeResponses.delete(e.responseId);
        this.audioCompleteResponses.delete(e.responseId);
        if (e.status === 'cancelled') this.callerTookTheTurn();
        this.onResponseDone(e.responseId, e.status, e.reason, e.usage);
        this.maybeSwapSession();
        this.maybeRunPendingAction();
      },
      truncated: (e) => this.record('model.truncated', { itemId: e.itemId, audioEndMs: e.audioEndMs }),
      error: (e) => {
        this.deps.logger.warn({ callId: this.callId, code: e.code, type: e.type }, `OpenAI error: ${e.message}`);
        this.record('model.error', e);
      },
      closed: (e) => {
        if (session === this.successor && !e.expected) return this.renewalFailed(session, `the replacement session closed (${e.code})`);
        if (e.expected || this.state === 'ended' || !current()) return;
        // Ended early at the 60-minute cap with a successor ready: switch now rather than fail.
        if (this.successor && this.successorReady) {
          void this.swapSession('the old session closed');
          return;
        }
        this.fail(`OpenAI closed the session (${e.code}${e.reason ? ` ${e.reason}` : ''})`, 'model-closed');
      },
      trace: (type, data) => {
        if (type === 'rate_limits.updated' || type === 'conversation.item.input_audio_transcription.failed') this.record(`model.${type}`, data);
      },
    };
  }

  /**
   * DESIGN §4.4 barge-in: drop the queue at once, `clear` the carrier, and truncate each assistant item
   * the caller partly heard at what was heard (clamped to what was received; fully played items are
   * left alone). Late deltas of the interrupted responses are dropped. A response stalled mid-item
   * counts as speaking even while the carrier is silent: the rest of it must not play after the caller
   * has spoken (DESIGN §4.10).
   */
  private bargeIn(): void {
    const now = this.deps.clock.now();
    if (!this.playout.hasUnfinishedItems(now)) return;
    const heard = this.playout.interrupt(now);
    this.caller?.clear();
    this.recorder?.clearFrom(now - (this.streamStartedAtMs ?? now));
    this.stats.bargeIns++;
    for (const h of heard) {
      this.interrupted.add(h.responseId);
      const audioEndMs = Math.floor(Math.min(h.receivedMs, h.heardMs));
      this.model.truncate(h.itemId, h.contentIndex, audioEndMs);
      this.stats.truncations++;
      const item = this.agentItems.get(h.itemId);
      if (item) {
        item.truncatedAtMs = audioEndMs;
        this.settleAgentItem(h.itemId);
      }
    }
    this.record('bridge.barge-in', { heard: heard.map((h) => ({ itemId: h.itemId, heardMs: Math.floor(h.heardMs), receivedMs: h.receivedMs })) });
  }

  private onResponseDone(responseId: string, status: string, reason: string | undefined, usage: Record<string, number> | undefined): void {
    if (this.state === 'ended') return;
    if (usage) void this.deps.store.calls.addUsage(this.callId, usage).catch((err: Error) => this.storeFailed(err));
    this.record('model.response.done', { responseId, status, reason, usage });
    for (const item of [...this.agentItems.values()]) {
      if (item.responseId !== responseId) continue;
      item.responseDone = true;
      // response.done means everything in it is done: its audio too, even if no output_audio.done came
      // (incomplete, failed), or later items would never retire from the playout queue.
      this.playout.markDone(item.itemId);
      this.settleAgentItem(item.itemId);
    }
    const calls = this.toolCalls.get(responseId);
    this.toolCalls.delete(responseId);
    if (calls && calls.length > 0 && status === 'completed') void this.runTools(calls);
  }

  /** Every call's output, then exactly one response.create. */
  private async runTools(calls: ToolCall[]): Promise<void> {
    const ctx = { callId: this.callId, agent: this.agent, signal: this.abort.signal, actions: this.actions };
    const outcomes = await Promise.all(calls.map((c) => this.deps.tools.dispatch(c.name, c.arguments, ctx, () => this.deps.clock.now())));
    if (this.state === 'ended') return;
    calls.forEach((c, i) => {
      const outcome = outcomes[i]!;
      this.model.sendFunctionOutput(c.callId, outcome.output);
      this.record('tool.call', { name: c.name, callId: c.callId, arguments: safeJson(c.arguments), ok: outcome.ok, output: safeJson(outcome.output), durationMs: outcome.durationMs });
    });
    this.model.createResponse();
  }

  // ---- transfer and hang-up ---------------------------------------------------------------------

  private readonly actions: CallActions = {
    transfer: (destination, reason, summary) => this.requestAction({ kind: 'transfer', destination, reason, summary }),
    hangUp: (reason) => this.requestAction({ kind: 'hangup', reason }),
  };

  /** Hand-off (docs/architecture.md#hand-off-how-a-call-leaves-the-agent): act once the words that go with it have played, or after ACTION_MAX_WAIT_MS. */
  private requestAction(action: PendingAction): void {
    if (this.pendingAction || this.handedOff) return; // one hand-off per stream
    this.pendingAction = action;
    this.responsesSinceAction = 0;
    this.record(action.kind === 'transfer' ? 'bridge.transfer-requested' : 'bridge.hangup-requested', action);
    this.actionTimer = this.deps.clock.setTimeout(() => void this.runPendingAction('timed out waiting for the agent to finish speaking'), ACTION_MAX_WAIT_MS);
  }

  private maybeRunPendingAction(): void {
    if (!this.pendingAction || this.responsesSinceAction === 0) return;
    // A response still generating audio may have more words for the caller; one whose audio is complete
    // has said them (its late transcript and response.done do not hold the caller).
    if (this.activeResponses.size > this.audioCompleteResponses.size || this.toolCalls.size > 0 || this.playout.isPlaying()) return;
    void this.runPendingAction('the agent finished speaking');
  }

  private async runPendingAction(why: string): Promise<void> {
    const action = this.pendingAction;
    if (!action || this.handedOff || this.state === 'ended') return;
    this.handedOff = true;
    this.pendingAction = undefined;
    this.deps.clock.clear(this.actionTimer);
    // Nothing more from the model reaches the caller once the call is being handed on.
    this.playout.interrupt();
    this.playout.setActive(false);
    const call = { callId: this.callId, agent: this.agent };
    const outcome =
      action.kind === 'transfer'
        ? await this.deps.control.transfer(call, action.destination, action.reason, action.summary)
        : await this.deps.control.hangUp(call, action.reason);
    if (outcome === 'on-stream-end') {
      // The carrier does it when the stream ends (docs/architecture.md#hand-off-how-a-call-leaves-the-agent).
      this.record('bridge.handed-off', { action: action.kind, via: 'stream-end', why });
      this.end(action.kind === 'transfer' ? 'transferring' : 'agent hung up');
      return;
    }
    // gone: the caller hung up while the agent was still speaking.
    this.record('bridge.handed-off', { action: action.kind, via: 'carrier', outcome: outcome === 'gone' ? 'call already ended' : action.kind === 'transfer' ? 'redirected' : 'completed', why });
    if (action.kind === 'hangup') {
      await this.deps.store.calls.record({ id: this.callId, cause: 'agent-hangup' }).catch((err: Error) => this.storeFailed(err));
    }
    if (outcome === 'gone' || action.kind === 'hangup') this.end(action.kind === 'hangup' ? 'agent hung up' : 'call already ended');
    // A redirected transfer: Bandwidth stops the stream itself with the transfer BXML's <StopStream>.
  }

  // ---- long calls -------------------------------------------------------------------------------

  /**
   * Realtime sessions end at 60 minutes (OpenAI reference §6.1). Before that, open a new
   * session primed with the conversation so far (as text items, in conversation order) and switch to
   * it between turns — no caller speech, no response in flight, nothing left to play.
   */
  private startRenewal(): void {
    if (this.state === 'ended' || this.successor || !this.modelReady) return;
    const next = this.deps.openModel(this.agent);
    this.successor = next;
    next.setHandlers(this.modelHandlers(next));
    this.record('model.renewing', { afterMs: this.deps.renewAfterMs ?? REALTIME_SESSION_RENEW_AFTER_MS });
    void next.ready.then(
      () => {
        if (this.successor !== next) return;
        this.successorReady = true;
        this.maybeSwapSession();
      },
      (err: Error) => this.renewalFailed(next, err.message),
    );
  }

  /** The replacement could not open or died before the swap: the current session has minutes left; retry. */
  private renewalFailed(next: ModelSession, reason: string): void {
    if (this.successor !== next) return;
    this.successor = undefined;
    this.successorReady = false;
    next.close();
    this.record('model.renewal-failed', { reason });
    if (this.state !== 'ended') this.renewTimer = this.deps.clock.setTimeout(() => this.startRenewal(), 30_000);
  }

  private isIdle(): boolean {
    return !this.callerSpeaking && this.activeResponses.size === 0 && this.toolCalls.size === 0 && !this.pendingAction && !this.playout.isPlaying();
  }

  /** Swap only between turns: the old session answers whatever it already heard. */
  private maybeSwapSession(): void {
    if (!this.successor || !this.successorReady || this.state === 'ended' || this.swapping || !this.isIdle()) return;
    this.swapping = true;
    void this.swapSession('between turns').finally(() => {
      this.swapping = false;
    });
  }

  /** Prime the replacement with the conversation as stored now, then make it the current session. */
  private async swapSession(why: string): Promise<void> {
    const next = this.successor!;
    let history: Awaited<ReturnType<Store['transcripts']['list']>>;
    try {
      history = await this.deps.store.transcripts.list(this.callId);
    } catch (err) {
      this.storeFailed(err as Error);
      return; // try again at the next idle moment
    }
    if (this.successor !== next || this.state === 'ended' || !this.isIdle()) return; // a turn began: next idle moment
    primeWithHistory(next, history);
    const old = this.model;
    this.model = next;
    this.successor = undefined;
    this.successorReady = false;
    this.activeResponses.clear();
    this.audioCompleteResponses.clear();
    this.renewals++;
    this.record('model.renewed', { why, renewals: this.renewals, historyItems: history.length });
    this.deps.clock.setTimeout(() => old.close(), RETIRED_SESSION_GRACE_MS);
    this.renewTimer = this.deps.clock.setTimeout(() => this.startRenewal(), this.deps.renewAfterMs ?? REALTIME_SESSION_RENEW_AFTER_MS);
  }

  // ---- failure ----------------------------------------------------------------------------------

  /**
   * A configured greeting is what the caller waits for: its first audio is the sign of life. Without
   * one (or when resuming after a failed transfer, where the agent speaks only once primed), the
   * session being configured is all there is to wait for.
   */
  private expectsGreetingAudio(): boolean {
    return !this.deps.resume && this.agent.greeting.trim() !== '';
  }

  /**
   * DESIGN §4.9: the deadline counts from the stream's `start` frame (BW §4.2), when the caller is
   * listening, not from the pre-warm: a session that was slow to open during pre-warm but has its
   * greeting queued by then costs the caller nothing. The adapter's own connect/configure timeout
   * keeps guarding the pre-warm; whichever fires first sends the call to its fallback, once (fail()
   * is idempotent), and ending the call closes the model socket, which clears the adapter's timer.
   */
  private armAgentAudioDeadline(): void {
    if (this.modelAnswered || this.agentAudioTimer) return;
    const deadlineMs = this.deps.agentAudioDeadlineMs ?? AGENT_AUDIO_DEADLINE_MS;
    this.agentAudioTimer = this.deps.clock.setTimeout(() => {
      this.agentAudioTimer = undefined;
      const what = !this.modelReady ? 'the OpenAI session was not ready' : 'the session was ready but no greeting audio arrived';
      this.fail(`no agent audio within ${deadlineMs} ms of the stream start (${what})`, 'agent-audio-timeout');
    }, deadlineMs);
  }

  private modelAnswers(): void {
    this.modelAnswered = true;
    this.deps.clock.clear(this.agentAudioTimer);
    this.agentAudioTimer = undefined;
  }

  /**
   * DESIGN §4.9: the agent-audio deadline catches a model that never answers (no upgrade, no
   * session.created, or a session that takes the greeting's response.create and then says nothing), so
   * the caller does not sit in dead air. A caller who speaks before the greeting's first audio is not in
   * dead air: it is their turn, and the model's server VAD says so. `speech_started` from the current,
   * configured session (OpenAI reference §3.1: `interrupt_response` then cancels the greeting, whose
   * `response.done` comes with status `cancelled`; either one counts, whichever arrives) proves the
   * session is live and hearing this call in real time, and the greeting is no longer owed: the agent
   * speaks next in answer to the caller, by ordinary turn-taking. Other events do not count: a
   * `response.created` for the greeting is exactly what a stalled model sends before going silent, and a
   * greeting that ends failed or incomplete without audio leaves the caller waiting in silence, which is
   * what the fallback is for.
   */
  private callerTookTheTurn(): void {
    if (!this.modelAnswered && this.modelReady) this.modelAnswers();
  }

  /**
   * DESIGN §4.9: failure is a call flow. Store the reason on the call, then end the media stream:
   * with the StopStream-wait template Bandwidth follows the Redirect to /stream-ended, which reads the
   * reason and answers the agent's fallback. The caller never sits in dead air.
   */
  private fail(reason: string, cause: BridgeFailureCause): void {
    if (this.state === 'ended' || this.modelFailure) return;
    this.modelFailure = reason;
    this.deps.clock.clear(this.agentAudioTimer);
    this.deps.logger.warn({ callId: this.callId, agentId: this.agent.id, reason, cause }, 'AI side failed: sending the call to its fallback');
    void this.deps.store.calls
      .record({ id: this.callId, errorMessage: reason }, { callId: this.callId, source: 'switchboard', type: 'bridge.failed', data: { reason, cause } })
      .catch((err: Error) => this.storeFailed(err))
      .then(async () => {
        // The carrier moves the call on first where it must (a Pause-held stream), then the stream ends.
        await this.deps.control.fallback({ callId: this.callId, agent: this.agent }, reason);
        if (this.caller) this.end(reason);
        // No caller yet: attach() closes the stream as soon as it arrives.
      });
  }

  // ---- transcripts and trace ----------------------------------------------------------------------

  private agentItem(itemId: string, responseId: string): AgentItem {
    let item = this.agentItems.get(itemId);
    if (!item) {
      item = { itemId, responseId, position: this.nextPosition++, text: '', responseDone: false };
      this.agentItems.set(itemId, item);
    }
    return item;
  }

  /** Store an agent item if it is complete: response done, and heard in full, cut off, or never queued. */
  private settleAgentItem(itemId: string): void {
    const item = this.agentItems.get(itemId);
    if (!item || !item.responseDone) return;
    if (item.truncatedAtMs === undefined && this.playout.holds(itemId)) return; // still playing
    this.storeAgentItem(item);
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
    const event: CallEventInput = { callId: this.callId, source: eventSource(type), type, data };
    this.deps.store.events.append(event).catch((err: Error) => this.storeFailed(err));
  }

  private storeFailed(err: Error): void {
    this.deps.logger.error({ callId: this.callId, err: err.message }, 'could not write to the store');
  }
}

/** Give a fresh OpenAI session the conversation so far, as text items in conversation order. */
function primeWithHistory(session: ModelSession, history: readonly { role: string; text: string }[]): void {
  for (const item of history) {
    if (item.role === 'caller') session.addItem('user', item.text);
    else if (item.role === 'agent') session.addItem('assistant', item.text);
  }
}

/** The model adapter's failure code when its error carries one (ModelSessionError.failure), else a generic one. */
function failureOf(err: Error): BridgeFailureCause {
  const failure = (err as { failure?: unknown }).failure;
  return typeof failure === 'string' ? failure.replace(/_/g, '-') : 'model-failed';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
