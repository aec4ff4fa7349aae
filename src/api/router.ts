import { API_BODY_MAX_BYTES, API_MAX_NESTING } from '../constants';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { BandwidthApiError } from '../bandwidth/rest/errors';
import { isSwitchboardError, SwitchboardError } from '../errors';
import { nestingExceeds } from '../json-depth';
import { maskPhone, type Logger } from '../log';
import type { SecurityEvents } from '../security/security-events';
import type { AdminAccess } from '../console/access';
import { apiDocsRouter } from './docs';
import { buildOpenApi } from './openapi';
import type { Route } from './route';
import { validation } from './routes';

/**
 * The admin API's HTTP side: auth before anything else (DESIGN §4.5: the bearer token, or a console session
 * with its CSRF token, src/console/access.ts), JSON in and out, zod-validated input with 400s naming the
 * fields, store errors as 404/409. `extra` routers (the console's live stream and recordings) sit behind
 * the same auth.
 */

/** Endpoints outside the JSON route declarations (a stream, a file), with their OpenAPI path items. */
export interface ExtraApi {
  router: Router;
  /** OpenAPI path items by path (`/api/...`), merged into the document. */
  paths: Record<string, Record<string, unknown>>;
}

export function apiRouter(routes: Route[], access: AdminAccess, logger: Logger, security: SecurityEvents, extra: ExtraApi[] = []): Router {
  const router = express.Router();
  const openapi = buildOpenApi(routes, Object.assign({}, ...extra.map((x) => x.paths)) as Record<string, Record<string, unknown>>);
  router.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  router.use(apiDocsRouter());
  router.use(async (req, res, next) => {
    let result;
    try {
      result = await access.check(req);
    } catch (err) {
      return next(err); // the store cannot say whether the session is live: 503 below
    }
    if (result.ok) {
      // Who came in, for what answers over time (the live stream ends with the session it was opened with).
      res.locals.adminAccess = result;
      return next();
    }
    security.refused('admin-api', result.reason);
    if (result.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="Switchboard admin API"');
    res.status(result.status).json({ error: { code: result.code, message: result.message } });
  });
  for (const x of extra) router.use(x.router);
  router.use(
    express.json({
      limit: API_BODY_MAX_BYTES,
      // Refused before parsing: a deeply nested body would overflow the stack in validation (a 500).
      verify: (_req, _res, buf) => {
        if (nestingExceeds(buf.toString('utf8'), API_MAX_NESTING)) throw new SwitchboardError('invalid_request', `malformed JSON body: nested deeper than ${API_MAX_NESTING} levels`);
      },
    }),
  );

  for (const r of routes) {
    router[r.method](r.path, async (req: Request, res: Response, next: NextFunction) => {
      try {
        const params = parse(r.params, req.params);
        const query = parse(r.query, req.query);
        const body = parse(r.body, r.body ? (req.body ?? {}) : undefined);
        const result = await r.handler({ params, query, body });
        if (result.body === undefined) res.status(result.status).end();
        else res.status(result.status).json(result.body);
      } catch (err) {
        next(err);
      }
    });
  }

  router.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no API route for ${req.method} ${req.baseUrl}${req.path}` } });
  });
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = errorResponse(err);
    // 503 is expected (no Bandwidth REST credentials, the store busy): a warning with its reason, no stack.
    if (status === 503) logger.warn({ path: maskPath(req.path), code: body.error.code, reason: body.error.message }, 'admin API request refused: unavailable');
    else if (status >= 500) logger.error({ err, path: maskPath(req.path) }, 'admin API request failed');
    else logger.info({ path: maskPath(req.path), status, code: body.error.code }, 'admin API request refused');
    res.status(status).json(body);
  });
  return router;
}

function parse<T>(schema: z.ZodType<T> | undefined, input: unknown): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(input);
  if (!r.success) throw validation(r.error);
  return r.data;
}

export function errorResponse(err: unknown): { status: number; body: { error: { code: string; message: string; fields?: string[] } } } {
  const e = err as { type?: string; message?: string };
  if (e?.type === 'entity.parse.failed') return { status: 400, body: { error: { code: 'invalid_request', message: `malformed JSON body: ${e.message ?? ''}` } } };
  if (e?.type === 'entity.too.large') return { status: 413, body: { error: { code: 'invalid_request', message: 'request body too large' } } };
  // The router could not percent-decode a path segment (`/agents/%ED%A0%80`): the path is malformed.
  if (err instanceof URIError) return { status: 400, body: { error: { code: 'invalid_request', message: `malformed path: ${err.message}` } } };
  if (err instanceof BandwidthApiError) {
    // Bandwidth's own words reach the operator; its 5xx and auth problems are ours to report as 502.
    const status = err.status === 400 || err.status === 404 || err.status === 409 || err.status === 429 ? err.status : 502;
    return { status, body: { error: { code: 'bandwidth_error', message: `Bandwidth answered HTTP ${err.status}: ${err.description}` } } };
  }
  if (isSwitchboardError(err)) {
    const status = { not_found: 404, conflict: 409, invalid_request: 400, unavailable: 503 }[err.code as string] ?? 500;
    const fields = (err.details as { fields?: string[] } | undefined)?.fields;
    return { status, body: { error: { code: err.code, message: err.message, ...(fields ? { fields } : {}) } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error; see the server log' } } };
}

/** Paths name numbers (`/numbers/+19195550100`): logs carry them masked, like every phone number. */
function maskPath(p: string): string {
  return p.replace(/(?:%2B|\+)?\d{7,15}/gi, (n) => maskPhone(decodeURIComponent(n)) ?? n);
}
