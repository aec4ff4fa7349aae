import { OAUTH_DEFAULT_TOKEN_LIFETIME_S, OAUTH_REFRESH_BEFORE_EXPIRY_MS } from '../../constants';
import { z } from 'zod';
import type { Clock } from '../../clock';
import { BandwidthApiError } from './errors';

/**
 * OAuth client credentials for Bandwidth's REST API (BW §5; DESIGN §4.7: legacy API-user passwords stop
 * working on 2026-12-02). POST grant_type=client_credentials with Basic clientId:clientSecret to
 * BANDWIDTH_OAUTH_URL; cache the token and refresh it a minute before it expires. Concurrent callers
 * share one request.
 */
const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive().optional(),
  token_type: z.string().optional(),
});


export class OAuthTokenProvider {
  private token: string | undefined;
  private expiresAtMs = 0;
  private inflight: Promise<string> | undefined;
  fetched = 0;

  constructor(
    private readonly tokenUrl: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
    private readonly clock: Clock,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async get(): Promise<string> {
    if (this.token && this.clock.now() < this.expiresAtMs - OAUTH_REFRESH_BEFORE_EXPIRY_MS) return this.token;
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Forget the cached token (after a 401 from the API, a fresh one is worth one retry). */
  invalidate(): void {
    this.token = undefined;
  }

  private async fetchToken(): Promise<string> {
    const res = await this.fetchImpl(this.tokenUrl, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${this.clientId}:${this.clientSecret}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw BandwidthApiError.fromResponse('oauth2/token', res.status, text, res.headers.get('retry-after'));
    let parsed: z.infer<typeof tokenResponseSchema>;
    try {
      parsed = tokenResponseSchema.parse(JSON.parse(text));
    } catch {
      throw new BandwidthApiError('oauth2/token', res.status, 'invalid-token-response', 'the OAuth token response has no access_token', null);
    }
    this.fetched++;
    this.token = parsed.access_token;
    this.expiresAtMs = this.clock.now() + (parsed.expires_in ?? OAUTH_DEFAULT_TOKEN_LIFETIME_S) * 1000;
    return this.token;
  }
}
