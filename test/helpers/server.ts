import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSwitchboard, type RunningSwitchboard, type StartOptions } from '../../src/main';
import { createLogger } from '../../src/log';
import type { Clock } from '../../src/clock';
import { SimulatedCall, type SimulatedCallOptions } from '../../src/sim/bandwidth-caller';
import { FINAL_CALL_STATES } from '../../src/store/types';

export const PUBLIC_BASE = 'https://switchboard.test';

export interface TestServer {
  app: RunningSwitchboard;
  url: string;
  dataDir: string;
  auth: string;
  /** POST a JSON body (or raw string) to a voice callback route with the callback credentials. */
  post(route: string, body: unknown, options?: { auth?: string | null; query?: string; contentType?: string }): Promise<Response>;
  close(): Promise<void>;
}

/** A real Switchboard on 127.0.0.1:0 with a fresh data directory. */
export async function startTestServer(env: Record<string, string> = {}, options: Partial<StartOptions> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-test-'));
  const app = await startSwitchboard({
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, PUBLIC_BASE_URL: PUBLIC_BASE, LOG_LEVEL: 'silent', ...env },
    print: () => undefined,
    logger: createLogger('silent'),
    ...options,
  });
  // Every call in the test suite ends with exactly one outcome (docs/architecture.md, "Call outcomes"):
  // checked just before the store closes, however the server is stopped (a test's own drain included),
  // so every integration test over this server enforces it.
  let unresolved: string[] = [];
  const closeStore = app.store.close.bind(app.store);
  app.store.close = async () => {
    unresolved = await callsEndedWithoutOutcome(app);
    await closeStore();
  };
  const { callbackUsername, callbackPassword } = app.credentials.credentials;
  const auth = `Basic ${Buffer.from(`${callbackUsername}:${callbackPassword}`).toString('base64')}`;
  const url = app.localUrl.replace('0.0.0.0', '127.0.0.1');
  return {
    app,
    url,
    dataDir,
    auth,
    post: (route, body, opts = {}) => {
      const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json' };
      const authHeader = opts.auth === undefined ? auth : opts.auth;
      if (authHeader) headers.authorization = authHeader;
      return fetch(`${url}/bandwidth/voice/${route}${opts.query ? `?${opts.query}` : ''}`, {
        method: 'POST',
        headers,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    close: async () => {
      await app.close(0); // tests do not wait for live calls to drain

      fs.rmSync(dataDir, { recursive: true, force: true });
      if (unresolved.length > 0) throw new Error(`every call ends with exactly one outcome (docs/architecture.md, "Call outcomes"); ended without one: ${unresolved.join(', ')}`);
    },
  };
}

/**
 * Calls in a final state whose outcome is still empty, as `id (leg, state, cause)`. A call is a caller's leg,
 * or a leg without a known parent (an OpenAI SIP call that came without our Bandwidth leg): a child leg's
 * outcome is its parent's (the store routes proposals there).
 */
async function callsEndedWithoutOutcome(app: RunningSwitchboard): Promise<string[]> {
  const found: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await app.store.calls.list({ limit: 500, cursor, allLegs: true });
    for (const c of page.items) {
      const isCall = c.leg === 'caller' || c.parentCallId === null || !(await app.store.calls.get(c.parentCallId));
      if (isCall && FINAL_CALL_STATES.includes(c.state) && c.outcome === null) found.push(`${c.id} (${c.leg}, ${c.state}, ${c.cause ?? 'no cause'})`);
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return found;
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** The environment of a server whose Bandwidth REST API and OAuth are the stand-in `rest`. */
export function bandwidthRestEnv(rest: { apiBaseUrl: string; oauthUrl: string }): Record<string, string> {
  return {
    BANDWIDTH_ACCOUNT_ID: '9901234',
    BANDWIDTH_APPLICATION_ID: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47',
    BANDWIDTH_CLIENT_ID: 'client-id',
    BANDWIDTH_CLIENT_SECRET: 'client-secret',
    BANDWIDTH_API_BASE_URL: rest.apiBaseUrl,
    BANDWIDTH_OAUTH_URL: rest.oauthUrl,
  };
}

/**
 * The environment of a server wired to the stand-ins: OpenAI Realtime at `openaiUrl`, Bandwidth's REST API
 * and OAuth at `rest`, the default agent's warm transfer to `transferTo`.
 */
export function standInEnv(openaiUrl: string, rest: { apiBaseUrl: string; oauthUrl: string }, transferTo: string): Record<string, string> {
  return { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openaiUrl, PUBLIC_BASE_URL: '', TRANSFER_TO: transferTo, ...bandwidthRestEnv(rest) };
}

/**
 * Bandwidth's side of a call to `server` (the caller stand-in), authenticating with the server's callback
 * credentials, with 400 ms of stream set-up; `options` add to or override that.
 */
export function callerFor(server: TestServer, clock: Clock, options: Partial<SimulatedCallOptions> = {}): SimulatedCall {
  const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
  return new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400, ...options });
}
