import type { Clock, TimerHandle } from '../clock';

/**
 * Write-behind for the writes a live call makes between callbacks (events, transcript items, usage):
 * they queue here and commit together, one SQLite transaction per `flushAfterMs`, instead of one commit
 * (a WAL append and its syscalls) each on the media hot path (issue #8 §5).
 *
 * Order is kept exactly as issued: the store flushes this queue before every read and before every
 * synchronous write (a callback's transaction), so nobody ever observes the queue, and a session's write
 * can never land after a later callback's. Each write's promise settles when its transaction has
 * committed; a write that fails alone rejects alone, the others still commit.
 */
export class WriteQueue {
  private pending: { run: () => void; resolve: () => void; reject: (err: Error) => void }[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    /** Runs `body` in one transaction (better-sqlite3's `db.transaction(body)()`). */
    private readonly inTransaction: (body: () => void) => void,
    private readonly flushAfterMs: number,
    private readonly maxQueued: number,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  enqueue(run: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ run, resolve, reject });
      if (this.pending.length >= this.maxQueued) this.flush();
      else this.timer ??= this.clock.setTimeout(() => this.flush(), this.flushAfterMs);
    });
  }

  /** Commit everything queued, now. Cheap when the queue is empty. */
  flush(): void {
    if (this.timer) {
      this.clock.clear(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const failures = new Map<number, Error>();
    try {
      this.inTransaction(() => {
        batch.forEach((w, i) => {
          try {
            w.run();
          } catch (err) {
            failures.set(i, err as Error); // a failed statement is undone alone; the rest commit
          }
        });
      });
    } catch (err) {
      for (const w of batch) w.reject(err as Error);
      return;
    }
    batch.forEach((w, i) => {
      const failure = failures.get(i);
      if (failure) w.reject(failure);
      else w.resolve();
    });
  }
}
