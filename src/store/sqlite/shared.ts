import type Database from 'better-sqlite3';
import { COMMIT_MAX_RETRY_DELAY_MS, COMMIT_RETRY_DELAY_MS, ROUTING_CACHE_MAX_ENTRIES } from '../../constants';
import { readAfterWrites, StoreStalledError, type GroupCommit } from '../group-commit';
import { RoutingCache } from '../routing-cache';
import type { CallTablesWrite } from './call-tables-commit';
import { LocalChangeFeed } from '../local-feeds';
import { isTransientSqliteError } from './errors';

/** A row as better-sqlite3 returns it. */
export type { Row } from '../rows';

export { nowIso } from '../rows';

/**
 * What every repository of one SqliteStore shares: its connection, its prepared statements, the call
 * tables' group commit, the wait for it before reads, and the routing cache that writes to agents,
 * destinations and numbers must clear.
 */
export class SqliteShared {
  /** Prepared statements, compiled once per SQL text (better-sqlite3 does not cache them itself). */
  private readonly statements = new Map<string, Database.Statement>();

  readonly routing: RoutingCache;

  /** Announces what the call tables' commits changed (one instance per SQLite store: in-process). */
  readonly changes = new LocalChangeFeed();

  constructor(
    readonly db: Database.Database,
    /** Writes to calls, events and transcripts, committed together per turn of the event loop. */
    readonly writes: GroupCommit<CallTablesWrite>,
    private readonly readWaitMs: number,
  ) {
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.routing = new RoutingCache(() => dataVersion.get() as number, ROUTING_CACHE_MAX_ENTRIES);
  }

  stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Before a read: the writes submitted before it (group-commit.ts, readAfterWrites). */
  readable(): Promise<void> {
    return readAfterWrites(this.writes, this.readWaitMs);
  }

  /** Run a write to agents, destinations or numbers; the routing cache forgets what it knew, whatever the outcome. */
  routingWrite<T>(write: () => T): Promise<T> {
    return this.write(() => {
      try {
        return write();
      } finally {
        this.routing.clear();
      }
    });
  }

  /**
   * Run a write outside the call tables' group commit (the admin API's, a console sign-in's), after the writes
   * submitted before it. Another process holding the write lock makes it try again later, without holding up
   * the event loop, for at most the read wait.
   */
  async write<T>(write: () => T): Promise<T> {
    const deadline = Date.now() + this.readWaitMs;
    for (let delayMs = COMMIT_RETRY_DELAY_MS; ; delayMs = Math.min(COMMIT_MAX_RETRY_DELAY_MS, delayMs * 2)) {
      await this.readable();
      try {
        return write();
      } catch (err) {
        if (!isTransientSqliteError(err)) throw err;
        if (Date.now() + delayMs > deadline) throw new StoreStalledError(`the store cannot write: ${(err as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
