import type { SecurityEvents } from '../security/security-events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import { CALLBACK_BODY_MAX_BYTES } from '../constants';
import { maskPhone, type Logger } from '../log';
import { BasicAuthVerifier, type BasicCredentials } from '../security/basic-auth';
import { CallbackBodyError, readJsonBody } from './callback-body';
import type { CallbackResult, CallFlows } from './call-flows';
import { CallbackValidationError } from './callbacks';
import { VOICE_PATH_PREFIX, VOICE_ROUTES } from './urls';
import { NO_METRICS, type MetricsSink } from '../metrics/sink';

/**
 * The Bandwidth Voice callback routes, under /bandwidth/voice. Every request: Basic auth
 * first, before the body is read, then the body (POST JSON, or GET query fields, BW §1.1), then CallFlows.
 * BXML answers are application/xml; callbacks whose body Bandwidth ignores get 204.
 *
 * Served on node:http rather than through Express: Express's router, body parser and response helpers
 * cost about 0.25 ms of CPU per request on the benchmark machine, against 0.04 ms for node:http itself,
 * and a whole initiate may take about 0.3 ms to answer 3,000 calls a second on two shared cores (BENCHMARKS.md).
 */
type Handler = (body: unknown, token: string | undefined) => Promise<CallbackResult>;

/** One answered callback, as the optional recorder (src/record/recorder.ts) sees it. No Authorization. */
export interface WebhookExchange {
  route: string;
  method: string;
  /** Path and query as received (`/bandwidth/voice/redirect?t=…`). */
  url: string;
  contentType: string | undefined;
  body: unknown;
  token: string | undefined;
  status: number;
  responseContentType: string | undefined;
  responseBody: string | undefined;
  durationMs: number;
  /** The stored context the token named, when the callback's handler resolved one (DESIGN §4.6). */
  context?: unknown;
}
export type WebhookRecorder = (exchange: WebhookExchange) => void;

/** Serves a request under VOICE_PATH_PREFIX; hands any other request to `next` (the Express app). */
export type VoiceWebhooks = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

const XML_TYPE = 'application/xml; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const AUTH_REALM = 'Basic realm="Switchboard Bandwidth callbacks", charset="UTF-8"';
const ROUTE_PREFIX = `${VOICE_PATH_PREFIX}/`;

export function voiceWebhooks(
  flows: CallFlows,
  credentials: BasicCredentials,
  logger: Logger,
  security: SecurityEvents,
  recorder?: WebhookRecorder,
  metrics: MetricsSink = NO_METRICS,
): VoiceWebhooks {
  const auth = new BasicAuthVerifier(credentials);
  const routes = new Map<string, Handler>([
    [VOICE_ROUTES.initiate, (body) => flows.initiate(body)],
    [VOICE_ROUTES.answer, (body, t) => flows.answer(body, t)],
    [VOICE_ROUTES.status, (body) => flows.status(body)],
    [VOICE_ROUTES.redirect, (body, t) => flows.redirect(body, t)],
    [VOICE_ROUTES.streamEvents, (body) => flows.streamEvent(body)],
    [VOICE_ROUTES.streamEnded, (body, t) => flows.streamEnded(body, t)],
    [VOICE_ROUTES.transferAnswer, (body, t) => flows.transferAnswer(body, t)],
    [VOICE_ROUTES.transferComplete, (body, t) => flows.transferComplete(body, t)],
    [VOICE_ROUTES.transferDisconnect, (body, t) => flows.transferDisconnect(body, t)],
    [VOICE_ROUTES.dtmf, (body) => flows.dtmf(body)],
    [VOICE_ROUTES.machineDetection, (body) => flows.machineDetectionComplete(body)],
  ]);

  async function serve(req: IncomingMessage, res: ServerResponse, route: string, handler: Handler, query: string): Promise<void> {
    const startedNs = process.hrtime.bigint();
    if (req.method !== 'POST' && req.method !== 'GET') {
      reply(res, 405, JSON_TYPE, errorJson('method_not_allowed', `${req.method} is not allowed; Bandwidth sends POST (or GET)`), { allow: 'POST, GET' });
      return;
    }
    const { t, ...queryFields } = querystring.parse(query);
    const token = typeof t === 'string' ? t : undefined;
    let body: unknown;
    try {
      body = req.method === 'GET' ? queryFields : await readJsonBody(req, CALLBACK_BODY_MAX_BYTES);
    } catch (err) {
      if (!(err instanceof CallbackBodyError)) throw err;
      reply(res, err.status, JSON_TYPE, errorJson('callback_invalid', err.message), err.status === 413 ? { connection: 'close' } : undefined);
      return;
    }
    const answer = (status: number, contentType: string | undefined, responseBody: string | undefined, context?: unknown) => {
      reply(res, status, contentType, responseBody);
      const durationMs = Number(process.hrtime.bigint() - startedNs) / 1e6;
      metrics.callback(route, durationMs);
      recorder?.({
        route, method: req.method!, url: req.url!, contentType: req.headers['content-type'], body, token, status,
        responseContentType: contentType, responseBody, durationMs, context,
      });
    };
    let result: CallbackResult;
    try {
      result = await handler(body, token);
    } catch (err) {
      if (!(err instanceof CallbackValidationError)) throw err;
      logger.warn({ route, callId: fieldOf(body, 'callId'), problems: err.problems }, 'invalid Bandwidth callback');
      await flows.invalid(route, body, err.problems);
      answer(400, JSON_TYPE, errorJson('callback_invalid', `invalid ${route} callback: ${err.message}`));
      return;
    }
    if (result.kind === 'bxml') {
      answer(200, XML_TYPE, result.xml, result.context);
    } else if (result.kind === 'refused') {
      logger.warn({ route, callId: fieldOf(body, 'callId') }, `refused a callback: ${result.message}`);
      answer(403, JSON_TYPE, errorJson('forbidden', result.message));
    } else {
      answer(204, undefined, undefined, result.context);
    }
    logger.info(
      {
        route,
        eventType: fieldOf(body, 'eventType'),
        callId: fieldOf(body, 'callId'),
        from: maskPhone(fieldOf(body, 'from')),
        to: maskPhone(fieldOf(body, 'to')),
        status: res.statusCode,
        template: result.kind === 'bxml' ? result.template : undefined,
        durationMs: Number(process.hrtime.bigint() - startedNs) / 1e6,
      },
      'bandwidth callback',
    );
  }

  return (req, res, next) => {
    const url = req.url ?? '';
    if (!url.startsWith(ROUTE_PREFIX)) return next();
    // Security before allocation: nothing is read or parsed for a request without the callback credentials.
    if (!auth.matches(req.headers.authorization)) {
      const message = req.headers.authorization ? 'wrong callback credentials' : 'callback credentials required (HTTP Basic)';
      if (req.headers.authorization) security.refused('callback', message);
      else security.challenged(); // BW §1.8: the first attempt of every callback
      reply(res, 401, JSON_TYPE, errorJson('unauthorized', message), { 'www-authenticate': AUTH_REALM });
      return;
    }
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const route = path.slice(ROUTE_PREFIX.length);
    const handler = routes.get(route);
    if (!handler) {
      reply(res, 404, JSON_TYPE, errorJson('not_found', `no route for ${req.method} ${path}`));
      return;
    }
    serve(req, res, route, handler, queryAt < 0 ? '' : url.slice(queryAt + 1)).catch((err: unknown) => {
      // Unexpected (a store or template failure): the details go to the log, never to the caller.
      logger.error({ err, route }, 'callback failed');
      if (!res.headersSent) reply(res, 500, JSON_TYPE, errorJson('internal', 'internal error; see the server log'));
    });
  };
}

function reply(res: ServerResponse, status: number, contentType: string | undefined, body: string | undefined, extra?: OutgoingHttpHeaders): void {
  const headers: OutgoingHttpHeaders = { ...extra };
  if (contentType !== undefined && body !== undefined) {
    headers['content-type'] = contentType;
    headers['content-length'] = Buffer.byteLength(body);
  }
  res.writeHead(status, headers);
  res.end(body);
}

function errorJson(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

function fieldOf(body: unknown, key: string): string | undefined {
  if (body && typeof body === 'object' && key in body) {
    const v = (body as Record<string, unknown>)[key];
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}
