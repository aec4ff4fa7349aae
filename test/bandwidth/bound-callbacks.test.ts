import { bxml, text, tokenOf } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';

const HUMAN = '+19195550177';
const destination = { id: 'default-human', name: 'human', kind: 'phone' as const, value: HUMAN, warm: true, callTimeoutS: 25 };

/**
 * DESIGN §4.6: transfer-answer, -complete and -disconnect tokens are bound to their A-leg. A token
 * copied out of one call's BXML cannot whisper that call's summary to, or change the state of, anything
 * else: the callback is refused with a 403, stored, and no call changes state.
 */
describe('transfer callbacks are bound to their A-leg', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ TRANSFER_TO: HUMAN });
  });
  afterAll(() => server.close());

  let n = 0;
  /** A stream call the agent transferred (warm, with a summary): its transfer BXML's URLs. */
  async function transferredCall(summary: string): Promise<{ callId: string; answerUrl: string; completeUrl: string; disconnectUrl: string }> {
    const callId = `c-bound-${++n}`;
    expect((await server.post('initiate', { ...callbackFixture('initiate'), callId })).status).toBe(200);
    const redirectUrl = await server.app.contexts.redirectUrl(callId, 'default', { type: 'transfer', destination, reason: 'billing', summary });
    const res = await server.post('redirect', { ...callbackFixture('redirect'), callId }, { query: `t=${tokenOf(redirectUrl)}` });
    expect(res.status).toBe(200);
    const doc = bxml(await res.text());
    return {
      callId,
      answerUrl: doc.one('PhoneNumber').attributes.transferAnswerUrl!,
      completeUrl: doc.one('Transfer').attributes.transferCompleteUrl!,
      disconnectUrl: doc.one('PhoneNumber').attributes.transferDisconnectUrl!,
    };
  }

  const answerBody = (legId: string, parentCallId: string | null | undefined) => {
    const { parentCallId: _p, ...body } = callbackFixture('transferAnswer');
    return parentCallId === undefined ? { ...body, callId: legId } : { ...body, callId: legId, parentCallId };
  };

  async function expectRefused(res: Response, callbackCallId: string, eventType: string, reason: RegExp): Promise<void> {
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('forbidden');
    expect(body.error.message).toMatch(reason);
    expect(JSON.stringify(body)).not.toContain('secret summary');
    const events = await server.app.store.events.list(callbackCallId);
    expect(events.map((e) => e.type)).toContain(`${eventType}.refused`);
  }

  it.each([
    ['no parentCallId', undefined],
    ['a null parentCallId', null],
  ])('a transferAnswer with %s is accepted (bandwidth.yml has none) and binds the leg; a second leg is then refused', async (_label, parent) => {
    const a = await transferredCall('Wants a refund for order A7.');
    const legId = `c-leg-${n}`;
    const res = await server.post('transfer-answer', answerBody(legId, parent), { query: `t=${tokenOf(a.answerUrl)}` });
    expect(res.status).toBe(200);
    expect(text(bxml(await res.text()).one('SpeakSentence'))).toContain('Wants a refund for order A7.');
    expect(await server.app.store.calls.get(a.callId)).toMatchObject({ state: 'transferred' });
    expect(await server.app.store.calls.get(legId)).toMatchObject({ leg: 'transfer', parentCallId: a.callId, state: 'transferred' });
    const other = `c-attacker-leg-${n}`;
    const again = await server.post('transfer-answer', answerBody(other, parent), { query: `t=${tokenOf(a.answerUrl)}` });
    await expectRefused(again, other, 'transferAnswer', new RegExp(`this transfer's leg is ${legId}, not ${other}`));
    expect(await server.app.store.calls.get(other)).toBeUndefined();
  });

  it('of two legs answering at once without a parentCallId, exactly one is bound and whispered to', async () => {
    const a = await transferredCall('secret summary of call A');
    const [first, second] = await Promise.all([
      server.post('transfer-answer', answerBody(`c-race-1-${n}`, undefined), { query: `t=${tokenOf(a.answerUrl)}` }),
      server.post('transfer-answer', answerBody(`c-race-2-${n}`, undefined), { query: `t=${tokenOf(a.answerUrl)}` }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 403]);
    const legs = (await server.app.store.calls.children(a.callId)).map((c) => c.id);
    expect(legs).toHaveLength(1);
  });

  it("a losing leg's transferDisconnect (no parentCallId) binds nothing: the winner's transferAnswer is still accepted", async () => {
    const a = await transferredCall('s');
    const loser = `c-loser-${n}`;
    const { parentCallId: _p, ...disconnect } = callbackFixture('transferDisconnect');
    const gone = await server.post('transfer-disconnect', { ...disconnect, callId: loser, cause: 'cancel' }, { query: `t=${tokenOf(a.disconnectUrl)}` });
    expect(gone.status).toBe(204);
    expect(await server.app.store.calls.get(loser)).toMatchObject({ parentCallId: a.callId, state: 'completed' });
    const winner = `c-winner-${n}`;
    const res = await server.post('transfer-answer', answerBody(winner, undefined), { query: `t=${tokenOf(a.answerUrl)}` });
    expect(res.status).toBe(200);
    // The winner's own disconnect, and a late one from the loser, are both accepted (204).
    expect((await server.post('transfer-disconnect', { ...disconnect, callId: winner }, { query: `t=${tokenOf(a.disconnectUrl)}` })).status).toBe(204);
    expect((await server.post('transfer-disconnect', { ...disconnect, callId: loser }, { query: `t=${tokenOf(a.disconnectUrl)}` })).status).toBe(204);
  });

  it("a transfer-answer URL of call A with call B's parentCallId is refused; neither call changes", async () => {
    const a = await transferredCall('secret summary of call A');
    const b = await transferredCall('summary of call B');
    const legId = `c-attacker-leg-${n}`;
    const res = await server.post('transfer-answer', answerBody(legId, b.callId), { query: `t=${tokenOf(a.answerUrl)}` });
    await expectRefused(res, legId, 'transferAnswer', new RegExp(`bound to call ${a.callId}, not to parentCallId ${b.callId}`));
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('transferring');
    expect((await server.app.store.calls.get(b.callId))?.state).toBe('transferring');
  });

  it('the genuine transfer-answer still whispers; then a second leg cannot reuse the URL', async () => {
    const a = await transferredCall('Wants a refund for order A7.');
    const legId = `c-leg-${n}`;
    const res = await server.post('transfer-answer', answerBody(legId, a.callId), { query: `t=${tokenOf(a.answerUrl)}` });
    expect(res.status).toBe(200);
    const whisper = text(bxml(await res.text()).one('SpeakSentence'));
    expect(whisper).toContain('Reason: billing.');
    expect(whisper).toContain('Wants a refund for order A7.');
    expect(await server.app.store.calls.get(a.callId)).toMatchObject({ state: 'transferred' });
    expect(await server.app.store.calls.get(legId)).toMatchObject({ leg: 'transfer', parentCallId: a.callId, state: 'transferred' });
    const again = await server.post('transfer-answer', answerBody('c-other-leg', a.callId), { query: `t=${tokenOf(a.answerUrl)}` });
    await expectRefused(again, 'c-other-leg', 'transferAnswer', new RegExp(`this transfer's leg is ${legId}`));
  });

  it('transferComplete is accepted with the A-leg callId or the B-leg recorded for this transfer (Bandwidth is ambiguous), and acts on the A-leg', async () => {
    const a = await transferredCall('s');
    const legId = `c-leg-${n}`;
    expect((await server.post('transfer-answer', answerBody(legId, a.callId), { query: `t=${tokenOf(a.answerUrl)}` })).status).toBe(200);
    // Another call's id is refused, and the A-leg keeps its state.
    const stranger = await server.post('transfer-complete', { ...callbackFixture('transferComplete'), callId: 'c-stranger' }, { query: `t=${tokenOf(a.completeUrl)}` });
    await expectRefused(stranger, 'c-stranger', 'transferComplete', new RegExp(`token is for call ${a.callId}, not c-stranger`));
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('transferred');
    // The B-leg's id: the hang-up BXML runs on the A-leg, which completes.
    const res = await server.post('transfer-complete', { ...callbackFixture('transferComplete'), callId: legId }, { query: `t=${tokenOf(a.completeUrl)}` });
    expect(res.status).toBe(200);
    expect(bxml(await res.text()).verbs).toEqual(['Hangup']);
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('completed');
    const complete = (await server.app.store.events.list(a.callId)).find((e) => e.type === 'transferComplete');
    expect((complete!.data as { callback: { reportedCallId: string }; switchboard: { transfer: string } })).toMatchObject({ callback: { reportedCallId: legId }, switchboard: { transfer: 'completed' } });
  });

  it("transferComplete with the A-leg's own callId works as before", async () => {
    const a = await transferredCall('s');
    const res = await server.post('transfer-complete', { ...callbackFixture('transferComplete'), callId: a.callId }, { query: `t=${tokenOf(a.completeUrl)}` });
    expect(res.status).toBe(200);
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('completed');
  });

  it("transferDisconnect naming another call's parentCallId is refused; the genuine one closes the leg", async () => {
    const a = await transferredCall('s');
    const b = await transferredCall('s');
    const legId = `c-leg-${n}`;
    const forged = await server.post('transfer-disconnect', { ...callbackFixture('transferDisconnect'), callId: legId, parentCallId: b.callId }, { query: `t=${tokenOf(a.disconnectUrl)}` });
    await expectRefused(forged, legId, 'transferDisconnect', /bound to call/);
    expect(await server.app.store.calls.get(legId)).toBeUndefined();
    const genuine = await server.post('transfer-disconnect', { ...callbackFixture('transferDisconnect'), callId: legId, parentCallId: a.callId }, { query: `t=${tokenOf(a.disconnectUrl)}` });
    expect(genuine.status).toBe(204);
    expect(await server.app.store.calls.get(legId)).toMatchObject({ parentCallId: a.callId, state: 'completed' });
  });

  it('a transfer token without its stored context (another server, or expired and swept) is refused', async () => {
    const a = await transferredCall('s');
    const other = await startTestServer({ TRANSFER_TO: HUMAN, URL_SIGNING_SECRET: server.app.credentials.credentials.urlSigningSecret });
    try {
      const res = await other.post('transfer-answer', answerBody('c-leg-x', a.callId), { query: `t=${tokenOf(a.answerUrl)}` });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/does not exist or has expired/);
    } finally {
      await other.close();
    }
  });
});
