import { StoreStalledError, WriteBacklog, type GroupCommitOptions, type PendingWrite } from '../write-backlog';
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
export class PgWriteQueue extends WriteBacklog<PgWrite> {
  private scheduled = false;
  private running = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly maxBatch: number;

  constructor(
    /** Commit the batch in one transaction: the error of each write that failed alone, in order; throws when the transaction failed. */
    private readonly commit: (writes: PgWrite[]) => Promise<(Error | undefined)[]>,
    options: GroupCommitOptions & { maxBatch: number },
  ) {
    super(options);
    this.maxBatch = options.maxBatch;
  }

  protected override refusal(): string | undefined {
    return this.closed ? 'the store is closed' : undefined;
  }

  /** Resolves once every write submitted before this call has settled; rejects with StoreStalledError after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void> {
    return this.waitForSettled(timeoutMs);
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
    this.failed(refused, new StoreStalledError('the store closed before this write could be committed'));
    return refused.length;
  }

  protected schedule(delayMs?: number): void {
    if (this.scheduled || this.running || this.closed) return;
    this.scheduled = true;
    if (delayMs === undefined) setImmediate(() => void this.run());
    else this.retryTimer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    if (this.pending.length === 0 || this.running || this.closed) return;
    const batch: PendingWrite<PgWrite>[] = this.pending.splice(0, this.maxBatch);
    this.running = true;
    let errors: (Error | undefined)[];
    const startedMs = performance.now();
    try {
      errors = await this.commit(batch.map((p) => p.write));
      this.options.onCommit?.(performance.now() - startedMs, batch.length);
    } catch (err) {
      this.running = false;
      if (!this.closed && this.options.isTransient(err)) return this.schedule(this.keepForRetry(batch, err));
      this.failed(batch, err);
      return this.schedule();
    }
    this.running = false;
    this.committed(batch, errors);
    if (this.pending.length > 0) this.schedule();
  }
}
