import { createLogger } from '../log';
import { startSwitchboard } from '../main';

/**
 * How the CLI reaches the admin API: a remote server (`--url`, `--token`), or the local
 * data directory — then an in-process server on 127.0.0.1 is started for the command and closed after,
 * so both ways run exactly the same API code.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClient {
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export async function connect(options: { url?: string; token?: string; env: NodeJS.ProcessEnv }): Promise<ApiClient> {
  if (options.url) {
    const token = options.token ?? options.env.ADMIN_TOKEN;
    if (!token) throw new ApiError(0, '--token (or ADMIN_TOKEN) is required with --url');
    return httpClient(options.url.replace(/\/+$/, ''), token, async () => undefined);
  }
  // Local: the data directory's own server, on a private port, with no banner and no logs.
  const app = await startSwitchboard({
    env: { ...options.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', PUBLIC_BASE_URL: options.env.PUBLIC_BASE_URL ?? '' },
    print: () => undefined,
    logger: createLogger('silent'),
    forCommand: true,
  });
  return httpClient(app.localUrl.replace('0.0.0.0', '127.0.0.1'), app.credentials.credentials.adminToken, () => app.close(0));
}

function httpClient(base: string, token: string, close: () => Promise<void>): ApiClient {
  return {
    close,
    async request<T>(method: string, p: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}/api${p}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        throw new ApiError(0, `cannot reach ${base}: ${(err as Error).message}`);
      }
      const text = await res.text();
      const json = text ? (JSON.parse(text) as unknown) : undefined;
      if (!res.ok) {
        const e = (json as { error?: { message?: string } } | undefined)?.error;
        throw new ApiError(res.status, e?.message ?? `HTTP ${res.status}`);
      }
      return json as T;
    },
  };
}
