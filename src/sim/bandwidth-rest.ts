import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { parseBasicAuth } from '../security/basic-auth';

/**
 * A stand-in for Bandwidth's REST side (BW §5): the OAuth token endpoint and the Calls API, faithful to
 * the reference's shapes (fixtures/bandwidth/rest/*). Like Bandwidth, an updateCall redirect makes it
 * POST a `redirect` callback to the redirectUrl with the credentials from the request, and the BXML
 * answer is recorded. Failures can be scripted per operation (409, 429 with Retry-After, 5xx).
 */
export interface RestRequestRecord {
  operation: 'token' | 'createCall' | 'updateCall';
  callId?: string;
  body: unknown;
  authorization?: string;
  atMs: number;
}

export interface ScriptedFailure {
  status: number;
  body?: Record<string, unknown>;
  retryAfterS?: number;
}

export interface BandwidthRestStandIn {
  /** Base for BANDWIDTH_API_BASE_URL (…/api/v2). */
  apiBaseUrl: string;
  /** BANDWIDTH_OAUTH_URL. */
  oauthUrl: string;
  requests: RestRequestRecord[];
  /** BXML documents returned by redirect callbacks this stand-in made, by call. */
  redirects: { callId: string; url: string; status: number; bxml: string }[];
  /** Queue failures for the next requests of an operation. */
  fail(operation: RestRequestRecord['operation'], ...failures: ScriptedFailure[]): void;
  /** Calls that were hung up through the API. */
  hungUp: Set<string>;
  close(): Promise<void>;
}

export async function startBandwidthRestStandIn(options: { clientId?: string; clientSecret?: string; tokenLifetimeS?: number; followRedirects?: boolean } = {}): Promise<BandwidthRestStandIn> {
  const clientId = options.clientId ?? 'client-id';
  const clientSecret = options.clientSecret ?? 'client-secret';
  const issued = new Set<string>();
  const failures = new Map<string, ScriptedFailure[]>();
  const requests: RestRequestRecord[] = [];
  const redirects: BandwidthRestStandIn['redirects'] = [];
  const hungUp = new Set<string>();
  let tokenSeq = 0;
  const started = Date.now();

  const app = express();
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  const error = (res: express.Response, status: number, type: string, description: string) => res.status(status).json({ type, description, id: null });
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

  app.post('/api/v1/oauth2/token', (req, res) => {
    requests.push({ operation: 'token', body: req.body, authorization: req.headers.authorization, atMs: Date.now() - started });
    if (scripted('token', res)) return;
    const basic = parseBasicAuth(req.headers.authorization);
    if (!basic || basic.username !== clientId || basic.password !== clientSecret) return error(res, 401, 'authentication-error', 'The credentials provided were invalid');
    if ((req.body as { grant_type?: string }).grant_type !== 'client_credentials') return error(res, 400, 'validation', 'grant_type must be client_credentials');
    const token = `bw-token-${++tokenSeq}`;
    issued.add(token);
    res.json({ access_token: token, token_type: 'Bearer', expires_in: options.tokenLifetimeS ?? 3600 });
  });

  app.post('/api/v2/accounts/:accountId/calls', (req, res) => {
    requests.push({ operation: 'createCall', body: req.body, authorization: req.headers.authorization, atMs: Date.now() - started });
    if (!bearerOk(req)) return error(res, 401, 'authentication-error', 'The credentials provided were invalid');
    if (scripted('createCall', res)) return;
    const b = req.body as Record<string, unknown>;
    for (const field of ['to', 'from', 'applicationId', 'answerUrl']) {
      if (typeof b[field] !== 'string' || !b[field]) return error(res, 400, 'validation', `Invalid ${field}: must be provided`);
    }
    if (!/^\+[1-9]\d{6,14}$/.test(String(b.from))) return error(res, 400, 'validation', 'Invalid from: must be an E164 telephone number');
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
    const body = req.body as Record<string, unknown>;
    requests.push({ operation: 'updateCall', callId, body, authorization: req.headers.authorization, atMs: Date.now() - started });
    if (!bearerOk(req)) return error(res, 401, 'authentication-error', 'The credentials provided were invalid');
    if (scripted('updateCall', res)) return;
    if (hungUp.has(callId)) return error(res, 409, 'validation', `Call [${callId}] cannot be modified in its current state`);
    const state = body.state ?? 'active';
    if (state === 'completed') {
      if (body.redirectUrl || body.tag) return error(res, 400, 'validation', 'redirectUrl and tag are not allowed with state completed');
      hungUp.add(callId);
      return res.status(200).end();
    }
    if (typeof body.redirectUrl !== 'string') return error(res, 400, 'validation', 'redirectUrl is required when state is active');
    res.status(200).end();
    if (options.followRedirects === false) return;
    // Like Bandwidth: the redirect interrupts the BXML and fetches new BXML from redirectUrl (BW §1.5).
    const auth = typeof body.username === 'string' ? `Basic ${Buffer.from(`${body.username}:${String(body.password ?? '')}`).toString('base64')}` : undefined;
    try {
      const r = await fetch(body.redirectUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify({
          eventType: 'redirect',
          eventTime: new Date().toISOString(),
          accountId: req.params.accountId,
          callId,
          direction: 'inbound',
          callUrl: `https://voice.bandwidth.com/api/v2/accounts/${req.params.accountId}/calls/${callId}`,
          startTime: new Date(started).toISOString(),
          ...(typeof body.tag === 'string' ? { tag: body.tag } : {}),
        }),
      });
      redirects.push({ callId, url: body.redirectUrl, status: r.status, bxml: await r.text() });
    } catch (err) {
      redirects.push({ callId, url: body.redirectUrl, status: 0, bxml: `callback failed: ${(err as Error).message}` });
    }
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiBaseUrl: `${base}/api/v2`,
    oauthUrl: `${base}/api/v1/oauth2/token`,
    requests,
    redirects,
    hungUp,
    fail: (operation, ...list) => failures.set(operation, [...(failures.get(operation) ?? []), ...list]),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
