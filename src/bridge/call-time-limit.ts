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

  start(): void {
    const { limitMs, warnMs } = this.settings;
    if (this.started || limitMs === undefined) return;
    this.started = true;
    if (warnMs > 0) this.timers.push(this.clock.setTimeout(() => this.actions.warn(), limitMs - warnMs));
    this.timers.push(this.clock.setTimeout(() => this.actions.reached(), limitMs));
  }

  stop(): void {
    for (const t of this.timers.splice(0)) this.clock.clear(t);
  }
}
