import { agentSchema } from '../../src/agents/agent';
import { decodeUui } from '../../src/sip-uui';
import { CALLBACK_URL_MAX_CHARS } from '../../src/constants';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { bxml, text, tokenOf } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { bandwidthRestEnv, startTestServer, type TestServer } from '../helpers/server';

const OPENAI_SIP = 'sip:proj_abc123@sip.api.openai.com;transport=tls';
const PLATFORM_SIP = 'sip:agent-7@voice.platform.example.com';
const CALLEE = '+19195550142';

/**
 * Outbound calls to SIP-mode agents: `<Forward>` only forwards an unanswered inbound call (BW §2.4) and
 * diversion must not be used when transferring an outbound call (BW §2.5). POST /api/calls → the
 * Bandwidth REST stand-in → the answer callback to the answerUrl it was given.
 */
describe('outbound calls to SIP-mode agents', () => {
  let server: TestServer;
  let rest: BandwidthRestStandIn;

  beforeAll(async () => {
    rest = await startBandwidthRestStandIn({ followRedirects: false });
    server = await startTestServer({ DEFAULT_AGENT_ID: 'none', ...bandwidthRestEnv(rest) });
    const store = server.app.store;
    const base = (await store.agents.get('default'))!.agent;
    // Both configured the way an inbound deployment would be: Forward, with diversion.
    const sip = { verb: 'forward', diversionTreatment: 'stack', diversionReason: 'unconditional', callTimeoutS: 20 };
    await store.agents.upsert(agentSchema.parse({ ...base, id: 'platform', name: 'Hosted platform', mode: 'sip-forward', sip: { ...sip, target: PLATFORM_SIP } }), 'api');
    await store.agents.upsert(agentSchema.parse({ ...base, id: 'openai', name: 'OpenAI SIP', mode: 'openai-sip', sip: { ...sip, target: OPENAI_SIP, verb: 'transfer', diversionTreatment: 'propagate' } }), 'api');
    await store.numbers.assign('+19195550101', 'platform');
    await store.numbers.assign('+19195550102', 'openai');
  });
  afterAll(async () => {
    await server.close();
    await rest.close();
  });

  async function placeCall(agentId: string): Promise<{ callId: string; answerUrl: string; from: string }> {
    const res = await fetch(`${server.url}/api/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agentId, to: CALLEE }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { callId: string; from: string };
    const request = rest.requests.filter((r) => r.operation === 'createCall').pop()!.body as { answerUrl: string };
    return { callId: created.callId, answerUrl: request.answerUrl, from: created.from };
  }

  it.each([
    ['sip-forward', 'platform', PLATFORM_SIP],
    ['openai-sip', 'openai', OPENAI_SIP],
  ])('%s: the answer callback gets <Transfer><SipUri> with no diversion attributes', async (mode, agentId, target) => {
    const { callId, answerUrl, from } = await placeCall(agentId);
    expect(answerUrl.length).toBeLessThanOrEqual(CALLBACK_URL_MAX_CHARS);
    const res = await server.post('answer', { ...callbackFixture('answer'), callId, from, to: CALLEE, direction: 'outbound' }, { query: `t=${tokenOf(answerUrl)}` });
    expect(res.status).toBe(200);
    const doc = bxml(await res.text());
    expect(doc.verbs).toEqual(['StopStream', 'Transfer']);
    expect(doc.all('Forward')).toEqual([]);
    const transfer = doc.one('Transfer').attributes;
    expect(transfer).not.toHaveProperty('diversionTreatment');
    expect(transfer).not.toHaveProperty('diversionReason');
    expect(transfer).toMatchObject({ callTimeout: '20', transferCompleteMethod: 'POST' });
    const sipUri = doc.one('SipUri');
    expect(text(sipUri)).toBe(target);
    expect(decodeUui(sipUri.attributes.uui)).toBe(`sb=${callId};agent=${agentId}`);
    expect(await server.app.store.calls.get(callId)).toMatchObject({ direction: 'outbound', agentId, mode, state: 'sip-connecting' });
  });

  it('the inbound call to the same agents keeps what it did: Forward / Transfer with diversion', async () => {
    const forwarded = bxml(await (await server.post('initiate', { ...callbackFixture('initiate'), to: '+19195550101', callId: 'c-in-platform' })).text());
    expect(forwarded.verbs).toEqual(['Forward']);
    expect(forwarded.one('Forward').attributes).toMatchObject({ to: PLATFORM_SIP, diversionTreatment: 'stack', diversionReason: 'unconditional' });
    const transferred = bxml(await (await server.post('initiate', { ...callbackFixture('initiate'), to: '+19195550102', callId: 'c-in-openai' })).text());
    expect(transferred.one('Transfer').attributes).toMatchObject({ diversionTreatment: 'propagate', diversionReason: 'unconditional' });
  });
});
