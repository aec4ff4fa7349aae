import crypto from 'node:crypto';
import type { Clock } from '../clock';
import { CONSOLE_MAX_SESSIONS, CONSOLE_SESSION_ID_BYTES, CONSOLE_SESSION_TTL_MS } from '../constants';
import { safeEqual } from '../security/signing';

/**
 * Console sessions (docs/console.md, "Security model"): an opaque random id in an HttpOnly cookie names a
 * session held here, with its expiry and its CSRF token (the double-submit value of the `sb_csrf` cookie).
 * The cookie carries no meaning of its own, so signing out or expiry ends it at once. Held by this process:
 * a session does not follow a browser to another instance behind the same address (it signs in again).
 */
export interface ConsoleSession {
  id: string;
  csrfToken: string;
  expiresAtMs: number;
}

export class ConsoleSessions {
  /** Insertion order is creation order: the oldest is evicted first when the cap is reached. */
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number = CONSOLE_SESSION_TTL_MS,
    private readonly maxSessions: number = CONSOLE_MAX_SESSIONS,
  ) {}

  create(): ConsoleSession {
    this.sweep();
    while (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const session: ConsoleSession = {
      id: crypto.randomBytes(CONSOLE_SESSION_ID_BYTES).toString('base64url'),
      csrfToken: crypto.randomBytes(CONSOLE_SESSION_ID_BYTES).toString('base64url'),
      expiresAtMs: this.clock.wallNow() + this.ttlMs,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session an id names; undefined for an unknown or expired one (which is forgotten). */
  get(id: string | undefined): ConsoleSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAtMs <= this.clock.wallNow()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** Milliseconds until `session` expires (the cookie's Max-Age). */
  remainingMs(session: ConsoleSession): number {
    return Math.max(0, session.expiresAtMs - this.clock.wallNow());
  }

  /** True when `token` is this session's CSRF token (compared in constant time). */
  csrfMatches(session: ConsoleSession, token: string | undefined): boolean {
    return typeof token === 'string' && token.length > 0 && safeEqual(token, session.csrfToken);
  }

  delete(id: string | undefined): boolean {
    return id ? this.sessions.delete(id) : false;
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.clock.wallNow();
    for (const [id, s] of this.sessions) if (s.expiresAtMs <= now) this.sessions.delete(id);
  }
}
