import type { AgentWithDestinations } from '../agents/agent';
import type { VoicemailPlan } from '../agents/telephony';
import { withPrompts, type PromptsForCall } from '../context/call-contexts';
import { greetWith } from './call-prompts';
import type { Clock, TimerHandle } from '../clock';
import { AGENT_AUDIO_DEADLINE_MS, MAX_PENDING_CALLER_AUDIO_MS, MULAW_BYTES_PER_MS, PREWARM_TIMEOUT_MS, REALTIME_SESSION_RENEW_AFTER_MS } from '../constants';
import { fileStemFor } from '../files';
import type { Logger } from '../log';
import { fallbackReasonOf, NO_METRICS, type MetricsSink } from '../metrics/sink';
import type { Store } from '../store/types';
import path from 'node:path';
import { AudioPath } from './audio-path';
import { Conversation } from './conversation';
import { CallRecorder } from './recorder';
import { DEFAULT_PACING, PlayoutQueue, type PlayoutPacing, type PlayoutScheduler } from './playout';
import { primeWithHistory, SessionRenewal } from './session-renewal';
import type { ToolRegistry } from './tools';
import type { AudioChunk, CallControl, CallerStream, ModelSession, ModelSessionHandlers, SessionEventType, StreamStopReason } from './transports';

/**
 * One live call (DESIGN §3): the caller's media stream on one side, an OpenAI Realtime session on the
 * other. Owns the paced playout, barge-in and truncation, and the failure path; the conversation
 * (transcripts, tools, hand-off) is the shared `Conversation`, and the hourly session swap is
 * `SessionRenewal`. Knows neither wire's JSON: it talks to a CallerStream and a ModelSession.
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
  /** Called once when the session is over (with why), so the registry forgets it. */
  onEnded: (session: CallSession, reason: string) => void;
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
  /** The call's rendered instructions and greeting (README "Per-call context"); absent: the agent's as they are. */
  prompts?: PromptsForCall;
  /** Where first-word latency, barge-ins, truncations, fallbacks and OpenAI failures are counted (default: nowhere). */
  metrics?: MetricsSink;
}


/**
 * Why the AI side failed, stored with the reason on `bridge.failed` (DESIGN §4.9). The model adapter's
 * own codes (its error's `failure`, e.g. openai_refused) pass through, spelled like the other causes
 * (openai-refused).
 */
export type BridgeFailureCause = 'agent-audio-timeout' | 'model-closed' | 'model-failed' | (string & {});

export class CallSession {
  readonly callId: string;
  /** The agent as this call uses it: its prompts rendered for the call (a hook's answer replaces them once). */
  agent: AgentWithDestinations;
  state: CallSessionState = 'prewarming';
  private model: ModelSession;
  private readonly renewal: SessionRenewal;
  private readonly conversation: Conversation;
  private caller: CallerStream | undefined;
  readonly playout: PlayoutQueue;
  private readonly audio: AudioPath;
  private modelReady = false;
  private modelFailure: string | undefined;
  private readonly pendingCallerAudio: AudioChunk[] = [];
  private pendingCallerBytes = 0;
  private readonly interrupted = new Set<string>();
  private prewarmTimer: TimerHandle | undefined;
  /** Armed at the stream's start frame; cleared once the model has shown it answers (see modelAnswers). */
  private agentAudioTimer: TimerHandle | undefined;
  /**
   * The model has shown it answers: the first greeting audio is queued for playout, the caller took the
   * turn (the session's VAD heard them), or (no greeting expected) the session is configured.
   */
  private modelAnswered = false;
  private recorder: CallRecorder | undefined;
  /** Clock time the stream started, and when the caller first got agent audio (first-word latency). */
  streamStartedAtMs: number | undefined;
  readonly stats = { callerFrames: 0, callerBytes: 0, droppedLateDeltas: 0, bargeIns: 0, truncations: 0 };
  private readonly metrics: MetricsSink;

  constructor(private readonly deps: CallSessionDeps) {
    this.callId = deps.callId;
    this.metrics = deps.metrics ?? NO_METRICS;
    this.agent = deps.prompts ? withPrompts(deps.agent, deps.prompts.initial) : deps.agent;
    this.audio = new AudioPath(deps.agent.audio);
    this.playout = new PlayoutQueue(
      deps.clock,
      deps.pacing ?? DEFAULT_PACING,
      (chunk, bytes, startsAtMs) => {
        this.caller?.play(chunk);
        this.recorder?.addAgent(bytes, startsAtMs - (this.streamStartedAtMs ?? startsAtMs));
        // The stream's first playAudio: the caller's wait from the start frame (audio only goes out after it, BW §4.2).
        if (this.playout.sentMessages === 1 && this.streamStartedAtMs !== undefined) this.metrics.firstWord(this.playout.firstSentAtMs! - this.streamStartedAtMs);
      },
      (itemId) => {
        this.conversation.settle(itemId);
        this.conversation.maybeHandOff();
        this.renewal.maybeSwap();
      },
    );
    this.conversation = new Conversation({
      callId: deps.callId,
      agent: deps.agent,
      store: deps.store,
      logger: deps.logger,
      clock: deps.clock,
      tools: deps.tools,
      control: deps.control,
      model: () => this.model,
      metrics: deps.metrics,
      voice: {
        isPlaying: () => this.playout.isPlaying(),
        holds: (itemId) => this.playout.holds(itemId),
        silence: () => {
          this.playout.interrupt();
          this.playout.setActive(false);
        },
        resume: () => this.playout.setActive(this.state === 'live' && this.streamStartedAtMs !== undefined),
        end: (reason) => this.end(reason),
        interrupt: () => this.bargeIn(),
      },
    });
    this.model = deps.openModel(this.agent);
    this.model.setHandlers(this.modelHandlers(this.model));
    // Ask for the greeting now, during pre-warm: it goes out right behind the session's configuration,
    // one round trip before session.updated would come back, and its audio waits for the stream. With a
    // context hook it waits for the hook's answer, which is bounded by the hook's timeout and runs while
    // the socket connects (README "Context hook").
    const opened = { instructions: this.agent.instructions, greeting: this.agent.greeting };
    if (deps.prompts?.final) {
      void deps.prompts.final.then(({ prompts, hook }) => {
        this.record('context.hook', hook);
        if (this.state === 'ended') return;
        this.agent = withPrompts(this.agent, prompts);
        greetWith(this.model, opened, prompts, !deps.resume);
      });
    } else greetWith(this.model, opened, opened, !deps.resume);
    this.model.ready.then(
      () => this.onModelReady(),
      (err: Error) => this.fail(`OpenAI session failed: ${err.message}`, failureOf(err)),
    );
    this.renewal = new SessionRenewal({
      clock: deps.clock,
      renewAfterMs: deps.renewAfterMs ?? REALTIME_SESSION_RENEW_AFTER_MS,
      open: () => {
        const next = deps.openModel(this.agent);
        next.setHandlers(this.modelHandlers(next));
        return next;
      },
      isLive: () => this.state !== 'ended' && this.modelReady,
      isIdle: () => this.conversation.isIdle() && !this.playout.isPlaying(),
      history: () => this.conversation.history(),
      replace: (next) => {
        const old = this.model;
        this.model = next;
        this.conversation.modelReplaced();
        return old;
      },
      record: (type, data) => {
        this.record(type, data);
        if (type === 'model.renewed') this.metrics.modelReconnect('renewed');
        else if (type === 'model.renewal-failed') this.metrics.modelReconnect('failed');
      },
    });
    this.prewarmTimer = deps.clock.setTimeout(() => {
      if (!this.caller) this.end('the media stream never arrived');
    }, PREWARM_TIMEOUT_MS);
  }

  /** Model sessions replaced so far (SessionRenewal). */
  get renewals(): number {
    return this.renewal.renewals;
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
    // The caller is listening: the watchdogs run from here. Back from a failed transfer, the duration limit
    // counts from the call's answer (the carrier's time, as stored), not from this stream.
    if (this.deps.resume) void this.callSoFar().then((resumed) => this.conversation.start(resumed));
    else this.conversation.start();
  }

  /**
   * A resumed call so far, from the store: how long it has lasted (from its answer, else its start, as the
   * carrier reported them), and whether the time limit already ended it once (its decided outcome). Nothing
   * known when the store cannot say.
   */
  private async callSoFar(): Promise<{ elapsedMs: number; limitReached: boolean }> {
    try {
      const row = await this.deps.store.calls.get(this.callId);
      const fromMs = Date.parse(row?.answeredAt ?? row?.startedAt ?? '');
      return { elapsedMs: Number.isFinite(fromMs) ? Math.max(0, this.deps.clock.wallNow() - fromMs) : 0, limitReached: row?.outcome === 'time-limit' };
    } catch (err) {
      this.storeFailed(err as Error);
      return { elapsedMs: 0, limitReached: false };
    }
  }

  /** The caller showed they are there other than by speech (a key press): the silence watchdog starts over. */
  callerActivity(): void {
    if (this.state !== 'ended') this.conversation.callerActivity();
  }

  private startRecording(dir: string): void {
    try {
      this.recorder = new CallRecorder(path.join(dir, `${fileStemFor(this.callId)}.wav`));
      void this.deps.store.calls.record({ id: this.callId, recordingPath: this.recorder.file }).catch((err: Error) => this.storeFailed(err));
    } catch (err) {
      this.deps.logger.error({ callId: this.callId, err: (err as Error).message }, 'could not start the recording; the call goes on without it');
    }
  }

  /**
   * The server is shutting down with this call still live: the carrier takes it to the agent's fallback
   * (where ending the stream is not enough, a Pause-held one, it moves the call first), then the stream ends.
   */
  async handOver(reason: string): Promise<void> {
    if (this.state === 'ended') return;
    if (!this.modelFailure) this.metrics.fallback('shutting-down'); // a failed call's fallback was counted when it failed
    await this.deps.control.fallback({ callId: this.callId, agent: this.agent }, reason);
    this.end(reason);
  }

  /** The caller pressed a key (the carrier's report, docs/architecture.md#key-presses-and-voicemail). */
  callerKeyPress(digit: string): void {
    if (this.state !== 'ended') this.conversation.callerKeyPress(digit);
  }

  /** The outbound call reached an answering machine. */
  answeredByMachine(plan: VoicemailPlan): void {
    if (this.state !== 'ended') this.conversation.answeredByMachine(plan);
  }

  /** Bandwidth says the call is over (status callback), or the server is shutting down. */
  end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.deps.clock.clear(this.prewarmTimer);
    this.deps.clock.clear(this.agentAudioTimer);
    this.renewal.stop();
    this.deps.scheduler.remove(this.playout);
    this.playout.setActive(false);
    this.model.close();
    this.caller?.close(reason);
    this.conversation.end();
    if (this.recorder) {
      const recorder = this.recorder;
      recorder.close().then(
        () => this.record('recording.saved', { file: recorder.file, durationMs: recorder.durationMs }),
        (err: Error) => this.deps.logger.error({ callId: this.callId, err: err.message }, 'the recording could not be finished'),
      );
    }
    this.record('bridge.ended', { reason, stats: this.stats, storeFailures: this.conversation.storeFailures, garbageFrames: this.caller?.garbageFrames ?? 0, droppedAudioMs: this.caller?.droppedAudioMs ?? 0 });
    this.deps.onEnded(this, reason);
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
    const history = (await this.conversation.history()) ?? [];
    if (this.state === 'ended') return;
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
    const talk = this.conversation;
    return {
      speechStarted: (e) => {
        if (!current()) return;
        talk.callerSpeechStarted(e.itemId);
        this.bargeIn();
        this.callerTookTheTurn();
      },
      speechStopped: () => {
        if (current()) talk.callerSpeechStopped();
      },
      callerItem: (e) => talk.callerItem(e.itemId),
      callerTranscript: (e) => talk.callerTranscript(e.itemId, e.transcript),
      responseCreated: (e) => {
        if (current()) talk.responseCreated(e.responseId);
      },
      audioDelta: (e) => {
        if (!current()) return;
        if (this.interrupted.has(e.responseId)) {
          this.stats.droppedLateDeltas++;
          return;
        }
        talk.agentAudio(e.itemId, e.responseId);
        this.playout.enqueue(e.itemId, e.responseId, e.contentIndex, this.audio.toCaller(e.chunk));
        if (!this.modelAnswered) this.modelAnswers();
      },
      transcriptDelta: (e) => talk.transcriptDelta(e.itemId, e.responseId, e.delta),
      audioDone: (e) => {
        if (!current()) return;
        this.playout.markDone(e.itemId);
        talk.audioDone(e.responseId);
      },
      transcriptDone: (e) => talk.transcriptDone(e.itemId, e.responseId, e.transcript),
      functionCall: (e) => {
        if (current()) talk.functionCall(e);
      },
      responseDone: (e) => {
        if (!current()) return;
        if (e.status === 'cancelled') this.callerTookTheTurn();
        // response.done means everything in it is done: its audio too, even if no output_audio.done came
        // (incomplete, failed), or later items would never retire from the playout queue.
        for (const itemId of talk.itemsOf(e.responseId)) this.playout.markDone(itemId);
        talk.responseDone(e);
        this.renewal.maybeSwap();
      },
      keyPress: (e) => {
        if (current()) talk.callerKeyPress(e.digit);
      },
      truncated: (e) => this.record('model.truncated', { itemId: e.itemId, audioEndMs: e.audioEndMs }),
      error: (e) => talk.modelError(e),
      closed: (e) => {
        if (this.renewal.isSuccessor(session) && !e.expected) return this.renewal.failed(session, `the replacement session closed (${e.code})`);
        if (e.expected || this.state === 'ended' || !current()) return;
        // Ended early at the 60-minute cap with a successor ready: switch now rather than fail.
        if (this.renewal.takeOverFromClosed()) return;
        this.fail(`OpenAI closed the session (${e.code}${e.reason ? ` ${e.reason}` : ''})`, 'model-closed');
      },
      // A successor session lists its servers before it takes over: that is kept; what it asks is not yet the call's.
      mcp: (e) => {
        if (current() || e.kind === 'tools-listed' || e.kind === 'list-failed') talk.mcp(e);
      },
      trace: (type, data) => {
        if (type === 'rate_limits.updated') this.record('model.rate_limits.updated', data);
        else if (type === 'conversation.item.input_audio_transcription.failed') this.record('model.conversation.item.input_audio_transcription.failed', data);
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
    this.metrics.bargeIn();
    for (const h of heard) {
      this.interrupted.add(h.responseId);
      const audioEndMs = Math.floor(Math.min(h.receivedMs, h.heardMs));
      this.model.truncate(h.itemId, h.contentIndex, audioEndMs);
      this.stats.truncations++;
      this.metrics.truncation(h.sentMs - audioEndMs);
      this.conversation.truncated(h.itemId, audioEndMs);
    }
    this.record('bridge.barge-in', { heard: heard.map((h) => ({ itemId: h.itemId, heardMs: Math.floor(h.heardMs), receivedMs: h.receivedMs })) });
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
    this.metrics.fallback(fallbackReasonOf(cause));
    if (cause === 'model-closed') this.metrics.modelError('session-closed');
    else if (cause !== 'agent-audio-timeout') this.metrics.modelError('session-failed', fallbackReasonOf(cause));
    this.deps.logger.warn({ callId: this.callId, agentId: this.agent.id, reason, cause }, 'AI side failed: sending the call to its fallback');
    // Submitted, not waited for: writes keep their order, so /stream-ended reads the reason, and a stalled
    // store must not keep the caller in silence.
    this.deps.store.calls
      .record({ id: this.callId, errorMessage: reason }, { callId: this.callId, source: 'switchboard', type: 'bridge.failed', data: { reason, cause } })
      .catch((err: Error) => this.storeFailed(err));
    // The carrier moves the call on first where it must (a Pause-held stream), then the stream ends.
    void this.deps.control.fallback({ callId: this.callId, agent: this.agent }, reason).then(() => {
      if (this.caller) this.end(reason);
      // No caller yet: attach() closes the stream as soon as it arrives.
    });
  }

  // ---- trace ------------------------------------------------------------------------------------

  private record(type: SessionEventType, data: unknown): void {
    this.conversation.record(type, data);
  }

  private storeFailed(err: Error): void {
    this.conversation.storeFailed(err);
  }
}

/** The model adapter's failure code when its error carries one (ModelSessionError.failure), else a generic one. */
function failureOf(err: Error): BridgeFailureCause {
  const failure = (err as { failure?: unknown }).failure;
  return typeof failure === 'string' ? failure.replace(/_/g, '-') : 'model-failed';
}
