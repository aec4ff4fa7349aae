import type { MaxDurationSettings } from '../agents/call-limits';
import type { Clock, TimerHandle } from '../clock';

/**
 * The maximum duration of one call with its agent (docs/architecture.md, "Watchdogs"): a spoken warning
 * `warnMs` before `limitMs`, then the end (goodbye and hang-up, or a transfer), both with outcome
 * `time-limit`. Counted on the injected Clock from when the caller is connected to the agent.
 */
export interface CallTimeLimitActions {
  warn(): void;
  reached(): void;
}

export class CallTimeLimit {
  private readonly timers: TimerHandle[] = [];
  private started = false;

  constructor(
    private readonly settings: MaxDurationSettings,
    private readonly clock: Clock,
    private readonly actions: CallTimeLimitActions,
  ) {}

  /**
   * Start counting, the call having lasted `elapsedMs` already (a call back from a failed transfer): the
   * limit is the call's, not the session's. With less than `warnMs` left there is no warning (the earlier
   * session gave it, or it would crowd the goodbye); past the limit, the end comes at once.
   */
  start(elapsedMs = 0): void {
    const { limitMs, warnMs } = this.settings;
    if (this.started || limitMs === undefined) return;
    this.started = true;
    const remainingMs = Math.max(0, limitMs - elapsedMs);
    if (warnMs > 0 && remainingMs > warnMs) this.timers.push(this.clock.setTimeout(() => this.actions.warn(), remainingMs - warnMs));
    this.timers.push(this.clock.setTimeout(() => this.actions.reached(), remainingMs));
  }

  stop(): void {
    for (const t of this.timers.splice(0)) this.clock.clear(t);
  }
}
