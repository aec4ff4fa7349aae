import type { IncomingMessage } from 'node:http';
import { safeEqual } from '../security/signing';
import { CSRF_COOKIE, CSRF_HEADER, parseCookies, SESSION_COOKIE } from './cookies';
import type { ConsoleSession, ConsoleSessions } from './sessions';

/**
 * Who may use the admin API (DESIGN §4.5; docs/console.md, "Security model"): a client with the bearer
 * token, or a browser with a console session. A session rides on a cookie the browser sends by itself, so
 * a state-changing request with it must also prove it came from our own pages: header `x-csrf-token`
 * equal to the `sb_csrf` cookie (double submit) and to the session's own token. A bearer request is
 * unchanged: a browser never adds an Authorization header by itself. A session is read from the store on every
 * request (sessions.ts), so the verdict is the same on every instance sharing it.
 */
export type AccessResult =
  | { ok: true; via: 'bearer' }
  | { ok: true; via: 'session'; session: ConsoleSession }
  | { ok: false; status: 401 | 403; code: 'unauthorized' | 'csrf_failed'; message: string; reason: string };

/** Methods that change nothing (RFC 9110 §9.2.1): no CSRF token needed. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class AdminAccess {
  constructor(
    private readonly adminToken: string,
    readonly sessions: ConsoleSessions,
  ) {}

  /** True when `token` is the admin token (constant-time). */
  tokenMatches(token: string): boolean {
    return safeEqual(token, this.adminToken);
  }

  /** The live console session a request's cookie names, if any (one read of the store, sessions.ts). */
  sessionOf(req: IncomingMessage): Promise<ConsoleSession | undefined> {
    return this.sessions.get(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
  }

  /** Settles with the verdict; rejects (code `unavailable`) when the store cannot say whether a session is live. */
  async check(req: IncomingMessage): Promise<AccessResult> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (m && this.tokenMatches(m[1]!.trim())) return { ok: true, via: 'bearer' };
      return { ok: false, status: 401, code: 'unauthorized', reason: m ? 'wrong admin token' : 'no admin token', message: m ? 'wrong admin token' : 'admin token required: Authorization: Bearer <ADMIN_TOKEN>' };
    }
    const cookies = parseCookies(req.headers.cookie);
    const sessionId = cookies.get(SESSION_COOKIE);
    if (sessionId === undefined) {
      return { ok: false, status: 401, code: 'unauthorized', reason: 'no admin token', message: 'admin token required: Authorization: Bearer <ADMIN_TOKEN>, or sign in at /console/sign-in' };
    }
    const session = await this.sessions.get(sessionId);
    if (!session) {
      return { ok: false, status: 401, code: 'unauthorized', reason: 'unknown or expired console session', message: 'console session unknown or expired: sign in again at /console/sign-in' };
    }
    if (!SAFE_METHODS.has((req.method ?? 'GET').toUpperCase())) {
      const sent = req.headers[CSRF_HEADER];
      const token = Array.isArray(sent) ? sent[0] : sent;
      if (!token) return csrfRefusal('no csrf token', `${CSRF_HEADER} header required: a ${req.method} with the console session must carry the ${CSRF_COOKIE} cookie's value in ${CSRF_HEADER}`);
      const cookie = cookies.get(CSRF_COOKIE);
      if (!cookie || !safeEqual(token, cookie)) return csrfRefusal('csrf token mismatch', `${CSRF_HEADER} does not match the ${CSRF_COOKIE} cookie`);
      if (!this.sessions.csrfMatches(session, token)) return csrfRefusal('csrf token of another session', `${CSRF_HEADER} does not belong to this console session: reload the page`);
    }
    return { ok: true, via: 'session', session };
  }
}

function csrfRefusal(reason: string, message: string): AccessResult {
  return { ok: false, status: 403, code: 'csrf_failed', reason, message };
}
