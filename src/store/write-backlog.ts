import { SwitchboardError } from '../errors';

/**
 * What every queue of store writes keeps, whatever commits it (the SQLite group commit, group-commit.ts; the
 * PostgreSQL write queue, postgres/write-queue.ts): the writes waiting in submission order, each submitter's
 * promise, how many have settled (read-your-writes waits on that count), and the stall: since when the store
 * could not commit, the back-off before the next try, and the stall and recovery reported once each
 * (docs/reliability.md, "the store never stalls live calls").
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

/** The store could not write in time; the admin API answers it with 503. */
export class StoreStalledError extends SwitchboardError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'StoreStalledError';
  }
}

export interface PendingWrite<W> {
  write: W;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Waiter {
  /** Resolves once this many writes (counted from the start) have settled. */
  upTo: number;
  resolve: () => void;
}

export abstract class WriteBacklog<W> {
  protected pending: PendingWrite<W>[] = [];
  protected submitted = 0;
  protected settledCount = 0;
  protected stalledSinceMs: number | undefined;
  /** The wait before the next try of a batch that failed for a reason that may pass; doubles while it keeps failing. */
  protected retryDelayMs: number;
  private waiters: Waiter[] = [];
  lastError: unknown;

  constructor(protected readonly options: GroupCommitOptions) {
    this.retryDelayMs = options.retryDelayMs;
  }

  /** Start committing what is pending (now or soon: the subclass's rhythm). */
  protected abstract schedule(): void;

  /** Refused at once when the store is closed (the reason) or `maxPending` writes already wait. */
  protected refusal(): string | undefined {
    return undefined;
  }

  submit(write: W): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(new StoreStalledError(refused));
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

  /** True when every write submitted so far has settled. */
  protected get allSettled(): boolean {
    return this.settledCount >= this.submitted;
  }

  /** Resolves once every write submitted before this call has settled; rejects with StoreStalledError after `timeoutMs`. */
  protected waitForSettled(timeoutMs: number): Promise<void> {
    if (this.allSettled) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { upTo: this.submitted, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new StoreStalledError(`the store has not been able to write for ${this.stalledForMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** A batch committed: each write's own outcome (`errors[i]`, or none), the back-off reset, a stall ended. */
  protected committed(batch: PendingWrite<W>[], errors: (Error | undefined)[]): void {
    this.recovered();
    batch.forEach((p, i) => (errors[i] ? p.reject(errors[i]) : p.resolve()));
    this.settle(batch.length);
  }

  /** A batch that cannot be committed at all (a failure that will not pass, or the store closing). */
  protected failed(batch: PendingWrite<W>[], err: unknown): void {
    for (const p of batch) p.reject(err);
    this.settle(batch.length);
  }

  /** A batch failed for a reason that may pass: kept at the front, in order. Returns the delay before the next try. */
  protected keepForRetry(batch: PendingWrite<W>[], err: unknown): number {
    this.pending = batch.concat(this.pending);
    this.lastError = err;
    if (this.stalledSinceMs === undefined) {
      this.stalledSinceMs = this.options.now();
      this.options.onStall(err);
    }
    const delayMs = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.options.maxRetryDelayMs, this.retryDelayMs * 2);
    return delayMs;
  }

  protected settle(count: number): void {
    this.settledCount += count;
    const ready = this.waiters.filter((w) => w.upTo <= this.settledCount);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.settledCount);
    for (const w of ready) w.resolve();
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
