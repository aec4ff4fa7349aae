import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import { CallRegistry } from '../../src/bridge/registry';
import type { CallControl } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { FakeCallerStream, FakeModelSession } from '../helpers/fakes';

/**
 * A media stream for a call with no pre-warmed session here (DESIGN §4.12; docs/architecture.md, "Several
 * instances"): answered by a session opened then, or refused by closing it (then /stream-ended answers the
 * fallback). The registry reads the store first, so the carrier's first frames must wait for the session.
 */
describe('a stream that arrives with no pre-warmed session', () => {
  let clock: ManualClock;
  let store: Store;
  let models: FakeModelSession[];
  let registry: CallRegistry;
  const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'late', name: 'Late', greeting: 'Hello there.' }), destinations: [] };
  const control: CallControl = { transfer: async () => 'done', hangUp: async () => 'done', fallback: async () => 'on-stream-end' };

  beforeEach(async () => {
    clock = new ManualClock(0);
    store = SqliteStore.open(':memory:');
    await store.agents.upsert(agent, 'api');
    models = [];
    registry = new CallRegistry({
      store,
      logger: createLogger('silent'),
      clock,
      instanceId: 'i-late',
      control,
      toolsFor: (a) => agentTools(a, {}),
      openModel: () => {
        const model = new FakeModelSession();
        models.push(model);
        return model;
      },
    });
  });
  afterEach(async () => {
    await registry.drain(0);
    await store.close();
  });

  it('opens a session from the stored agent, greets, takes the held start frame and audio, owns the call, and counts it', async () => {
    await store.calls.record({ id: 'c-late', agentId: 'late', state: 'streaming', direction: 'inbound', from: '+19195550142', to: '+19195550100' });
    const stream = new FakeCallerStream('c-late', () => clock.now(), false);
    registry.attach(stream);
    expect(registry.get('c-late')).toBeUndefined(); // the store is asked first
    // The carrier sends its start frame and speech at once; a stream drops frames nobody listens to (stream.ts).
    expect(stream.handlers).toBeDefined();
    stream.start();
    stream.speak(3);
    await settleIo();
    const session = registry.get('c-late')!;
    expect(session.state).toBe('live');
    expect(registry.lateAttaches).toBe(1);
    expect(models).toHaveLength(1);
    expect(models[0]!.sent.filter((e) => e.type === 'response.create')).toHaveLength(1); // the (late) greeting was asked for
    models[0]!.becomeReady();
    await settleIo();
    expect(models[0]!.appended.reduce((a, c) => a + c.bytes, 0)).toBe(480); // the 60 ms that came while the store answered
    expect((await store.calls.get('c-late'))?.mediaOwner).toBe('i-late');
    session.end('test over');
    await settleIo();
    expect((await store.calls.get('c-late'))?.mediaOwner).toBeNull();
  });

  it('refuses a stream for a call that is over, unknown, or has no agent, by closing it; nothing is opened or owned', async () => {
    await store.calls.record({ id: 'c-over', agentId: 'late', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'hung up' } });
    await store.calls.record({ id: 'c-no-agent', state: 'streaming' });
    const streams = ['c-over', 'c-unknown', 'c-no-agent'].map((id) => new FakeCallerStream(id, () => clock.now()));
    for (const stream of streams) registry.attach(stream);
    await settleIo();
    expect(streams.map((s) => s.closedWith)).toEqual(['call is not live', 'call is not live', 'no agent for this call']);
    expect(models).toHaveLength(0);
    expect(registry.lateAttaches).toBe(0);
    expect((await store.calls.get('c-no-agent'))?.mediaOwner).toBeNull();
  });

  it('while draining, closes the stream so the fallback takes the call elsewhere', async () => {
    await store.calls.record({ id: 'c-drain', agentId: 'late', state: 'streaming' });
    await registry.drain(0);
    const stream = new FakeCallerStream('c-drain', () => clock.now());
    registry.attach(stream);
    expect(stream.closedWith).toBe('server shutting down');
    expect(models).toHaveLength(0);
  });

  it('resumes a caller back from a failed transfer with the stored reason', async () => {
    await store.calls.record({ id: 'c-back', agentId: 'late', state: 'streaming', errorMessage: 'transfer to human failed (busy)', outcome: { outcome: 'transfer-failed-returned', reason: 'transfer to human failed (busy)' } });
    registry.attach(new FakeCallerStream('c-back', () => clock.now()));
    await settleIo();
    expect(models).toHaveLength(1);
    expect(models[0]!.sent.filter((e) => e.type === 'response.create')).toHaveLength(0); // no greeting: the conversation resumes
    models[0]!.becomeReady();
    await settleIo();
    await settleIo();
    expect(models[0]!.sent.filter((e) => e.type === 'conversation.item.create').map((e) => e.text)).toContainEqual(expect.stringMatching(/^The transfer did not go through \(transfer to human failed \(busy\)\)\. The caller is back with you now/));
  });
});
