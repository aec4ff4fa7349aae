import type { Row } from './rows';
import type { ConsoleSessionRecord } from './types';

/**
 * The console sessions table's statements, the same text for both backends (`?` placeholders: PostgreSQL
 * numbers them, postgres/sql.ts). Every read and delete goes through the unique index on id_hash, the sweep
 * through the one on expires_at: one indexed statement per request.
 */
export const CONSOLE_SESSION_SQL = {
  insert: 'INSERT INTO console_sessions (id_hash, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?)',
  get: 'SELECT id_hash, csrf_token, created_at, expires_at FROM console_sessions WHERE id_hash = ? AND expires_at > ?',
  delete: 'DELETE FROM console_sessions WHERE id_hash = ?',
  sweep: 'DELETE FROM console_sessions WHERE expires_at <= ?',
  /** Keep the newest N (the OFFSET): everything from the (N+1)th newest down goes; nothing when there are at most N. */
  evictBeyond: 'DELETE FROM console_sessions WHERE seq <= (SELECT seq FROM console_sessions ORDER BY seq DESC LIMIT 1 OFFSET ?)',
  count: 'SELECT COUNT(*) AS n FROM console_sessions WHERE expires_at > ?',
} as const;

/** The cap as the eviction statement takes it: a store always keeps the session it has just created. */
export function sessionsKept(maxLive: number): number {
  return Math.max(1, Math.floor(maxLive));
}

export function consoleSessionFromRow(row: Row): ConsoleSessionRecord {
  return { idHash: String(row.id_hash), csrfToken: String(row.csrf_token), createdAt: String(row.created_at), expiresAt: String(row.expires_at) };
}
