import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { agentSchema, transferDestinationSchema } from '../../src/agents/agent';
import { isSwitchboardError } from '../../src/errors';
import { MIGRATIONS } from '../../src/store/migrations';
import { SqliteStore } from '../../src/store/sqlite';

const agent = (id: string, extra: Record<string, unknown> = {}) => agentSchema.parse({ id, name: `Agent ${id}`, ...extra });
const destination = (id: string, name: string, value: string) => transferDestinationSchema.parse({ id, name, kind: 'phone', value });

describe('SqliteStore', () => {
  let store: SqliteStore;
  beforeEach(() => {
    store = SqliteStore.open(':memory:');
  });
  afterEach(() => store.close());

  it('migrates to the latest schema version', () => {
    expect(store.schemaVersion).toBe(MIGRATIONS[MIGRATIONS.length - 1]!.version);
  });

  it('opens a file in WAL mode, creating its directory, and keeps data across reopen', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-store-'));
    const file = path.join(dir, 'nested', 'switchboard.db');
    const first = SqliteStore.open(file);
    await first.calls.record({ id: 'c-1', state: 'initiated' });
    await first.close();
    const raw = new Database(file);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    const second = SqliteStore.open(file);
    expect((await second.calls.get('c-1'))?.state).toBe('initiated');
    await second.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('close() commits call writes still waiting for their turn', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-store-'));
    const file = path.join(dir, 'switchboard.db');
    const first = SqliteStore.open(file);
    const written = first.calls.record({ id: 'c-late', state: 'completed' });
    await first.close();
    await written;
    const second = SqliteStore.open(file);
    expect((await second.calls.get('c-late'))?.state).toBe('completed');
    await second.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a database from a newer Switchboard', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-store-'));
    const file = path.join(dir, 'db.sqlite');
    const raw = new Database(file);
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => SqliteStore.open(file)).toThrow(/newer than this Switchboard/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('calls', () => {
    it('records a state change and its event in one transaction; undefined fields keep the last good value', async () => {
      await store.calls.record({ id: 'c-1', state: 'initiated', from: '+19195550142', agentId: 'a' }, { callId: 'c-1', source: 'bandwidth', type: 'initiate', data: { raw: true } });
      await store.calls.record({ id: 'c-1', state: 'streaming', from: undefined });
      const call = await store.calls.get('c-1');
      expect(call).toMatchObject({ state: 'streaming', from: '+19195550142', agentId: 'a' });
      const events = await store.events.list('c-1');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ callId: 'c-1', source: 'bandwidth', type: 'initiate', data: { raw: true } });
    });

    it('never reopens a final state', async () => {
      await store.calls.record({ id: 'c-2', state: 'completed', cause: 'hangup' });
      await store.calls.record({ id: 'c-2', state: 'streaming', errorMessage: 'late' });
      const call = await store.calls.get('c-2');
      expect(call?.state).toBe('completed');
      expect(call?.errorMessage).toBe('late');
    });

    it('rolls back the state change when the event cannot be stored', async () => {
      await store.calls.record({ id: 'c-3', state: 'initiated' });
      await expect(store.calls.recordMany([{ id: 'c-3', state: 'streaming' }, { id: 'c-3', state: 'bogus' as never }])).rejects.toThrow(/unknown call state/);
      expect((await store.calls.get('c-3'))?.state).toBe('initiated');
    });

    it('writes issued together commit together, and each is acknowledged only once it is stored', async () => {
      const writes = Array.from({ length: 50 }, (_, i) =>
        store.calls.record({ id: `c-batch-${i}`, state: 'initiated' }, { callId: `c-batch-${i}`, source: 'bandwidth', type: 'initiate', data: { i } }),
      );
      await Promise.all(writes);
      for (let i = 0; i < 50; i++) {
        expect((await store.calls.get(`c-batch-${i}`))?.state).toBe('initiated');
        expect((await store.events.list(`c-batch-${i}`)).map((e) => e.data)).toEqual([{ i }]);
      }
    });

    it('a failing write in a batch fails alone, leaving nothing of itself behind', async () => {
      const good = store.calls.record({ id: 'c-good-1', state: 'initiated' }, { callId: 'c-good-1', source: 'bandwidth', type: 'initiate' });
      const bad = store.calls.recordMany([{ id: 'c-bad', state: 'initiated' }, { id: 'c-bad', state: 'bogus' as never }], { callId: 'c-bad', source: 'bandwidth', type: 'initiate' });
      const alsoGood = store.calls.record({ id: 'c-good-2', state: 'streaming' }, { callId: 'c-good-2', source: 'bandwidth', type: 'initiate' });
      await expect(bad).rejects.toThrow(/unknown call state/);
      await expect(Promise.all([good, alsoGood])).resolves.toEqual([undefined, undefined]);
      expect(await store.calls.get('c-bad')).toBeUndefined();
      expect(await store.events.list('c-bad')).toEqual([]);
      expect((await store.calls.get('c-good-2'))?.state).toBe('streaming');
    });

    it('writes keep the order they were issued in, and reads see every write issued before them', async () => {
      void store.calls.record({ id: 'c-order', state: 'streaming' }, { callId: 'c-order', source: 'bandwidth', type: 'initiate' });
      void store.events.append({ callId: 'c-order', source: 'media', type: 'media.start' });
      void store.transcripts.append({ callId: 'c-order', role: 'agent', text: 'Hello' });
      void store.calls.addUsage('c-order', { inputTokens: 3 });
      void store.calls.record({ id: 'c-order', state: 'completed' }, { callId: 'c-order', source: 'bandwidth', type: 'disconnect' });
      expect(await store.calls.get('c-order')).toMatchObject({ state: 'completed', usage: { inputTokens: 3 } });
      expect((await store.events.list('c-order')).map((e) => e.type)).toEqual(['initiate', 'media.start', 'disconnect']);
      expect((await store.transcripts.list('c-order')).map((t) => t.text)).toEqual(['Hello']);
    });

    it('sums usage', async () => {
      await store.calls.record({ id: 'c-4' });
      await store.calls.addUsage('c-4', { inputTokens: 10, outputTokens: 5 });
      await store.calls.addUsage('c-4', { inputTokens: 1 });
      expect((await store.calls.get('c-4'))?.usage).toEqual({ inputTokens: 11, outputTokens: 5 });
    });

    it('keeps events and transcript items in order', async () => {
      for (let i = 0; i < 5; i++) await store.events.append({ callId: 'c-5', source: 'media', type: `e${i}` });
      expect((await store.events.list('c-5')).map((e) => e.type)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
      await store.transcripts.append({ callId: 'c-5', role: 'agent', text: 'Hello', itemId: 'item_1', heardMs: 820, truncated: true });
      await store.transcripts.append({ callId: 'c-5', role: 'caller', text: 'Hi' });
      expect(await store.transcripts.list('c-5')).toEqual([
        expect.objectContaining({ role: 'agent', text: 'Hello', itemId: 'item_1', heardMs: 820, truncated: true }),
        expect.objectContaining({ role: 'caller', text: 'Hi', truncated: false }),
      ]);
    });
  });

  describe('agents, destinations and numbers', () => {
    it('stores an agent with its destinations in order', async () => {
      await store.destinations.upsert(destination('d-b', 'billing', '+19195550171'));
      await store.destinations.upsert(destination('d-s', 'sales', '+19195550172'));
      await store.agents.upsert(agent('a1', { greeting: 'Hi' }), 'api', ['d-s', 'd-b']);
      const stored = await store.agents.get('a1');
      expect(stored?.agent).toMatchObject({ id: 'a1', greeting: 'Hi', mode: 'stream' });
      expect(stored?.agent.destinations.map((d) => d.name)).toEqual(['sales', 'billing']);
      expect(stored?.source).toBe('api');
    });

    it('refuses an unknown destination and a duplicate destination name', async () => {
      await expect(store.agents.upsert(agent('a2'), 'api', ['nope'])).rejects.toThrow(/destination nope does not exist/);
      expect(await store.agents.get('a2')).toBeUndefined();
      await store.destinations.upsert(destination('d1', 'human', '+19195550171'));
      await expect(store.destinations.upsert(destination('d2', 'human', '+19195550172'))).rejects.toThrow(/named human already exists/);
    });

    it('gives a number to one agent only', async () => {
      await store.agents.upsert(agent('a1'), 'api');
      await store.agents.upsert(agent('a2'), 'api');
      await store.numbers.assign('+19195550100', 'a1');
      await expect(store.numbers.assign('+19195550100', 'a1')).resolves.toMatchObject({ agentId: 'a1' });
      const err = await store.numbers.assign('+19195550100', 'a2').catch((e: unknown) => e);
      expect(isSwitchboardError(err, 'conflict')).toBe(true);
      await expect(store.numbers.assign('+19195550101', 'ghost')).rejects.toThrow(/agent ghost does not exist/);
      expect(await store.numbers.agentIdFor('+19195550100')).toBe('a1');
    });

    it('refuses to delete an agent that still has numbers', async () => {
      await store.agents.upsert(agent('a1'), 'api');
      await store.numbers.assign('+19195550100', 'a1');
      await expect(store.agents.delete('a1')).rejects.toThrow(/still has 1 phone number/);
      await store.numbers.unassign('+19195550100');
      expect(await store.agents.delete('a1')).toBe(true);
      expect(await store.agents.get('a1')).toBeUndefined();
    });

    it('answers ping while open and not after close', async () => {
      expect(await store.ping()).toBe(true);
      await store.close();
      expect(await store.ping()).toBe(false);
    });
  });
});
