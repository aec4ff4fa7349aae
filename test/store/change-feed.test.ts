import { SqliteStore } from '../../src/store/sqlite';
import { LocalInstanceBus, LocalMediaTokens } from '../../src/store/local-feeds';
import type { InstanceMessage, StoreChange } from '../../src/store/types';

describe('the SQLite store announces its commits', () => {
  let store: SqliteStore;
  beforeEach(() => (store = SqliteStore.open(':memory:')));
  afterEach(() => store.close());

  it('announces a call write, its event, an event, a transcript line and usage, each after it is committed', async () => {
    const seen: StoreChange[][] = [];
    const unsubscribe = store.changes.subscribe((changes) => seen.push(changes));
    const recorded = store.calls.record({ id: 'c-1', leg: 'caller', state: 'initiated' }, { callId: 'c-1', source: 'bandwidth', type: 'initiate' });
    expect(seen).toEqual([]); // not before the commit
    await recorded;
    await store.events.append({ callId: 'c-1', source: 'switchboard', type: 'note' });
    await store.transcripts.append({ callId: 'c-1', role: 'caller', text: 'hello' });
    await store.calls.addUsage('c-1', { inputTokens: 3 });
    await Promise.resolve();
    expect(seen).toEqual([
      [{ kind: 'call', callId: 'c-1' }, { kind: 'event', callId: 'c-1', type: 'initiate' }],
      [{ kind: 'event', callId: 'c-1', type: 'note' }],
      [{ kind: 'transcript', callId: 'c-1' }],
      [{ kind: 'call', callId: 'c-1' }],
    ]);
    unsubscribe();
    await store.events.append({ callId: 'c-1', source: 'switchboard', type: 'after' });
    await Promise.resolve();
    expect(seen).toHaveLength(4);
  });

  it('announces the calls a restart closes out', async () => {
    await store.calls.record({ id: 'c-2', leg: 'caller', state: 'streaming', mediaOwner: 'i-a' });
    const seen: StoreChange[] = [];
    store.changes.subscribe((changes) => seen.push(...changes));
    await store.calls.closeOutOrphans('i-a', { cause: 'error', errorMessage: 'crashed', endedAt: new Date().toISOString(), eventType: 'switchboard.closed-out' });
    expect(seen).toEqual([{ kind: 'call', callId: 'c-2' }, { kind: 'event', callId: 'c-2', type: 'switchboard.closed-out' }]);
  });

  it('keeps announcing to the others when one listener throws', async () => {
    const seen: string[] = [];
    store.changes.subscribe(() => {
      throw new Error('a reader bug');
    });
    store.changes.subscribe((changes) => seen.push(changes[0]!.kind));
    await store.transcripts.append({ callId: 'c-3', role: 'agent', text: 'hi' });
    await Promise.resolve();
    expect(seen).toEqual(['transcript']);
  });
});

describe('the in-process instance bus', () => {
  it('delivers to the addressed instance and to broadcasts, later than the publish call', async () => {
    const bus = new LocalInstanceBus();
    const a: InstanceMessage[] = [];
    const b: InstanceMessage[] = [];
    bus.subscribe('i-a', (m) => a.push(m));
    const stopB = bus.subscribe('i-b', (m) => b.push(m));
    const sent = bus.publish({ to: 'i-b', from: 'i-a', kind: 'hangup', callId: 'c-1' });
    expect(b).toEqual([]);
    await sent;
    await bus.publish({ to: '*', from: 'i-a', kind: 'ping' });
    expect(a.map((m) => m.kind)).toEqual(['ping']);
    expect(b.map((m) => m.kind)).toEqual(['hangup', 'ping']);
    stopB();
    await bus.publish({ to: 'i-b', from: 'i-a', kind: 'hangup' });
    expect(b).toHaveLength(2);
  });
});

describe('in-memory media tokens', () => {
  it('spends a token once, and forgets it after it expires', async () => {
    let now = 1_000;
    const tokens = new LocalMediaTokens(() => now);
    const expiresAt = new Date(61_000).toISOString();
    expect(await tokens.use('t-1', expiresAt)).toBe(true);
    expect(await tokens.use('t-1', expiresAt)).toBe(false);
    expect(await tokens.use('t-2', expiresAt)).toBe(true);
    now = 61_000;
    expect(await tokens.use('t-1', new Date(121_000).toISOString())).toBe(true);
  });
});
