/**
 * How the Bandwidth stand-ins deliver one callback HTTP request with its credentials (BW §1.8).
 *
 * Bandwidth sends a callback first WITHOUT `Authorization` and expects `401` with a
 * `WWW-Authenticate: Basic …` header; only then does it retry with the credentials. A 401 without that
 * header is not retried: the callback has failed. That is the default here (`challenge`), so every test
 * that drives a call walks the path a live account walks. `upfront` sends the credentials on the first
 * request, for benchmarks that want to compare the extra round trip's cost, and for servers that
 * answer unauthenticated callbacks anyway.
 *
 * Network errors and timeouts are thrown as `fetch` throws them: the caller decides whether to retry
 * (asynchronous callbacks are retried once on a connection exception, BW §1.7).
 */
export interface CallbackAuth {
  username: string;
  password: string;
}

/** `challenge` (Bandwidth's behaviour, the default) or `upfront` (credentials on the first request). */
export type CallbackAuthMode = 'challenge' | 'upfront';

/** Credentials as a request body names them (`username`/`password`); none without a username. */
export function basic(username: unknown, password: unknown): CallbackAuth | undefined {
  return typeof username === 'string' ? { username, password: typeof password === 'string' ? password : '' } : undefined;
}

export function basicAuthHeader(auth: CallbackAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** True when a `WWW-Authenticate` value offers the Basic scheme (it may list several challenges). */
export function offersBasic(wwwAuthenticate: string | null | undefined): boolean {
  return typeof wwwAuthenticate === 'string' && /(?:^|,)\s*basic(?:\s|,|$)/i.test(wwwAuthenticate);
}

export interface CallbackRequest {
  method: 'POST' | 'GET';
  /** Headers other than Authorization (content-type, …). */
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
}

export interface CallbackDelivery {
  /** The response to the last request sent (the retry, when there was one). */
  response: Response;
  /** The Authorization header on the last request, if any. */
  authorization: string | undefined;
  /** The first request went without credentials and drew a 401 with a Basic challenge, then was retried. */
  challenged: boolean;
  /** Requests sent for this callback (1 or 2). */
  requests: number;
}

/**
 * Send one callback. `auth` undefined: a single request without credentials, whatever the mode (a
 * Voice application or verb with no credentials configured has nothing to answer a challenge with).
 */
export async function deliverCallback(url: string, request: CallbackRequest, auth: CallbackAuth | undefined, mode: CallbackAuthMode = 'challenge'): Promise<CallbackDelivery> {
  const send = (authorization: string | undefined) =>
    fetch(url, {
      method: request.method,
      headers: authorization ? { ...request.headers, authorization } : request.headers,
      body: request.body,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  const credentials = auth ? basicAuthHeader(auth) : undefined;
  if (credentials && mode === 'upfront') return { response: await send(credentials), authorization: credentials, challenged: false, requests: 1 };
  const first = await send(undefined);
  if (!credentials || first.status !== 401 || !offersBasic(first.headers.get('www-authenticate'))) {
    return { response: first, authorization: undefined, challenged: false, requests: 1 };
  }
  await first.arrayBuffer(); // drain it, so the keep-alive connection can carry the retry
  return { response: await send(credentials), authorization: credentials, challenged: true, requests: 2 };
}
