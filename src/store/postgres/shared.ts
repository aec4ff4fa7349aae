import type { Pool } from 'pg';
import { readAfterWrites } from '../group-commit';
import { LocalChangeFeed } from '../local-feeds';
import type { Row } from '../rows';
import type { ChangedRow } from '../types';
import type { ChangeAnnouncer } from './notifications';
import { one, rows, unavailable, type Tx } from './sql';
import type { PgWriteQueue } from './write-queue';

/**
 * What every repository of one PostgresStore shares: the pool, the call tables' write queue and the wait for
 * it before reads (read-your-writes), and the change feed its listener fills (NOTIFYed by commits on every
 * instance, this one included).
 */
export class PgShared {
  readonly changes = new LocalChangeFeed();

  constructor(
    readonly pool: Pool,
    readonly writes: PgWriteQueue,
    private readonly readWaitMs: number,
    /** This store object's NOTIFYs (notifications.ts): its listener tells its own commits from the others'. */
    readonly announcer: ChangeAnnouncer,
  ) {}

  /** Queue a write to the call tables; it settles once committed (and its changes announced on commit). */
  submit(run: (tx: Tx) => Promise<ChangedRow[] | void>, changes: ChangedRow[] = []): Promise<void> {
    return this.writes.submit({ run, changes });
  }

  /** Before a read: the writes submitted before it (group-commit.ts, readAfterWrites). */
  readable(): Promise<void> {
    return readAfterWrites(this.writes, this.readWaitMs);
  }

  async rows(sql: string, args: unknown[] = []): Promise<Row[]> {
    await this.readable();
    return rows(this.pool, sql, args).catch((err: unknown) => Promise.reject(unavailable(err)));
  }

  async one(sql: string, args: unknown[] = []): Promise<Row | undefined> {
    await this.readable();
    return one(this.pool, sql, args).catch((err: unknown) => Promise.reject(unavailable(err)));
  }

  /** One transaction outside the write queue (the admin API's writes, the close-out at start): it fails at once when the database is unreachable. */
  async transaction<T>(work: (tx: Tx) => Promise<T>, changes: (result: T) => ChangedRow[] = () => []): Promise<T> {
    await this.readable();
    let client: Tx;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await this.announcer.notify(client, changes(result));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => (broken = rollbackErr));
      throw unavailable(err);
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }
}
