import { ManualClock } from '../../src/clock';
import { basicAuthHeader, SimulatedCall } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { bxmlFixture } from '../helpers/fixtures';
import { CALL_ID, CALLBACK, EPOCH_MS, FakeSwitchboard, until } from './fake-switchboard';

/**
 * The Bandwidth REST stand-in driving attached SimulatedCalls (updateCall, updateCallBxml, hang-up,
 * 409, redirect fallback), against a small fake Switchboard.
 */
const ACCOUNT = '9901234';
const FALLBACK = { username: 'bw-fallback', password: 'f4llb4ck-Pass' };
const HUMAN = '+19195550177';

describe('Bandwidth REST stand-in with attached calls', () => {
  let rest: BandwidthRestStandIn;
  let fake: FakeSwitchboard;
  let clock: ManualClock;
  let call: SimulatedCall;
  let token: string;

  async function api(method: 'POST' | 'PUT', path: string, body: unknown, contentType = 'application/json', bearer: string | undefined = token): Promise<{ status: number; body: any }> {
    const res = await fetch(`${rest.apiBaseUrl}/accounts/${ACCOUNT}/calls/${path}`, {
      method,
      headers: { 'content-type': contentType, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  const updateCall = (body: Record<string, unknown>, callId = CALL_ID) => api('POST', callId, body);
  const updateCallBxml = (xml: string, callId = CALL_ID, contentType = 'application/xml') => api('PUT', `${callId}/bxml`, xml, contentType);
  const transferXml = () =>
    `<Response><StopStream name="ai-agent"/><Transfer transferCompleteUrl="${fake.url}/bandwidth/voice/transfer-complete" username="${CALLBACK.username}" password="${CALLBACK.password}">` +
    `<PhoneNumber transferAnswerUrl="${fake.url}/bandwidth/voice/transfer-answer" username="${CALLBACK.username}" password="${CALLBACK.password}">${HUMAN}</PhoneNumber></Transfer></Response>`;

  beforeEach(async () => {
    rest = await startBandwidthRestStandIn();
    fake = await new FakeSwitchboard().start();
    fake.on('transfer', () => transferXml());
    fake.on('transfer-answer', bxmlFixture('transferAnswer-whisper-response'));
    fake.on('transfer-complete', bxmlFixture('transferComplete-hangup-response'));
    clock = new ManualClock(0);
    call = new SimulatedCall({ baseUrl: fake.url, callbackAuth: CALLBACK, clock, callId: CALL_ID, epochMs: EPOCH_MS, transfer: () => ({ outcome: 'answered', ringMs: 1000, talkMs: 2000 }) });
    await call.dial();
    await until(() => fake.streamEvents('mediaStreamStarted').length === 1);
    rest.attach(call);
    const t = await fetch(rest.oauthUrl, {
      method: 'POST',
      headers: { authorization: basicAuthHeader({ username: 'client-id', password: 'client-secret' }), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    token = ((await t.json()) as { access_token: string }).access_token;
  });

  afterEach(async () => {
    call.destroy();
    await rest.close();
    await fake.close();
  });

  it('updateCall redirect: 200, then the attached call POSTs the redirect callback with the request credentials and runs the returned Transfer', async () => {
    const res = await updateCall({ state: 'active', redirectUrl: `${fake.url}/bandwidth/voice/transfer`, redirectMethod: 'POST', username: CALLBACK.username, password: CALLBACK.password, tag: 'ai:transfer-requested' });
    expect(res).toEqual({ status: 200, body: undefined });
    await rest.idle();
    const [redirect] = fake.hitsTo('transfer');
    expect(redirect!.authorization).toBe(basicAuthHeader(CALLBACK));
    expect(redirect!.body).toMatchObject({ eventType: 'redirect', callId: CALL_ID, tag: 'ai:transfer-requested', answerTime: expect.any(String) });
    expect(rest.redirects).toEqual([{ callId: CALL_ID, url: `${fake.url}/bandwidth/voice/transfer`, status: 200, bxml: transferXml(), attached: true }]);
    expect(rest.requests.at(-1)).toMatchObject({ operation: 'updateCall', callId: CALL_ID, attached: true, status: 200, authorization: `Bearer ${token}` });
    // The returned BXML ran: the stream stopped and the transfer rings.
    expect(fake.streamEvents('mediaStreamStopped')[0]!.body).toMatchObject({ cause: 'closed' });
    expect(call.transferInProgress).toMatchObject({ state: 'ringing', target: { address: HUMAN } });
    clock.advance(1000);
    await until(() => call.transferInProgress?.state === 'bridged');
    clock.advance(2000);
    expect(await call.closed).toMatchObject({ reason: 'bxml-hangup' });
    expect(fake.eventTypes.slice(-3)).toEqual(['transferAnswer', 'transferComplete', 'disconnect']);
    expect(call.transfers[0]!.whisper?.texts).toHaveLength(1);
    expect(rest.errors).toEqual([]);
  });

  it('updateCallBxml: application/xml only (415 otherwise), 204, and the call runs the document', async () => {
    const wrong = await updateCallBxml(transferXml(), CALL_ID, 'application/json');
    expect(wrong.status).toBe(415);
    expect(wrong.body).toMatchObject({ type: 'validation', description: expect.stringMatching(/application\/xml/), id: null });
    expect(await updateCallBxml('<Bxml><Hangup/>')).toMatchObject({ status: 400, body: { type: 'validation' } });
    expect(call.ended).toBeUndefined();

    const res = await updateCallBxml(transferXml(), CALL_ID, 'application/xml; charset=utf-8');
    expect(res).toEqual({ status: 204, body: undefined });
    await rest.idle();
    expect(rest.bxmlUpdates).toEqual([{ callId: CALL_ID, xml: transferXml(), attached: true }]);
    expect(rest.requests.filter((r) => r.operation === 'updateCallBxml').map((r) => r.status)).toEqual([415, 400, 204]);
    expect(call.documents.at(-1)).toMatchObject({ eventType: 'updateCallBxml', xml: transferXml() });
    expect(call.transferInProgress?.state).toBe('ringing');
    expect(fake.streamEvents('mediaStreamStopped')).toHaveLength(1);
    expect(fake.hitsTo('stream-ended')).toHaveLength(0); // the interrupted document's Redirect never runs
  });

  it("state: completed hangs the call up (mediaStreamStopped, disconnect cause hangup); then updateCall and updateCallBxml get 409", async () => {
    expect((await updateCall({ state: 'completed' })).status).toBe(200);
    await rest.idle();
    expect(await call.closed).toMatchObject({ reason: 'api-hangup', cause: 'hangup' });
    expect(fake.streamEvents('mediaStreamStopped')[0]!.body).toMatchObject({ cause: 'closed' });
    expect(fake.hitsTo('status')[0]!.body).toMatchObject({ eventType: 'disconnect', cause: 'hangup', callId: CALL_ID });
    const conflict = { type: 'validation', description: `Call [${CALL_ID}] cannot be modified in its current state`, id: null };
    expect(await updateCall({ state: 'active', redirectUrl: `${fake.url}/bandwidth/voice/transfer` })).toEqual({ status: 409, body: conflict });
    expect(await updateCallBxml(transferXml())).toEqual({ status: 409, body: conflict });
    expect(await updateCall({ state: 'completed' })).toEqual({ status: 409, body: conflict });
    expect(fake.hitsTo('transfer')).toHaveLength(0);
  });

  it('409 once the caller has hung up; 401 without a token; scripted failures for updateCallBxml', async () => {
    await call.hangup();
    expect((await updateCall({ redirectUrl: `${fake.url}/bandwidth/voice/transfer` })).status).toBe(409);
    expect((await updateCallBxml('<Bxml/>')).status).toBe(409);
    expect((await api('PUT', `${CALL_ID}/bxml`, '<Bxml/>', 'application/xml', 'nope')).status).toBe(401);
    rest.fail('updateCallBxml', { status: 503 });
    expect(await updateCallBxml('<Bxml/>')).toEqual({ status: 503, body: { type: 'internal-error', description: 'scripted 503', id: null } });
    // A call that is not attached keeps the simple behaviour.
    expect((await updateCallBxml('<Bxml/>', 'c-other')).status).toBe(204);
    expect(rest.bxmlUpdates.at(-1)).toEqual({ callId: 'c-other', xml: '<Bxml/>', attached: false });
  });

  it('redirect fallback: when redirectUrl answers 403, the attached call POSTs redirectFallbackUrl with the fallback credentials and runs its BXML', async () => {
    fake.on('forbidden', { status: 403, type: 'application/json', body: '{"error":"nope"}' });
    fake.auth.set('fallback', FALLBACK);
    fake.on('fallback', () => transferXml());
    await updateCall({
      redirectUrl: `${fake.url}/bandwidth/voice/forbidden`,
      username: CALLBACK.username,
      password: CALLBACK.password,
      redirectFallbackUrl: `${fake.url}/bandwidth/voice/fallback`,
      redirectFallbackMethod: 'POST',
      fallbackUsername: FALLBACK.username,
      fallbackPassword: FALLBACK.password,
    });
    await rest.idle();
    expect(fake.hitsTo('forbidden')[0]!.authorization).toBe(basicAuthHeader(CALLBACK));
    const [fallback] = fake.hitsTo('fallback');
    expect(fallback!.authorization).toBe(basicAuthHeader(FALLBACK));
    expect(fallback!.body).toMatchObject({ eventType: 'redirect', callId: CALL_ID });
    expect(call.callbacksOf('redirect').map((c) => c.status)).toEqual([403, 200]);
    expect(rest.redirects.map((r) => [r.url.replace(fake.url, ''), r.status, r.fallback ?? false])).toEqual([
      ['/bandwidth/voice/forbidden', 403, false],
      ['/bandwidth/voice/fallback', 200, true],
    ]);
    expect(call.transferInProgress?.state).toBe('ringing');
  });

  it('redirect fallback for a call that is not attached: the stand-in itself tries the fallback after a 403', async () => {
    fake.on('forbidden', { status: 403, type: 'application/json', body: '{}' });
    fake.auth.set('fallback', FALLBACK);
    fake.on('fallback', '<Response><Hangup/></Response>');
    const res = await updateCall(
      {
        redirectUrl: `${fake.url}/bandwidth/voice/forbidden`,
        username: CALLBACK.username,
        password: CALLBACK.password,
        redirectFallbackUrl: `${fake.url}/bandwidth/voice/fallback`,
        fallbackUsername: FALLBACK.username,
        fallbackPassword: FALLBACK.password,
        tag: 't',
      },
      'c-unattached',
    );
    expect(res.status).toBe(200);
    await until(() => rest.redirects.length === 2, 'both redirect attempts');
    expect(rest.redirects.map((r) => [r.status, r.fallback ?? false])).toEqual([
      [403, false],
      [200, true],
    ]);
    expect(rest.redirects[1]!.bxml).toBe('<Response><Hangup/></Response>');
    expect(fake.hitsTo('fallback')[0]!.authorization).toBe(basicAuthHeader(FALLBACK));
    expect(fake.hitsTo('fallback')[0]!.body).toMatchObject({ eventType: 'redirect', callId: 'c-unattached', tag: 't' });
    expect(call.callbacksOf('redirect')).toHaveLength(0); // the attached call was not involved
  });

  it('detach(): the call goes back to the unattached behaviour', async () => {
    rest.detach(call);
    expect((await updateCall({ state: 'completed' })).status).toBe(200);
    expect(rest.hungUp.has(CALL_ID)).toBe(true);
    expect(call.ended).toBeUndefined();
    expect((await updateCall({ state: 'completed' })).status).toBe(409);
  });
});
