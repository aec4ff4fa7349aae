import crypto from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock';
import { CONSOLE_MAX_SESSIONS, CONSOLE_SESSION_ID_BYTES, CONSOLE_SESSION_TTL_MS } from '../constants';
import { safeEqual } from '../security/signing';
import type { ConsoleSessionsRepository } from '../store/types';

/**
 * Console sessions (docs/console.md, "Security model"): an opaque random id in an HttpOnly cookie names a
 * session held by the store, with its expiry and its CSRF token (the double-submit value of the `sb_csrf`
 * cookie). The cookie carries no meaning of its own, so signing out or expiry ends it at once. The store is
 * shared by every instance (DESIGN §4.12), and every check reads it (nothing is cached here): a browser stays
 * signed in whichever instance answers it, and a sign-out on one instance is refused by the next request on
 * any other. The store keeps only the SHA-256 of the id, so a copy of the database opens no session.
 */
export interface ConsoleSession {
  id: string;
  csrfToken: string;
  expiresAtMs: number;
}

/** What create() makes: base64url of CONSOLE_SESSION_ID_BYTES random bytes, unpadded. */
const sessionIdSchema = z.string().length(Math.ceil((CONSOLE_SESSION_ID_BYTES * 4) / 3)).regex(/^[A-Za-z0-9_-]+$/);

/** The stored name of a session id: its SHA-256 (a random 256-bit id needs no salt or slow hash). */
export function sessionIdHash(id: string): string {
  return crypto.createHash('sha256').update(id).digest('base64url');
}

export class ConsoleSessions {
  constructor(
    private readonly store: ConsoleSessionsRepository,
    private readonly clock: Clock,
    private readonly ttlMs: number = CONSOLE_SESSION_TTL_MS,
    private readonly maxSessions: number = CONSOLE_MAX_SESSIONS,
  ) {}

  /** A new session, committed to the store before it is returned (the cookie may go out); the oldest beyond the cap are evicted. */
  async create(): Promise<ConsoleSession> {
    const nowMs = this.clock.wallNow();
    const session: ConsoleSession = {
      id: crypto.randomBytes(CONSOLE_SESSION_ID_BYTES).toString('base64url'),
      csrfToken: crypto.randomBytes(CONSOLE_SESSION_ID_BYTES).toString('base64url'),
      expiresAtMs: nowMs + this.ttlMs,
    };
    await this.store.create(
      { idHash: sessionIdHash(session.id), csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAtMs).toISOString() },
      { now: new Date(nowMs).toISOString(), maxLive: this.maxSessions },
    );
    return session;
  }

  /** The live session an id names; undefined for an unknown, ended or expired one, or a value no session could have. */
  async get(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (!sessionIdSchema.safeParse(id).success) return undefined;
    const record = await this.store.get(sessionIdHash(id!), this.nowIso());
    return record ? { id: id!, csrfToken: record.csrfToken, expiresAtMs: Date.parse(record.expiresAt) } : undefined;
  }

  /** Milliseconds until `session` expires (the cookie's Max-Age). */
  remainingMs(session: ConsoleSession): number {
    return Math.max(0, session.expiresAtMs - this.clock.wallNow());
  }

  /** True when `token` is this session's CSRF token (compared in constant time). */
  csrfMatches(session: ConsoleSession, token: string | undefined): boolean {
    return typeof token === 'string' && token.length > 0 && safeEqual(token, session.csrfToken);
  }

  /** End a session on every instance (sign-out); true when there was one. */
  async delete(id: string | undefined): Promise<boolean> {
    if (!sessionIdSchema.safeParse(id).success) return false;
    return this.store.delete(sessionIdHash(id!));
  }

  /** How many sessions are live now, on every instance. */
  count(): Promise<number> {
    return this.store.count(this.nowIso());
  }

  private nowIso(): string {
    return new Date(this.clock.wallNow()).toISOString();
  }
}
