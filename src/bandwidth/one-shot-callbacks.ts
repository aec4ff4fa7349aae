import { z } from 'zod';
import type { Logger } from '../log';
import { FINAL_CALL_STATES, type Store } from '../store/types';
import type { Callback } from './callbacks';
import type { CallbackContexts } from './callback-contexts';
import type { CallbackResult } from './callback-result';
import type { CallbackWrites } from './callback-writes';

/**
 * Signed callbacks whose context drives a one-shot action (a redirect's action, a transfer's completion):
 * a replayed URL must not act again (DESIGN §4.6), while Bandwidth's own retry of the same callback
 * (BW §1.7) must get the same answer as the first time.
 */
export interface OneShotDeps {
  store: Store;
  contexts: CallbackContexts;
  writes: CallbackWrites;
  logger: Logger;
  /** The safe answer to a spent callback: hang up. */
  hangUp: (cb: Callback) => CallbackResult;
}

export class OneShotCallbacks {
  /** The answer being computed per one-shot context, for a retry that arrives before it is kept. */
  private readonly answering = new Map<string, { identity: string; answer: Promise<CallbackResult> }>();

  constructor(private readonly deps: OneShotDeps) {}

  /**
   * Run a callback's one-shot action once (DESIGN §4.6). The first callback to use the context consumes
   * it atomically and its answer is kept; an exact retry of that callback (same callId, eventType and
   * eventTime: Bandwidth retries on timeout, BW §1.7) gets that same answer; any other use, or a first
   * use once the A-leg is over, gets the spent answer (no new stream, no transfer) and an event.
   */
  async once(reported: Callback, aLegId: string, contextId: string, act: () => Promise<CallbackResult>): Promise<CallbackResult> {
    const identity = callbackIdentity(reported);
    // A retry that arrives while the first is still being answered (the store was slow) waits for it.
    const inflight = this.answering.get(contextId);
    if (inflight?.identity === identity) return this.retried(reported, aLegId, await inflight.answer);
    const answer = this.answerOnce(reported, identity, aLegId, contextId, act);
    if (!inflight) {
      this.answering.set(contextId, { identity, answer });
      const forget = () => {
        if (this.answering.get(contextId)?.answer === answer) this.answering.delete(contextId);
      };
      answer.then(forget, forget);
    }
    return answer;
  }

  private async answerOnce(reported: Callback, identity: string, aLegId: string, contextId: string, act: () => Promise<CallbackResult>): Promise<CallbackResult> {
    const use = await this.deps.writes.within(this.deps.contexts.consume(contextId, identity), { first: true } as const);
    if (!use.first) {
      const kept = keptAnswerSchema.safeParse(use.answer);
      if (use.usedBy === identity && kept.success) return this.retried(reported, aLegId, kept.data);
      return this.spent(reported, aLegId, reported.eventType, 'this URL was already used by another callback', use.usedBy);
    }
    const call = await this.deps.store.calls.get(aLegId);
    const answer = call && FINAL_CALL_STATES.includes(call.state) ? await this.spent(reported, aLegId, reported.eventType, `call ${aLegId} is already ${call.state}`) : await act();
    const kept = keptAnswerSchema.safeParse(answer);
    if (kept.success) await this.deps.writes.durable(this.deps.contexts.remember(contextId, kept.data));
    return answer;
  }

  /** Bandwidth's retry of a callback already answered (BW §1.7): the same answer, and a note in the timeline. */
  private async retried(reported: Callback, aLegId: string, answer: CallbackResult): Promise<CallbackResult> {
    await this.deps.writes.durable(this.deps.store.events.append({ callId: aLegId, source: 'bandwidth', type: `${reported.eventType}.retried`, data: { callback: reported } }));
    return answer;
  }

  /**
   * The safe answer to a callback whose one-shot URL is spent or whose A-leg is over: hang up (BW §1.3:
   * the BXML runs on a call that must not get a new stream or transfer), change no call's state, and
   * store the callback as `<eventType>.spent` on the A-leg's timeline with the reason.
   */
  async spent(reported: Callback, aLegId: string, eventType: string, reason: string, usedBy?: string | null): Promise<CallbackResult> {
    this.deps.logger.warn({ callId: aLegId, eventType, reason }, 'answered a spent signed callback with a hang-up');
    await this.deps.writes.durable(this.deps.store.events.append({ callId: aLegId, source: 'bandwidth', type: `${eventType}.spent`, data: { callback: reported, reason, ...(usedBy ? { usedBy } : {}) } }));
    return this.deps.hangUp(reported);
  }
}

/** What `once` keeps of an answer: the document itself (the recorded context is re-derived). */
const keptAnswerSchema = z.union([
  z.object({ kind: z.literal('bxml'), xml: z.string(), template: z.string() }),
  z.object({ kind: z.literal('empty') }),
]) as z.ZodType<Extract<CallbackResult, { kind: 'bxml' | 'empty' }>>;

/** A callback's identity: a retry of the same callback by Bandwidth (BW §1.7) repeats all three. */
function callbackIdentity(cb: Callback): string {
  return JSON.stringify([cb.callId, cb.eventType, cb.eventTime ?? null]);
}
