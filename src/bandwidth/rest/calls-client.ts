import { CallsApi, Configuration, type CreateCall, type CreateCallResponse, type UpdateCall } from 'bandwidth-sdk';
import type { Clock } from '../../clock';
import type { Logger } from '../../log';
import { BandwidthApiError } from './errors';
import { OAuthTokenProvider } from './oauth';

/**
 * Bandwidth's Calls API (BW §5) on the official `bandwidth-sdk` (DESIGN §4.7), with OAuth from
 * OAuthTokenProvider so BANDWIDTH_OAUTH_URL is honoured (the SDK's own token function hard-codes the
 * host, BW §6.3). BANDWIDTH_API_BASE_URL becomes the SDK's basePath (BW §6.7.6).
 * 429 honours Retry-After; 503 and refused connections are retried with bounded backoff (other 5xx and
 * timeouts are not: the request may have been carried out); 409 (the call cannot be modified: not
 * answered yet, or already gone) is returned as an outcome.
 */
export interface CallsClientOptions {
  accountId: string;
  clientId: string;
  clientSecret: string;
  apiBaseUrl: string;
  oauthUrl: string;
  clock: Clock;
  logger: Logger;
  /** Attempts for a retryable failure (429, 5xx, network), first try included. */
  maxAttempts?: number;
  /** Cap on any single wait, including Retry-After. */
  maxWaitMs?: number;
  /** Sleep through the clock (tests drive it); defaults to a real timer on the clock. */
  sleep?: (ms: number) => Promise<void>;
}

export type UpdateOutcome = { ok: true } | { ok: false; gone: true; error: BandwidthApiError };

export class BandwidthCalls {
  private readonly api: CallsApi;
  readonly tokens: OAuthTokenProvider;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: CallsClientOptions) {
    this.tokens = new OAuthTokenProvider(options.oauthUrl, options.clientId, options.clientSecret, options.clock);
    const configuration = new Configuration({ accessToken: () => this.tokens.get(), basePath: options.apiBaseUrl, baseOptions: { timeout: 10_000 } });
    this.api = new CallsApi(configuration);
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => options.clock.setTimeout(resolve, ms)));
  }

  /**
   * Interrupt the call's BXML and fetch new BXML from `redirectUrl` (BW §5 updateCall, state active).
   * `fallbackUrl` is where Bandwidth goes if the primary fails (BW §1.7), with the same credentials.
   */
  async redirect(
    callId: string,
    redirectUrl: string,
    credentials: { username: string; password: string },
    options: { tag?: string; fallbackUrl?: string } = {},
  ): Promise<UpdateOutcome> {
    const body: UpdateCall = {
      state: 'active',
      redirectUrl,
      redirectMethod: 'POST',
      username: credentials.username,
      password: credentials.password,
      ...(options.fallbackUrl
        ? { redirectFallbackUrl: options.fallbackUrl, redirectFallbackMethod: 'POST', fallbackUsername: credentials.username, fallbackPassword: credentials.password }
        : {}),
      ...(options.tag ? { tag: options.tag } : {}),
    };
    return this.update(callId, body, 'updateCall(redirect)');
  }

  /** End the call (BW §5: `{"state":"completed"}` hangs up an answered call). */
  async hangUp(callId: string): Promise<UpdateOutcome> {
    return this.update(callId, { state: 'completed' }, 'updateCall(hangup)');
  }

  async createCall(body: Omit<CreateCall, 'applicationId'> & { applicationId: string }): Promise<CreateCallResponse> {
    const res = await this.withRetry('createCall', () => this.api.createCall(this.options.accountId, body));
    return res.data;
  }

  private async update(callId: string, body: UpdateCall, operation: string): Promise<UpdateOutcome> {
    try {
      await this.withRetry(operation, () => this.api.updateCall(this.options.accountId, callId, body));
      return { ok: true };
    } catch (err) {
      if (err instanceof BandwidthApiError && err.status === 409) return { ok: false, gone: true, error: err };
      throw err;
    }
  }

  private async withRetry<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const maxAttempts = this.options.maxAttempts ?? 3;
    const maxWaitMs = this.options.maxWaitMs ?? 5_000;
    let refreshedToken = false;
    for (let attempt = 1; ; attempt++) {
      let error: BandwidthApiError;
      try {
        return await run();
      } catch (err) {
        error = toApiError(operation, err);
      }
      // A 401 with a cached token: the token may have been revoked early; one retry with a fresh one.
      if (error.status === 401 && !refreshedToken) {
        refreshedToken = true;
        this.tokens.invalidate();
        continue;
      }
      if (!error.retryable || attempt >= maxAttempts) throw error;
      const backoffMs = 250 * 2 ** (attempt - 1);
      const waitMs = Math.min(maxWaitMs, error.status === 429 && error.retryAfterS !== undefined ? error.retryAfterS * 1000 : backoffMs);
      this.options.logger.warn({ operation, status: error.status, attempt, waitMs }, 'Bandwidth API call failed; retrying');
      await this.sleep(waitMs);
    }
  }
}

/** axios errors → BandwidthApiError (BW §6.4: `err.response.data` is a VoiceApiError). */
function toApiError(operation: string, err: unknown): BandwidthApiError {
  if (err instanceof BandwidthApiError) return err;
  const e = err as { response?: { status?: number; data?: unknown; headers?: Record<string, string> }; message?: string };
  if (e.response?.status) {
    return BandwidthApiError.fromResponse(operation, e.response.status, e.response.data, e.response.headers?.['retry-after']);
  }
  // No response at all. Only a refused connection certainly did nothing (see BandwidthApiError.retryable).
  const code = (err as { code?: string }).code;
  const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
  return new BandwidthApiError(operation, 502, refused ? 'connection-refused' : 'network-error', e.message ?? 'no response from Bandwidth', null);
}
