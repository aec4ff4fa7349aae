/**
 * Which BXML run is the call's current one, and how a run waits (docs/simulator.md#bxml). Each run
 * has a generation: updateCall/updateCallBxml start a new one and the older run stops at its next
 * step. Waits (Pause, StopStream wait, transfer ringing and talk) are woken early by hang-up or
 * interruption. `dial()` and the updates resolve when the new run first blocks.
 */
import type { Clock } from '../clock';
import { deferred } from './deferred';

/** Stops the interpreter when the call ends mid-document or its BXML was replaced. */
export class CallOver extends Error {}

export class RunControl {
  private generation = 0;
  private blocked = deferred<void>();
  private readonly waits = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    /** True once the call is ending: every run stops. */
    private readonly isEnding: () => boolean,
  ) {}

  /** A new run becomes the current one; the promise resolves when it first blocks. */
  begin(): { gen: number; blocked: Promise<void> } {
    const gen = ++this.generation;
    this.blocked = deferred<void>();
    return { gen, blocked: this.blocked.promise };
  }

  /** Mark that the current run (or the run `gen`, if still current) now waits on something external. */
  markBlocked(gen?: number): void {
    if (gen === undefined || gen === this.generation) this.blocked.resolve();
  }

  /** Stop a run whose call has ended or whose BXML was replaced. */
  checkLive(gen: number): void {
    if (this.isEnding() || gen !== this.generation) throw new CallOver();
  }

  wakeAll(): void {
    for (const wake of [...this.waits]) wake();
  }

  /** Block the run on a promise or a clock delay; woken early by hang-up or interruption. */
  async waitOn(gen: number, what: Promise<unknown> | number): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.waits.add(wake);
    const timer = typeof what === 'number' ? this.clock.setTimeout(wake, what) : undefined;
    if (typeof what !== 'number') void what.then(wake);
    this.markBlocked(gen);
    await woken;
    this.waits.delete(wake);
    this.clock.clear(timer);
    this.checkLive(gen);
  }
}
