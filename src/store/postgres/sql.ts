import type { PoolClient } from 'pg';
import { StoreStalledError } from '../group-commit';
import type { Row } from '../rows';

/** Something that runs SQL: the pool, or a client inside a transaction. */
export interface Queryable {
  query(sql: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
}
export type Tx = PoolClient;

const numbered = new Map<string, string>();

/**
 * The repositories write `?` placeholders, as the SQLite backend does (the shared list queries of rows.ts
 * are written once for both); PostgreSQL numbers them. None of our SQL has a `?` inside a literal.
 */
export function pgSql(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    numbered.set(sql, out);
  }
  return out;
}

export async function rows(db: Queryable, sql: string, args: unknown[] = []): Promise<Row[]> {
  return (await db.query(pgSql(sql), args)).rows;
}

export async function one(db: Queryable, sql: string, args: unknown[] = []): Promise<Row | undefined> {
  return (await db.query(pgSql(sql), args)).rows[0];
}

/** The number of rows a statement changed. */
export async function run(db: Queryable, sql: string, args: unknown[] = []): Promise<number> {
  return (await db.query(pgSql(sql), args)).rowCount ?? 0;
}

/** Node's network errors: the server cannot be reached (yet). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);
/** node-postgres' own words for a connection that broke or never came (it gives them no code). */
const LOST_CONNECTION = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|not queryable|Client was closed|Cannot use a pool after calling end/i;

/**
 * Failures that can pass: the server is down, restarting or unreachable, the connection broke, too many
 * connections, or the transaction lost a serialization race. Worth trying again later (the call tables'
 * writes are kept and retried); anything else is the write's own failure.
 *
 * SQLSTATE classes (PostgreSQL, Appendix A): 08 connection exception, 53 insufficient resources, 57P01–57P03
 * the server shutting down or starting, 40001/40P01 serialization failure and deadlock.
 */
export function isTransientPgError(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (NETWORK_CODES.has(code)) return true;
  if (/^(08|53)/.test(code) || /^57P0[123]$/.test(code) || code === '40001' || code === '40P01') return true;
  return code === '' && LOST_CONNECTION.test(String((err as { message?: unknown })?.message ?? ''));
}

/** A transient failure, as the rest of Switchboard knows it (the admin API answers it with 503). */
export function unavailable(err: unknown): unknown {
  return isTransientPgError(err) ? new StoreStalledError(`the database cannot be reached: ${(err as Error).message || String((err as { code?: unknown }).code)}`) : err;
}
