import { StoreStalledError, type GroupCommitOptions } from '../group-commit';
import type { ChangedRow } from '../types';
import type { Tx } from './sql';

/**
 * One write to the call tables (a callback's legs and its event, an event, a transcript item, usage, a
 * context, a hand-off, a report's progress), all or nothing, with the changes it announces (NOTIFY, in its
 * own transaction: delivered only if it commits). It carries its own timestamp, taken when it was
 * submitted, and may run more than once (a batch that failed for a transient reason is run again).
 */
export interface PgWrite {
  /** Returns the changes to announce when the write itself found them out (it ran in the transaction); otherwise `changes` are. */
  run: (tx: Tx) => Promise<ChangedRow[] | void>;
  changes: ChangedRow[];
}

interface Pending {
  write: PgWrite;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Waiter {
  upTo: number;
  resolve: () => void;
}

/**
 * The PostgreSQL form of group-commit.ts's GroupCommit, with the same contract (docs/reliability.md, "the store
 * never stalls live calls"): writes submitted while a commit is under way are committed together by the next
 * one, in submission order, each in its own savepoint so one failing write fails alone; each submitter's
 * promise settles after its commit. A batch whose transaction failed for a reason that can pass (the server
 * down or restarting, the connection lost) is kept, in order, and tried again, backing off from
 * `retryDelayMs` to `maxRetryDelayMs`, while live calls go on; `stalledForMs` says for how long, for
 * readiness and the log. At most `maxPending` writes wait; past that new ones are refused at once.
 *
 * The difference is time: a PostgreSQL commit is a round trip, so commits run one at a time, asynchronously,
 * and `settled()` (read-your-writes) waits for the commit under way rather than running one inline.
 */
export class PgWriteQueue {
  private pending: Pending[] = [];
  private scheduled = false;
  private running = false;
  private submitted = 0;
  private settledCount = 0;
  private waiters: Waiter[] = [];
  private stalledSinceMs: number | undefined;
  private retryDelayMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  lastError: unknown;

  constructor(
    /** Commit the batch in one transaction: the error of each write that failed alone, in order; throws when the transaction failed. */
    private readonly commit: (writes: PgWrite[]) => Promise<(Error | undefined)[]>,
    private readonly options: GroupCommitOptions & { maxBatch: number },
  ) {
    this.retryDelayMs = options.retryDelayMs;
  }

  submit(write: PgWrite): Promise<void> {
    if (this.closed) return Promise.reject(new StoreStalledError('the store is closed'));
    if (this.pending.length >= this.options.maxPending) {
      return Promise.reject(new StoreStalledError(`the store has not been able to write for ${this.stalledForMs} ms and ${this.pending.length} writes wait: refusing more`));
    }
    this.submitted++;
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      this.schedule();
    });
  }

  get stalledForMs(): number {
    return this.stalledSinceMs === undefined ? 0 : this.options.now() - this.stalledSinceMs;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  /** Resolves once every write submitted before this call has settled; rejects with StoreStalledError after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void> {
    if (this.settledCount >= this.submitted) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { upTo: this.submitted, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new StoreStalledError(`the store has not been able to write for ${this.stalledForMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Closing: wait up to `timeoutMs` for what is pending to commit, then refuse the rest (the database has been
   * unreachable that long; the writes are lost, and said to be). Returns how many were refused.
   */
  async close(timeoutMs: number): Promise<number> {
    if (this.pending.length > 0 && !this.running) {
      // A retry waiting on its back-off: try now.
      clearTimeout(this.retryTimer);
      this.scheduled = false;
      this.schedule();
    }
    try {
      await this.settled(timeoutMs);
    } catch {
      // Reported below.
    }
    this.closed = true;
    clearTimeout(this.retryTimer);
    const refused = this.pending;
    this.pending = [];
    for (const p of refused) p.reject(new StoreStalledError('the store closed before this write could be committed'));
    this.settle(refused.length);
    return refused.length;
  }

  private schedule(delayMs?: number): void {
    if (this.scheduled || this.running || this.closed) return;
    this.scheduled = true;
    if (delayMs === undefined) setImmediate(() => void this.run());
    else this.retryTimer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    if (this.pending.length === 0 || this.running || this.closed) return;
    const batch = this.pending.splice(0, this.options.maxBatch);
    this.running = true;
    let errors: (Error | undefined)[];
    const startedMs = performance.now();
    try {
      errors = await this.commit(batch.map((p) => p.write));
      this.options.onCommit?.(performance.now() - startedMs, batch.length);
    } catch (err) {
      this.running = false;
      if (!this.closed && this.options.isTransient(err)) return this.retryLater(batch, err);
      for (const p of batch) p.reject(err);
      this.settle(batch.length);
      return this.schedule();
    }
    this.running = false;
    this.recovered();
    batch.forEach((p, i) => (errors[i] ? p.reject(errors[i]) : p.resolve()));
    this.settle(batch.length);
    if (this.pending.length > 0) this.schedule();
  }

  private settle(count: number): void {
    this.settledCount += count;
    const ready = this.waiters.filter((w) => w.upTo <= this.settledCount);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.settledCount);
    for (const w of ready) w.resolve();
  }

  private retryLater(batch: Pending[], err: unknown): void {
    this.pending = batch.concat(this.pending);
    this.lastError = err;
    if (this.stalledSinceMs === undefined) {
      this.stalledSinceMs = this.options.now();
      this.options.onStall(err);
    }
    this.schedule(this.retryDelayMs);
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
