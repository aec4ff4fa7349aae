import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import type { CallControl } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { flattenUsage } from '../../src/openai/events';
import { SipCallSession } from '../../src/openai/sip-session';
import { outcomeAtEnd } from '../../src/outcomes';
import { sumUsage } from '../../src/reports/call-history';
import { DEFAULT_PRICES, estimateCost } from '../../src/reports/cost';
import { buildCallReport } from '../../src/reports/report';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeModelSession } from '../helpers/fakes';
import { startTestServer } from '../helpers/server';

const control: CallControl = { transfer: async () => 'done', hangUp: async () => 'done', fallback: async () => 'done' };
const options = { prices: DEFAULT_PRICES, numbers: 'masked' as const, nowIso: new Date().toISOString() };
const sipAgent = (): AgentWithDestinations => ({
  ...agentSchema.parse({ id: 'sipper', name: 'SIP', greeting: '', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' }, report: { transcript: true } }),
  destinations: [],
});

/**
 * An openai-sip call that came through Bandwidth is talked to on its AI leg (OpenAI's `rtc_…` call id, whose
 * parent is the Bandwidth call): its report and call detail are the Bandwidth call's, with what the AI leg recorded.
 */
describe('the report of an openai-sip call that came through Bandwidth', () => {
  let store: SqliteStore;
  let agent: AgentWithDestinations;
  beforeEach(async () => {
    store = SqliteStore.open(':memory:');
    agent = sipAgent();
    await store.agents.upsert(agent, 'api');
  });
  afterEach(() => store.close());

  it("carries what the AI leg's conversation recorded: transcript, latency, usage of every leg and its cost", async () => {
    const clock = new ManualClock(0);
    await store.calls.record({ id: 'c-parent', leg: 'caller', direction: 'inbound', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connecting' });
    await store.calls.record({ id: 'rtc_leg', leg: 'ai-sip', parentCallId: 'c-parent', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
    const model = new FakeModelSession();
    // As sip-webhook.ts builds it: callId is OpenAI's, parentCallId the Bandwidth call.
    const session = new SipCallSession({ callId: 'rtc_leg', parentCallId: 'c-parent', agent, store, logger: createLogger('silent'), clock, tools: agentTools(agent, {}), model, control, onEnded: () => undefined });
    model.becomeReady();
    await settleIo();
    clock.advance(500);
    model.handlers.trace('output_audio_buffer.started', {});
    model.handlers.responseCreated({ responseId: 'r1' });
    model.handlers.transcriptDone({ itemId: 'a1', responseId: 'r1', transcript: 'Hello, Acme.' });
    model.handlers.responseDone({ responseId: 'r1', status: 'completed', usage: { input_text_tokens: 100, output_audio_tokens: 200 } } as never);
    model.handlers.trace('output_audio_buffer.stopped', {});
    await settleIo();
    // A second leg of the same call with usage of its own (a Bandwidth B-leg's is none; any leg's counts).
    await store.calls.addUsage('c-parent', { input_text_tokens: 1 });
    session.end('sideband closed');
    await store.calls.record({ id: 'c-parent', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });
    await settleIo();

    const report = await buildCallReport(store, 'c-parent', options);
    // The report that goes out is the Bandwidth call's, once.
    expect((await store.reports.list({ callId: 'c-parent', limit: 5 })).map((r) => r.event)).toEqual(['call.ended']);
    expect(report!.data.call.id).toBe('c-parent');
    expect(report!.data.legs.map((l) => l.id)).toEqual(['rtc_leg']);
    expect(report!.data.transcript).toEqual([expect.objectContaining({ role: 'agent', text: 'Hello, Acme.' })]);
    expect(report!.data.latency.firstWordMs).toBe(500);
    expect(report!.data.usage).toEqual({ input_text_tokens: 101, output_audio_tokens: 200 });
    expect(report!.data.cost).toEqual(estimateCost({ input_text_tokens: 101, output_audio_tokens: 200 }, agent.model, DEFAULT_PRICES));
    expect(report!.data.outcome.outcome).toBe('caller-hung-up');
  });

  it("lists the AI leg's tool calls and REFER in the call's tool calls and transfers", async () => {
    await store.calls.record({ id: 'c-p2', leg: 'caller', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
    await store.calls.record({ id: 'rtc_2', leg: 'ai-sip', parentCallId: 'c-p2', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
    await store.events.append({ callId: 'rtc_2', source: 'tool', type: 'tool.call', data: { name: 'lookup', callId: 'fc_1', arguments: { id: 7 }, ok: true, output: { found: true }, durationMs: 12 } });
    await store.events.append({ callId: 'rtc_2', source: 'switchboard', type: 'bridge.transfer-requested', data: { kind: 'transfer', destination: { name: 'sales' }, reason: 'wants sales' } });
    await store.events.append({ callId: 'rtc_2', source: 'switchboard', type: 'sip.refer', data: { kind: 'refer', target: 'sip:+19195550177@67.231.4.10:5060', destination: 'sales' } });
    const report = await buildCallReport(store, 'c-p2', options);
    expect(report!.data.toolCalls).toEqual([expect.objectContaining({ name: 'lookup', ok: true, output: { found: true } })]);
    expect(report!.data.transfers).toEqual([expect.objectContaining({ destination: 'sales', outcome: 'completed' })]);
  });

  it('sums usage key by key over the legs that have any', () => {
    expect(sumUsage([null, { a: 1, b: 2 }, { b: 3, c: 4 }])).toEqual({ a: 1, b: 5, c: 4 });
    expect(sumUsage([null, null])).toBeNull();
  });
});

describe('the call detail of an openai-sip call that came through Bandwidth', () => {
  it('shows the AI leg’s transcript, events and usage, and the cost of every leg, from the same history as the report', async () => {
    const server = await startTestServer();
    try {
      const store = server.app.store;
      await store.agents.upsert(sipAgent(), 'api');
      await store.calls.record({ id: 'c-detail', leg: 'caller', direction: 'inbound', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
      await store.calls.record({ id: 'rtc_detail', leg: 'ai-sip', parentCallId: 'c-detail', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
      const usage = flattenUsage({ input_token_details: { audio_tokens: 1_000 }, output_token_details: { audio_tokens: 2_000 } });
      await store.calls.addUsage('rtc_detail', usage);
      await store.transcripts.append({ callId: 'rtc_detail', role: 'agent', text: 'Thanks for calling.', itemId: 'a1' });
      await store.events.append({ callId: 'rtc_detail', source: 'openai', type: 'model.ready', data: { sideband: true } });
      await store.calls.record({ id: 'rtc_detail', state: 'completed', outcome: outcomeAtEnd('hangup') });
      await store.calls.record({ id: 'c-detail', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });

      const res = await fetch(`${server.url}/api/calls/c-detail`, { headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}` } });
      expect(res.status).toBe(200);
      const detail = (await res.json()) as { usage: unknown; cost: { totalUsd: number } | null; transcript: { callId: string; text: string }[]; events: { callId: string; type: string }[] };
      expect(detail.usage).toEqual(usage);
      expect(detail.cost?.totalUsd).toBe(estimateCost(usage, sipAgent().model, DEFAULT_PRICES)!.totalUsd);
      expect(detail.transcript).toEqual([expect.objectContaining({ callId: 'rtc_detail', text: 'Thanks for calling.' })]);
      expect(detail.events).toContainEqual(expect.objectContaining({ callId: 'rtc_detail', type: 'model.ready' }));
    } finally {
      await server.close();
    }
  });
});
