/**
 * Time, injected. The bridge's playout pacing, the stand-ins and the tests all read time through a
 * Clock, so tests drive time with ManualClock instead of sleeping, and production uses the monotonic
 * system clock (performance.now: immune to wall-clock jumps).
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds on a monotonic timeline (only differences are meaningful). */
  now(): number;
  /**
   * Milliseconds since the epoch, for what is compared with other machines' time (a signed token's expiry).
   * On a ManualClock it moves with the clock, so expiries are tested without waiting.
   */
  wallNow(): number;
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  setInterval(fn: () => void, intervalMs: number): TimerHandle;
  clear(handle: TimerHandle | undefined): void;
}

class SystemClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, delayMs);
    t.unref?.();
    this.timers.set(id, t);
    return { id };
  }

  setInterval(fn: () => void, intervalMs: number): TimerHandle {
    const id = this.nextId++;
    const t = setInterval(fn, intervalMs);
    t.unref?.();
    this.timers.set(id, t);
    return { id };
  }

  clear(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.timers.get(handle.id);
    if (t) {
      clearTimeout(t);
      clearInterval(t);
      this.timers.delete(handle.id);
    }
  }
}

/** The process's real, monotonic clock. Timers are unref'd: they never keep the process alive alone. */
export const systemClock: Clock = new SystemClock();

interface ManualTimer {
  id: number;
  dueMs: number;
  intervalMs?: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. `advance` fires due timers in time order, synchronously;
 * `advanceAsync` does the same in steps and lets I/O (real sockets on loopback) settle after each step.
 */
export class ManualClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(
    private readonly startMs = 0,
    /** The wall-clock time at `startMs`: the real time when the clock was made, unless given. */
    private readonly wallStartMs = Date.now(),
  ) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  wallNow(): number {
    return this.wallStartMs + (this.nowMs - this.startMs);
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, dueMs: this.nowMs + Math.max(0, delayMs), fn });
    return { id };
  }

  setInterval(fn: () => void, intervalMs: number): TimerHandle {
    const id = this.nextId++;
    const every = Math.max(1, intervalMs);
    this.timers.set(id, { id, dueMs: this.nowMs + every, intervalMs: every, fn });
    return { id };
  }

  clear(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers.values()) if (t.dueMs <= target && (!next || t.dueMs < next.dueMs || (t.dueMs === next.dueMs && t.id < next.id))) next = t;
      if (!next) break;
      this.nowMs = next.dueMs;
      if (next.intervalMs !== undefined) next.dueMs += next.intervalMs;
      else this.timers.delete(next.id);
      next.fn();
    }
    this.nowMs = target;
  }

  /** Advance in `stepMs` steps, letting pending I/O run after each (for tests over real sockets). */
  async advanceAsync(ms: number, stepMs = 20, settle: () => Promise<void> = settleIo): Promise<void> {
    for (let done = 0; done < ms; done += stepMs) {
      this.advance(Math.min(stepMs, ms - done));
      await settle();
    }
  }

  get pendingTimers(): number {
    return this.timers.size;
  }
}

/** Let already-queued I/O callbacks run (a few turns of the event loop; loopback sockets need two or three). */
export async function settleIo(turns = 4): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Wait, without moving any clock, until `condition` holds: real socket I/O on loopback completes on
 * its own in a few event-loop turns. Gives up after `timeoutMs` of real time (a safety net, not a sleep).
 */
export async function waitFor(condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settleIo();
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}
