import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Router } from 'express';
import { SwitchboardError } from '../errors';
import type { Logger } from '../log';
import type { SecurityEvents } from '../security/security-events';
import { safeEqual } from '../security/signing';
import type { PrometheusMetrics } from './prometheus';

/**
 * Where Prometheus scrapes (docs/operations.md, "Metrics"), two ways:
 * - `GET /metrics` on the service's own port, behind `Authorization: Bearer <METRICS_TOKEN>` (the admin token
 *   when METRICS_TOKEN is unset): the port faces Bandwidth, so nothing about the calls is served to strangers;
 * - a listener of its own on METRICS_PORT, bound to METRICS_HOST (loopback by default), without auth: for a
 *   scraper on the same host or a private network, where the port itself is the protection.
 */
export const METRICS_PATH = '/metrics';

/** The token-protected route, mounted at METRICS_PATH on the main app. */
export function metricsRouter(metrics: PrometheusMetrics, token: string, security: SecurityEvents): Router {
  const router = express.Router();
  router.get('/', async (req, res) => {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !safeEqual(m[1]!.trim(), token)) {
      security.refused('metrics', m ? 'wrong metrics token' : 'no metrics token');
      res.setHeader('WWW-Authenticate', 'Bearer realm="Switchboard metrics"');
      res.status(401).json({ error: { code: 'unauthorized', message: m ? 'wrong metrics token' : 'metrics token required: Authorization: Bearer <METRICS_TOKEN> (the admin token when METRICS_TOKEN is unset)' } });
      return;
    }
    await serve(metrics, res);
  });
  return router;
}

export interface MetricsListener {
  /** http://host:port actually bound. */
  url: string;
  close(): Promise<void>;
}

/** The unauthenticated listener on METRICS_PORT: GET /metrics, and 404 for anything else. */
export async function startMetricsListener(metrics: PrometheusMetrics, port: number, host: string, logger: Logger): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: { code: 'not_found', message: `only GET ${METRICS_PATH} is served on METRICS_PORT` } }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: { code: 'method_not_allowed', message: `${req.method} is not allowed; scrape with GET` } }));
      return;
    }
    serve(metrics, res).catch((err: Error) => logger.error({ err: err.message }, 'metrics scrape failed'));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SwitchboardError('config_invalid', `cannot serve metrics on METRICS_HOST ${host}, METRICS_PORT ${port}: ${code === 'EADDRINUSE' ? 'the port is already in use' : (err as Error).message}`);
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url: `${url}${METRICS_PATH}` }, 'metrics listener started (no auth: keep METRICS_HOST private)');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(metrics: PrometheusMetrics, res: http.ServerResponse): Promise<void> {
  try {
    const body = await metrics.scrape();
    res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(body);
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: { code: 'internal', message: 'metrics collection failed; see the server log' } }));
    throw err;
  }
}
