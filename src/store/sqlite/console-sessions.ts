import { CONSOLE_SESSION_SQL as SQL, consoleSessionFromRow, sessionsKept } from '../console-sessions-sql';
import type { ConsoleSessionInput, ConsoleSessionRecord, ConsoleSessionsRepository } from '../types';
import type { Row, SqliteShared } from './shared';

/**
 * Console sessions in SQLite (store/types.ts ConsoleSessionsRepository). Outside the call tables' group commit:
 * a sign-in or sign-out is answered once its own write has committed. A read is one indexed statement.
 */
export class SqliteConsoleSessions implements ConsoleSessionsRepository {
  constructor(private readonly shared: SqliteShared) {}

  create(session: ConsoleSessionInput, options: { now: string; maxLive: number }): Promise<void> {
    return this.shared.write(
      this.shared.db.transaction(() => {
        this.shared.stmt(SQL.sweep).run(options.now);
        this.shared.stmt(SQL.insert).run(session.idHash, session.csrfToken, options.now, session.expiresAt);
        this.shared.stmt(SQL.evictBeyond).run(sessionsKept(options.maxLive));
      }),
    );
  }

  async get(idHash: string, now: string): Promise<ConsoleSessionRecord | undefined> {
    const row = this.shared.stmt(SQL.get).get(idHash, now) as Row | undefined;
    return row ? consoleSessionFromRow(row) : undefined;
  }

  delete(idHash: string): Promise<boolean> {
    return this.shared.write(() => this.shared.stmt(SQL.delete).run(idHash).changes > 0);
  }

  sweep(now: string): Promise<number> {
    return this.shared.write(() => this.shared.stmt(SQL.sweep).run(now).changes);
  }

  async count(now: string): Promise<number> {
    return Number((this.shared.stmt(SQL.count).get(now) as Row).n);
  }
}
