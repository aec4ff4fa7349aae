import type { SilenceWatchdogSettings } from '../agents/call-limits';
import type { Clock, TimerHandle } from '../clock';

/**
 * The silence watchdog of one call (docs/architecture.md, "Watchdogs"): when neither side has spoken for
 * `promptAfterMs`, the agent asks once whether the caller is still there; after `hangUpAfterMs` more of
 * silence, it gives up (goodbye, hang-up, outcome `no-input`). Silence is what the conversation says it
 * is (`isQuiet`: nobody speaking, no response or tool call in flight, nothing left to hear); the
 * conversation calls `check()` whenever that may have changed. Caller activity (speech, a key press)
 * starts it over. Time is the injected Clock.
 */
export interface SilenceWatchdogActions {
  /** The first interval passed in silence: ask whether the caller is still there. */
  prompt(): void;
  /** The second interval passed too: say goodbye and hang up. */
  giveUp(): void;
}

type Stage = 'listening' | 'prompted' | 'done';

export class SilenceWatchdog {
  private stage: Stage = 'listening';
  private timer: TimerHandle | undefined;

  constructor(
    private readonly settings: SilenceWatchdogSettings,
    private readonly clock: Clock,
    private readonly isQuiet: () => boolean,
    private readonly actions: SilenceWatchdogActions,
  ) {}

  /** Quiet: the countdown runs (from when the quiet began). Anything else: it stops. */
  check(): void {
    if (!this.isQuiet()) return this.pause();
    if (this.timer || this.stage === 'done' || !this.settings.enabled) return;
    const stage = this.stage;
    this.timer = this.clock.setTimeout(() => this.elapsed(stage), stage === 'prompted' ? this.settings.hangUpAfterMs : this.settings.promptAfterMs);
  }

  /** The caller spoke or pressed a key: the next silence is counted afresh, and asked about again. */
  callerActivity(): void {
    this.pause();
    if (this.stage !== 'done') this.stage = 'listening';
  }

  /** Where the watchdog is: waiting for a first silence, having asked, or done (gave up, or the call ended). */
  get state(): Stage {
    return this.stage;
  }

  stop(): void {
    this.pause();
    this.stage = 'done';
  }

  private pause(): void {
    this.clock.clear(this.timer);
    this.timer = undefined;
  }

  private elapsed(stage: Stage): void {
    this.timer = undefined;
    // Every change of quiet is reported, so this is a safety net: busy now means count again from here.
    if (!this.isQuiet()) return this.check();
    if (stage === 'listening') {
      this.stage = 'prompted';
      this.actions.prompt();
    } else {
      this.stage = 'done';
      this.actions.giveUp();
    }
  }
}
