import type { AgentWithDestinations } from '../agents/agent';
import type { VoicemailPlan } from '../agents/telephony';
import { CallContexts, type CallFacts } from '../context/call-contexts';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { MetricsSink } from '../metrics/sink';
import type { Store } from '../store/types';
import { CallSession } from './call-session';
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
    this.setMediaOwner(stream.callId, this.deps.instanceId);
    const session = this.sessions.get(stream.callId);
    if (session) return session.attach(stream);
    // No pre-warmed session (it timed out, or another instance answered initiate): start one now.
    void this.deps.store.calls
      .get(stream.callId)
      .then(async (call) => {
        const agent = call?.agentId ? (await this.deps.store.agents.get(call.agentId))?.agent : undefined;
        if (!agent) {
          this.deps.logger.warn({ callId: stream.callId }, 'media stream for a call with no agent: closing it');
          stream.close('no agent for this call');
          return;
        }
        this.create(stream.callId, agent, undefined, { callId: stream.callId, direction: call?.direction ?? 'inbound', caller: call?.from, called: call?.to }).attach(stream);
      })
      .catch((err: Error) => {
        this.deps.logger.error({ callId: stream.callId, err: err.message }, 'could not start a session for a media stream');
        stream.close('internal error');
      });
  }

  /** Webhook: the stream was rejected; a session still waiting for it will never get it. */
  streamRejected(callId: string): void {
    const session = this.sessions.get(callId);
    if (session?.state === 'prewarming') session.end('the media stream was rejected');
  }

  /** Webhook: Bandwidth says the call is over. */
  callEnded(callId: string): void {
    this.sessions.get(callId)?.end('call disconnected');
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
      onEnded: (s) => {
        if (this.sessions.get(s.callId) === s) {
          this.sessions.delete(s.callId);
          this.setMediaOwner(s.callId, null);
        }
        if (this.sessions.size === 0) this.drained?.();
      },
    });
    this.sessions.set(callId, session);
    return session;
  }
}
