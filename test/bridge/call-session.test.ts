import { z } from 'zod';
import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import { CallSession } from '../../src/bridge/call-session';
import type { CallControl } from '../../src/bridge/transports';
import { BandwidthCallControl } from '../../src/bandwidth/call-control';
import { PlayoutScheduler } from '../../src/bridge/playout';
import { ToolRegistry } from '../../src/bridge/tools';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeCallerStream, FakeModelSession } from '../helpers/fakes';

const CALL = 'c-session-test';

function agent(extra: Record<string, unknown> = {}): AgentWithDestinations {
  return { ...agentSchema.parse({ id: 'a1', name: 'A1', greeting: 'Welcome to Acme.', ...extra }), destinations: [] };
}

function setup(options: { agent?: AgentWithDestinations; tools?: ToolRegistry; renewAfterMs?: number; control?: CallControl; resume?: { note: string }; agentAudioDeadlineMs?: number } = {}) {
  const clock = new ManualClock(0);
  const store = SqliteStore.open(':memory:');
  const models: FakeModelSession[] = [];
  let ended = false;
  const session = new CallSession({
    callId: CALL,
    agent: options.agent ?? agent(),
    store,
    logger: createLogger('silent'),
    clock,
    scheduler: new PlayoutScheduler(clock),
    tools: options.tools ?? new ToolRegistry(),
    openModel: () => {
      const m = new FakeModelSession();
      models.push(m);
      return m;
    },
    onEnded: () => {
      ended = true;
    },
    pacing: { leadMs: 100, refillBelowMs: 100, carrierDelayMs: 0 },
    renewAfterMs: options.renewAfterMs,
    agentAudioDeadlineMs: options.agentAudioDeadlineMs,
    // Without a control of its own: Bandwidth's without REST credentials (hand-offs happen at the stream's end).
    control: options.control ?? new BandwidthCallControl({ store, logger: createLogger('silent') }),
    resume: options.resume,
  });
  const caller = new FakeCallerStream(CALL, () => clock.now());
  return { clock, store, models, session, caller, model: () => models[models.length - 1]!, isEnded: () => ended };
}

describe('CallSession', () => {
  describe('the agent-audio deadline (DESIGN §4.9)', () => {
    const failures = async (store: SqliteStore) => (await store.events.list(CALL)).filter((e) => e.type === 'bridge.failed').map((e) => e.data);

    it('counts from the stream start, not the pre-warm, and fails with its own cause', async () => {
      const { session, caller, models, clock, store } = setup();
      clock.advance(5_000); // a long pre-warm costs the caller nothing
      session.attach(caller);
      clock.advance(1_999);
      await settleIo();
      expect(await failures(store)).toEqual([]);
      clock.advance(1);
      await settleIo();
      expect(await failures(store)).toEqual([{ reason: 'no agent audio within 2000 ms of the stream start (the OpenAI session was not ready)', cause: 'agent-audio-timeout' }]);
      expect(caller.closedWith).toBeDefined();
      expect(models[0]!.closed).toBe(true);
    });

    it('the first greeting audio clears it, even with the session slow to say it is ready', async () => {
      // Timers are counted: without the silence watchdog's, only the deadline's changes.
      const { session, caller, models, clock, store } = setup({ agent: agent({ callLimits: { silence: { enabled: false } } }) });
      session.attach(caller);
      const armed = clock.pendingTimers;
      clock.advance(1_500);
      models[0]!.handlers.responseCreated({ responseId: 'resp_1' });
      models[0]!.delta('resp_1', 'item_1', 800);
      expect(clock.pendingTimers).toBe(armed - 1);
      clock.advance(10_000);
      await settleIo();
      expect(await failures(store)).toEqual([]);
    });

    it('a caller who speaks before the greeting audio takes the turn: no fallback, and the agent answers after', async () => {
      const { session, caller, models, clock, store } = setup();
      const model = models[0]!;
      model.becomeReady();
      await settleIo();
      session.attach(caller);
      model.handlers.responseCreated({ responseId: 'resp_greet' });
      clock.advance(100);
      // Server VAD (interrupt_response): speech_started, then the greeting cancelled before any audio.
      model.handlers.speechStarted({ itemId: 'in_1', audioStartMs: 100 });
      model.handlers.responseDone({ responseId: 'resp_greet', status: 'cancelled', reason: 'turn_detected' });
      for (let t = 0; t < 2_500; t += 20) {
        caller.speak(1);
        clock.advance(20);
      }
      model.handlers.speechStopped({ itemId: 'in_1', audioEndMs: 2_600 });
      await settleIo();
      expect(await failures(store)).toEqual([]);
      expect(caller.closedWith).toBeUndefined();
      expect(model.appended.length).toBeGreaterThanOrEqual(125); // the caller's words reached the model
      model.handlers.responseCreated({ responseId: 'resp_2' });
      model.delta('resp_2', 'item_2', 800);
      expect(caller.played).toEqual([{ atMs: clock.now(), bytes: 800 }]);
      clock.advance(5_000);
      await settleIo();
      expect(await failures(store)).toEqual([]);
    });

    it('a greeting cancelled before its audio counts even if speech_started was not seen', async () => {
      const { session, caller, models, clock, store } = setup();
      models[0]!.becomeReady();
      await settleIo();
      session.attach(caller);
      models[0]!.handlers.responseCreated({ responseId: 'resp_greet' });
      clock.advance(300);
      models[0]!.handlers.responseDone({ responseId: 'resp_greet', status: 'cancelled', reason: 'turn_detected' });
      clock.advance(5_000);
      await settleIo();
      expect(await failures(store)).toEqual([]);
    });

    it.each([
      ['only acknowledges the greeting (response.created, then silence)', []],
      ['ends the greeting failed, without audio', ['failed']],
      ['ends the greeting incomplete, without audio', ['incomplete']],
    ])('still sends the call to its fallback when a ready model %s', async (_label, doneStatuses) => {
      const { session, caller, models, clock, store } = setup();
      models[0]!.becomeReady();
      await settleIo();
      session.attach(caller);
      models[0]!.handlers.responseCreated({ responseId: 'resp_greet' });
      for (const status of doneStatuses) models[0]!.handlers.responseDone({ responseId: 'resp_greet', status });
      clock.advance(2_000);
      await settleIo();
      expect(await failures(store)).toEqual([{ reason: 'no agent audio within 2000 ms of the stream start (the session was ready but no greeting audio arrived)', cause: 'agent-audio-timeout' }]);
    });

    it('counts the caller\'s turn only from a configured session', async () => {
      const { session, caller, models, clock, store } = setup();
      session.attach(caller);
      models[0]!.handlers.speechStarted({ itemId: 'in_1', audioStartMs: 0 }); // not ready: no sign it hears this call
      clock.advance(2_000);
      await settleIo();
      expect((await failures(store)).map((f) => (f as { cause: string }).cause)).toEqual(['agent-audio-timeout']);
    });

    it('is cleared when the call ends first', async () => {
      const { session, caller, clock, store } = setup();
      session.attach(caller);
      session.end('caller hung up');
      expect(clock.pendingTimers).toBe(0);
      clock.advance(5_000);
      await settleIo();
      expect(await failures(store)).toEqual([]);
    });

    it('fires once when the adapter fails too: the first failure wins', async () => {
      const { session, caller, models, clock, store } = setup({ agentAudioDeadlineMs: 300 });
      session.attach(caller);
      clock.advance(300);
      models[0]!.failToOpen('late');
      await settleIo();
      expect((await failures(store)).map((f) => (f as { cause: string }).cause)).toEqual(['agent-audio-timeout']);
    });
  });

  it('asks for the greeting during pre-warm, and the caller hears it as soon as the stream attaches', async () => {
    const { session, caller, models, clock } = setup();
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    expect(model.of('response.create')).toEqual([{ type: 'response.create', instructions: expect.stringContaining('Welcome to Acme.') }]);
    model.handlers.responseCreated({ responseId: 'resp_1' });
    model.delta('resp_1', 'item_1', 800); // arrives before the caller
    expect(caller.played).toEqual([]);
    clock.advance(500);
    session.attach(caller);
    expect(caller.played).toEqual([{ atMs: 500, bytes: 800 }]); // the lead, at once: within the first frame
  });

  it('plays nothing into the stream before its start frame (BW §4.2), then the waiting greeting at once', async () => {
    const { session, models, clock } = setup();
    const caller = new FakeCallerStream('c-1', () => clock.now(), false);
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    model.handlers.responseCreated({ responseId: 'resp_1' });
    model.delta('resp_1', 'item_1', 800);
    session.attach(caller);
    clock.advance(40);
    expect(caller.played).toEqual([]);
    caller.start();
    expect(caller.played).toEqual([{ atMs: 40, bytes: 800 }]);
  });

  it('forwards caller audio untouched (zero transcode) and keeps what was said while connecting', async () => {
    const { session, caller, models } = setup();
    const model = models[0]!;
    session.attach(caller);
    caller.speak(3); // before the model is ready
    expect(model.appended).toEqual([]);
    model.becomeReady();
    await settleIo();
    caller.speak(2);
    expect(model.appended).toHaveLength(5);
    expect(model.appended[0]).toEqual({ base64: Buffer.alloc(160, 0x11).toString('base64'), bytes: 160 });
  });

  it('barge-in: clears the carrier at once, truncates at what was heard, drops late deltas, marks the transcript', async () => {
    const { session, caller, models, clock, store } = setup();
    await store.calls.record({ id: CALL, state: 'streaming' });
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    session.attach(caller);
    model.handlers.responseCreated({ responseId: 'resp_1' });
    model.handlers.transcriptDelta({ responseId: 'resp_1', itemId: 'item_1', delta: 'Our opening hours are nine to five, Monday to Friday.' });
    model.delta('resp_1', 'item_1', 3000);
    clock.advance(740);
    model.handlers.speechStarted({ itemId: 'user_1', audioStartMs: 5000 });
    expect(caller.clears).toEqual([740]);
    expect(model.of('conversation.item.truncate')).toEqual([{ type: 'conversation.item.truncate', itemId: 'item_1', contentIndex: 0, audioEndMs: 740 }]);
    const playedBefore = caller.played.length;
    model.delta('resp_1', 'item_1', 500); // late delta of the interrupted response
    clock.advance(200);
    expect(caller.played.length).toBe(playedBefore);
    model.handlers.responseDone({ responseId: 'resp_1', status: 'cancelled', reason: 'turn_detected', usage: { output_tokens: 12 } });
    await settleIo();
    const [item] = await store.transcripts.list(CALL);
    expect(item).toMatchObject({ role: 'agent', truncated: true, heardMs: 740, itemId: 'item_1' });
    expect((await store.calls.get(CALL))?.usage).toEqual({ output_tokens: 12 });
  });

  it('does not clear or truncate when nothing is playing', async () => {
    const { session, caller, models, clock } = setup();
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    session.attach(caller);
    model.delta('resp_1', 'item_1', 200);
    model.handlers.audioDone({ responseId: 'resp_1', itemId: 'item_1', contentIndex: 0 });
    clock.advance(1000); // fully played
    model.handlers.speechStarted({ itemId: 'user_1', audioStartMs: 100 });
    expect(caller.clears).toEqual([]);
    expect(model.of('conversation.item.truncate')).toEqual([]);
  });

  it('barge-in while the model stalls mid-item: the carrier is silent, yet the item is cut at what was heard and its rest never plays', async () => {
    const { session, caller, models, clock } = setup();
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    session.attach(caller);
    model.handlers.responseCreated({ responseId: 'resp_1' });
    model.delta('resp_1', 'item_1', 300);
    clock.advance(800); // 300 ms played, then 500 ms of nothing: the model stalled
    model.handlers.speechStarted({ itemId: 'user_1', audioStartMs: 800 });
    expect(caller.clears).toEqual([800]);
    expect(model.of('conversation.item.truncate')).toEqual([{ type: 'conversation.item.truncate', itemId: 'item_1', contentIndex: 0, audioEndMs: 300 }]);
    const playedBefore = caller.played.length;
    model.delta('resp_1', 'item_1', 1000); // the model resumes: too late, the caller spoke
    clock.advance(500);
    expect(caller.played.length).toBe(playedBefore);
  });

  it('stores caller and agent turns in conversation order, even when the caller transcript completes late', async () => {
    const { session, caller, models, store } = setup();
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    session.attach(caller);
    model.handlers.speechStarted({ itemId: 'user_1', audioStartMs: 0 });
    model.handlers.speechStopped({ itemId: 'user_1', audioEndMs: 900 });
    model.handlers.callerItem({ itemId: 'user_1' });
    model.handlers.responseCreated({ responseId: 'resp_2' });
    model.handlers.transcriptDone({ responseId: 'resp_2', itemId: 'item_2', transcript: 'Sure, I can help.' });
    model.handlers.responseDone({ responseId: 'resp_2', status: 'completed' });
    model.handlers.callerTranscript({ itemId: 'user_1', transcript: 'Can you help me?' });
    await settleIo();
    expect((await store.transcripts.list(CALL)).map((t) => [t.role, t.text])).toEqual([
      ['caller', 'Can you help me?'],
      ['agent', 'Sure, I can help.'],
    ]);
  });

  describe('tools', () => {
    const tools = () =>
      new ToolRegistry()
        .register({ name: 'lookup_order', description: 'Find an order', parameters: z.object({ orderId: z.string() }), run: async ({ orderId }) => ({ orderId, status: 'shipped' }) })
        .register({
          name: 'broken',
          description: 'Always fails',
          parameters: z.object({}),
          run: async () => {
            throw new Error('database is down');
          },
        });

    it('sends every output, then exactly one response.create; failures go back as output', async () => {
      const { session, caller, models, store } = setup({ tools: tools() });
      const model = models[0]!;
      model.becomeReady();
      await settleIo();
      session.attach(caller);
      model.handlers.responseCreated({ responseId: 'resp_t' });
      model.handlers.functionCall({ responseId: 'resp_t', itemId: 'fc_1', callId: 'call_1', name: 'lookup_order', arguments: '{"orderId":"A7"}' });
      model.handlers.functionCall({ responseId: 'resp_t', itemId: 'fc_2', callId: 'call_2', name: 'broken', arguments: '{}' });
      model.handlers.functionCall({ responseId: 'resp_t', itemId: 'fc_3', callId: 'call_3', name: 'lookup_order', arguments: '{"orderId":7}' });
      const createsBefore = model.of('response.create').length;
      model.handlers.responseDone({ responseId: 'resp_t', status: 'completed' });
      await settleIo();
      const outputs = model.of('function_call_output');
      expect(outputs.map((o) => o.callId)).toEqual(['call_1', 'call_2', 'call_3']);
      expect(JSON.parse(outputs[0]!.output as string)).toEqual({ orderId: 'A7', status: 'shipped' });
      expect(JSON.parse(outputs[1]!.output as string)).toEqual({ error: 'database is down' });
      expect(JSON.parse(outputs[2]!.output as string).error).toMatch(/orderId/);
      expect(model.of('response.create').length).toBe(createsBefore + 1);
      const events = await store.events.list(CALL);
      expect(events.filter((e) => e.type === 'tool.call').map((e) => (e.data as { ok: boolean }).ok)).toEqual([true, false, false]);
    });
  });

  describe('the old session closing at the 60-minute cap', () => {
    it('a ready successor takes over at once, even mid-turn, and the caller is heard by it', async () => {
      const { session, caller, models, clock } = setup({ agent: agent({ greeting: '' }), renewAfterMs: 60_000 });
      const first = models[0]!;
      first.becomeReady();
      await settleIo();
      session.attach(caller);
      clock.advance(60_000);
      const second = models[1]!;
      first.handlers.speechStarted({ itemId: 'user_1', audioStartMs: 1 }); // the caller is talking...
      second.becomeReady();
      await settleIo();
      first.handlers.closed({ code: 1000, reason: 'session cap', expected: false }); // ...when OpenAI ends the old session
      await settleIo();
      expect(session.renewals).toBe(1);
      expect(session.state).toBe('live');
      caller.speak(1);
      expect(second.appended.length).toBeGreaterThan(0);
      expect(caller.closedWith).toBeUndefined();
    });
  });

  describe('failure is a call flow', () => {
    it('a session that cannot open: the stream is closed as soon as it arrives, and the reason stored', async () => {
      const { session, caller, models, store } = setup();
      await store.calls.record({ id: CALL, state: 'streaming' });
      models[0]!.failToOpen('OpenAI refused the Realtime connection (HTTP 429: rate limited)');
      await settleIo();
      session.attach(caller);
      expect(caller.closedWith).toBe('AI unavailable');
      expect((await store.calls.get(CALL))?.errorMessage).toMatch(/HTTP 429/);
    });

    it('a session that drops mid-call: the stream is closed so Bandwidth asks /stream-ended', async () => {
      const { session, caller, models, store, isEnded } = setup();
      await store.calls.record({ id: CALL, state: 'streaming' });
      const model = models[0]!;
      model.becomeReady();
      await settleIo();
      session.attach(caller);
      model.handlers.closed({ code: 1006, reason: '', expected: false });
      await settleIo();
      expect(caller.closedWith).toMatch(/OpenAI closed the session \(1006/);
      expect(isEnded()).toBe(true);
      const events = await store.events.list(CALL);
      expect(events.map((e) => e.type)).toContain('bridge.failed');
    });

    it('a pre-warmed session whose stream never comes is closed', () => {
      const { models, clock, isEnded } = setup();
      clock.advance(30_000);
      expect(models[0]!.closed).toBe(true);
      expect(isEnded()).toBe(true);
    });
  });

  describe('long calls', () => {
    it('renews the OpenAI session before the cap: the old one answers the turn it heard, the new one takes over when idle, primed', async () => {
      const { session, caller, models, clock, store } = setup({ renewAfterMs: 60_000, agent: agent({ greeting: '' }) });
      const first = models[0]!;
      first.becomeReady();
      await settleIo();
      session.attach(caller);
      await store.transcripts.append({ callId: CALL, role: 'caller', text: 'I need a plumber.', position: -1 });
      first.handlers.speechStarted({ itemId: 'user_9', audioStartMs: 1 }); // the caller is talking when renewal starts
      clock.advance(60_000);
      expect(models).toHaveLength(2);
      const second = models[1]!;
      second.becomeReady();
      await settleIo();
      expect(second.of('conversation.item.create')).toEqual([]); // primed at the swap, not before
      caller.speak(1);
      first.handlers.speechStopped({ itemId: 'user_9', audioEndMs: 2 }); // the old session heard this turn...
      first.handlers.responseCreated({ responseId: 'r_old' }); // ...and answers it
      caller.speak(1);
      expect(first.appended).toHaveLength(2);
      first.delta('r_old', 'item_ans', 200);
      first.handlers.transcriptDone({ responseId: 'r_old', itemId: 'item_ans', transcript: 'Where are you located?' });
      first.handlers.responseDone({ responseId: 'r_old', status: 'completed' });
      clock.advance(400); // the answer has played: idle
      await settleIo();
      await settleIo();
      expect(session.renewals).toBe(1);
      expect(second.of('conversation.item.create').map((i) => [i.role, i.text])).toEqual([
        ['user', 'I need a plumber.'],
        ['assistant', 'Where are you located?'],
      ]);
      caller.speak(1);
      expect(second.appended).toHaveLength(1);
      expect(first.appended).toHaveLength(2);
      clock.advance(10_000);
      expect(first.closed).toBe(true);
    });

    it('a replacement that dies before the swap is dropped and renewal tried again; the call goes on', async () => {
      const { session, caller, models, clock } = setup({ renewAfterMs: 60_000, agent: agent({ greeting: '' }) });
      models[0]!.becomeReady();
      await settleIo();
      session.attach(caller);
      clock.advance(60_000);
      const doomed = models[1]!;
      doomed.failToOpen('HTTP 500');
      await settleIo();
      expect(session.state).toBe('live');
      clock.advance(30_000);
      expect(models).toHaveLength(3);
      expect(caller.closedWith).toBeUndefined();
    });
  });

  describe('hand-offs wait for the agent\'s words', () => {
    const human = { id: 'd1', name: 'human', kind: 'phone' as const, value: '+19195550177', warm: true, callTimeoutS: 30 };
    // No greeting: these calls start with the tool call, so the session being ready is the agent's sign of life.
    const withHuman = () => ({ ...agent({ greeting: '' }), destinations: [human] });

    async function untilToolCalled(control?: CallControl) {
      const a = withHuman();
      const t = setup({ agent: a, tools: agentTools(a, {}), control });
      const model = t.models[0]!;
      model.becomeReady();
      await settleIo();
      t.session.attach(t.caller);
      await t.store.calls.record({ id: CALL, state: 'streaming' });
      model.handlers.responseCreated({ responseId: 'resp_fc' });
      model.handlers.functionCall({ responseId: 'resp_fc', itemId: 'fc', callId: 'call_t', name: 'transfer_call', arguments: '{"destination":"human","reason":"billing","summary":"Refund for order A7."}' });
      model.handlers.responseDone({ responseId: 'resp_fc', status: 'completed' });
      await settleIo();
      return { ...t, model };
    }

    it('transfers only after the "I\'m transferring you" reply has played', async () => {
      const transfers: unknown[] = [];
      const control: CallControl = { transfer: async (call, ...a) => (transfers.push([call.callId, call.agent.id, ...a]), 'done'), hangUp: async () => 'done', fallback: async () => 'on-stream-end' };
      const { model, clock, caller } = await untilToolCalled(control);
      expect(model.of('function_call_output')).toHaveLength(1);
      model.handlers.responseCreated({ responseId: 'resp_bye' });
      model.delta('resp_bye', 'item_bye', 1500);
      model.handlers.transcriptDone({ responseId: 'resp_bye', itemId: 'item_bye', transcript: 'Transferring you to billing now.' });
      model.handlers.responseDone({ responseId: 'resp_bye', status: 'completed' });
      clock.advance(1000);
      await settleIo();
      expect(transfers).toEqual([]); // still speaking
      clock.advance(600);
      await settleIo();
      expect(transfers).toEqual([['c-session-test', 'a1', human, 'billing', 'Refund for order A7.']]);
      expect(caller.playedMs).toBeGreaterThanOrEqual(1500);
    });

    it('does not wait forever: after 10 s the hand-off goes ahead', async () => {
      const transfers: unknown[] = [];
      const control: CallControl = { transfer: async (call, ...a) => (transfers.push([call.callId, ...a]), 'done'), hangUp: async () => 'done', fallback: async () => 'on-stream-end' };
      const { clock } = await untilToolCalled(control);
      clock.advance(9_900);
      await settleIo();
      expect(transfers).toHaveLength(0);
      clock.advance(200);
      await settleIo();
      expect(transfers).toHaveLength(1);
    });

    it('without a Calls API the intent is stored and the stream ended, so /stream-ended answers the transfer', async () => {
      const { model, caller, store, isEnded } = await untilToolCalled(undefined);
      model.handlers.responseCreated({ responseId: 'resp_bye' });
      model.handlers.responseDone({ responseId: 'resp_bye', status: 'completed' });
      await settleIo();
      expect(isEnded()).toBe(true);
      expect(caller.closedWith).toBe('transferring');
      expect(await store.handOffs.get(CALL)).toEqual({ kind: 'transfer', destination: human, reason: 'billing', summary: 'Refund for order A7.' });
      expect((await store.events.list(CALL)).find((e) => e.type === 'bridge.handed-off')?.data).toMatchObject({ action: 'transfer', via: 'stream-end' });
    });

    it('hang_up through the Calls API ends the session and marks the call as ended by the agent', async () => {
      const hangUps: string[] = [];
      const a = agent();
      const t = setup({ agent: a, tools: agentTools(a, {}), control: { transfer: async () => 'done', hangUp: async (call) => (hangUps.push(call.callId), 'done'), fallback: async () => 'on-stream-end' } });
      await t.store.calls.record({ id: CALL, state: 'streaming' });
      const model = t.models[0]!;
      model.becomeReady();
      await settleIo();
      t.session.attach(t.caller);
      model.handlers.responseCreated({ responseId: 'r1' });
      model.handlers.functionCall({ responseId: 'r1', itemId: 'fc', callId: 'call_h', name: 'hang_up', arguments: '{}' });
      model.handlers.responseDone({ responseId: 'r1', status: 'completed' });
      await settleIo();
      model.handlers.responseCreated({ responseId: 'r2' });
      model.delta('r2', 'bye', 600);
      model.handlers.transcriptDone({ responseId: 'r2', itemId: 'bye', transcript: 'Goodbye!' });
      model.handlers.responseDone({ responseId: 'r2', status: 'completed' });
      t.clock.advance(300);
      await settleIo();
      expect(hangUps).toEqual([]);
      t.clock.advance(400);
      await settleIo();
      await settleIo();
      expect(hangUps).toEqual([CALL]);
      expect(t.isEnded()).toBe(true);
      expect((await t.store.calls.get(CALL))?.cause).toBe('agent-hangup');
    });
  });

  it('a resumed stream is primed with the conversation and why the transfer failed, instead of the greeting', async () => {
    const { store, models } = setup({ resume: { note: 'The transfer to human did not go through: the line was busy.' } });
    await store.transcripts.append({ callId: CALL, role: 'caller', text: 'Can I speak to a person?', position: 0 });
    await store.transcripts.append({ callId: CALL, role: 'agent', text: 'Let me transfer you.', position: 1 });
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    await settleIo();
    expect(model.sent.map((e) => [e.type, e.role ?? '', e.text ?? e.instructions ?? ''])).toEqual([
      ['conversation.item.create', 'user', 'Can I speak to a person?'],
      ['conversation.item.create', 'assistant', 'Let me transfer you.'],
      ['conversation.item.create', 'system', 'The transfer to human did not go through: the line was busy.'],
      ['response.create', '', ''],
    ]);
  });
});
