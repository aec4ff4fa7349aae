import type { Pool } from 'pg';
import { COMMIT_MAX_RETRY_DELAY_MS, COMMIT_RETRY_DELAY_MS, PG_MAX_BATCH_WRITES, STORE_MAX_PENDING_WRITES } from '../../constants';
import type { CommitObserver } from '../group-commit';
import type { StoreHealth } from '../health';
import type { ChangeAnnouncer } from './notifications';
import { isTransientPgError } from './sql';
import { PgWriteQueue, type PgWrite } from './write-queue';

/**
 * The write queue of the call tables on `pool` (docs/reliability.md, "the store never stalls live calls"): one
 * transaction per batch, each write in a savepoint with its NOTIFY, so a write that fails leaves nothing of
 * itself behind (nor an announcement) and the others commit. A failure of the connection or the server fails
 * the batch as a whole, and the queue keeps it for a later try.
 */
export function callTablesQueue(pool: Pool, health: StoreHealth, announcer: ChangeAnnouncer, onCommit?: CommitObserver): PgWriteQueue {
  const commit = async (writes: PgWrite[]): Promise<(Error | undefined)[]> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const errors: (Error | undefined)[] = [];
      for (const write of writes) {
        await client.query('SAVEPOINT w');
        try {
          // A write that finds out what it changed (which leg it ended) says so; others announce what they were given.
          const changes = (await write.run(client)) ?? write.changes;
          await announcer.notify(client, changes);
          await client.query('RELEASE SAVEPOINT w');
          errors.push(undefined);
        } catch (err) {
          // The server's failure, not this write's: fail the batch, so that it is kept and tried again.
          if (isTransientPgError(err)) throw err;
          await client.query('ROLLBACK TO SAVEPOINT w');
          await client.query('RELEASE SAVEPOINT w');
          errors.push(err instanceof Error ? err : new Error(String(err)));
        }
      }
      await client.query('COMMIT');
      return errors;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      if (isTransientPgError(err)) broken ??= err as Error;
      throw err;
    } finally {
      // A connection that failed goes: the pool opens a fresh one for the retry.
      client.release(broken);
    }
  };
  return new PgWriteQueue(commit, {
    isTransient: isTransientPgError,
    retryDelayMs: COMMIT_RETRY_DELAY_MS,
    maxRetryDelayMs: COMMIT_MAX_RETRY_DELAY_MS,
    maxPending: STORE_MAX_PENDING_WRITES,
    maxBatch: PG_MAX_BATCH_WRITES,
    now: Date.now,
    onStall: (err) => health.stalled(err),
    onRecover: (stalledMs) => health.recovered(stalledMs),
    onCommit,
  });
}
