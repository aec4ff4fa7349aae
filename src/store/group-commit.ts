/**
 * Group commit: writes submitted during one turn of the event loop are committed together, in one
 * transaction, at the end of that turn (setImmediate); each submitter's promise settles after that
 * commit, so nothing is acknowledged before it is written. Under load one WAL commit then carries many
 * callbacks: pages they share (the tails of the append-mostly tables and indexes) are written once per
 * commit instead of once per callback, and checkpoints come that much less often.
 *
 * `commit` applies every write (each in its own savepoint, so one failing write fails alone) and returns,
 * in order, the error of each write that failed; it throws when the transaction as a whole failed.
 * flush() commits whatever is pending now: the store calls it before any other use of the tables these
 * writes touch, so reads see every write submitted before them, and writes keep their order.
 */
export class GroupCommit<W> {
  private pending: { write: W; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly commit: (writes: W[]) => (Error | undefined)[]) {}

  submit(write: W): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    let errors: (Error | undefined)[];
    try {
      errors = this.commit(batch.map((p) => p.write));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => (errors[i] ? p.reject(errors[i]) : p.resolve()));
  }
}
