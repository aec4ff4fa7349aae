import type { AgentWithDestinations } from '../agents/agent';
import { CALLBACK_COMMIT_WAIT_MS, CALL_ID_MAX_CHARS } from '../constants';
import { isSwitchboardError, type ErrorCode, type SwitchboardError } from '../errors';
import { TIMED_OUT, withinMs } from '../deadline';
import type { Logger } from '../log';
import { StoreStalledError } from '../store/group-commit';
import type { CallUpdate, Store } from '../store/types';
import { KNOWN_EVENT_TYPES, type Callback } from './callbacks';

/** Why a signed callback URL does not hold: refused with 403 (anything else is a 500). */
const REFUSALS: readonly ErrorCode[] = ['signature_invalid', 'signature_expired', 'callback_refused'];


/**
 * What a callback writes, and how long its answer waits for it: the durability rule (docs/reliability.md).
 * A callback's writes are committed before its answer is sent, unless the store has not been able to write
 * for `commitWaitMs` (another process holds the lock, the disk is full). Then the call matters more than its
 * record: the answer goes out, the writes stay queued and are committed when the store recovers (in
 * order, before any later read), and a write that fails for good is logged. Bandwidth waits 15 s for an
 * answer (BW §1.7).
 */
export class CallbackWrites {
  private readonly commitWaitMs: number;
  /** A wait ran out and no write has landed since. */
  private stalled = false;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    commitWaitMs: number | undefined,
  ) {
    this.commitWaitMs = commitWaitMs ?? CALLBACK_COMMIT_WAIT_MS;
  }

  /**
   * Store the callback's state change(s) and its raw body as one transaction, before the response is
   * sent. Unknown event types are stored like any other and flagged.
   */
  async record(updates: CallUpdate[], cb: Callback, extra?: Record<string, unknown>): Promise<void> {
    const known = KNOWN_EVENT_TYPES.has(cb.eventType);
    if (!known) this.logger.warn({ callId: cb.callId, eventType: cb.eventType }, 'unknown Bandwidth eventType: stored and answered safely');
    const event = {
      callId: cb.callId,
      source: 'bandwidth' as const,
      type: cb.eventType,
      data: extra ? { callback: cb, switchboard: { ...extra, ...(known ? {} : { unknownEventType: true }) } } : { callback: cb, ...(known ? {} : { switchboard: { unknownEventType: true } }) },
    };
    await this.durable(this.store.calls.recordMany(updates, event));
  }

  /** Wait for these writes as the durability rule says: until committed, or `commitWaitMs`. */
  async durable(...writes: (Promise<unknown> | undefined)[]): Promise<void> {
    const all = Promise.all(writes);
    try {
      if ((await this.inTime(all)) !== TIMED_OUT) return;
    } catch (err) {
      // Refused at once because too many writes already wait: the call still gets its answer.
      if (!(err instanceof StoreStalledError)) throw err;
      this.logger.error({ err: err.message }, 'a callback write was refused (the store has been stalled too long): it is lost, the call is answered');
      return;
    }
    this.logger.warn({ waitedMs: this.commitWaitMs }, 'answered a callback before its write was committed: the store is stalled, the write waits in memory');
    all.catch((err: Error) => this.logger.error({ err: err.message }, 'a callback write answered before its commit failed: it is lost'));
  }

  /**
   * A store answer that decides what a callback does, waited for no longer than the durability rule
   * allows: past that the call matters more, so the callback goes ahead as if `orElse`.
   */
  async within<T>(decision: Promise<T>, orElse: T): Promise<T> {
    const result = await this.inTime(decision);
    if (result !== TIMED_OUT) return result;
    this.logger.warn({ waitedMs: this.commitWaitMs }, 'the store did not decide a one-shot callback in time: going ahead');
    decision.catch((err: Error) => this.logger.error({ err: err.message }, 'a one-shot decision answered late failed'));
    return orElse;
  }

  /**
   * Refuse a callback whose signed URL does not hold for it (DESIGN §4.6): store it as `<event>.refused`
   * with the reason, change no call's state. Returns the message for the 403; anything that is not a
   * refusal (the store failing) is rethrown, a server error.
   */
  async refused(cb: Callback, eventType: string, err: unknown): Promise<string> {
    if (!REFUSALS.some((code) => isSwitchboardError(err, code))) throw err;
    const code = (err as SwitchboardError).code;
    const reason = (err as Error).message;
    this.logger.warn({ callId: cb.callId, eventType, code, reason }, 'refused a signed callback');
    await this.durable(this.store.events.append({ callId: cb.callId, source: 'bandwidth', type: `${eventType}.refused`, data: { callback: cb, code, reason } }));
    return reason;
  }

  /**
   * A callback that failed validation is refused with a 400 (webhooks.ts), and kept raw in the call's
   * timeline when it names a usable callId, so the operator sees what Bandwidth sent; the call's state is
   * left as it was.
   */
  async invalid(route: string, body: unknown, problems: readonly string[]): Promise<void> {
    const callId = (body as { callId?: unknown } | null)?.callId;
    if (typeof callId !== 'string' || callId.trim() === '' || callId.length > CALL_ID_MAX_CHARS) return;
    await this.durable(this.store.events.append({ callId, source: 'bandwidth', type: 'callback.invalid', data: { route, problems, raw: body } }));
  }

  /**
   * `work`, or TIMED_OUT after `commitWaitMs`. Once a wait has run out, the store is known not to be writing until
   * some write lands: later waits do not wait again (they would add up, write after write and callback after
   * callback, past Bandwidth's 15 s), they only take what has already landed.
   */
  private async inTime<T>(work: Promise<T>): Promise<T | typeof TIMED_OUT> {
    work.then(
      () => {
        this.stalled = false;
      },
      () => undefined,
    );
    const result = await withinMs(work, this.stalled ? 0 : this.commitWaitMs);
    if (result === TIMED_OUT) this.stalled = true;
    return result;
  }
}

/** The fields every callback may update on its call. */
export function baseUpdate(cb: Callback): CallUpdate {
  const update: CallUpdate = { id: cb.callId };
  if (cb.accountId) update.accountId = cb.accountId;
  if (cb.applicationId) update.applicationId = cb.applicationId;
  if (cb.tag !== undefined) update.tag = cb.tag;
  return update;
}

/** Identity fields of the caller's leg, as the first callback of a call tells them. */
export function callUpdate(cb: Callback, agent: AgentWithDestinations | undefined): CallUpdate {
  const update = baseUpdate(cb);
  if (cb.direction === 'inbound' || cb.direction === 'outbound') update.direction = cb.direction;
  if (cb.from) update.from = cb.from;
  if (cb.to) update.to = cb.to;
  if (cb.startTime) update.startedAt = cb.startTime;
  if (cb.answerTime) update.answeredAt = cb.answerTime;
  if (agent) {
    update.agentId = agent.id;
    update.mode = agent.mode;
  }
  return update;
}
