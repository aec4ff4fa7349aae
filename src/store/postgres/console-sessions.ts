import { CONSOLE_SESSION_SQL as SQL, consoleSessionFromRow, sessionsKept } from '../console-sessions-sql';
import type { ConsoleSessionInput, ConsoleSessionRecord, ConsoleSessionsRepository } from '../types';
import type { PgShared } from './shared';
import { one, run, unavailable } from './sql';

/**
 * Console sessions shared by every instance (store/types.ts ConsoleSessionsRepository; DESIGN §4.12): a
 * session created on one instance is found by the next request on any other, and a sign-out on one is seen by
 * the next request on all, because each request reads the row (one indexed read; nothing is cached). Outside
 * the call tables' write queue: a session's writes and reads do not wait behind call records.
 */
export class PgConsoleSessions implements ConsoleSessionsRepository {
  constructor(private readonly shared: PgShared) {}

  create(session: ConsoleSessionInput, options: { now: string; maxLive: number }): Promise<void> {
    return this.shared.transaction(async (tx) => {
      await run(tx, SQL.sweep, [options.now]);
      await run(tx, SQL.insert, [session.idHash, session.csrfToken, options.now, session.expiresAt]);
      await run(tx, SQL.evictBeyond, [sessionsKept(options.maxLive)]);
    });
  }

  async get(idHash: string, now: string): Promise<ConsoleSessionRecord | undefined> {
    const row = await one(this.shared.pool, SQL.get, [idHash, now]).catch((err: unknown) => Promise.reject(unavailable(err)));
    return row ? consoleSessionFromRow(row) : undefined;
  }

  async delete(idHash: string): Promise<boolean> {
    return (await run(this.shared.pool, SQL.delete, [idHash]).catch((err: unknown) => Promise.reject(unavailable(err)))) > 0;
  }

  sweep(now: string): Promise<number> {
    return run(this.shared.pool, SQL.sweep, [now]).catch((err: unknown) => Promise.reject(unavailable(err)));
  }

  async count(now: string): Promise<number> {
    const row = await one(this.shared.pool, SQL.count, [now]).catch((err: unknown) => Promise.reject(unavailable(err)));
    return Number(row?.n ?? 0);
  }
}
