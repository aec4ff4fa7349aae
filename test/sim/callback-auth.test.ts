import { ManualClock } from '../../src/clock';
import { basicAuthHeader, InitiateFailedError, offersBasic, SimulatedCall, type SimulatedCallOptions } from '../../src/sim/bandwidth-caller';
import { CALL_ID, CALLBACK, EPOCH_MS, FakeSwitchboard, until } from './fake-switchboard';

/**
 * The Bandwidth caller stand-in presents callback credentials the way Bandwidth does (BW §1.8): first
 * without Authorization, then again with it only after a 401 that carries `WWW-Authenticate: Basic`.
 */
describe('challenge-first callback authentication (Bandwidth caller stand-in)', () => {
  let fake: FakeSwitchboard;
  let call: SimulatedCall | undefined;

  async function start(options: Partial<SimulatedCallOptions> = {}, challenge: string | null = 'Basic realm="x"'): Promise<SimulatedCall> {
    fake = await new FakeSwitchboard().start();
    fake.challenge = challenge ?? undefined;
    call = new SimulatedCall({ baseUrl: fake.url, callbackAuth: CALLBACK, clock: new ManualClock(0), callId: CALL_ID, epochMs: EPOCH_MS, ...options });
    return call;
  }

  afterEach(async () => {
    call?.destroy();
    call = undefined;
    await fake.close();
  });

  it('sends every callback without credentials first, and again with them after the Basic challenge', async () => {
    const c = await start();
    await c.dial();
    await until(() => fake.streamEvents('mediaStreamStarted').length === 1, 'mediaStreamStarted');
    await c.hangup();
    // initiate, the stream events and disconnect: each refused once without credentials, then served with them.
    expect(fake.hits.map((h) => h.route)).toEqual(['initiate', 'stream-events', 'stream-events', 'status']);
    expect(fake.refused.map((h) => h.route)).toEqual(fake.hits.map((h) => h.route));
    expect(fake.refused.every((h) => h.authorization === undefined)).toBe(true);
    expect(fake.hits.every((h) => h.authorization === basicAuthHeader(CALLBACK))).toBe(true);
    // The retry carries the same event as the challenged request.
    expect(fake.refused.map((h) => h.body.eventType)).toEqual(fake.hits.map((h) => h.body.eventType));
    expect(c.callbacks.map((r) => [r.eventType, r.status, r.challenged])).toEqual([
      ['initiate', 200, true],
      ['mediaStreamStarted', 204, true],
      ['mediaStreamStopped', 204, true],
      ['disconnect', 204, true],
    ]);
  });

  it('does not retry when the 401 carries no WWW-Authenticate: Basic (the callback failed)', async () => {
    const c = await start({}, null);
    const failure = await c.dial().then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(InitiateFailedError);
    expect((failure as InitiateFailedError).status).toBe(401);
    expect(fake.refused.filter((h) => h.route === 'initiate').map((h) => h.authorization)).toEqual([undefined]);
    expect(fake.hits).toHaveLength(0);
    expect(c.callbacks[0]).toMatchObject({ eventType: 'initiate', status: 401, authorization: undefined });
    expect(c.callbacks[0]!.challenged).toBeUndefined();
  });

  it('does not retry when the challenge offers another scheme only', async () => {
    const c = await start({}, 'Bearer realm="x"');
    await expect(c.dial()).rejects.toBeInstanceOf(InitiateFailedError);
    expect(fake.refused.filter((h) => h.route === 'initiate')).toHaveLength(1);
  });

  it('fails the callback when the credentials sent after the challenge are wrong (one retry, no more)', async () => {
    const wrong = { username: CALLBACK.username, password: 'not-the-password' };
    const c = await start({ callbackAuth: wrong });
    const failure = await c.dial().then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(InitiateFailedError);
    expect((failure as InitiateFailedError).status).toBe(401);
    expect(fake.refused.filter((h) => h.route === 'initiate').map((h) => h.authorization)).toEqual([undefined, basicAuthHeader(wrong)]);
    expect(c.callbacks[0]).toMatchObject({ status: 401, challenged: true, authorization: basicAuthHeader(wrong) });
  });

  it("'upfront' sends the credentials on the first request: no challenge round trip", async () => {
    const c = await start({ callbackAuthMode: 'upfront' });
    await c.dial();
    await until(() => fake.streamEvents('mediaStreamStarted').length === 1, 'mediaStreamStarted');
    expect(fake.refused).toHaveLength(0);
    expect(fake.hitsTo('initiate')[0]!.authorization).toBe(basicAuthHeader(CALLBACK));
    expect(c.callbacks[0]!.challenged).toBeUndefined();
  });

  it('recognises Basic among several challenges, in any case', () => {
    expect(offersBasic('Basic realm="Switchboard"')).toBe(true);
    expect(offersBasic('basic')).toBe(true);
    expect(offersBasic('Bearer realm="a", Basic realm="b"')).toBe(true);
    expect(offersBasic('Bearer realm="basic"')).toBe(false);
    expect(offersBasic('Basically')).toBe(false);
    expect(offersBasic(null)).toBe(false);
  });
});
