import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { errorResponse } from '../api/router';
import { CONSOLE_SIGN_IN_BODY_MAX_BYTES } from '../constants';
import type { Logger } from '../log';
import { isOwnOrigin } from '../security/own-origin';
import type { SecurityEvents } from '../security/security-events';
import type { AdminAccess } from './access';
import { CSRF_COOKIE, parseCookies, serializeCookie, SESSION_COOKIE } from './cookies';
import { consoleHeaders, escapeHtml, safeNext } from './pages';
import type { SignInLimiter } from './sign-in-limiter';

/**
 * The operator's console at /console (docs/console.md): static pages and ES modules from `assetsDir`
 * (shipped in the package, no build step, no CDN), served only to a signed-in browser. The pages hold no
 * data: they read and change everything through the admin API (/api/...) with the session cookie and the
 * CSRF token. Only the sign-in page and the stylesheet are served without a session.
 */
export interface ConsoleDeps {
  access: AdminAccess;
  limiter: SignInLimiter;
  assetsDir: string;
  /** PUBLIC_BASE_URL: its origin is the console's own (sign-in form), and when it is https the cookies are Secure. */
  publicBaseUrl: string;
  security: SecurityEvents;
  logger: Logger;
}

/** Console page → its HTML file in assetsDir. `/calls/:id` is the call detail page. */
const PAGES: Readonly<Record<string, string>> = {
  '/live': 'live.html',
  '/calls': 'calls.html',
  '/agents': 'agents.html',
  '/test-call': 'test-call.html',
};

const ASSET_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** Served without a session: what the sign-in page itself needs (it holds no data). */
const PUBLIC_ASSETS = new Set(['console.css']);

const signInForm = z.object({
  token: z.string().trim().min(1, 'token: enter the admin token').max(1024, 'token: too long to be an admin token'),
  next: z.string().max(512).optional(),
});

export function consoleRouter(d: ConsoleDeps): Router {
  const router = express.Router();
  /**
   * Over https: directly (TLS on this server), or published at an https PUBLIC_BASE_URL. Not decided by the Host
   * header, which a reverse proxy may rewrite to its upstream's address (nginx's default) while the browser
   * is on https all the same; a browser on http://localhost keeps Secure cookies (localhost is a secure context).
   */
  const publicHttps = parseUrl(d.publicBaseUrl)?.protocol === 'https:';
  const secure = (req: Request) => req.secure || publicHttps;
  /** No Origin header (an older browser, curl), or this server's own (isOwnOrigin). */
  const sameOrigin = (req: Request) => req.headers.origin === undefined || isOwnOrigin(req.headers.origin, req.headers.host, d.publicBaseUrl);

  router.use((_req, res, next) => {
    consoleHeaders(res);
    next();
  });

  const signInPage = async (res: Response, status: number, options: { next?: string; message?: string } = {}) => {
    const template = await fs.promises.readFile(path.join(d.assetsDir, 'sign-in.html'), 'utf8');
    const message = options.message ? `<p class="error" id="sign-in-error" role="alert">${escapeHtml(options.message)}</p>` : '';
    // Replacer functions: a `$` in the values must not be read as a replacement pattern.
    res.status(status).type('text/html; charset=utf-8').send(template.replace('{{next}}', () => escapeHtml(safeNext(options.next))).replace('{{message}}', () => message));
  };

  router.get('/sign-in', async (req, res, next) => {
    try {
      if (await d.access.sessionOf(req)) return res.redirect(303, safeNext(req.query.next));
      await signInPage(res, 200, { next: typeof req.query.next === 'string' ? req.query.next : undefined });
    } catch (err) {
      next(err);
    }
  });

  // The form is read before anyone is authenticated: a body it cannot read (too large, an unknown charset) is the
  // client's mistake, answered with its reason and logged as a refusal, not passed on as a server failure.
  const readForm = express.urlencoded({ extended: false, limit: CONSOLE_SIGN_IN_BODY_MAX_BYTES });
  const readSignInForm = (req: Request, res: Response, next: NextFunction) =>
    readForm(req, res, (err?: unknown) => {
      if (err === undefined) return next();
      const refusal = unreadableForm(err);
      if (!refusal) return next(err);
      d.security.refused('console', refusal.reason);
      if (req.accepts(['html', 'json']) === 'json') return void res.status(refusal.status).json({ error: { code: 'invalid_request', message: refusal.message } });
      signInPage(res, refusal.status, { message: refusal.message }).catch(next);
    });

  router.post('/sign-in', readSignInForm, async (req, res, next) => {
    try {
      // A form posted from another site would sign this browser in with someone else's token (login CSRF).
      if (!sameOrigin(req)) {
        d.security.refused('console', 'sign-in from another origin');
        return await signInPage(res, 403, { message: 'sign-in refused: the form was posted from another site' });
      }
      const client = req.socket.remoteAddress ?? 'unknown';
      const waitMs = d.limiter.retryAfterMs(client);
      if (waitMs > 0) {
        d.security.refused('console', 'too many failed sign-ins');
        res.setHeader('Retry-After', String(Math.ceil(waitMs / 1000)));
        return await signInPage(res, 429, { message: `too many failed sign-ins: try again in ${Math.ceil(waitMs / 1000)} s` });
      }
      const form = signInForm.safeParse(req.body ?? {});
      if (!form.success) return await signInPage(res, 400, { message: form.error.issues.map((i) => i.message).join('; ') });
      if (!d.access.tokenMatches(form.data.token)) {
        d.limiter.failed(client);
        d.security.refused('console', 'wrong admin token');
        return await signInPage(res, 401, { next: form.data.next, message: 'wrong admin token: use the ADMIN_TOKEN printed at first start (switchboard credentials shows where it is)' });
      }
      d.limiter.succeeded(client);
      // A fresh id at every sign-in (no fixation), and the one the browser had before is dropped.
      await d.access.sessions.delete(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
      const session = await d.access.sessions.create();
      const maxAgeS = d.access.sessions.remainingMs(session) / 1000;
      res.setHeader('Set-Cookie', [
        serializeCookie(SESSION_COOKIE, session.id, { httpOnly: true, secure: secure(req), maxAgeS }),
        serializeCookie(CSRF_COOKIE, session.csrfToken, { httpOnly: false, secure: secure(req), maxAgeS }),
      ]);
      d.logger.info('console: signed in');
      res.redirect(303, safeNext(form.data.next));
    } catch (err) {
      next(err);
    }
  });

  router.post('/sign-out', async (req, res, next) => {
    try {
      const result = await d.access.check(req);
      if (!result.ok && result.status === 403) {
        d.security.refused('console', result.reason);
        res.status(403).json({ error: { code: result.code, message: result.message } });
        return;
      }
      // Deleted from the shared store before the answer: every instance refuses the session from now on.
      if (result.ok && result.via === 'session') await d.access.sessions.delete(result.session.id);
      res.setHeader('Set-Cookie', [
        serializeCookie(SESSION_COOKIE, '', { httpOnly: true, secure: secure(req), maxAgeS: 0 }),
        serializeCookie(CSRF_COOKIE, '', { httpOnly: false, secure: secure(req), maxAgeS: 0 }),
      ]);
      res.status(204).end();
    } catch (err) {
      next(err);
    }
  });

  router.get('/assets/:name', async (req, res, next) => {
    try {
      const name = req.params.name;
      const type = ASSET_TYPES[path.extname(name)];
      if (!type || !/^[a-z0-9][a-z0-9.-]*$/.test(name)) return notFound(res, `no console asset ${name}`);
      if (!PUBLIC_ASSETS.has(name) && !(await d.access.sessionOf(req))) return signInRequired(res);
      const body = await readIfExists(path.join(d.assetsDir, name));
      if (body === undefined) return notFound(res, `no console asset ${name}`);
      res.type(type).send(body);
    } catch (err) {
      next(err);
    }
  });

  // Everything below needs a session: a browser without one gets the sign-in page, which brings it back here.
  router.use(async (req, res, next) => {
    try {
      if (await d.access.sessionOf(req)) return next();
      if (req.method !== 'GET' && req.method !== 'HEAD') return signInRequired(res);
      const hadCookie = parseCookies(req.headers.cookie).has(SESSION_COOKIE);
      await signInPage(res, 401, { next: req.originalUrl, message: hadCookie ? 'your console session has ended: sign in again' : undefined });
    } catch (err) {
      next(err);
    }
  });

  router.get('/', (_req, res) => res.redirect(303, '/console/live'));
  router.get('/calls/:id', (req, res, next) => void sendPage(res, 'call.html', `no page ${req.path}`).catch(next));
  for (const [route, file] of Object.entries(PAGES)) router.get(route, (req, res, next) => void sendPage(res, file, `no page ${req.path}`).catch(next));
  router.use((req, res) => notFound(res, `no console page ${req.path}`));
  // The store could not say whether a session is live (sessions.ts): 503 with the reason, as the admin API answers.
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    const { status, body } = errorResponse(err);
    if (status !== 503 || res.headersSent) return next(err);
    d.logger.warn({ path: req.path, reason: body.error.message }, 'console request refused: the store is unavailable');
    res.status(503).json(body);
  });

  async function sendPage(res: Response, file: string, missing: string): Promise<void> {
    const body = await readIfExists(path.join(d.assetsDir, file));
    if (body === undefined) return notFound(res, missing);
    res.type('text/html; charset=utf-8').send(body);
  }
  return router;
}

function notFound(res: Response, message: string): void {
  res.status(404).json({ error: { code: 'not_found', message } });
}

function signInRequired(res: Response): void {
  res.status(401).json({ error: { code: 'unauthorized', message: 'console session required: sign in at /console/sign-in' } });
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.promises.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}


/** body-parser's refusals of a form (its `type` and `status`): the status and a message naming the problem. */
function unreadableForm(err: unknown): { status: number; reason: string; message: string } | undefined {
  const e = err as { type?: unknown; status?: unknown; charset?: unknown; encoding?: unknown };
  if (e?.type === 'entity.too.large') {
    return { status: 413, reason: 'sign-in form too large', message: `sign-in form too large: at most ${CONSOLE_SIGN_IN_BODY_MAX_BYTES} bytes` };
  }
  if (e?.type === 'parameters.too.many') {
    return { status: 413, reason: 'sign-in form too large', message: 'sign-in form has too many fields: it has two (token, next)' };
  }
  if (e?.type === 'charset.unsupported') {
    return { status: 415, reason: 'sign-in form in an unsupported charset', message: `sign-in form charset ${String(e.charset).slice(0, 40)} is not supported: send it as UTF-8` };
  }
  if (e?.type === 'encoding.unsupported') {
    return { status: 415, reason: 'sign-in form in an unsupported encoding', message: `sign-in form Content-Encoding ${String(e.encoding).slice(0, 40)} is not supported: send it uncompressed` };
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, reason: 'unreadable sign-in form', message: 'the sign-in form could not be read: send it as application/x-www-form-urlencoded' };
  }
  return undefined;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

