/**
 * Group commit: writes submitted during one turn of the event loop are committed together, in one
 * transaction, at the end of that turn (setImmediate); each submitter's promise settles after that
 * commit, so nothing is acknowledged before it is written. Under load one WAL commit then carries many
 * writes (callbacks, the bridge's events, transcript items and usage): pages they share (the tails of the
 * append-mostly tables and indexes) are written once per commit instead of once per write, and
 * checkpoints come that much less often.
 *
 * `commit` applies every write (each in its own savepoint, so one failing write fails alone) and returns,
 * in order, the error of each write that failed; it throws when the transaction as a whole failed. With
 * `wait` false it must not wait for the database's write lock: when the lock is taken (the checkpointer
 * is restarting the WAL) it throws an error `isBusy` recognises, and the batch is tried again
 * `retryDelayMs` later, still in order, so the event loop keeps serving meanwhile; after `maxWaitMs` of
 * that it waits for the lock like any other statement.
 *
 * flush() commits whatever is pending now, waiting for the lock if need be: the store calls it before
 * any other use of the tables these writes touch, so reads see every write submitted before them, and
 * writes keep their order.
 */
export interface GroupCommitOptions {
  isBusy: (err: unknown) => boolean;
  retryDelayMs: number;
  maxWaitMs: number;
}

interface Pending<W> {
  write: W;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<W> {
  private pending: Pending<W>[] = [];
  private scheduled = false;
  /** When the pending batch first found the write lock taken. */
  private busySinceMs: number | undefined;

  constructor(
    private readonly commit: (writes: W[], wait: boolean) => (Error | undefined)[],
    private readonly options: GroupCommitOptions,
  ) {}

  submit(write: W): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run(false));
      }
    });
  }

  flush(): void {
    this.run(true);
  }

  private run(wait: boolean): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    let errors: (Error | undefined)[];
    try {
      errors = this.commit(
        batch.map((p) => p.write),
        wait,
      );
    } catch (err) {
      if (!wait && this.options.isBusy(err)) return this.retryLater(batch);
      this.busySinceMs = undefined;
      for (const p of batch) p.reject(err);
      return;
    }
    this.busySinceMs = undefined;
    batch.forEach((p, i) => (errors[i] ? p.reject(errors[i]) : p.resolve()));
  }

  private retryLater(batch: Pending<W>[]): void {
    this.pending = batch.concat(this.pending);
    const now = Date.now();
    this.busySinceMs ??= now;
    const waitNextTime = now - this.busySinceMs >= this.options.maxWaitMs;
    this.scheduled = true;
    setTimeout(() => this.run(waitNextTime), this.options.retryDelayMs);
  }
}
