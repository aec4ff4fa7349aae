import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentSchema, transferDestinationSchema } from '../../src/agents/agent';
import { SqliteStore } from '../../src/store/sqlite';

/**
 * The store keeps agents and number assignments in memory for routing; every write path must be seen by
 * the next read, in this process and from another process writing the same file.
 */
const agent = (id: string, extra: Record<string, unknown> = {}) => agentSchema.parse({ id, name: `Agent ${id}`, ...extra });
const destination = (id: string, name: string, value: string) => transferDestinationSchema.parse({ id, name, kind: 'phone', value });
const tool = (name: string) => ({ name, description: `Tool ${name}`, url: 'https://tools.example.com/x' });

describe('SqliteStore routing reads see every write', () => {
  let store: SqliteStore;
  beforeEach(() => {
    store = SqliteStore.open(':memory:');
  });
  afterEach(() => store.close());

  const agentOf = async (id: string) => (await store.agents.get(id))?.agent;

  it('agents: create after a miss, update, delete', async () => {
    expect(await agentOf('a1')).toBeUndefined();
    await store.agents.upsert(agent('a1', { greeting: 'Hi' }), 'api');
    expect((await agentOf('a1'))?.greeting).toBe('Hi');
    await store.agents.upsert(agent('a1', { greeting: 'Hello again' }), 'api');
    expect((await agentOf('a1'))?.greeting).toBe('Hello again');
    await store.agents.delete('a1');
    expect(await agentOf('a1')).toBeUndefined();
  });

  it("tools: an agent's HTTP tools are replaced with its settings", async () => {
    await store.agents.upsert(agent('a1', { httpTools: [tool('lookup')] }), 'api');
    expect((await agentOf('a1'))?.httpTools.map((t) => t.name)).toEqual(['lookup']);
    await store.agents.upsert(agent('a1', { httpTools: [tool('lookup'), tool('book')] }), 'api');
    expect((await agentOf('a1'))?.httpTools.map((t) => t.name)).toEqual(['lookup', 'book']);
    await store.agents.upsert(agent('a1'), 'api');
    expect((await agentOf('a1'))?.httpTools).toEqual([]);
  });

  it('destinations: assign, reassign, change a destination, delete it', async () => {
    await store.destinations.upsert(destination('d-b', 'billing', '+19195550171'));
    await store.destinations.upsert(destination('d-s', 'sales', '+19195550172'));
    await store.agents.upsert(agent('a1'), 'api', []);
    expect((await agentOf('a1'))?.destinations).toEqual([]);
    await store.agents.upsert(agent('a1'), 'api', ['d-b']);
    expect((await agentOf('a1'))?.destinations.map((d) => d.name)).toEqual(['billing']);
    await store.agents.upsert(agent('a1'), 'api', ['d-s', 'd-b']);
    expect((await agentOf('a1'))?.destinations.map((d) => d.name)).toEqual(['sales', 'billing']);
    // A destination's own change reaches every agent that has it.
    await store.destinations.upsert({ ...destination('d-b', 'billing', '+19195550179'), warm: true });
    expect((await agentOf('a1'))?.destinations.find((d) => d.id === 'd-b')).toMatchObject({ value: '+19195550179', warm: true });
    await store.destinations.delete('d-s');
    expect((await agentOf('a1'))?.destinations.map((d) => d.name)).toEqual(['billing']);
  });

  it('numbers: assign after a miss, unassign, reassign to another agent', async () => {
    await store.agents.upsert(agent('a1'), 'api');
    await store.agents.upsert(agent('a2'), 'api');
    expect(await store.numbers.agentIdFor('+19195550100')).toBeUndefined();
    await store.numbers.assign('+19195550100', 'a1');
    expect(await store.numbers.agentIdFor('+19195550100')).toBe('a1');
    await store.numbers.unassign('+19195550100');
    expect(await store.numbers.agentIdFor('+19195550100')).toBeUndefined();
    await store.numbers.assign('+19195550100', 'a2');
    expect(await store.numbers.agentIdFor('+19195550100')).toBe('a2');
  });

  it('a refused write leaves reads as they were', async () => {
    await store.agents.upsert(agent('a1', { greeting: 'Hi' }), 'api');
    expect((await agentOf('a1'))?.greeting).toBe('Hi');
    await expect(store.agents.upsert(agent('a1', { greeting: 'Changed' }), 'api', ['no-such-destination'])).rejects.toThrow(/does not exist/);
    expect((await agentOf('a1'))?.greeting).toBe('Hi');
  });

  it('hands out agents nobody can change in place', async () => {
    await store.destinations.upsert(destination('d-b', 'billing', '+19195550171'));
    await store.agents.upsert(agent('a1', { greeting: 'Hi' }), 'api', ['d-b']);
    const stored = (await store.agents.get('a1'))!;
    expect(() => {
      (stored.agent as { greeting: string }).greeting = 'changed';
    }).toThrow();
    expect(() => stored.agent.destinations.pop()).toThrow();
    expect((await agentOf('a1'))?.greeting).toBe('Hi');
    expect((await agentOf('a1'))?.destinations).toHaveLength(1);
  });

  it('keeps answering after many different misses', async () => {
    await store.agents.upsert(agent('a1'), 'api');
    await store.numbers.assign('+19195550100', 'a1');
    for (let i = 0; i < 12_000; i++) await store.numbers.agentIdFor(`+1919555${String(i).padStart(4, '0')}x`);
    expect(await store.numbers.agentIdFor('+19195550100')).toBe('a1');
    expect(await agentOf('a1')).toBeDefined();
  });
});

describe('SqliteStore routing reads see writes from another process', () => {
  // The CLI without --url opens the data directory itself while the server runs: a second connection.
  let dir: string;
  let server: SqliteStore;
  let cli: SqliteStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-cache-'));
    const file = path.join(dir, 'switchboard.db');
    server = SqliteStore.open(file);
    cli = SqliteStore.open(file);
  });
  afterEach(async () => {
    await server.close();
    await cli.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('agents, destinations and numbers', async () => {
    expect(await server.agents.get('a1')).toBeUndefined();
    expect(await server.numbers.agentIdFor('+19195550100')).toBeUndefined();

    await cli.agents.upsert(agent('a1', { greeting: 'Hi' }), 'import');
    await cli.numbers.assign('+19195550100', 'a1');
    expect((await server.agents.get('a1'))?.agent.greeting).toBe('Hi');
    expect(await server.numbers.agentIdFor('+19195550100')).toBe('a1');

    await cli.destinations.upsert(destination('d-b', 'billing', '+19195550171'));
    await cli.agents.upsert(agent('a1', { greeting: 'Hello' }), 'import', ['d-b']);
    expect((await server.agents.get('a1'))?.agent).toMatchObject({ greeting: 'Hello', destinations: [expect.objectContaining({ id: 'd-b' })] });

    await cli.numbers.unassign('+19195550100');
    await cli.agents.delete('a1');
    expect(await server.numbers.agentIdFor('+19195550100')).toBeUndefined();
    expect(await server.agents.get('a1')).toBeUndefined();
  });
});
