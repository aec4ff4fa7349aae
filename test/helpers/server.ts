import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSwitchboard, type RunningSwitchboard, type StartOptions } from '../../src/main';
import { createLogger } from '../../src/log';

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
    },
  };
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
