import type Database from 'better-sqlite3';
import { COMMIT_MAX_RETRY_DELAY_MS, COMMIT_RETRY_DELAY_MS, STORE_LOOP_BUSY_TIMEOUT_MS, STORE_MAX_PENDING_WRITES } from '../../constants';
import { GroupCommit, type CommitObserver } from '../group-commit';
import type { StoreHealth } from '../health';
import { isTransientSqliteError } from './errors';

/**
 * One write to the call tables (a callback's legs and its event, an event, a transcript item, usage),
 * all or nothing; it carries its own timestamp, taken when it was submitted.
 */
export type CallTablesWrite = () => void;

/** The group commit of the call tables' writes on `db` (docs/reliability.md, "the store never stalls live calls"). */
export function callTablesCommit(db: Database.Database, health: StoreHealth, onCommit?: CommitObserver): GroupCommit<CallTablesWrite> {
  // One write is all or nothing; inside a batch's transaction it is a savepoint.
  const writeOne = db.transaction((write: CallTablesWrite) => write());
  const writeBatch = db.transaction((writes: CallTablesWrite[]) =>
    writes.map((write) => {
      try {
        writeOne(write);
        return undefined;
      } catch (err) {
        // A full disk or an I/O error is the store's, not this write's (and SQLite may have rolled the
        // whole transaction back): fail the batch, so that it is kept and tried again.
        if (isTransientSqliteError(err)) throw err;
        return err instanceof Error ? err : new Error(String(err));
      }
    }),
  );
  const noLockWait = db.prepare('PRAGMA busy_timeout = 0');
  const loopLockWait = db.prepare(`PRAGMA busy_timeout = ${STORE_LOOP_BUSY_TIMEOUT_MS}`);
  // BEGIN IMMEDIATE: a taken write lock shows at BEGIN, before any write's savepoint, and fails the batch as a whole.
  // On the event loop a commit never waits for the lock (the batch is retried later instead); only close() does.
  return new GroupCommit<CallTablesWrite>(
    (writes, wait) => {
      if (!wait) noLockWait.get();
      try {
        if (writes.length > 1) return writeBatch.immediate(writes);
        writeOne.immediate(writes[0]!);
        return [undefined];
      } finally {
        if (!wait) loopLockWait.get();
      }
    },
    {
      isTransient: isTransientSqliteError,
      retryDelayMs: COMMIT_RETRY_DELAY_MS,
      maxRetryDelayMs: COMMIT_MAX_RETRY_DELAY_MS,
      maxPending: STORE_MAX_PENDING_WRITES,
      now: Date.now,
      onStall: (err) => health.stalled(err),
      onRecover: (stalledMs) => health.recovered(stalledMs),
      onCommit,
    },
  );
}
