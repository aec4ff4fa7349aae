import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SIGNED_URL_TTL_MS } from '../../src/constants';
import { UrlSigner } from '../../src/security/signing';
import { bxml, text, tokenOf } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';

const HUMAN = '+19195550177';
const destination = { id: 'default-human', name: 'human', kind: 'phone' as const, value: HUMAN, warm: true, callTimeoutS: 25 };
const LATER = '2026-11-20T15:30:00.000Z';

/**
 * DESIGN §4.6: a context that drives a one-shot action (a redirect's action, a transfer's end) is
 * consumed by its first callback. A replay of the URL (any other callback) gets the spent answer, a
 * hang-up that starts no stream and transfers nowhere, and a `.spent` event; Bandwidth's own retry of
 * that first callback (same callId, eventType, eventTime: BW §1.7) gets the very same answer again.
 */
describe('one-shot transfer and redirect callbacks', () => {
  let server: TestServer;
  let signer: UrlSigner;
  beforeAll(async () => {
    server = await startTestServer({ TRANSFER_TO: HUMAN });
    signer = new UrlSigner(server.app.credentials.credentials.urlSigningSecret);
  });
  afterAll(() => server.close());

  let n = 0;
  /** A stream call the agent transferred through a signed redirect: the redirect token and the transfer's URLs. */
  async function transferredCall(): Promise<{ callId: string; redirectToken: string; completeToken: string; answerToken: string; disconnectToken: string; transferXml: string }> {
    const callId = `c-once-${++n}`;
    expect((await server.post('initiate', { ...callbackFixture('initiate'), callId })).status).toBe(200);
    const redirectToken = tokenOf(await server.app.contexts.redirectUrl(callId, 'default', { type: 'transfer', destination, reason: 'billing', summary: 's' }));
    const res = await server.post('redirect', { ...callbackFixture('redirect'), callId }, { query: `t=${redirectToken}` });
    expect(res.status).toBe(200);
    const transferXml = await res.text();
    const doc = bxml(transferXml);
    return {
      callId,
      redirectToken,
      transferXml,
      completeToken: tokenOf(doc.one('Transfer').attributes.transferCompleteUrl!),
      answerToken: tokenOf(doc.one('PhoneNumber').attributes.transferAnswerUrl!),
      disconnectToken: tokenOf(doc.one('PhoneNumber').attributes.transferDisconnectUrl!),
    };
  }

  const eventTypes = async (callId: string) => (await server.app.store.events.list(callId)).map((e) => e.type);
  const count = (types: string[], type: string) => types.filter((t) => t === type).length;

  it('a transferComplete replayed with cause busy after the call completed: a hang-up, no new stream, a .spent event', async () => {
    const a = await transferredCall();
    const done = await server.post('transfer-complete', { ...callbackFixture('transferComplete'), callId: a.callId }, { query: `t=${a.completeToken}` });
    expect(bxml(await done.text()).verbs).toEqual(['Hangup']);
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('completed');
    const replay = await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId: a.callId, eventTime: LATER }, { query: `t=${a.completeToken}` });
    expect(replay.status).toBe(200);
    expect(bxml(await replay.text()).verbs).toEqual(['Hangup']);
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('completed');
    const types = await eventTypes(a.callId);
    expect(count(types, 'transferComplete')).toBe(1);
    expect(types).toContain('transferComplete.spent');
  });

  it('a transferComplete replayed on a live call that went back to the agent does not restart its stream', async () => {
    const a = await transferredCall();
    const busy = await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId: a.callId }, { query: `t=${a.completeToken}` });
    expect(bxml(await busy.text()).verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('streaming');
    const replay = await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId: a.callId, eventTime: LATER }, { query: `t=${a.completeToken}` });
    const doc = bxml(await replay.text());
    expect(doc.verbs).toEqual(['Hangup']);
    expect(doc.all('StartStream')).toHaveLength(0);
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('streaming');
    expect(count(await eventTypes(a.callId), 'transferComplete')).toBe(1);
  });

  it("Bandwidth's retry of the same transferComplete (same callId, eventType, eventTime) gets the same answer, not a refusal", async () => {
    const a = await transferredCall();
    const body = { ...callbackFixture('transferComplete-busy'), callId: a.callId };
    const first = await server.post('transfer-complete', body, { query: `t=${a.completeToken}` });
    const firstXml = await first.text();
    const retry = await server.post('transfer-complete', body, { query: `t=${a.completeToken}` });
    expect(retry.status).toBe(200);
    expect(await retry.text()).toBe(firstXml); // the same StartStream, the same media token
    const types = await eventTypes(a.callId);
    expect(count(types, 'transferComplete')).toBe(1);
    expect(types).toContain('transferComplete.retried');
    expect(types).not.toContain('transferComplete.spent');
  });

  it('a retry that arrives while the first is still being answered gets the same answer', async () => {
    const a = await transferredCall();
    const body = { ...callbackFixture('transferComplete-busy'), callId: a.callId };
    const [first, second] = await Promise.all([
      server.post('transfer-complete', body, { query: `t=${a.completeToken}` }),
      server.post('transfer-complete', body, { query: `t=${a.completeToken}` }),
    ]);
    const [x1, x2] = [await first.text(), await second.text()];
    expect(bxml(x1).verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
    expect(x2).toBe(x1);
    expect(count(await eventTypes(a.callId), 'transferComplete')).toBe(1);
  });

  it('a replayed redirect token does not transfer again; its exact retry gets the same Transfer', async () => {
    const a = await transferredCall();
    const retry = await server.post('redirect', { ...callbackFixture('redirect'), callId: a.callId }, { query: `t=${a.redirectToken}` });
    expect(await retry.text()).toBe(a.transferXml);
    const replay = await server.post('redirect', { ...callbackFixture('redirect'), callId: a.callId, eventTime: LATER }, { query: `t=${a.redirectToken}` });
    expect(replay.status).toBe(200);
    expect(bxml(await replay.text()).verbs).toEqual(['Hangup']);
    const types = await eventTypes(a.callId);
    expect(count(types, 'redirect')).toBe(1);
    expect(types).toEqual(expect.arrayContaining(['redirect.retried', 'redirect.spent']));
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('transferring');
  });

  it('a transferAnswer replayed after the call completed hangs up the leg: no whisper, the A-leg stays completed', async () => {
    const a = await transferredCall();
    const { parentCallId: _p, ...answer } = callbackFixture('transferAnswer');
    expect((await server.post('transfer-answer', { ...answer, callId: `c-leg-${n}` }, { query: `t=${a.answerToken}` })).status).toBe(200);
    await server.post('transfer-complete', { ...callbackFixture('transferComplete'), callId: a.callId }, { query: `t=${a.completeToken}` });
    const replay = await server.post('transfer-answer', { ...answer, callId: `c-leg-${n}`, eventTime: LATER }, { query: `t=${a.answerToken}` });
    expect(bxml(await replay.text()).verbs).toEqual(['Hangup']);
    expect((await server.app.store.calls.get(a.callId))?.state).toBe('completed');
    expect(await eventTypes(a.callId)).toContain('transferAnswer.spent');
  });

  describe("a transferComplete naming the B-leg keeps the A-leg's identity", () => {
    it('on the failure path (busy: back to the agent)', async () => {
      const a = await transferredCall();
      const before = (await server.app.store.calls.get(a.callId))!;
      const legId = `c-busy-leg-${n}`;
      const { parentCallId: _p, ...disconnect } = callbackFixture('transferDisconnect');
      expect((await server.post('transfer-disconnect', { ...disconnect, callId: legId, cause: 'busy' }, { query: `t=${a.disconnectToken}` })).status).toBe(204);
      const res = await server.post(
        'transfer-complete',
        { ...callbackFixture('transferComplete-busy'), callId: legId, direction: 'outbound', from: '+19195550100', to: HUMAN, startTime: LATER, answerTime: LATER, tag: 'b-leg-tag' },
        { query: `t=${a.completeToken}` },
      );
      expect(bxml(await res.text()).verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
      const after = (await server.app.store.calls.get(a.callId))!;
      expect(after).toMatchObject({ state: 'streaming', direction: 'inbound', from: before.from, to: before.to, startedAt: before.startedAt, answeredAt: before.answeredAt, tag: before.tag });
      const complete = (await server.app.store.events.list(a.callId)).find((e) => e.type === 'transferComplete')!;
      expect(complete.data).toMatchObject({
        callback: { callId: a.callId, reportedCallId: legId, cause: 'busy', to: before.to, reported: { callId: legId, to: HUMAN } },
        switchboard: { transfer: 'failed', reason: expect.stringMatching(/transfer to human failed \(busy/) },
      });
    });

    it('on the success path', async () => {
      const a = await transferredCall();
      const before = (await server.app.store.calls.get(a.callId))!;
      const legId = `c-leg-${n}`;
      const { parentCallId: _p, ...answer } = callbackFixture('transferAnswer');
      expect((await server.post('transfer-answer', { ...answer, callId: legId }, { query: `t=${a.answerToken}` })).status).toBe(200);
      await server.post('transfer-complete', { ...callbackFixture('transferComplete'), callId: legId, direction: 'outbound', to: HUMAN, tag: 'b-leg-tag' }, { query: `t=${a.completeToken}` });
      expect(await server.app.store.calls.get(a.callId)).toMatchObject({ state: 'completed', direction: 'inbound', to: before.to, tag: before.tag });
    });
  });

  describe('tokens minted by the previous version (context inside the token) are honoured until they expire', () => {
    it('a legacy transfer token: whisper and transferComplete work, and its end is one-shot too', async () => {
      const callId = `c-legacy-${++n}`;
      await server.post('initiate', { ...callbackFixture('initiate'), callId });
      const legacy = signer.sign('transfer', { callId, agentId: 'default', destination, reason: 'billing', summary: 'Legacy summary.', origin: 'agent' }, SIGNED_URL_TTL_MS);
      const { parentCallId: _p, ...answer } = callbackFixture('transferAnswer');
      const whisper = await server.post('transfer-answer', { ...answer, callId: `c-legacy-leg-${n}`, parentCallId: callId }, { query: `t=${legacy}` });
      expect(whisper.status).toBe(200);
      expect(text(bxml(await whisper.text()).one('SpeakSentence'))).toContain('Legacy summary.');
      const busy = await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId }, { query: `t=${legacy}` });
      expect(bxml(await busy.text()).verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
      const replay = await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId, eventTime: LATER }, { query: `t=${legacy}` });
      expect(bxml(await replay.text()).verbs).toEqual(['Hangup']);
    });

    it('a legacy redirect token transfers once', async () => {
      const callId = `c-legacy-${++n}`;
      await server.post('initiate', { ...callbackFixture('initiate'), callId });
      const legacy = signer.sign('redirect', { callId, agentId: 'default', action: { type: 'transfer', destination, reason: 'billing' } }, SIGNED_URL_TTL_MS);
      const res = await server.post('redirect', { ...callbackFixture('redirect'), callId }, { query: `t=${legacy}` });
      expect(res.status).toBe(200);
      expect(text(bxml(await res.text()).one('PhoneNumber'))).toBe(HUMAN);
      const replay = await server.post('redirect', { ...callbackFixture('redirect'), callId, eventTime: LATER }, { query: `t=${legacy}` });
      expect(bxml(await replay.text()).verbs).toEqual(['Hangup']);
    });

    it('a legacy token of the wrong shape, or expired, is still refused', async () => {
      const callId = `c-legacy-${++n}`;
      const bad = signer.sign('redirect', { callId, agentId: 'default', action: { type: 'teleport' } }, SIGNED_URL_TTL_MS);
      expect((await server.post('redirect', { ...callbackFixture('redirect'), callId }, { query: `t=${bad}` })).status).toBe(403);
      const expired = signer.sign('transfer', { callId, agentId: 'default', destination, origin: 'agent' }, -1);
      expect((await server.post('transfer-complete', { ...callbackFixture('transferComplete'), callId }, { query: `t=${expired}` })).status).toBe(403);
    });
  });
});

it('contexts, and their consumption, survive a restart between the transfer BXML and its callbacks', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-restart-'));
  try {
    const s1 = await startTestServer({ TRANSFER_TO: HUMAN, DATA_DIR: dir });
    const callId = 'c-restart-1';
    await s1.post('initiate', { ...callbackFixture('initiate'), callId });
    const redirectUrl = await s1.app.contexts.redirectUrl(callId, 'default', { type: 'transfer', destination, reason: 'billing', summary: 'Needs a refund' });
    const doc = bxml(await (await s1.post('redirect', { ...callbackFixture('redirect'), callId }, { query: `t=${tokenOf(redirectUrl)}` })).text());
    const completeToken = tokenOf(doc.one('Transfer').attributes.transferCompleteUrl!);
    const busy = await s1.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId }, { query: `t=${completeToken}` });
    const busyXml = await busy.text();
    await s1.close();
    const s2 = await startTestServer({ TRANSFER_TO: HUMAN, DATA_DIR: dir });
    try {
      const { parentCallId: _p, ...answer } = callbackFixture('transferAnswer');
      const a = await s2.post('transfer-answer', { ...answer, callId: 'c-leg-r' }, { query: `t=${tokenOf(doc.one('PhoneNumber').attributes.transferAnswerUrl!)}` });
      expect(a.status).toBe(200);
      expect(await a.text()).toContain('Needs a refund');
      const retry = await s2.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId }, { query: `t=${completeToken}` });
      expect(await retry.text()).toBe(busyXml);
      const replay = await s2.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId, eventTime: LATER }, { query: `t=${completeToken}` });
      expect(bxml(await replay.text()).verbs).toEqual(['Hangup']);
    } finally {
      await s2.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
