import { Client } from 'pg';
import { PostgresStore } from '../../../src/store/postgres';
import { PG_MIGRATIONS } from '../../../src/store/postgres/migrations';
import type { InstanceMessage, StoreChange } from '../../../src/store/types';
import { eventually } from '../../helpers/eventually';
import { describeWithPostgres, testDatabase, type TestDatabase } from '../../helpers/postgres';
import { describeEachBackend, type ContractStore } from './backends';

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/**
 * What instances sharing a store rely on (docs/architecture.md, "Several instances"): media tokens spent once,
 * committed changes announced to every instance, messages between instances, and migrations that two instances
 * starting at once do not trip over. On SQLite "another instance" is the same store object (one instance per
 * data directory); the behaviour asserted is the same.
 */
describeEachBackend('instances sharing a store', (backend) => {
  let store: ContractStore;
  beforeEach(async () => {
    store = await backend.open();
  });

  it('spends a media token once across instances; an expired one may be spent again', async () => {
    const other = await backend.peer();
    const expiresAt = inMs(60_000);
    const uses = await Promise.all([store.mediaTokens.use('t-1', expiresAt), other.mediaTokens.use('t-1', expiresAt), store.mediaTokens.use('t-1', expiresAt)]);
    expect(uses.filter(Boolean)).toHaveLength(1);
    expect(await other.mediaTokens.use('t-1', expiresAt)).toBe(false);
    expect(await other.mediaTokens.use('t-2', expiresAt)).toBe(true);
    expect(await store.mediaTokens.use('t-old', inMs(-1))).toBe(true);
    expect(await other.mediaTokens.use('t-old', inMs(60_000))).toBe(true);
    expect(await store.mediaTokens.use('t-old', inMs(60_000))).toBe(false);
  });

  it('announces each write’s changes after its commit, on every instance', async () => {
    const other = await backend.peer();
    const here: StoreChange[][] = [];
    const there: StoreChange[][] = [];
    store.changes.subscribe((changes) => here.push(changes));
    const unsubscribe = other.changes.subscribe((changes) => there.push(changes));
    const recorded = store.calls.record({ id: 'c-1', leg: 'caller', state: 'initiated' }, { callId: 'c-1', source: 'bandwidth', type: 'initiate' });
    expect(here).toEqual([]); // not before the commit
    await recorded;
    await store.events.append({ callId: 'c-1', source: 'switchboard', type: 'note' });
    await store.events.append({ callId: 'c-1', source: 'switchboard', type: 'note' });
    await store.transcripts.append({ callId: 'c-1', role: 'caller', text: 'hello' });
    await store.calls.addUsage('c-1', { inputTokens: 3 });
    const expected = [
      [{ kind: 'call', callId: 'c-1', ended: false }, { kind: 'event', callId: 'c-1', type: 'initiate' }],
      [{ kind: 'event', callId: 'c-1', type: 'note' }],
      [{ kind: 'event', callId: 'c-1', type: 'note' }],
      [{ kind: 'transcript', callId: 'c-1' }],
      [{ kind: 'call', callId: 'c-1', ended: false }],
    ];
    const whose = (local: boolean) => expected.map((changes) => changes.map((change) => ({ ...change, local })));
    await eventually(async () => here.length >= expected.length && there.length >= expected.length, 'the changes on both instances');
    expect(here).toEqual(whose(true));
    // Another instance hears the same commits as someone else's (on SQLite the peer is this store object).
    expect(there).toEqual(whose(!backend.multiInstance));
    unsubscribe();
    await store.events.append({ callId: 'c-1', source: 'switchboard', type: 'after' });
    await eventually(async () => here.length === expected.length + 1, 'the last change here');
    expect(there).toHaveLength(expected.length);
  });

  it('announces nothing for a write that failed, and the calls a restart closes out', async () => {
    const seen: StoreChange[] = [];
    store.changes.subscribe((changes) => seen.push(...changes));
    await expect(store.calls.record({ id: 'c-bad', state: 'bogus' as never })).rejects.toThrow(/unknown call state/);
    await store.calls.record({ id: 'c-2', leg: 'caller', state: 'streaming', mediaOwner: 'i-a' });
    await eventually(async () => seen.length === 1, 'the record announced');
    await store.calls.closeOutOrphans('i-a', { cause: 'error', errorMessage: 'crashed', endedAt: new Date().toISOString(), eventType: 'switchboard.closed-out' });
    await eventually(async () => seen.length === 3, 'the close-out announced');
    expect(seen).toEqual([
      { kind: 'call', callId: 'c-2', ended: false, local: true },
      { kind: 'call', callId: 'c-2', ended: true, local: true },
      { kind: 'event', callId: 'c-2', type: 'switchboard.closed-out', local: true },
    ]);
  });

  it('says a leg ended only in the commit that made it final, and whose commit that was', async () => {
    const other = await backend.peer();
    const here: StoreChange[] = [];
    const there: StoreChange[] = [];
    store.changes.subscribe((changes) => here.push(...changes.filter((c) => c.kind === 'call')));
    other.changes.subscribe((changes) => there.push(...changes.filter((c) => c.kind === 'call')));
    await store.calls.record({ id: 'c-e', leg: 'caller', state: 'initiated' });
    await store.calls.record({ id: 'c-e', state: 'streaming' });
    await store.calls.recordMany([
      { id: 'c-e', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'hangup' } },
      { id: 'c-e-b', leg: 'transfer', parentCallId: 'c-e', state: 'transferring' },
    ]);
    // Later writes to the finished call, from either instance: a late completion, usage, a rejected leg ending.
    await other.calls.record({ id: 'c-e', state: 'completed', errorMessage: 'late' }, { callId: 'c-e', source: 'bandwidth', type: 'disconnect' });
    await other.calls.addUsage('c-e', { output_tokens: 2 });
    await other.calls.record({ id: 'c-e-b', state: 'completed' });
    await other.calls.record({ id: 'c-r', leg: 'caller', state: 'rejected' }); // a leg whose first write is final
    const calls = (changes: StoreChange[]) => changes.map((c) => c.kind === 'call' && [c.callId, c.ended, c.local]);
    const expected = [
      ['c-e', false, true],
      ['c-e', false, true],
      ['c-e', true, true],
      ['c-e-b', false, true],
      ['c-e', false, false],
      ['c-e', false, false],
      ['c-e-b', true, false],
      ['c-r', true, false],
    ];
    await eventually(async () => here.length >= expected.length && (!backend.multiInstance || there.length >= expected.length), 'the changes');
    if (backend.multiInstance) {
      expect(calls(here)).toEqual(expected);
      expect(calls(there)).toEqual(expected.map(([id, ended, local]) => [id, ended, !local]));
    } else {
      expect(calls(here)).toEqual(expected.map(([id, ended]) => [id, ended, true]));
    }
  });

  it('keeps announcing to the others when one listener throws', async () => {
    const seen: string[] = [];
    store.changes.subscribe(() => {
      throw new Error('a reader bug');
    });
    store.changes.subscribe((changes) => seen.push(changes[0]!.kind));
    await store.transcripts.append({ callId: 'c-3', role: 'agent', text: 'hi' });
    await eventually(async () => seen.length === 1, 'the change');
    expect(seen).toEqual(['transcript']);
  });

  it('carries messages to the instance addressed, and broadcasts to all', async () => {
    const other = await backend.peer();
    const a: InstanceMessage[] = [];
    const b: InstanceMessage[] = [];
    store.bus.subscribe('i-a', (m) => a.push(m));
    const stopB = other.bus.subscribe('i-b', (m) => b.push(m));
    await store.bus.publish({ to: 'i-b', from: 'i-a', kind: 'hangup', callId: 'c-1', data: { reason: 'admin' } });
    await other.bus.publish({ to: '*', from: 'i-b', kind: 'ping' });
    await eventually(async () => b.length === 2 && a.length === 1, 'the messages');
    expect(b).toEqual([
      { to: 'i-b', from: 'i-a', kind: 'hangup', callId: 'c-1', data: { reason: 'admin' } },
      { to: '*', from: 'i-b', kind: 'ping' },
    ]);
    expect(a).toEqual([{ to: '*', from: 'i-b', kind: 'ping' }]);
    stopB();
    await store.bus.publish({ to: 'i-b', from: 'i-a', kind: 'hangup' });
    await store.bus.publish({ to: 'i-a', from: 'i-a', kind: 'marker' });
    await eventually(async () => a.length === 2, 'the marker');
    expect(b).toHaveLength(2);
  });

  it('two instances opening a new database at once both end up on the latest schema', async () => {
    const [first, second] = await backend.openTwoAtOnce();
    await first.calls.record({ id: 'c-m', state: 'initiated' });
    expect((await second.calls.get('c-m'))?.state).toBe('initiated');
  });

  it('answers ping while open, and not after close', async () => {
    expect(await store.ping()).toBe(true);
    expect(store.health.snapshot()).toMatchObject({ writable: true, stalledForMs: 0 });
    await store.close();
    expect(await store.ping()).toBe(false);
  });
});

describeWithPostgres('PostgreSQL store: its own', () => {
  let db: TestDatabase;
  const stores: PostgresStore[] = [];
  const open = async (url = db.url) => {
    const store = await PostgresStore.open(url);
    stores.push(store);
    return store;
  };
  const sql = async (query: string, url = db.url) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(query)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  beforeAll(async () => {
    db = (await testDatabase())!;
  }, 60_000);
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => db?.close(), 60_000);

  it('records each migration once, and refuses a schema newer than the code', async () => {
    const fresh = await db.another();
    try {
      await Promise.all([open(fresh.url), open(fresh.url), open(fresh.url)]);
      expect((await sql('SELECT version FROM schema_migrations ORDER BY version', fresh.url)).map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '')", fresh.url);
      await expect(PostgresStore.open(fresh.url)).rejects.toThrow(/schema version 999 is newer than this Switchboard/);
    } finally {
      await fresh.close();
    }
  });

  it('listens again after its LISTEN connection is cut, and delivers what is committed after', async () => {
    const store = await open();
    const other = await open();
    const seen: StoreChange[] = [];
    other.changes.subscribe((changes) => seen.push(...changes));
    await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
    await eventually(async () => other.listenConnections > 1 && (await other.ping()), 'the listener to reconnect');
    await store.events.append({ callId: 'c-after', source: 'switchboard', type: 'after-cut' });
    await eventually(async () => seen.length > 0, 'the change after the cut');
    expect(seen).toEqual([{ kind: 'event', callId: 'c-after', type: 'after-cut', local: false }]);
  });

  it('refuses a bus message too large for a notification, naming the limit', async () => {
    const store = await open();
    await expect(store.bus.publish({ to: '*', from: 'i-a', kind: 'big', data: 'x'.repeat(9_000) })).rejects.toThrow(/at most 7900 bytes/);
  });

  it('ignores a notification that is not ours', async () => {
    const store = await open();
    const seen: StoreChange[][] = [];
    store.changes.subscribe((changes) => seen.push(changes));
    await sql(`SELECT pg_notify('switchboard_changes', '{"o":"x","n":1,"c":[{"kind":"drop-tables"}]}'), pg_notify('switchboard_changes', 'not json')`);
    await store.events.append({ callId: 'c-ok', source: 'switchboard', type: 'ok' });
    await eventually(async () => seen.length === 1, 'the good change');
    expect(seen).toEqual([[{ kind: 'event', callId: 'c-ok', type: 'ok', local: true }]]);
  });
});
