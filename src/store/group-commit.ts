import { SwitchboardError } from '../errors';

/**
 * Group commit: writes submitted during one turn of the event loop are committed together, in one
 * transaction, at the end of that turn (setImmediate); each submitter's promise settles after that
 * commit, so nothing is acknowledged before it is written. Under load one WAL commit then carries many
 * writes (callbacks, the bridge's events, transcript items and usage): pages they share (the tails of the
 * append-mostly tables and indexes) are written once per commit instead of once per write, and
 * checkpoints come that much less often.
 *
 * `commit` applies every write (each in its own savepoint, so one failing write fails alone) and returns,
 * in order, the error of each write that failed; it throws when the transaction as a whole failed. The
 * event loop never waits for the database (docs/reliability.md, "the store never stalls live calls"):
 * `commit` must not wait for a lock, and a batch whose transaction failed for a reason that can pass (the
 * write lock held by another process, a full disk, an I/O error) is kept, in order, and tried again
 * later, backing off from `retryDelayMs` to `maxRetryDelayMs`, while everything else (live audio, other
 * callbacks) keeps running. Meanwhile `stalledForMs` says how long the store has been unable to write, for
 * readiness and for the log. At most `maxPending` writes wait; past that new ones are refused at once.
 *
 * Readers call `settled()` first, so reads see every write submitted before them (read-your-writes),
 * waiting asynchronously if the store is stalled. `flushSync()` is for closing only: it may wait for a lock.
 */
export interface GroupCommitOptions {
  /** The transaction failed for a reason that may pass: keep the batch and try again later. */
  isTransient: (err: unknown) => boolean;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  maxPending: number;
  now: () => number;
  /** The store could not write (first failure of a stall, and the error it gave). */
  onStall: (err: unknown) => void;
  /** The store wrote again after a stall of `stalledMs`. */
  onRecover: (stalledMs: number) => void;
  /** A transaction committed `writes` writes in `durationMs` (the metrics' store write latency). */
  onCommit?: CommitObserver;
}

export type CommitObserver = (durationMs: number, writes: number) => void;

interface Pending<W> {
  write: W;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Waiter {
  /** Resolves once this many writes (counted from the start) have settled. */
  upTo: number;
  resolve: () => void;
}

/** The store could not write in time; the admin API answers it with 503. */
export class StoreStalledError extends SwitchboardError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'StoreStalledError';
  }
}

export class GroupCommit<W> {
  private pending: Pending<W>[] = [];
  private scheduled = false;
  private submitted = 0;
  private settledCount = 0;
  private waiters: Waiter[] = [];
  private stalledSinceMs: number | undefined;
  private retryDelayMs: number;
  private closed = false;
  lastError: unknown;

  constructor(
    private readonly commit: (writes: W[], wait: boolean) => (Error | undefined)[],
    private readonly options: GroupCommitOptions,
  ) {
    this.retryDelayMs = options.retryDelayMs;
  }

  submit(write: W): Promise<void> {
    if (this.pending.length >= this.options.maxPending) {
      return Promise.reject(new StoreStalledError(`the store has not been able to write for ${this.stalledForMs} ms and ${this.pending.length} writes wait: refusing more`));
    }
    this.submitted++;
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      this.schedule();
    });
  }

  /** How long the store has been unable to commit (0 when it is writing). */
  get stalledForMs(): number {
    return this.stalledSinceMs === undefined ? 0 : this.options.now() - this.stalledSinceMs;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  /**
   * Resolves once every write submitted before this call has settled (committed or failed alone). Rejects
   * with StoreStalledError after `timeoutMs` if the store is stalled that long.
   */
  settled(timeoutMs: number): Promise<void> {
    if (this.settledCount >= this.submitted) return Promise.resolve();
    if (this.stalledSinceMs === undefined) {
      // The common case: the batch is only waiting for the end of this turn. Commit it now.
      this.run(false);
      if (this.settledCount >= this.submitted) return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { upTo: this.submitted, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new StoreStalledError(`the store has not been able to write for ${this.stalledForMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Closing: commit what is pending now, waiting for the lock if need be. */
  flushSync(): void {
    this.closed = true;
    this.run(true);
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => this.run(false));
  }

  private run(wait: boolean): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    let errors: (Error | undefined)[];
    const startedMs = performance.now();
    try {
      errors = this.commit(
        batch.map((p) => p.write),
        wait,
      );
      this.options.onCommit?.(performance.now() - startedMs, batch.length);
    } catch (err) {
      if (!wait && !this.closed && this.options.isTransient(err)) return this.retryLater(batch, err);
      for (const p of batch) p.reject(err);
      return this.settle(batch.length);
    }
    this.recovered();
    batch.forEach((p, i) => (errors[i] ? p.reject(errors[i]) : p.resolve()));
    this.settle(batch.length);
  }

  private settle(count: number): void {
    this.settledCount += count;
    const ready = this.waiters.filter((w) => w.upTo <= this.settledCount);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.settledCount);
    for (const w of ready) w.resolve();
  }

  private retryLater(batch: Pending<W>[], err: unknown): void {
    this.pending = batch.concat(this.pending);
    this.lastError = err;
    if (this.stalledSinceMs === undefined) {
      this.stalledSinceMs = this.options.now();
      this.options.onStall(err);
    }
    this.scheduled = true;
    setTimeout(() => this.run(false), this.retryDelayMs);
    this.retryDelayMs = Math.min(this.options.maxRetryDelayMs, this.retryDelayMs * 2);
  }

  private recovered(): void {
    this.retryDelayMs = this.options.retryDelayMs;
    if (this.stalledSinceMs === undefined) return;
    const stalledMs = this.stalledForMs;
    this.stalledSinceMs = undefined;
    this.lastError = undefined;
    this.options.onRecover(stalledMs);
  }
}

/**
 * Before a read: the writes submitted before it are committed (read-your-writes). While the store cannot
 * write, that wait ends after `readWaitMs` and the read sees what is committed: a slightly stale answer,
 * rather than a callback that misses Bandwidth's timeout. A stall that has already outlasted the wait is
 * known: waiting again would only add up, read after read in one callback (Bandwidth waits 15 s, BW §1.7).
 */
export async function readAfterWrites(writes: { stalledForMs: number; settled(timeoutMs: number): Promise<void> }, readWaitMs: number): Promise<void> {
  const waitMs = readWaitMs - writes.stalledForMs;
  if (waitMs <= 0) return;
  try {
    await writes.settled(waitMs);
  } catch (err) {
    if (!(err instanceof StoreStalledError)) throw err;
  }
}
