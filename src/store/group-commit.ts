import { WriteBacklog, StoreStalledError, type GroupCommitOptions } from './write-backlog';

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
export { StoreStalledError, type CommitObserver, type GroupCommitOptions } from './write-backlog';

export class GroupCommit<W> extends WriteBacklog<W> {
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly commit: (writes: W[], wait: boolean) => (Error | undefined)[],
    options: GroupCommitOptions,
  ) {
    super(options);
  }

  /**
   * Resolves once every write submitted before this call has settled (committed or failed alone). Rejects
   * with StoreStalledError after `timeoutMs` if the store is stalled that long.
   */
  settled(timeoutMs: number): Promise<void> {
    if (this.allSettled) return Promise.resolve();
    if (this.stalledSinceMs === undefined) {
      // The common case: the batch is only waiting for the end of this turn. Commit it now.
      this.run(false);
    }
    return this.waitForSettled(timeoutMs);
  }

  /** Closing: commit what is pending now, waiting for the lock if need be. */
  flushSync(): void {
    this.closed = true;
    this.run(true);
  }

  protected schedule(): void {
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
      if (!wait && !this.closed && this.options.isTransient(err)) {
        this.scheduled = true;
        setTimeout(() => this.run(false), this.keepForRetry(batch, err));
        return;
      }
      return this.failed(batch, err);
    }
    this.committed(batch, errors);
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
