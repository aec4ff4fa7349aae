import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from './log';

/**
 * The HTTP side: one Express app for callbacks, health and (later) the admin API, plus the upgrade
 * hook where the media socket attaches (docs/architecture.md#a-stream-call-end-to-end).
 */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean> | boolean;
}

export interface AppParts {
  logger: Logger;
  readiness: ReadinessCheck[];
  /** Routers to mount, by path prefix. */
  mounts: [path: string, router: express.Router][];
}

export function createApp(parts: AppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);
  // Express 5 parses `?a[b]=c` into objects with the "extended" parser; callbacks are flat.
  app.set('query parser', 'simple');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      parts.readiness.map(async (r) => {
        try {
          return [r.name, await r.check()] as const;
        } catch {
          return [r.name, false] as const;
        }
      }),
    );
    const ready = results.every(([, ok]) => ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results) });
  });

  for (const [path, router] of parts.mounts) app.use(path, router);

  app.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
  });
  // Last resort: log the failure, tell the caller only that it failed (no internals in the body).
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    parts.logger.error({ err, path: req.path }, 'request failed');
    if (res.headersSent) return;
    res.status(500).json({ error: { code: 'internal', message: 'internal error; see the server log' } });
  });
  return app;
}
