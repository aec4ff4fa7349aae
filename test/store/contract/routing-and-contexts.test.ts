import { agentSchema, transferDestinationSchema } from '../../../src/agents/agent';
import { isSwitchboardError } from '../../../src/errors';
import type { HandOffIntent } from '../../../src/store/types';
import { describeEachBackend, type ContractStore } from './backends';

const agent = (id: string, extra: Record<string, unknown> = {}) => agentSchema.parse({ id, name: `Agent ${id}`, ...extra });
const destination = (id: string, name: string, value: string) => transferDestinationSchema.parse({ id, name, kind: 'phone', value });
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/** Agents, destinations, numbers, callback contexts and hand-offs: the same behaviour on every backend. */
describeEachBackend('routing, callback contexts and hand-offs', (backend) => {
  let store: ContractStore;
  beforeEach(async () => {
    store = await backend.open();
  });

  describe('agents, destinations and numbers', () => {
    it('stores an agent with its destinations in order, and replaces it', async () => {
      await store.destinations.upsert(destination('d-b', 'billing', '+19195550171'));
      await store.destinations.upsert(destination('d-s', 'sales', '+19195550172'));
      await store.agents.upsert(agent('a1', { greeting: 'Hi' }), 'api', ['d-s', 'd-b']);
      const stored = await store.agents.get('a1');
      expect(stored?.agent).toMatchObject({ id: 'a1', greeting: 'Hi', mode: 'stream' });
      expect(stored?.agent.destinations.map((d) => d.name)).toEqual(['sales', 'billing']);
      expect(stored?.source).toBe('api');
      await store.agents.upsert(agent('a1', { greeting: 'Hello' }), 'import');
      expect((await store.agents.get('a1'))?.agent).toMatchObject({ greeting: 'Hello' });
      expect((await store.agents.get('a1'))?.agent.destinations.map((d) => d.id)).toEqual(['d-s', 'd-b']);
      await store.agents.upsert(agent('a0'), 'env', []);
      expect((await store.agents.list()).map((a) => [a.agent.id, a.source, a.agent.destinations.length])).toEqual([
        ['a0', 'env', 0],
        ['a1', 'import', 2],
      ]);
      expect(await store.agents.get('nope')).toBeUndefined();
    });

    it('refuses an unknown destination and a duplicate destination name', async () => {
      await expect(store.agents.upsert(agent('a2'), 'api', ['nope'])).rejects.toThrow(/destination nope does not exist/);
      expect(await store.agents.get('a2')).toBeUndefined();
      await store.destinations.upsert(destination('d1', 'human', '+19195550171'));
      const err = await store.destinations.upsert(destination('d2', 'human', '+19195550172')).catch((e: unknown) => e);
      expect(isSwitchboardError(err, 'conflict')).toBe(true);
      expect(String(err)).toMatch(/named human already exists/);
      expect(await store.destinations.get('d2')).toBeUndefined();
    });

    it('lists, updates and deletes destinations; an agent loses a deleted one', async () => {
      await store.destinations.upsert(destination('d-z', 'zeta', '+19195550171'));
      await store.destinations.upsert(destination('d-a', 'alpha', '+19195550172'));
      await store.agents.upsert(agent('a1'), 'api', ['d-z', 'd-a']);
      expect((await store.destinations.list()).map((d) => d.name)).toEqual(['alpha', 'zeta']);
      await store.destinations.upsert(destination('d-z', 'zeta', '+19195550199'));
      expect(await store.destinations.get('d-z')).toMatchObject({ value: '+19195550199' });
      expect(await store.destinations.delete('d-z')).toBe(true);
      expect(await store.destinations.delete('d-z')).toBe(false);
      expect((await store.agents.get('a1'))?.agent.destinations.map((d) => d.id)).toEqual(['d-a']);
    });

    it('gives a number to one agent only', async () => {
      await store.agents.upsert(agent('a1'), 'api');
      await store.agents.upsert(agent('a2'), 'api');
      await store.numbers.assign('+19195550100', 'a1');
      await expect(store.numbers.assign('+19195550100', 'a1')).resolves.toMatchObject({ number: '+19195550100', agentId: 'a1' });
      const err = await store.numbers.assign('+19195550100', 'a2').catch((e: unknown) => e);
      expect(isSwitchboardError(err, 'conflict')).toBe(true);
      await expect(store.numbers.assign('+19195550101', 'ghost')).rejects.toThrow(/agent ghost does not exist/);
      expect(await store.numbers.agentIdFor('+19195550100')).toBe('a1');
      expect(await store.numbers.agentIdFor('+19195550199')).toBeUndefined();
      await store.numbers.assign('+19195550102', 'a2');
      expect((await store.numbers.list()).map((n) => [n.number, n.agentId])).toEqual([
        ['+19195550100', 'a1'],
        ['+19195550102', 'a2'],
      ]);
      expect((await store.numbers.list('a2')).map((n) => n.number)).toEqual(['+19195550102']);
      expect(await store.numbers.unassign('+19195550102')).toBe(true);
      expect(await store.numbers.unassign('+19195550102')).toBe(false);
      expect(await store.numbers.agentIdFor('+19195550102')).toBeUndefined();
    });

    it('two instances assigning one number at once to different agents: exactly one wins', async () => {
      await store.agents.upsert(agent('a1'), 'api');
      await store.agents.upsert(agent('a2'), 'api');
      const other = await backend.peer();
      const results = await Promise.allSettled([store.numbers.assign('+19195550300', 'a1'), other.numbers.assign('+19195550300', 'a2')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(isSwitchboardError(refused.reason, 'conflict')).toBe(true);
      const winner = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ agentId: string }>).value.agentId;
      expect(await other.numbers.agentIdFor('+19195550300')).toBe(winner);
    });

    it('refuses to delete an agent that still has numbers', async () => {
      await store.agents.upsert(agent('a1'), 'api');
      await store.numbers.assign('+19195550100', 'a1');
      const err = await store.agents.delete('a1').catch((e: unknown) => e);
      expect(isSwitchboardError(err, 'conflict')).toBe(true);
      expect(String(err)).toMatch(/still has 1 phone number/);
      await store.numbers.unassign('+19195550100');
      expect(await store.agents.delete('a1')).toBe(true);
      expect(await store.agents.delete('a1')).toBe(false);
      expect(await store.agents.get('a1')).toBeUndefined();
    });

    it('another instance sees an agent changed here at its next read', async () => {
      const other = await backend.peer();
      await store.agents.upsert(agent('a1', { greeting: 'one' }), 'api');
      await store.numbers.assign('+19195550400', 'a1');
      expect((await other.agents.get('a1'))?.agent.greeting).toBe('one');
      expect(await other.numbers.agentIdFor('+19195550400')).toBe('a1');
      await store.agents.upsert(agent('a1', { greeting: 'two' }), 'api');
      await store.numbers.unassign('+19195550400');
      expect((await other.agents.get('a1'))?.agent.greeting).toBe('two');
      expect(await other.numbers.agentIdFor('+19195550400')).toBeUndefined();
    });
  });

  describe('callback contexts', () => {
    it('stores a context bound to its call; the first B-leg named is kept', async () => {
      await store.contexts.put({ id: 'x1', callId: 'c-a', purpose: 'transfer', data: { summary: '客户想要退款' }, expiresAt: inMs(60_000) });
      expect(await store.contexts.get('x1')).toMatchObject({ id: 'x1', callId: 'c-a', purpose: 'transfer', data: { summary: '客户想要退款' }, legCallId: null });
      expect(await store.contexts.bindLeg('x1', 'c-b1')).toBe('c-b1');
      expect(await store.contexts.bindLeg('x1', 'c-b2')).toBe('c-b1');
      expect((await store.contexts.get('x1'))?.legCallId).toBe('c-b1');
      expect(await store.contexts.get('nope')).toBeUndefined();
    });

    it('two legs bound at once, on one instance or two: exactly one wins, and both learn which', async () => {
      await store.contexts.put({ id: 'race', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: inMs(60_000) });
      const bound = await Promise.all([store.contexts.bindLeg('race', 'c-b1'), store.contexts.bindLeg('race', 'c-b2')]);
      expect(bound).toEqual(['c-b1', 'c-b1']);
      await store.contexts.put({ id: 'race-2', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: inMs(60_000) });
      const other = await backend.peer();
      const across = await Promise.all([store.contexts.bindLeg('race-2', 'c-b3'), other.contexts.bindLeg('race-2', 'c-b4')]);
      expect(new Set(across).size).toBe(1);
      expect(['c-b3', 'c-b4']).toContain(across[0]);
    });

    it('consume() is first for exactly one callback, on one instance or across two; the others learn who used it and the answer kept', async () => {
      await store.contexts.put({ id: 'once', callId: 'c-a', purpose: 'redirect', data: { type: 'hangup' }, expiresAt: inMs(60_000) });
      const [a, b] = await Promise.all([store.contexts.consume('once', 'cb-1'), store.contexts.consume('once', 'cb-2')]);
      expect(a).toEqual({ first: true });
      expect(b).toEqual({ first: false, usedBy: 'cb-1', answer: null });
      await store.contexts.remember('once', { kind: 'bxml', xml: '<Response/>', template: 'hangup' });
      expect(await store.contexts.consume('once', 'cb-1')).toEqual({ first: false, usedBy: 'cb-1', answer: { kind: 'bxml', xml: '<Response/>', template: 'hangup' } });

      await store.contexts.put({ id: 'once-2', callId: 'c-a', purpose: 'redirect', data: {}, expiresAt: inMs(60_000) });
      const other = await backend.peer();
      const uses = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? other : store).contexts.consume('once-2', `cb-${i}`)));
      const firsts = uses.filter((u) => u.first);
      expect(firsts).toHaveLength(1);
      const winner = `cb-${uses.findIndex((u) => u.first)}`;
      for (const use of uses) if (!use.first) expect(use.usedBy).toBe(winner);
    });

    it('twenty transfers answered on two instances while their calls write events: every step settles, one leg and one completion each', async () => {
      // What a transfer's callbacks ask of the store (bandwidth/call-flows.ts), for twenty calls at once,
      // alternating instances as a round-robin proxy sends them, among the live calls' own event writes:
      // on PostgreSQL these cross row locks and write batches of two pools.
      const other = await backend.peer();
      const on = (i: number) => (i % 2 ? other : store);
      const calls = Array.from({ length: 20 }, (_, i) => `c-t${i}`);
      await Promise.all(calls.map((id, i) => on(i).calls.record({ id, state: 'streaming', direction: 'inbound' })));
      await Promise.all(calls.map((id, i) => on(i).contexts.put({ id: `ctx-${id}`, callId: id, purpose: 'transfer', data: {}, expiresAt: inMs(60_000) })));
      const chatter = calls.flatMap((id, i) => Array.from({ length: 5 }, (_, n) => on(i + n).events.append({ callId: id, source: 'switchboard', type: 'bridge.agent-speaking', data: { n } })));
      const answers = calls.map(async (id, i) => {
        // transferAnswer: the A-leg read, the leg bound (two legs racing on the two instances), the legs recorded.
        expect((await on(i + 1).calls.get(id))?.state).toBe('streaming');
        const bound = await Promise.all([on(i + 1).contexts.bindLeg(`ctx-${id}`, `${id}-b`), on(i).contexts.bindLeg(`ctx-${id}`, `${id}-b2`)]);
        expect(new Set(bound).size).toBe(1);
        await on(i + 1).calls.recordMany([{ id: bound[0]!, parentCallId: id, state: 'transferred' }, { id, state: 'transferred', outcome: { outcome: 'transferred', reason: 'answered' } }], { callId: id, source: 'bandwidth', type: 'transferAnswer' });
        // transferComplete, and Bandwidth's retry of it on the other instance: consumed once, its answer kept.
        const uses = await Promise.all([on(i).contexts.consume(`ctx-${id}`, `tc-${id}`), on(i + 1).contexts.consume(`ctx-${id}`, `tc-${id}-retry`)]);
        expect(uses.filter((u) => u.first)).toHaveLength(1);
        await on(i).contexts.remember(`ctx-${id}`, { kind: 'empty' });
        await on(i).calls.record({ id, state: 'completed' }, { callId: id, source: 'bandwidth', type: 'transferComplete' });
      });
      await Promise.all([...answers, ...chatter]);
      for (const id of calls) {
        expect(await store.calls.get(id)).toMatchObject({ state: 'completed', outcome: 'transferred' });
        expect((await other.events.list(id)).map((e) => e.type).filter((t) => t.startsWith('transfer'))).toEqual(['transferAnswer', 'transferComplete']);
      }
    });

    it('put(ifAbsent) keeps the first row (a legacy token adopted twice)', async () => {
      await store.contexts.put({ id: 'legacy-1', callId: 'c-a', purpose: 'transfer', data: { n: 1 }, expiresAt: inMs(60_000) });
      await store.contexts.consume('legacy-1', 'cb-1');
      await store.contexts.put({ id: 'legacy-1', callId: 'c-a', purpose: 'transfer', data: { n: 2 }, expiresAt: inMs(60_000) }, { ifAbsent: true });
      expect((await store.contexts.get('legacy-1'))?.data).toEqual({ n: 1 });
      expect(await store.contexts.consume('legacy-1', 'cb-2')).toMatchObject({ first: false, usedBy: 'cb-1' });
    });

    it('put() settles once committed: another instance reads the context at once', async () => {
      const other = await backend.peer();
      await store.contexts.put({ id: 'x2', callId: 'c-a', purpose: 'redirect', data: { type: 'hangup' }, expiresAt: inMs(60_000) });
      expect(await other.contexts.get('x2')).toMatchObject({ callId: 'c-a', data: { type: 'hangup' } });
    });

    it('an expired context is not served', async () => {
      await store.contexts.put({ id: 'gone', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: inMs(-1) });
      expect(await store.contexts.get('gone')).toBeUndefined();
      await store.contexts.put({ id: 'soon', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: inMs(5 * 60_000) });
      expect(await store.contexts.get('soon')).toBeDefined();
    });
  });

  describe('hand-offs', () => {
    const transfer: HandOffIntent = { kind: 'transfer', destination: destination('d1', 'human', '+19195550171'), reason: 'asked for a human', summary: 'wants a refund' };

    it('keeps the latest intent per call until cleared; reads see writes not yet awaited', async () => {
      expect(await store.handOffs.get('c-h')).toBeUndefined();
      void store.handOffs.set('c-h', { kind: 'hangup', reason: 'done' });
      expect(await store.handOffs.get('c-h')).toEqual({ kind: 'hangup', reason: 'done' });
      await store.handOffs.set('c-h', transfer);
      expect(await store.handOffs.get('c-h')).toEqual(transfer);
      expect(await (await backend.peer()).handOffs.get('c-h')).toEqual(transfer);
      void store.handOffs.clear('c-h');
      expect(await store.handOffs.get('c-h')).toBeUndefined();
      expect(await store.handOffs.get('other')).toBeUndefined();
    });
  });
});
