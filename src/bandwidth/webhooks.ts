import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { CALLBACK_BODY_MAX_BYTES } from '../constants';
import { isSwitchboardError } from '../errors';
import { maskPhone, type Logger } from '../log';
import { requireBasicAuth, type BasicCredentials } from '../security/basic-auth';
import type { CallbackResult, CallFlows } from './call-flows';
import { CallbackValidationError } from './callbacks';
import { VOICE_ROUTES } from './urls';

/**
 * The Bandwidth Voice callback routes (issue #2 §3), mounted at /bandwidth/voice. Every route:
 * Basic auth first, then the body (POST JSON, or GET query fields, BW §1.1), then CallFlows.
 * BXML answers are application/xml; callbacks whose body Bandwidth ignores get 204.
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
}
export type WebhookRecorder = (exchange: WebhookExchange) => void;

export function voiceWebhooks(flows: CallFlows, credentials: BasicCredentials, logger: Logger, recorder?: WebhookRecorder): Router {
  const router = express.Router();
  router.use(requireBasicAuth(credentials, 'Switchboard Bandwidth callbacks'));
  router.use(express.json({ limit: CALLBACK_BODY_MAX_BYTES, type: () => true }));

  const routes: Record<string, Handler> = {
    [VOICE_ROUTES.initiate]: (body) => flows.initiate(body),
    [VOICE_ROUTES.answer]: (body, t) => flows.answer(body, t),
    [VOICE_ROUTES.status]: (body) => flows.status(body),
    [VOICE_ROUTES.redirect]: (body, t) => flows.redirect(body, t),
    [VOICE_ROUTES.streamEvents]: (body) => flows.streamEvent(body),
    [VOICE_ROUTES.streamEnded]: (body, t) => flows.streamEnded(body, t),
    [VOICE_ROUTES.transferAnswer]: (body, t) => flows.transferAnswer(body, t),
    [VOICE_ROUTES.transferComplete]: (body, t) => flows.transferComplete(body, t),
    [VOICE_ROUTES.transferDisconnect]: (body) => flows.transferDisconnect(body),
  };

  for (const [route, handler] of Object.entries(routes)) {
    router.all(`/${route}`, async (req: Request, res: Response, next: NextFunction) => {
      const startedNs = process.hrtime.bigint();
      if (req.method !== 'POST' && req.method !== 'GET') {
        res.setHeader('Allow', 'POST, GET');
        res.status(405).json({ error: { code: 'method_not_allowed', message: `${req.method} is not allowed; Bandwidth sends POST (or GET)` } });
        return;
      }
      const { t, ...queryFields } = req.query as Record<string, unknown>;
      const token = typeof t === 'string' ? t : undefined;
      const body: unknown = req.method === 'GET' ? queryFields : req.body;
      const record = (responseBody: string | undefined) =>
        recorder?.({
          route, method: req.method, url: req.originalUrl, contentType: req.get('content-type'), body, token, status: res.statusCode,
          responseContentType: res.get('content-type'), responseBody, durationMs: Number(process.hrtime.bigint() - startedNs) / 1e6,
        });
      try {
        const result = await handler(body, token);
        if (result.kind === 'bxml') {
          res.status(200).type('application/xml; charset=utf-8').send(result.xml);
        } else if (result.kind === 'refused') {
          logger.warn({ route, callId: fieldOf(body, 'callId') }, `refused a callback: ${result.message}`);
          res.status(403).json({ error: { code: 'forbidden', message: result.message } });
        } else {
          res.status(204).end();
        }
        record(result.kind === 'bxml' ? result.xml : result.kind === 'refused' ? JSON.stringify({ error: { code: 'forbidden', message: result.message } }) : undefined);
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
      } catch (err) {
        if (err instanceof CallbackValidationError) {
          logger.warn({ route, callId: fieldOf(body, 'callId'), problems: err.problems }, 'invalid Bandwidth callback');
          const error = { error: { code: 'callback_invalid', message: `invalid ${route} callback: ${err.message}` } };
          res.status(400).json(error);
          record(JSON.stringify(error));
          return;
        }
        next(err);
      }
    });
  }

  // Body-parser failures (malformed JSON, too large) arrive here with a status; answer with a clear 4xx.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'callback_invalid', message: `malformed JSON body: ${e.message ?? 'parse error'}` } });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'callback_invalid', message: `callback body is larger than ${CALLBACK_BODY_MAX_BYTES} bytes` } });
      return;
    }
    if (isSwitchboardError(err)) logger.error({ code: err.code, err: err.message }, 'callback failed');
    next(err);
  });
  return router;
}

function fieldOf(body: unknown, key: string): string | undefined {
  if (body && typeof body === 'object' && key in body) {
    const v = (body as Record<string, unknown>)[key];
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}
