import type { Clock, TimerHandle } from '../clock';
import { REALTIME_RENEWAL_RETRY_MS, RETIRED_SESSION_GRACE_MS } from '../constants';
import type { ModelSession, SessionEventType } from './transports';

/**
 * Realtime sessions end at 60 minutes (OpenAI reference §6.1). Before that, open a new session, prime it
 * with the conversation so far (as text items, in conversation order) and switch to it between turns:
 * no caller speech, no response in flight, nothing left to play. The old session stays open a little
 * longer for late caller transcripts.
 */
export interface SessionRenewalDeps {
  clock: Clock;
  renewAfterMs: number;
  /** Open a replacement session, its handlers already bound. */
  open: () => ModelSession;
  /** The call can take a new session now: its current one is configured and the call is not over. */
  isLive: () => boolean;
  /** Between turns (see above). */
  isIdle: () => boolean;
  /** The conversation as stored so far; undefined when the store could not say (the swap waits for the next idle moment). */
  history: () => Promise<readonly { role: string; text: string }[] | undefined>;
  /** Make `next` the call's session; returns the one it replaces. */
  replace: (next: ModelSession) => ModelSession;
  record: (type: SessionEventType, data: unknown) => void;
}

export class SessionRenewal {
  renewals = 0;
  private successor: ModelSession | undefined;
  private successorReady = false;
  private swapping = false;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly deps: SessionRenewalDeps) {
    this.timer = deps.clock.setTimeout(() => this.start(), deps.renewAfterMs);
  }

  isSuccessor(session: ModelSession): boolean {
    return session === this.successor;
  }

  /** Swap only between turns: the old session answers whatever it already heard. */
  maybeSwap(): void {
    if (!this.successor || !this.successorReady || this.stopped || this.swapping || !this.deps.isIdle()) return;
    this.swapping = true;
    void this.swap('between turns').finally(() => {
      this.swapping = false;
    });
  }

  /** The current session closed on its own (ended early at the cap): true when a ready successor takes over now, rather than the call failing. */
  takeOverFromClosed(): boolean {
    if (!this.successor || !this.successorReady) return false;
    // Now, whatever the turn: the old session is gone, so waiting for an idle moment would wait forever
    // (its turn state never clears), and the caller would be talking to nobody.
    void this.swap('the old session closed', true);
    return true;
  }

  /** The replacement could not open or died before the swap: the current session has minutes left; retry. */
  failed(next: ModelSession, reason: string): void {
    if (this.successor !== next) return;
    this.successor = undefined;
    this.successorReady = false;
    next.close();
    this.deps.record('model.renewal-failed', { reason });
    if (!this.stopped) this.timer = this.deps.clock.setTimeout(() => this.start(), REALTIME_RENEWAL_RETRY_MS);
  }

  stop(): void {
    this.stopped = true;
    this.deps.clock.clear(this.timer);
    this.successor?.close();
  }

  private start(): void {
    if (this.stopped || this.successor || !this.deps.isLive()) return;
    const next = this.deps.open();
    this.successor = next;
    this.deps.record('model.renewing', { afterMs: this.deps.renewAfterMs });
    void next.ready.then(
      () => {
        if (this.successor !== next) return;
        this.successorReady = true;
        this.maybeSwap();
      },
      (err: Error) => this.failed(next, err.message),
    );
  }

  /** Prime the replacement with the conversation as stored now, then make it the current session. */
  private async swap(why: string, now = false): Promise<void> {
    const next = this.successor!;
    // Forced (the old session closed): a history that cannot be read primes nothing, rather than no session at all.
    const history = (await this.deps.history()) ?? (now ? [] : undefined);
    if (!history) return; // try again at the next idle moment
    if (this.successor !== next || this.stopped) return;
    if (!now && !this.deps.isIdle()) return; // a turn began: next idle moment
    primeWithHistory(next, history);
    this.successor = undefined;
    this.successorReady = false;
    const old = this.deps.replace(next);
    this.renewals++;
    this.deps.record('model.renewed', { why, renewals: this.renewals, historyItems: history.length });
    this.deps.clock.setTimeout(() => old.close(), RETIRED_SESSION_GRACE_MS);
    this.timer = this.deps.clock.setTimeout(() => this.start(), this.deps.renewAfterMs);
  }
}

/** Give a fresh model session the conversation so far, as text items in conversation order. */
export function primeWithHistory(session: ModelSession, history: readonly { role: string; text: string }[]): void {
  for (const item of history) {
    if (item.role === 'caller') session.addItem('user', item.text);
    else if (item.role === 'agent') session.addItem('assistant', item.text);
  }
}
