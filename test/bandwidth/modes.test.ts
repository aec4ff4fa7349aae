import { agentSchema } from '../../src/agents/agent';
import { decodeUui } from '../../src/sip-uui';
import { bxml, text } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';

const OPENAI_SIP = 'sip:proj_abc123@sip.api.openai.com;transport=tls';
const PLATFORM_SIP = 'sip:agent-7@voice.platform.example.com';

/** Each mode answers with its BXML for the agent that owns the dialled number. */
describe('agents and routing over real callbacks', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ DEFAULT_AGENT_ID: 'none' });
    const store = server.app.store;
    const base = (await store.agents.get('default'))!.agent;
    await store.agents.upsert(agentSchema.parse({ ...base, id: 'streamer', name: 'Streamer', streamHold: 'pause' }), 'api');
    await store.agents.upsert(agentSchema.parse({ ...base, id: 'openai', name: 'OpenAI SIP', mode: 'openai-sip', sip: { target: OPENAI_SIP, verb: 'forward', callTimeoutS: 20 } }), 'api');
    await store.agents.upsert(agentSchema.parse({ ...base, id: 'platform', name: 'Hosted platform', mode: 'sip-forward', sip: { target: PLATFORM_SIP, verb: 'transfer' } }), 'api');
    await store.numbers.assign('+19195550100', 'streamer');
    await store.numbers.assign('+19195550101', 'openai');
    await store.numbers.assign('+19195550102', 'platform');
  });
  afterAll(() => server.close());

  const initiate = async (to: string, callId: string, extra: Record<string, unknown> = {}) => {
    const res = await server.post('initiate', { ...callbackFixture('initiate'), to, callId, ...extra });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    return bxml(await res.text());
  };

  it('stream: the number owner with the Pause hold answers StartStream + Pause', async () => {
    const doc = await initiate('+19195550100', 'c-mode-stream');
    expect(doc.verbs).toEqual(['StartGather', 'StartStream', 'Pause']);
    expect(doc.one('Pause').attributes.duration).toBe('86400');
    expect(await server.app.store.calls.get('c-mode-stream')).toMatchObject({ agentId: 'streamer', mode: 'stream', state: 'streaming' });
  });

  it('openai-sip with Forward: forwards to the OpenAI SIP URI with uui context', async () => {
    const doc = await initiate('+19195550101', 'c-mode-openai');
    expect(doc.verbs).toEqual(['Forward']);
    const forward = doc.one('Forward').attributes;
    expect(forward).toMatchObject({ to: OPENAI_SIP, from: '+19195550101', callTimeout: '20' });
    expect(forward.uui).toMatch(/;encoding=base64$/);
    expect(forward.uui!.length).toBeLessThanOrEqual(256);
    expect(decodeUui(forward.uui)).toBe('sb=c-mode-openai;agent=openai');
    expect(await server.app.store.calls.get('c-mode-openai')).toMatchObject({ agentId: 'openai', mode: 'openai-sip', state: 'forwarded' });
  });

  it('sip-forward with Transfer: transfers to the platform SIP URI, with callbacks for how the AI leg ended', async () => {
    const doc = await initiate('+19195550102', 'c-mode-platform');
    expect(doc.verbs).toEqual(['StopStream', 'Transfer']);
    const sipUri = doc.one('SipUri');
    expect(text(sipUri)).toBe(PLATFORM_SIP);
    expect(decodeUui(sipUri.attributes.uui)).toBe('sb=c-mode-platform;agent=platform');
    expect(doc.one('Transfer').attributes.transferCompleteUrl).toMatch(/transfer-complete\?t=/);
    expect(await server.app.store.calls.get('c-mode-platform')).toMatchObject({ agentId: 'platform', mode: 'sip-forward', state: 'sip-connecting' });
  });

  it('a failed AI SIP leg goes to the agent fallback instead of dropping the caller', async () => {
    const doc = await initiate('+19195550102', 'c-mode-platform-busy');
    const t = new URL(doc.one('Transfer').attributes.transferCompleteUrl!).searchParams.get('t')!;
    const res = await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId: 'c-mode-platform-busy' }, { query: `t=${t}` });
    const fallback = bxml(await res.text());
    expect(fallback.verbs).toEqual(['SpeakSentence', 'Hangup']);
    expect((await server.app.store.calls.get('c-mode-platform-busy'))?.state).toBe('fallback');
  });

  it('a SIP `to` is routed by its user part', async () => {
    await initiate('sip:+19195550101@bw.example.com;user=phone', 'c-sip-to');
    expect((await server.app.store.calls.get('c-sip-to'))?.agentId).toBe('openai');
  });

  it('an explicit agent in uui wins over the number assignment', async () => {
    const uui = `${Buffer.from('agent=platform').toString('base64')};encoding=base64`;
    await initiate('+19195550100', 'c-uui-agent', { uui });
    expect((await server.app.store.calls.get('c-uui-agent'))?.agentId).toBe('platform');
  });

  it('an explicit agent as a SIP URI parameter wins too; an unknown one falls through to the number', async () => {
    await initiate('sip:+19195550100@bw.example.com;agent=openai', 'c-sip-param');
    expect((await server.app.store.calls.get('c-sip-param'))?.agentId).toBe('openai');
    await initiate('sip:+19195550100@bw.example.com;agent=nobody', 'c-sip-param-unknown');
    expect((await server.app.store.calls.get('c-sip-param-unknown'))?.agentId).toBe('streamer');
  });

  it('an unassigned number with no default agent gets the reject template', async () => {
    const doc = await initiate('+19195550199', 'c-unassigned');
    expect(doc.verbs).toEqual(['Hangup']);
    expect(await server.app.store.calls.get('c-unassigned')).toMatchObject({ state: 'rejected', cause: 'no-agent', agentId: null });
    const [event] = await server.app.store.events.list('c-unassigned');
    expect((event!.data as { switchboard: { template: string } }).switchboard.template).toBe('reject');
  });

  it('a number reassigned through the store applies to the next call without a restart', async () => {
    await server.app.store.numbers.unassign('+19195550100');
    await server.app.store.numbers.assign('+19195550100', 'openai');
    const doc = await initiate('+19195550100', 'c-reassigned');
    expect(doc.verbs).toEqual(['Forward']);
  });
});

describe('default agent', () => {
  it('answers every unassigned number when DEFAULT_AGENT_ID is left alone', async () => {
    const server = await startTestServer({ AGENT_GREETING: 'Hi there', AGENT_VOICE: 'cedar' });
    try {
      const res = await server.post('initiate', { ...callbackFixture('initiate'), to: '+19195550188', callId: 'c-default' });
      expect(bxml(await res.text()).verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
      const agent = (await server.app.store.agents.get('default'))!;
      expect(agent.source).toBe('env');
      expect(agent.agent).toMatchObject({ greeting: 'Hi there', voice: 'cedar', mode: 'stream' });
    } finally {
      await server.close();
    }
  });
});
