import type { AgentWithDestinations } from '../agents/agent';
import type { VoicemailPlan } from '../agents/telephony';
import { CallContexts, type CallFacts } from '../context/call-contexts';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { MetricsSink } from '../metrics/sink';
import { FINAL_CALL_STATES, type Store } from '../store/types';
import { RETURNED_CALLER_ADVICE } from './call-prompts';
import { CallSession } from './call-session';
import { HeldCallerStream } from './held-stream';
import { PlayoutScheduler, type PlayoutPacing } from './playout';
import type { ToolRegistry } from './tools';
import type { CallControl, CallerStream, CallLifecycleListener, MediaStreamSink, ModelSession } from './transports';

/**
 * The live calls of this instance, keyed by callId (the only per-instance state, DESIGN §4.6).
 * Listens to the webhooks (pre-warm on answer, end on disconnect) and to the media gateway (attach).
 */
export interface BridgeDeps {
  store: Store;
  logger: Logger;
  clock: Clock;
  openModel: (agent: AgentWithDestinations, tools: ToolRegistry, callId: string) => ModelSession;
  toolsFor: (agent: AgentWithDestinations) => ToolRegistry;
  recordingsDir?: string;
  /** How calls leave the agent (the carrier's adapter). */
  control: CallControl;
  pacing?: PlayoutPacing;
  /** Fallback when no agent audio is ready this long after the stream starts (default AGENT_AUDIO_DEADLINE_MS). */
  agentAudioDeadlineMs?: number;
  /** This instance, as the owner of the media it holds (DESIGN §4.12); calls it held are closed out after a crash. */
  instanceId: string;
  /** Renders each call's prompts and asks the agent's context hook (default: no hook secrets, the real fetch). */
  contexts?: CallContexts;
  /** Where the sessions report what the metrics count (default: nowhere). */
  metrics?: MetricsSink;
}

export class CallRegistry implements CallLifecycleListener, MediaStreamSink {
  private readonly sessions = new Map<string, CallSession>();
  /**
   * Media streams that arrived with no pre-warmed session here and were answered by a session opened then
   * (a late greeting). Several instances behind a proxy that ignores INSTANCE_PUBLIC_URL show up here.
   */
  lateAttaches = 0;
  /** Sessions that took their call's media here, so this instance is recorded as the call's owner. */
  private readonly holding = new WeakSet<CallSession>();
  readonly scheduler: PlayoutScheduler;
  private drained: (() => void) | undefined;
  private draining = false;
  private readonly contexts: CallContexts;

  constructor(private readonly deps: BridgeDeps) {
    this.scheduler = new PlayoutScheduler(deps.clock);
    this.contexts = deps.contexts ?? new CallContexts({ clock: deps.clock, env: {}, logger: deps.logger });
  }

  get size(): number {
    return this.sessions.size;
  }

  get(callId: string): CallSession | undefined {
    return this.sessions.get(callId);
  }

  /** Webhook: stream BXML was answered. Open the OpenAI session now (pre-warm, docs/architecture.md#pre-warm). */
  streamAnswered(call: { callId: string; agent: AgentWithDestinations; from?: string; to?: string; direction?: string; resumeNote?: string }): void {
    const existing = this.sessions.get(call.callId);
    if (existing) {
      if (existing.state === 'prewarming' && !call.resumeNote) return; // a retried initiate: keep the warming session
      existing.end('a new stream was answered for this call');
    }
    this.create(call.callId, call.agent, call.resumeNote, { callId: call.callId, direction: call.direction === 'outbound' ? 'outbound' : 'inbound', caller: call.from, called: call.to });
  }

  /** Media gateway: an authenticated stream arrived. */
  attach(stream: CallerStream): void {
    const session = this.sessions.get(stream.callId);
    if (session) return this.hold(session, stream);
    this.attachLate(new HeldCallerStream(stream));
  }

  /**
   * A stream for a call with no pre-warmed session here (DESIGN §4.12: a proxy sent it to another instance
   * than the one that answered its initiate, or this instance restarted, or the pre-warm timed out). It is
   * answered anyway: a session is opened now and greets late, from the call's stored agent; a call back from
   * a failed transfer resumes its conversation. Counted in `lateAttaches`. The stream's first frames are held
   * meanwhile (HeldCallerStream). A call that is over, has no agent, or arrives while draining is refused by
   * closing the stream: the carrier then asks `/stream-ended`, which answers the fallback (DESIGN §4.1).
   */
  private attachLate(stream: HeldCallerStream): void {
    if (this.draining) return stream.close('server shutting down');
    void this.deps.store.calls
      .get(stream.callId)
      .then(async (call) => {
        const agent = call?.agentId ? (await this.deps.store.agents.get(call.agentId))?.agent : undefined;
        // Another stream for the call was attached (or pre-warmed) while the store answered: that session decides.
        const raced = this.sessions.get(stream.callId);
        if (raced) return this.hold(raced, stream);
        if (!call || FINAL_CALL_STATES.includes(call.state)) {
          this.deps.logger.warn({ callId: stream.callId, state: call?.state ?? null }, 'media stream for a call that is not live: closing it');
          return stream.close('call is not live');
        }
        // A browser test call stands in for a caller: its per-call context is an inbound call's.
        if (!agent || this.draining) {
          this.deps.logger.warn({ callId: stream.callId }, this.draining ? 'media stream while shutting down: closing it' : 'media stream for a call with no agent: closing it');
          return stream.close(this.draining ? 'server shutting down' : 'no agent for this call');
        }
        const resumeNote = call.outcome === 'transfer-failed-returned' ? returnedCallerNote(call.errorMessage) : undefined;
        this.lateAttaches++;
        this.hold(this.create(stream.callId, agent, resumeNote, { callId: stream.callId, direction: call.direction === 'outbound' ? 'outbound' : 'inbound', caller: call.from, called: call.to }), stream);
      })
      .catch((err: Error) => {
        this.deps.logger.error({ callId: stream.callId, err: err.message }, 'could not start a session for a media stream');
        stream.close('internal error');
      });
  }

  /** Webhook: the stream was rejected; a session still waiting for it will never get it. False when this instance holds no session for the call. */
  streamRejected(callId: string): boolean {
    const session = this.sessions.get(callId);
    if (session?.state === 'prewarming') session.end('the media stream was rejected');
    return session !== undefined;
  }

  /** Webhook: Bandwidth says the call is over. False when this instance holds no session for the call. */
  callEnded(callId: string): boolean {
    const session = this.sessions.get(callId);
    session?.end('call disconnected');
    return session !== undefined;
  }

  /** Webhook: the caller pressed a key; false when this instance holds no session for the call. */
  callerKeyPress(callId: string, digit: string): boolean {
    const session = this.sessions.get(callId);
    session?.callerKeyPress(digit);
    return session !== undefined;
  }

  /** Webhook: the outbound call reached an answering machine; false when this instance holds no session for it. */
  answeredByMachine(callId: string, plan: VoicemailPlan): boolean {
    const session = this.sessions.get(callId);
    session?.answeredByMachine(plan);
    return session !== undefined;
  }

  /** False while draining: new stream calls then go to their fallback instead of a dying session. */
  accepting(): boolean {
    return !this.draining;
  }

  /** SIGTERM: let live calls finish (up to `timeoutMs`), then end whatever is left. Returns how many were cut. */
  async drain(timeoutMs: number): Promise<number> {
    this.draining = true;
    // Sessions still waiting for their caller have nobody to keep talking to: end them now.
    for (const session of [...this.sessions.values()]) if (session.state === 'prewarming') session.end('server shutting down');
    if (this.sessions.size > 0 && timeoutMs > 0) {
      this.deps.logger.info({ liveCalls: this.sessions.size }, 'waiting for live calls to end');
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.deps.clock.setTimeout(resolve, timeoutMs);
      });
    }
    const cut = [...this.sessions.values()];
    await Promise.all(cut.map((session) => session.handOver('server shutting down')));
    return cut.length;
  }

  /** The session takes the stream, and this instance the call's media (DESIGN §4.12), unless the session refuses it. */
  private hold(session: CallSession, stream: CallerStream): void {
    session.attach(stream);
    if (session.state === 'ended' || this.holding.has(session)) return;
    this.holding.add(session);
    this.setMediaOwner(stream.callId, this.deps.instanceId);
  }

  /** Ownership goes with the write-behind like every bridge write; a lost write is mended at the next start. */
  private setMediaOwner(callId: string, owner: string | null): void {
    this.deps.store.calls.record({ id: callId, mediaOwner: owner }).catch((err: Error) => {
      this.deps.logger.error({ callId, err: err.message }, 'could not record which instance holds the media');
    });
  }

  private create(callId: string, agent: AgentWithDestinations, resumeNote: string | undefined, facts: CallFacts): CallSession {
    const tools = this.deps.toolsFor(agent);
    const session = new CallSession({
      callId,
      agent,
      store: this.deps.store,
      logger: this.deps.logger,
      clock: this.deps.clock,
      scheduler: this.scheduler,
      tools,
      openModel: (a) => this.deps.openModel(a, tools, callId),
      pacing: this.deps.pacing,
      agentAudioDeadlineMs: this.deps.agentAudioDeadlineMs,
      recordingsDir: this.deps.recordingsDir,
      control: this.deps.control,
      resume: resumeNote ? { note: resumeNote } : undefined,
      // Asked now, with the OpenAI session: the hook runs while it connects (docs/architecture.md#pre-warm).
      prompts: this.contexts.forCall(agent, facts),
      metrics: this.deps.metrics,
      onEnded: (s, reason) => {
        if (this.sessions.get(s.callId) === s) {
          this.sessions.delete(s.callId);
          // Only a session that held the media gives it up: one that never got its stream (it went to another
          // instance, which now owns the call) must not clear that instance's ownership.
          if (this.holding.delete(s)) this.setMediaOwner(s.callId, null);
        }
        this.deps.control.sessionEnded?.({ callId: s.callId, agent: s.agent }, reason);
        if (this.sessions.size === 0) this.drained?.();
      },
    });
    this.sessions.set(callId, session);
    return session;
  }
}

/**
 * What a session opened late tells the agent of a caller back from a failed transfer: the pre-warmed session
 * that would have carried the exact note was on another instance, so the stored reason stands in for it.
 */
function returnedCallerNote(reason: string | null): string {
  return `The transfer did not go through${reason ? ` (${reason})` : ''}. ${RETURNED_CALLER_ADVICE}`;
}
