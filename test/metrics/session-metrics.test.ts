import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { BandwidthCallControl } from '../../src/bandwidth/call-control';
import { CallSession } from '../../src/bridge/call-session';
import { PlayoutScheduler } from '../../src/bridge/playout';
import { ToolRegistry } from '../../src/bridge/tools';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeCallerStream, FakeModelSession } from '../helpers/fakes';
import { RecordingSink } from '../helpers/recording-sink';

/**
 * What a stream call reports to the metrics (src/metrics/sink.ts), on fakes and a ManualClock: the values
 * the bridge computes, exactly.
 */
const CALL = 'c-metrics-session';
const LEAD_MS = 100;

function agent(extra: Record<string, unknown> = {}): AgentWithDestinations {
  return { ...agentSchema.parse({ id: 'a1', name: 'A1', greeting: 'Welcome to Acme.', ...extra }), destinations: [] };
}

function setup(options: { agent?: AgentWithDestinations; renewAfterMs?: number } = {}) {
  const clock = new ManualClock(0);
  const store = SqliteStore.open(':memory:');
  const metrics = new RecordingSink();
  const models: FakeModelSession[] = [];
  const session = new CallSession({
    callId: CALL,
    agent: options.agent ?? agent(),
    store,
    logger: createLogger('silent'),
    clock,
    scheduler: new PlayoutScheduler(clock),
    tools: new ToolRegistry(),
    openModel: () => {
      const m = new FakeModelSession();
      models.push(m);
      return m;
    },
    onEnded: () => undefined,
    pacing: { leadMs: LEAD_MS, refillBelowMs: LEAD_MS, carrierDelayMs: 0 },
    renewAfterMs: options.renewAfterMs,
    control: new BandwidthCallControl({ store, logger: createLogger('silent') }),
    metrics,
  });
  const caller = new FakeCallerStream(CALL, () => clock.now(), false);
  return { clock, store, models, session, caller, metrics };
}

describe('a stream call reports to its metrics sink', () => {
  it('first-word latency: from the stream start frame to the first agent audio sent, once per stream', async () => {
    const { session, caller, models, clock, metrics } = setup();
    models[0]!.becomeReady();
    await settleIo();
    session.attach(caller);
    clock.advance(250);
    caller.start(); // the start frame at 250 ms
    clock.advance(180);
    models[0]!.handlers.responseCreated({ responseId: 'r1' });
    models[0]!.delta('r1', 'i1', 400); // the greeting's first audio, 180 ms after the start frame
    clock.advance(1000);
    models[0]!.delta('r1', 'i1', 400);
    clock.advance(1000);
    expect(metrics.of('firstWord')).toEqual([[180]]);
  });

  it('a greeting waiting at the stream start counts 0 ms', async () => {
    const { session, caller, models, clock, metrics } = setup();
    models[0]!.becomeReady();
    models[0]!.handlers.responseCreated({ responseId: 'r1' });
    models[0]!.delta('r1', 'i1', 400); // pre-warmed: the audio is queued before the caller is there
    await settleIo();
    clock.advance(300);
    session.attach(caller);
    caller.start();
    expect(metrics.of('firstWord')).toEqual([[0]]);
  });

  it('a barge-in: counted once, with each truncated item and how far its truncation can be off (what was sent past what was heard)', async () => {
    const { session, caller, models, clock, metrics } = setup();
    const model = models[0]!;
    model.becomeReady();
    await settleIo();
    session.attach(caller);
    caller.start();
    model.handlers.responseCreated({ responseId: 'resp_1' });
    model.delta('resp_1', 'item_1', 3000);
    clock.advance(740);
    model.handlers.speechStarted({ itemId: 'user_1', audioStartMs: 5000 });
    expect(model.of('conversation.item.truncate')).toEqual([{ type: 'conversation.item.truncate', itemId: 'item_1', contentIndex: 0, audioEndMs: 740 }]);
    expect(metrics.of('bargeIn')).toEqual([[]]);
    // Sent: what had played (740 ms) plus the lead kept at the carrier, in whole 20 ms frames.
    const sentMs = caller.playedMs;
    expect(metrics.of('truncation')).toEqual([[sentMs - 740]]);
    expect(sentMs - 740).toBeGreaterThanOrEqual(LEAD_MS - 20);
    expect(sentMs - 740).toBeLessThanOrEqual(LEAD_MS + 20);
    // The caller speaking when nothing plays is no barge-in.
    model.handlers.responseDone({ responseId: 'resp_1', status: 'cancelled' });
    clock.advance(1000);
    model.handlers.speechStarted({ itemId: 'user_2', audioStartMs: 6000 });
    expect(metrics.of('bargeIn')).toHaveLength(1);
  });

  it('OpenAI refusing the session: one fallback with the failure as its reason, one OpenAI error', async () => {
    const { session, caller, models, metrics } = setup();
    session.attach(caller);
    caller.start();
    models[0]!.failToOpen('HTTP 429');
    await settleIo();
    expect(metrics.of('fallback')).toEqual([['model-failed']]);
    expect(metrics.of('modelError')).toEqual([['session-failed', 'model-failed']]);
  });

  it('no agent audio in time: a fallback for agent-audio-timeout and no OpenAI error', async () => {
    const { session, caller, clock, metrics } = setup();
    session.attach(caller);
    caller.start();
    clock.advance(2_000);
    await settleIo();
    expect(metrics.of('fallback')).toEqual([['agent-audio-timeout']]);
    expect(metrics.of('modelError')).toEqual([]);
  });

  it('OpenAI closing the session mid-call: a fallback for model-closed, counted as a closed session', async () => {
    const { session, caller, models, metrics } = setup({ agent: agent({ greeting: '' }) });
    models[0]!.becomeReady();
    await settleIo();
    session.attach(caller);
    caller.start();
    models[0]!.handlers.error({ code: 'invalid_value', message: 'bad field' });
    models[0]!.handlers.closed({ code: 1011, reason: 'server error', expected: false });
    await settleIo();
    expect(metrics.of('modelError')).toEqual([['event'], ['session-closed']]);
    expect(metrics.of('fallback')).toEqual([['model-closed']]);
  });

  it('a hand-over at shutdown is a shutting-down fallback; a call that failed already is not counted twice', async () => {
    const live = setup({ agent: agent({ greeting: '' }) });
    live.models[0]!.becomeReady();
    await settleIo();
    live.session.attach(live.caller);
    live.caller.start();
    await live.session.handOver('server shutting down');
    expect(live.metrics.of('fallback')).toEqual([['shutting-down']]);

    const failed = setup();
    failed.session.attach(failed.caller);
    failed.caller.start();
    failed.models[0]!.failToOpen('HTTP 500');
    await settleIo();
    await failed.session.handOver('server shutting down');
    expect(failed.metrics.of('fallback')).toEqual([['model-failed']]);
  });

  it('the hourly session renewal is a reconnect; a replacement that fails to open is a failed one', async () => {
    const { session, caller, models, clock, metrics } = setup({ renewAfterMs: 60_000, agent: agent({ greeting: '' }) });
    models[0]!.becomeReady();
    await settleIo();
    session.attach(caller);
    caller.start();
    clock.advance(60_000);
    models[1]!.failToOpen('HTTP 500');
    await settleIo();
    expect(metrics.of('modelReconnect')).toEqual([['failed']]);
    clock.advance(30_000); // retried
    models[2]!.becomeReady();
    await settleIo();
    await settleIo();
    expect(session.renewals).toBe(1);
    expect(metrics.of('modelReconnect')).toEqual([['failed'], ['renewed']]);
  });
});
