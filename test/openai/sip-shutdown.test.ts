import path from 'node:path';
import { agentSchema, type AgentWithDestinations, type TransferDestination } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import type { CallControl, HandOffCall, HandOffOutcome } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SipCallSession } from '../../src/openai/sip-session';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeModelSession } from '../helpers/fakes';
import { startTestServer, type TestServer } from '../helpers/server';
import { deliverSipCall } from '../helpers/sip';

/** Answers as SipCallControl does: a REFER that succeeds decides `transferred` on the call. */
class ReferringControl implements CallControl {
  readonly asked: string[] = [];
  constructor(
    private readonly store: SqliteStore,
    private readonly refer: HandOffOutcome = 'done',
  ) {}
  async transfer(call: HandOffCall, destination: TransferDestination): Promise<HandOffOutcome> {
    this.asked.push(`transfer:${destination.name}:${destination.value}`);
    if (this.refer === 'done') await this.store.calls.record({ id: call.callId, state: 'transferring', outcome: { outcome: 'transferred', reason: `REFER to ${destination.name} accepted` } });
    return this.refer;
  }
  async hangUp(): Promise<HandOffOutcome> {
    this.asked.push('hangup');
    return 'done';
  }
  async fallback(): Promise<HandOffOutcome> {
    this.asked.push('fallback');
    return 'on-stream-end';
  }
}

describe('an openai-sip call when the server shuts down (SipCallSession.handOver)', () => {
  const human: TransferDestination = { id: 'd1', name: 'human', kind: 'sip', value: 'sip:desk@pbx.example.com', warm: false, callTimeoutS: 30 };
  async function live(fallback: { transferTo?: string }, refer?: HandOffOutcome) {
    const store = SqliteStore.open(':memory:');
    const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'sipper', name: 'SIP', greeting: '', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' }, fallback }), destinations: [human] };
    await store.agents.upsert(agent, 'api');
    await store.calls.record({ id: 'rtc_shut', leg: 'ai-sip', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected', mediaOwner: 'i-me' });
    const model = new FakeModelSession();
    const control = new ReferringControl(store, refer);
    let ended = 0;
    const session = new SipCallSession({ callId: 'rtc_shut', agent, store, logger: createLogger('silent'), clock: new ManualClock(0), tools: agentTools(agent, {}), model, control, onEnded: () => void ended++ });
    model.becomeReady();
    await settleIo();
    return { store, control, session, model, ended: () => ended };
  }

  it('is not "the caller hung up": with no fallback destination OpenAI hangs it up, outcome fallback', async () => {
    const { store, control, session, ended } = await live({});
    try {
      await session.handOver('server shutting down');
      await session.handOver('server shutting down'); // once
      await settleIo();
      expect(control.asked).toEqual(['hangup']);
      expect(await store.calls.get('rtc_shut')).toMatchObject({ state: 'completed', outcome: 'fallback', outcomeReason: 'server shutting down', mediaOwner: null });
      expect(ended()).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("is REFERred to the agent's fallback destination, and the outcome stays fallback", async () => {
    const { store, control, session } = await live({ transferTo: '+19195550123' });
    try {
      await session.handOver('server shutting down');
      await settleIo();
      expect(control.asked).toEqual(['transfer:fallback:+19195550123']);
      expect(await store.calls.get('rtc_shut')).toMatchObject({ outcome: 'fallback', outcomeReason: 'server shutting down' });
    } finally {
      await store.close();
    }
  });

  it('is left alone when the agent already REFERred it: the call is on its way out with its own outcome', async () => {
    const { store, control, session, model } = await live({ transferTo: '+19195550123' });
    try {
      model.handlers.responseCreated({ responseId: 'resp_fc' });
      model.handlers.functionCall({ responseId: 'resp_fc', itemId: 'fc_1', callId: 'call_1', name: 'transfer_call', arguments: JSON.stringify({ destination: 'human', reason: 'billing', summary: 'Refund.' }) });
      model.handlers.responseDone({ responseId: 'resp_fc', status: 'completed' });
      await settleIo();
      model.handlers.responseCreated({ responseId: 'resp_bye' });
      model.handlers.responseDone({ responseId: 'resp_bye', status: 'completed' });
      model.handlers.trace('output_audio_buffer.stopped', {});
      await settleIo();
      expect(control.asked).toEqual(['transfer:human:sip:desk@pbx.example.com']);
      await session.handOver('server shutting down');
      await settleIo();
      expect(control.asked).toEqual(['transfer:human:sip:desk@pbx.example.com']); // no second REFER, no hang-up
      expect(await store.calls.get('rtc_shut')).toMatchObject({ state: 'completed', outcome: 'transferred', mediaOwner: null });
    } finally {
      await store.close();
    }
  });

  it('is hung up when the REFER to the fallback is refused', async () => {
    const { store, control, session } = await live({ transferTo: '+19195550123' }, { refused: 'SIP 403' });
    try {
      await session.handOver('server shutting down');
      expect(control.asked).toEqual(['transfer:fallback:+19195550123', 'hangup']);
    } finally {
      await store.close();
    }
  });
});

const SECRET = `whsec_${Buffer.from('shutdown-signing-key-of-some-length').toString('base64')}`;

/** main.ts close(): openai-sip calls are drained like stream calls, then handed over, over real sockets. */
describe('draining a server with a live openai-sip call', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  beforeEach(async () => {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 200 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, OPENAI_WEBHOOK_SECRET: SECRET }, { clock });
  });
  afterEach(async () => {
    await server.close();
    await openai.close();
  });

  async function sipAgent(fallback: { transferTo?: string }) {
    const base = (await server.app.store.agents.get('default'))!.agent;
    await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' }, fallback: { ...base.fallback, ...fallback } }), 'api');
    await server.app.store.numbers.assign('+19195550100', 'sipper');
  }

  /** The store as close() left it (the server's own store is closed by then). */
  async function afterClose<T>(read: (store: SqliteStore) => Promise<T>): Promise<T> {
    const store = SqliteStore.open(path.resolve(server.app.config.databasePath));
    try {
      return await read(store);
    } finally {
      await store.close();
    }
  }

  it('waits for the call up to the drain time, then OpenAI hangs it up; the call outcome is fallback', async () => {
    await sipAgent({});
    await deliverSipCall(server, openai, SECRET, 'rtc_drain');
    let stopped = false;
    const closing = server.app.close(10_000).then(() => (stopped = true));
    await clock.advanceAsync(9_000, 1_000);
    expect(stopped).toBe(false); // the live call may still end by itself
    expect(openai.sipCalls.get('rtc_drain')!.state).toBe('accepted');
    await clock.advanceAsync(1_000, 1_000);
    for (let i = 0; i < 40 && !stopped; i++) await clock.advanceAsync(500, 500);
    await closing;
    expect(openai.sipCalls.get('rtc_drain')!.state).toBe('ended'); // OpenAI's hangup
    const [call, events] = await afterClose((store) => Promise.all([store.calls.get('rtc_drain'), store.events.list('rtc_drain')]));
    expect(call).toMatchObject({ state: 'completed', outcome: 'fallback', outcomeReason: 'server shutting down', mediaOwner: null });
    expect(events.map((e) => e.type)).toContain('sip.hangup');
  });

  it("REFERs the call to the agent's fallback destination on the carrier trunk it came from; the Bandwidth call's outcome is fallback", async () => {
    await sipAgent({ transferTo: '+19195550123' });
    // The Bandwidth call handed to OpenAI with <Transfer> (call-flows), named by our UUI.
    await server.app.store.calls.record({ id: 'c-bw-shut', leg: 'caller', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connecting' });
    await deliverSipCall(server, openai, SECRET, 'rtc_refer', { contact: '<sip:+19195550142@67.231.4.10:5060;transport=udp>', uui: { parentCallId: 'c-bw-shut', agentId: 'sipper' } });
    await server.app.close(0);
    expect(openai.sipCalls.get('rtc_refer')!.refers).toEqual(['sip:+19195550123@67.231.4.10:5060']);
    const [leg, call] = await afterClose((store) => Promise.all([store.calls.get('rtc_refer'), store.calls.get('c-bw-shut')]));
    expect(leg).toMatchObject({ parentCallId: 'c-bw-shut', mediaOwner: null });
    expect(call).toMatchObject({ outcome: 'fallback', outcomeReason: 'server shutting down' });
  });

  it('a call that ends during the drain keeps its own outcome and is not handed over', async () => {
    await sipAgent({});
    const sideband = await deliverSipCall(server, openai, SECRET, 'rtc_ends');
    let stopped = false;
    const closing = server.app.close(60_000).then(() => (stopped = true));
    await clock.advanceAsync(1_000, 500);
    expect(stopped).toBe(false);
    sideband.close(1000, 'call ended'); // the caller hangs up: OpenAI closes the sideband
    for (let i = 0; i < 40 && !stopped; i++) await clock.advanceAsync(500, 500);
    await closing;
    expect(clock.now()).toBeLessThan(60_000); // the drain ended with the call, not at its bound
    expect(openai.sipCalls.get('rtc_ends')!.refers).toEqual([]);
    const call = await afterClose((store) => store.calls.get('rtc_ends'));
    expect(call).toMatchObject({ state: 'completed', outcome: 'caller-hung-up' });
  });
});
