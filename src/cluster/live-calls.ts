import { z } from 'zod';
import type { VoicemailPlan } from '../agents/telephony';
import type { CallLifecycleListener } from '../bridge/transports';
import { DTMF_DIGIT_PATTERN } from '../constants';
import type { Logger } from '../log';
import type { InstanceMessage, Store } from '../store/types';

/**
 * Per-call actions across instances (DESIGN §4.6, §4.12). Any instance answers any callback, but a call's
 * live session (its media socket and model session, or an openai-sip call's sideband) exists on one instance
 * only: the one recorded as the call's `mediaOwner`. What a callback or request must do to that session is
 * done here when the session is here, and otherwise sent over the store's bus (`Store.bus`) to the owner,
 * which does it. One module, one closed list of typed messages, checked with zod where they arrive.
 *
 * Where no owner is recorded yet (a session still pre-warming: ownership is taken when the media attaches)
 * and no session is here, the end of the call and a rejected stream go to every instance, and the one
 * holding the session acts.
 */

/** What one instance can do to the live calls it holds; each answers false when it holds no session for the call. */
export interface LocalCalls {
  callEnded(callId: string, cause: string | undefined): boolean;
  streamRejected(callId: string): boolean;
  callerKeyPress(callId: string, digit: string): boolean;
  answeredByMachine(callId: string, plan: VoicemailPlan): boolean;
}

const voicemailPlanSchema = z.discriminatedUnion('kind', [z.object({ kind: z.literal('hang-up') }), z.object({ kind: z.literal('leave-message'), message: z.string() })]);

/** The messages, as they arrive from the bus (InstanceMessage's `kind`, `callId`, `data`). */
export const liveCallMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('call.ended'), callId: z.string().min(1), data: z.object({ cause: z.string().optional() }) }),
  z.object({ kind: z.literal('call.stream-rejected'), callId: z.string().min(1), data: z.object({}).optional() }),
  z.object({ kind: z.literal('call.key-press'), callId: z.string().min(1), data: z.object({ digit: z.string().regex(DTMF_DIGIT_PATTERN) }) }),
  z.object({ kind: z.literal('call.machine-answered'), callId: z.string().min(1), data: z.object({ plan: voicemailPlanSchema }) }),
]);
export type LiveCallMessage = z.infer<typeof liveCallMessageSchema>;
export type LiveCallMessageKind = LiveCallMessage['kind'];

export interface LiveCallsDeps {
  store: Store;
  instanceId: string;
  local: LocalCalls;
  logger: Logger;
}

/**
 * The lifecycle listener the webhooks talk to: local sessions first, then the owner over the bus. Start
 * listening with `start()`; `stop()` when the instance stops. The counters are plain numbers for /metrics.
 */
export class LiveCalls implements Pick<CallLifecycleListener, 'callEnded' | 'streamRejected' | 'callerKeyPress' | 'answeredByMachine'> {
  /** Actions sent to another instance. */
  forwarded = 0;
  /** Messages from other instances carried out here (the session was here). */
  received = 0;
  /** Messages that arrived for a call with no session here any more (it ended meanwhile). */
  missed = 0;
  /** Messages refused at the edge: not one of ours, or malformed. */
  refused = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: LiveCallsDeps) {}

  start(): void {
    this.unsubscribe ??= this.deps.store.bus.subscribe(this.deps.instanceId, (message) => this.onMessage(message));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /**
   * The call is over: every session of it ends, wherever it is. A session here may be a pre-warm whose stream
   * went to another instance, so the owner is told even when one ended here.
   */
  callEnded(callId: string, cause: string | undefined): void {
    const here = this.deps.local.callEnded(callId, cause);
    void this.toOwner({ kind: 'call.ended', callId, data: cause === undefined ? {} : { cause } }, { anyInstance: !here });
  }

  streamRejected(callId: string): void {
    const here = this.deps.local.streamRejected(callId);
    void this.toOwner({ kind: 'call.stream-rejected', callId }, { anyInstance: !here });
  }

  /** True when a session has the key: here, or sent to the instance recorded as holding the call. */
  async callerKeyPress(callId: string, digit: string): Promise<boolean> {
    if (this.deps.local.callerKeyPress(callId, digit)) return true;
    return this.toOwner({ kind: 'call.key-press', callId, data: { digit } });
  }

  /**
   * True when a session has the verdict: the stream session of the call, or the sideband of its AI leg (an
   * outbound openai-sip call), here or on the instance recorded as holding it.
   */
  async answeredByMachine(callId: string, plan: VoicemailPlan): Promise<boolean> {
    if (this.deps.local.answeredByMachine(callId, plan)) return true;
    const message: LiveCallMessage = { kind: 'call.machine-answered', callId, data: { plan } };
    if (await this.toOwner(message)) return true;
    const aiLeg = (await this.deps.store.calls.children(callId)).find((leg) => leg.leg === 'ai-sip' && leg.mediaOwner !== null);
    return aiLeg?.mediaOwner ? this.publish(aiLeg.mediaOwner, message) : false;
  }

  /**
   * Send to the instance recorded as holding the call. False when none other does: no owner, or this
   * instance (its session ended a moment ago). `anyInstance`: with no owner recorded, every instance is asked.
   */
  private async toOwner(message: LiveCallMessage, options: { anyInstance?: boolean } = {}): Promise<boolean> {
    try {
      const owner = (await this.deps.store.calls.get(message.callId))?.mediaOwner ?? null;
      if (owner === this.deps.instanceId) return false;
      if (owner === null && !options.anyInstance) return false;
      return await this.publish(owner ?? '*', message);
    } catch (err) {
      this.deps.logger.error({ callId: message.callId, kind: message.kind, err: (err as Error).message }, 'could not reach the instance holding this call');
      return false;
    }
  }

  private async publish(to: string, message: LiveCallMessage): Promise<boolean> {
    try {
      await this.deps.store.bus.publish({ to, from: this.deps.instanceId, ...message });
      this.forwarded++;
      return true;
    } catch (err) {
      this.deps.logger.error({ callId: message.callId, kind: message.kind, to, err: (err as Error).message }, 'could not send a call action to another instance');
      return false;
    }
  }

  private onMessage(message: InstanceMessage): void {
    // Our own broadcast comes back to us: the local sessions were asked before it went out.
    if (message.from === this.deps.instanceId) return;
    const parsed = liveCallMessageSchema.safeParse({ kind: message.kind, callId: message.callId, data: message.data });
    if (!parsed.success) {
      // Other modules may share the bus with kinds of their own; only a malformed one of ours is a problem.
      if (!message.kind.startsWith('call.')) return;
      this.refused++;
      this.deps.logger.warn({ from: message.from, kind: message.kind, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'refused a malformed call action from another instance');
      return;
    }
    if (this.act(parsed.data)) this.received++;
    else if (message.to !== '*') this.missed++;
  }

  private act(message: LiveCallMessage): boolean {
    const local = this.deps.local;
    switch (message.kind) {
      case 'call.ended':
        return local.callEnded(message.callId, message.data.cause);
      case 'call.stream-rejected':
        return local.streamRejected(message.callId);
      case 'call.key-press':
        return local.callerKeyPress(message.callId, message.data.digit);
      case 'call.machine-answered':
        return local.answeredByMachine(message.callId, message.data.plan);
    }
  }
}
