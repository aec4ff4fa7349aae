import { BandwidthApiError } from '../../../src/bandwidth/rest/errors';
import { BandwidthCalls } from '../../../src/bandwidth/rest/calls-client';
import { ManualClock } from '../../../src/clock';
import { createLogger } from '../../../src/log';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../../src/sim/bandwidth-rest';

describe('Bandwidth Calls API client', () => {
  let rest: BandwidthRestStandIn;
  let clock: ManualClock;
  let waits: number[];
  let calls: BandwidthCalls;
  const creds = { username: 'bw-callbacks', password: 'pw' };

  beforeEach(async () => {
    rest = await startBandwidthRestStandIn({ followRedirects: false, tokenLifetimeS: 3600 });
    clock = new ManualClock(0);
    waits = [];
    calls = new BandwidthCalls({
      accountId: '9901234',
      clientId: 'client-id',
      clientSecret: 'client-secret',
      apiBaseUrl: rest.apiBaseUrl,
      oauthUrl: rest.oauthUrl,
      clock,
      logger: createLogger('silent'),
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
  });
  afterEach(() => rest.close());

  it('uses OAuth client credentials against BANDWIDTH_OAUTH_URL and caches the token', async () => {
    await calls.redirect('c-1', 'https://sb.example.com/bandwidth/voice/redirect?t=x', creds);
    await calls.hangUp('c-2');
    const token = rest.requests.filter((r) => r.operation === 'token');
    expect(token).toHaveLength(1);
    expect(token[0]!.authorization).toBe(`Basic ${Buffer.from('client-id:client-secret').toString('base64')}`);
    expect(token[0]!.body).toEqual({ grant_type: 'client_credentials' });
    const updates = rest.requests.filter((r) => r.operation === 'updateCall');
    expect(updates.map((u) => u.authorization)).toEqual(['Bearer bw-token-1', 'Bearer bw-token-1']);
    expect(updates[0]!.body).toEqual({ state: 'active', redirectUrl: 'https://sb.example.com/bandwidth/voice/redirect?t=x', redirectMethod: 'POST', username: 'bw-callbacks', password: 'pw' });
    expect(updates[1]!.body).toEqual({ state: 'completed' });
  });

  it('refreshes the token a minute before it expires', async () => {
    await calls.hangUp('c-1');
    clock.advance(3600_000 - 61_000);
    await calls.hangUp('c-2');
    expect(calls.tokens.fetched).toBe(1);
    clock.advance(2_000);
    await calls.hangUp('c-3');
    expect(calls.tokens.fetched).toBe(2);
  });

  it('honours Retry-After on 429 and retries 5xx with bounded backoff', async () => {
    rest.fail('updateCall', { status: 429, retryAfterS: 2 }, { status: 503 });
    await expect(calls.redirect('c-1', 'https://x/y', creds)).resolves.toEqual({ ok: true });
    expect(waits).toEqual([2000, 500]);
    expect(rest.requests.filter((r) => r.operation === 'updateCall')).toHaveLength(3);
  });

  it('gives up after the attempt limit with a typed error carrying Bandwidth\'s body', async () => {
    rest.fail('updateCall', { status: 503 }, { status: 503 }, { status: 503 });
    const err = (await calls.hangUp('c-1').catch((e: unknown) => e)) as BandwidthApiError;
    expect(err).toBeInstanceOf(BandwidthApiError);
    expect(err).toMatchObject({ status: 503, description: 'scripted 503' });
    expect(waits).toEqual([250, 500]);
  });

  it('a 500 is not repeated: the request may have been carried out (a second createCall would ring twice)', async () => {
    rest.fail('createCall', { status: 500 });
    const err = (await calls.createCall({ to: '+19195550142', from: '+19195550100', applicationId: 'app', answerUrl: 'https://x/a' }).catch((e: unknown) => e)) as BandwidthApiError;
    expect(err.status).toBe(500);
    expect(waits).toEqual([]);
    expect(rest.requests.filter((r) => r.operation === 'createCall')).toHaveLength(1);
  });

  it('409 (call already gone) is an outcome, not a crash', async () => {
    await calls.hangUp('c-1');
    const outcome = await calls.hangUp('c-1');
    expect(outcome).toMatchObject({ ok: false, gone: true });
    if (!outcome.ok) expect(outcome.error.description).toMatch(/cannot be modified/);
  });

  it('a 400 is not retried and names the problem', async () => {
    const err = (await calls.createCall({ to: '+19195550142', from: 'nope', applicationId: 'app', answerUrl: 'https://x/answer' }).catch((e: unknown) => e)) as BandwidthApiError;
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/Invalid from: must be an E164 telephone number/);
    expect(waits).toEqual([]);
  });

  it('createCall returns Bandwidth\'s response', async () => {
    const created = await calls.createCall({ to: '+19195550142', from: '+19195550100', applicationId: 'app', answerUrl: 'https://x/answer', tag: 'sb' });
    expect(created).toMatchObject({ accountId: '9901234', to: '+19195550142', from: '+19195550100', tag: 'sb' });
    expect(created.callId).toMatch(/^c-/);
  });

  it('bad client credentials are a clear error', async () => {
    const bad = new BandwidthCalls({ accountId: '1', clientId: 'x', clientSecret: 'y', apiBaseUrl: rest.apiBaseUrl, oauthUrl: rest.oauthUrl, clock, logger: createLogger('silent') });
    await expect(bad.hangUp('c-1')).rejects.toThrow(/oauth2\/token failed: HTTP 401 authentication-error/);
  });
});
