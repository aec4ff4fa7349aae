import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { BANDWIDTH_ANSWER_URL_MAX_CHARS } from '../constants';
import { parseXml } from '../bandwidth/bxml/xml';
import { parseBasicAuth } from '../security/basic-auth';
import type { SimulatedCall, UpdateCallRequest } from './bandwidth-caller';
import { basic, deliverCallback, type CallbackAuth, type CallbackAuthMode } from './callback-delivery';

/**
 * A stand-in for Bandwidth's REST side (BW §5): the OAuth token endpoint and the Calls API (createCall,
 * updateCall, updateCallBxml), faithful to the reference's shapes (fixtures/bandwidth/rest/*). Failures
 * can be scripted per operation (409, 429 with Retry-After, 5xx).
 *
 * Calls come in two kinds:
 * - **Attached** (`attach(call)`): a SimulatedCall playing the live call. updateCall / updateCallBxml
 *   are answered at once (200 / 204, as Bandwidth does) and then handed to the call, which does what
 *   Bandwidth does: interrupts its BXML, POSTs the `redirect` callback with the credentials from the
 *   request (trying `redirectFallbackUrl` with `fallbackUsername`/`fallbackPassword` if the primary
 *   fails) and runs the BXML returned, or runs the PUT document; `state: completed` hangs it up (its
 *   stream stops: `mediaStreamStopped`; `disconnect` cause hangup to the status URL). A call that is
 *   not answered yet or already over gets Bandwidth's 409. `idle()` waits for the handed-over work.
 * - **Unattached** (any other call id): nothing is modelled but the redirect callback. An updateCall
 *   redirect POSTs a `redirect` callback to redirectUrl itself (unless `followRedirects: false`), with
 *   the fallback as above, and records the answers in `redirects`; `state: completed` marks the call
 *   hung up, after which it answers 409. updateCallBxml is recorded in `bxmlUpdates`.
 *
 * Redirect fallback: which failures make Bandwidth use redirectFallbackUrl is unconfirmed in the
 * reference (BW §1.7 [U], §9.9: connect error, timeout, non-2xx, malformed BXML?). Both this stand-in
 * and SimulatedCall treat a connection error, a timeout and any non-2xx answer as a failure of the
 * primary (SimulatedCall also a 2xx that is not a 200 with an XML body, since it needs BXML).
 */
export interface RestRequestRecord {
  operation: 'token' | 'createCall' | 'updateCall' | 'updateCallBxml';
  callId?: string;
  /** Parsed JSON / form body; the XML text for updateCallBxml. */
  body: unknown;
  authorization?: string;
  contentType?: string;
  /** Real ms since the stand-in started. */
  atMs: number;
  /** The status answered (set when the response is sent). */
  status?: number;
  /** The call was attached: the operation was handed to the SimulatedCall. */
  attached?: boolean;
}

export interface ScriptedFailure {
  status: number;
  body?: Record<string, unknown>;
  retryAfterS?: number;
}

export interface RedirectRecord {
  callId: string;
  url: string;
  /** HTTP status of the answer; 0 when the callback could not be delivered. */
  status: number;
  /** The answer's body (or `callback failed: …`). */
  bxml: string;
  /** This was the redirectFallbackUrl, tried after the primary failed. */
  fallback?: boolean;
  /** Made by an attached SimulatedCall (copied from its callbacks). */
  attached?: boolean;
}

export interface BandwidthRestStandIn {
  /** Base for BANDWIDTH_API_BASE_URL (…/api/v2). */
  apiBaseUrl: string;
  /** BANDWIDTH_OAUTH_URL. */
  oauthUrl: string;
  requests: RestRequestRecord[];
  /** Redirect callbacks made for updateCall redirects (by this stand-in, or by an attached call), in order. */
  redirects: RedirectRecord[];
  /** Documents accepted by PUT …/bxml, by call. */
  bxmlUpdates: { callId: string; xml: string; attached: boolean }[];
  /** Queue failures for the next requests of an operation. */
  fail(operation: RestRequestRecord['operation'], ...failures: ScriptedFailure[]): void;
  /** Calls that were hung up through the API. */
  hungUp: Set<string>;
  /** Let updateCall / updateCallBxml for this call drive it (see above). */
  attach(call: SimulatedCall): void;
  detach(call: SimulatedCall | string): void;
  /** Resolves once all work handed to attached calls has settled (each new BXML blocked or the call ended). */
  idle(): Promise<void>;
  /** Failures of work handed to attached calls (should stay empty). */
  errors: { callId: string; operation: string; error: string }[];
  close(): Promise<void>;
}

export interface BandwidthRestStandInOptions {
  clientId?: string;
  clientSecret?: string;
  tokenLifetimeS?: number;
  /** Unattached calls: POST the redirect callback for an updateCall redirect. Default true. */
  followRedirects?: boolean;
  /** Real-time limit for each redirect callback the stand-in makes itself. Default 15000 (BW §1.7). */
  callbackTimeoutMs?: number;
  /** How those redirect callbacks present their credentials (BW §1.8). Default 'challenge', as Bandwidth does. */
  callbackAuthMode?: CallbackAuthMode;
}

const UPDATE_FIELDS = ['redirectUrl', 'username', 'password', 'redirectFallbackUrl', 'fallbackUsername', 'fallbackPassword', 'tag'] as const;

function methodOf(value: unknown): 'POST' | 'GET' {
  return typeof value === 'string' && value.toUpperCase() === 'GET' ? 'GET' : 'POST';
}

/** createCall's machineDetection against bandwidth.yml MachineDetectionConfiguration; the problem, or undefined when it holds. */
function machineDetectionProblem(md: unknown): string | undefined {
  if (md === undefined || md === null) return undefined;
  if (typeof md !== 'object' || Array.isArray(md)) return 'Invalid machineDetection: must be an object';
  const m = md as Record<string, unknown>;
  if (m.mode !== undefined && m.mode !== 'sync' && m.mode !== 'async') return 'Invalid machineDetection.mode: must be sync or async';
  for (const key of ['detectionTimeout', 'silenceTimeout', 'speechThreshold', 'speechEndThreshold', 'machineSpeechEndThreshold']) {
    const v = m[key];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !(v >= 0))) return `Invalid machineDetection.${key}: must be a number of seconds`;
  }
  if (m.delayResult !== undefined && m.delayResult !== null && typeof m.delayResult !== 'boolean') return 'Invalid machineDetection.delayResult: must be a boolean';
  for (const key of ['callbackUrl', 'fallbackUrl']) {
    const v = m[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !/^https?:\/\/[^/]/i.test(v) || v.length > BANDWIDTH_ANSWER_URL_MAX_CHARS) return `Invalid machineDetection.${key}: must be an absolute http(s) URL of at most ${BANDWIDTH_ANSWER_URL_MAX_CHARS} characters`;
  }
  return undefined;
}

/** The UpdateCall body as SimulatedCall takes it. */
function toUpdateCall(body: Record<string, unknown>): UpdateCallRequest {
  const update: UpdateCallRequest = {};
  if (body.state === 'active' || body.state === 'completed') update.state = body.state;
  for (const key of UPDATE_FIELDS) {
    const v = body[key];
    if (typeof v === 'string') update[key] = v;
  }
  if (body.redirectMethod !== undefined) update.redirectMethod = methodOf(body.redirectMethod);
  if (body.redirectFallbackMethod !== undefined) update.redirectFallbackMethod = methodOf(body.redirectFallbackMethod);
  return update;
}

export async function startBandwidthRestStandIn(options: BandwidthRestStandInOptions = {}): Promise<BandwidthRestStandIn> {
  const clientId = options.clientId ?? 'client-id';
  const clientSecret = options.clientSecret ?? 'client-secret';
  const issued = new Set<string>();
  const failures = new Map<string, ScriptedFailure[]>();
  const requests: RestRequestRecord[] = [];
  const redirects: RedirectRecord[] = [];
  const bxmlUpdates: BandwidthRestStandIn['bxmlUpdates'] = [];
  const hungUp = new Set<string>();
  const attached = new Map<string, SimulatedCall>();
  const pending = new Set<Promise<void>>();
  const errors: BandwidthRestStandIn['errors'] = [];
  let tokenSeq = 0;
  const started = Date.now();

  const app = express();
  // JSON and form bodies everywhere but PUT …/bxml, whose body is read as text whatever its type (so a
  // wrong Content-Type gets Bandwidth's 415, not a JSON parse error).
  const exceptBxml =
    (parser: express.RequestHandler): express.RequestHandler =>
    (req, res, next) =>
      req.method === 'PUT' && req.path.endsWith('/bxml') ? next() : parser(req, res, next);
  app.use(exceptBxml(express.json()));
  app.use(exceptBxml(express.urlencoded({ extended: false })));
  const error = (res: express.Response, status: number, type: string, description: string) => res.status(status).json({ type, description, id: null });
  const notModifiable = (res: express.Response, callId: string) => error(res, 409, 'validation', `Call [${callId}] cannot be modified in its current state`);
  const scripted = (operation: string, res: express.Response): boolean => {
    const next = failures.get(operation)?.shift();
    if (!next) return false;
    if (next.retryAfterS !== undefined) res.setHeader('Retry-After', String(next.retryAfterS));
    res.status(next.status).json(next.body ?? { type: next.status === 429 ? 'error' : 'internal-error', description: `scripted ${next.status}`, id: null });
    return true;
  };
  const bearerOk = (req: express.Request) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return Boolean(m && issued.has(m[1]!));
  };
  const record = (req: express.Request, res: express.Response, rec: Omit<RestRequestRecord, 'atMs' | 'authorization' | 'contentType'>): RestRequestRecord => {
    const full: RestRequestRecord = { ...rec, authorization: req.headers.authorization, atMs: Date.now() - started };
    if (req.headers['content-type'] !== undefined) full.contentType = req.headers['content-type'];
    requests.push(full);
    res.on('finish', () => (full.status = res.statusCode));
    return full;
  };
  /** Hand work to an attached call; idle() waits for it. */
  const track = (callId: string, operation: string, work: Promise<unknown>): void => {
    const p: Promise<void> = work
      .then(() => undefined)
      .catch((err: unknown) => {
        errors.push({ callId, operation, error: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  };
  /** An attached call, if `callId` is one (and belongs to the account in the path). */
  const attachedCall = (req: express.Request<{ accountId: string; callId: string }>): SimulatedCall | undefined => {
    const call = attached.get(req.params.callId);
    return call && call.accountId === req.params.accountId ? call : undefined;
  };

  /**
   * Unattached calls: the redirect callback Bandwidth would make, then the fallback if the primary
   * fails (connection error, timeout, non-2xx: see the header on what is unconfirmed).
   */
  const deliverRedirect = async (accountId: string, callId: string, body: Record<string, unknown>): Promise<void> => {
    const payload: Record<string, unknown> = {
      eventType: 'redirect',
      eventTime: new Date().toISOString(),
      accountId,
      callId,
      direction: 'inbound',
      callUrl: `https://voice.bandwidth.com/api/v2/accounts/${accountId}/calls/${callId}`,
      startTime: new Date(started).toISOString(),
      ...(typeof body.tag === 'string' && body.tag ? { tag: body.tag } : {}),
    };
    const attempt = async (url: string, method: 'POST' | 'GET', auth: CallbackAuth | undefined, fallback: boolean): Promise<boolean> => {
      const headers: Record<string, string> = {};
      let target = url;
      let data: string | undefined;
      if (method === 'POST') {
        headers['content-type'] = 'application/json';
        data = JSON.stringify({ ...payload, eventTime: new Date().toISOString() });
      } else {
        const u = new URL(url);
        for (const [k, v] of Object.entries(payload)) u.searchParams.set(k, String(v));
        target = u.toString();
      }
      const entry: RedirectRecord = { callId, url, status: 0, bxml: '' };
      if (fallback) entry.fallback = true;
      try {
        const { response: r } = await deliverCallback(target, { method, headers, body: data, timeoutMs: options.callbackTimeoutMs ?? 15_000 }, auth, options.callbackAuthMode);
        entry.status = r.status;
        entry.bxml = await r.text();
        redirects.push(entry);
        return r.status >= 200 && r.status < 300;
      } catch (err) {
        entry.bxml = `callback failed: ${(err as Error).message}`;
        redirects.push(entry);
        return false;
      }
    };
    const ok = await attempt(String(body.redirectUrl), methodOf(body.redirectMethod), basic(body.username, body.password), false);
    if (!ok && typeof body.redirectFallbackUrl === 'string' && body.redirectFallbackUrl) {
      await attempt(body.redirectFallbackUrl, methodOf(body.redirectFallbackMethod), basic(body.fallbackUsername, body.fallbackPassword), true);
    }
  };

  app.post('/api/v1/oauth2/token', (req, res) => {
    record(req, res, { operation: 'token', body: req.body });
    if (scripted('token', res)) return;
    const creds = parseBasicAuth(req.headers.authorization);
    if (!creds || creds.username !== clientId || creds.password !== clientSecret) return error(res, 401, 'authentication-error', 'The credentials provided were invalid');
    if ((req.body as { grant_type?: string }).grant_type !== 'client_credentials') return error(res, 400, 'validation', 'grant_type must be client_credentials');
    const token = `bw-token-${++tokenSeq}`;
    issued.add(token);
    res.json({ access_token: token, token_type: 'Bearer', expires_in: options.tokenLifetimeS ?? 3600 });
  });

  app.post('/api/v2/accounts/:accountId/calls', (req, res) => {
    record(req, res, { operation: 'createCall', body: req.body });
    if (!bearerOk(req)) return error(res, 401, 'authentication-error', 'The credentials provided were invalid');
    if (scripted('createCall', res)) return;
    const b = req.body as Record<string, unknown>;
    for (const field of ['to', 'from', 'applicationId', 'answerUrl']) {
      if (typeof b[field] !== 'string' || !b[field]) return error(res, 400, 'validation', `Invalid ${field}: must be provided`);
    }
    if (!/^\+[1-9]\d{6,14}$/.test(String(b.from))) return error(res, 400, 'validation', 'Invalid from: must be an E164 telephone number');
    // BW §5: answerUrl is at most 2,048 characters.
    if (String(b.answerUrl).length > BANDWIDTH_ANSWER_URL_MAX_CHARS) return error(res, 400, 'validation', `Invalid answerUrl: must be at most ${BANDWIDTH_ANSWER_URL_MAX_CHARS} characters`);
    const detectionProblem = machineDetectionProblem(b.machineDetection);
    if (detectionProblem) return error(res, 400, 'validation', detectionProblem);
    const callId = `c-sim${String(requests.length).padStart(4, '0')}-0000-0000-0000-000000000000`;
    const accountId = req.params.accountId;
    res.status(201).setHeader('Location', `/api/v2/accounts/${accountId}/calls/${callId}`);
    res.json({
      accountId,
      callId,
      applicationId: b.applicationId,
      to: b.to,
      from: b.from,
      enqueuedTime: new Date().toISOString(),
      callUrl: `https://voice.bandwidth.com/api/v2/accounts/${accountId}/calls/${callId}`,
      callTimeout: b.callTimeout ?? 30,
      callbackTimeout: b.callbackTimeout ?? 15,
      tag: b.tag,
      answerMethod: b.answerMethod ?? 'POST',
      answerUrl: b.answerUrl,
      disconnectMethod: b.disconnectMethod ?? 'POST',
      disconnectUrl: b.disconnectUrl,
      username: b.username ? '*****' : undefined,
      password: b.password ? '*****' : undefined,
      priority: b.priority ?? 5,
    });
  });

  app.post('/api/v2/accounts/:accountId/calls/:callId', async (req, res) => {
    const callId = req.params.callId;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const call = attachedCall(req);
    record(req, res, { operation: 'updateCall', callId, body, ...(call ? { attached: true } : {}) });
    if (!bearerOk(req)) return error(res, 401, 'authentication-error', 'The credentials provided were invalid');
    if (scripted('updateCall', res)) return;
    // 409: not answered yet, or already over (BW §5).
    if (call ? !call.modifiable : hungUp.has(callId)) return notModifiable(res, callId);
    const state = body.state ?? 'active';
    if (state !== 'active' && state !== 'completed') return error(res, 400, 'validation', `Invalid state: ${String(state)}`);
    if (state === 'completed') {
      if (body.redirectUrl || body.tag) return error(res, 400, 'validation', 'redirectUrl and tag are not allowed with state completed');
      hungUp.add(callId);
      res.status(200).end();
      // The call ends as Bandwidth ends it: stream stopped (mediaStreamStopped), disconnect cause hangup.
      if (call) track(callId, 'updateCall', call.updateCall({ state: 'completed' }));
      return;
    }
    if (typeof body.redirectUrl !== 'string') return error(res, 400, 'validation', 'redirectUrl is required when state is active');
    for (const key of ['redirectUrl', 'redirectFallbackUrl'] as const) {
      const v = body[key];
      if (v !== undefined && (typeof v !== 'string' || !/^https?:\/\/[^/]/i.test(v))) return error(res, 400, 'validation', `Invalid ${key}: must be an absolute http(s) URL`);
    }
    res.status(200).end();
    if (call) {
      // The call interrupts its BXML, POSTs the redirect callback (fallback included) and runs the answer.
      const before = call.callbacks.length;
      const urls = [body.redirectUrl, body.redirectFallbackUrl];
      track(
        callId,
        'updateCall',
        call.updateCall(toUpdateCall(body)).then(() => {
          const made = call.callbacks.slice(before).filter((c) => c.eventType === 'redirect' && urls.includes(c.url)).slice(0, 2);
          made.forEach((c, i) => {
            const entry: RedirectRecord = { callId, url: c.url, status: c.status ?? 0, bxml: c.error ? `callback failed: ${c.error}` : (c.responseText ?? ''), attached: true };
            if (i > 0) entry.fallback = true;
            redirects.push(entry);
          });
        }),
      );
      return;
    }
    if (options.followRedirects === false) return;
    await deliverRedirect(req.params.accountId, callId, body);
  });

  // PUT …/bxml: the body is the BXML document, Content-Type application/xml (BW §5).
  app.put('/api/v2/accounts/:accountId/calls/:callId/bxml', express.text({ type: () => true, limit: '1mb' }), (req, res) => {
    const callId = req.params.callId;
    const call = attachedCall(req);
    const xml = typeof req.body === 'string' ? req.body : '';
    record(req, res, { operation: 'updateCallBxml', callId, body: req.body as unknown, ...(call ? { attached: true } : {}) });
    if (!bearerOk(req)) return error(res, 401, 'authentication-error', 'The credentials provided were invalid');
    if (scripted('updateCallBxml', res)) return;
    const contentType = req.headers['content-type'] ?? '';
    if (!/^application\/xml\s*(;|$)/i.test(contentType)) {
      return error(res, 415, 'validation', `Content-Type '${contentType || '(none)'}' is not supported: send the BXML as application/xml`);
    }
    if (call ? !call.modifiable : hungUp.has(callId)) return notModifiable(res, callId);
    try {
      parseXml(xml);
    } catch (err) {
      return error(res, 400, 'validation', `Invalid BXML: ${(err as Error).message}`);
    }
    bxmlUpdates.push({ callId, xml, attached: !!call });
    res.status(204).end();
    if (call) track(callId, 'updateCallBxml', call.updateCallBxml(xml));
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiBaseUrl: `${base}/api/v2`,
    oauthUrl: `${base}/api/v1/oauth2/token`,
    requests,
    redirects,
    bxmlUpdates,
    hungUp,
    errors,
    fail: (operation, ...list) => failures.set(operation, [...(failures.get(operation) ?? []), ...list]),
    attach: (call) => void attached.set(call.callId, call),
    detach: (call) => void attached.delete(typeof call === 'string' ? call : call.callId),
    idle: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
