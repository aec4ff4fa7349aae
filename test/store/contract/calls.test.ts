import { agentSchema } from '../../../src/agents/agent';
import { REPORT_GIVE_UP_AFTER_MS, REPORT_LEGS_WAIT_MS, REPORT_SETTLE_MS } from '../../../src/constants';
import { isSwitchboardError } from '../../../src/errors';
import { outcomeAtEnd, type CallOutcome } from '../../../src/outcomes';
import type { CallUpdate } from '../../../src/store/types';
import { describeEachBackend, type ContractStore } from './backends';

const o = (outcome: CallOutcome['outcome'], reason: string = outcome): CallOutcome => ({ outcome, reason });
const ms = (iso: string) => Date.parse(iso);

/** Calls, events, transcripts and the report outbox: the same behaviour on every backend (src/store/types.ts). */
describeEachBackend('calls, events, transcripts and reports', (backend) => {
  let store: ContractStore;
  beforeEach(async () => {
    store = await backend.open();
  });

  describe('calls', () => {
    it('records a state change and its event in one write; undefined fields keep the last good value', async () => {
      await store.calls.record({ id: 'c-1', state: 'initiated', from: '+19195550142', agentId: 'a' }, { callId: 'c-1', source: 'bandwidth', type: 'initiate', data: { raw: true } });
      await store.calls.record({ id: 'c-1', state: 'streaming', from: undefined });
      expect(await store.calls.get('c-1')).toMatchObject({ state: 'streaming', from: '+19195550142', agentId: 'a', leg: 'caller', parentCallId: null, usage: null });
      const events = await store.events.list('c-1');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ callId: 'c-1', source: 'bandwidth', type: 'initiate', data: { raw: true } });
      expect(await store.calls.get('nope')).toBeUndefined();
    });

    it('never reopens a final state', async () => {
      await store.calls.record({ id: 'c-2', state: 'completed', cause: 'hangup' });
      await store.calls.record({ id: 'c-2', state: 'streaming', errorMessage: 'late' });
      expect(await store.calls.get('c-2')).toMatchObject({ state: 'completed', errorMessage: 'late', cause: 'hangup' });
    });

    it('recordMany writes every leg and the event together, or nothing', async () => {
      await store.calls.record({ id: 'c-3', state: 'initiated' });
      await expect(store.calls.recordMany([{ id: 'c-3', state: 'streaming' }, { id: 'c-3', state: 'bogus' as never }], { callId: 'c-3', source: 'bandwidth', type: 'x' })).rejects.toThrow(/unknown call state/);
      expect((await store.calls.get('c-3'))?.state).toBe('initiated');
      expect(await store.events.list('c-3')).toEqual([]);
      await store.calls.recordMany([{ id: 'c-a', state: 'transferring' }, { id: 'c-b', parentCallId: 'c-a', leg: 'transfer', state: 'transferred' }], { callId: 'c-a', source: 'bandwidth', type: 'transferAnswer' });
      expect(await store.calls.get('c-a')).toMatchObject({ state: 'transferring' });
      expect(await store.calls.get('c-b')).toMatchObject({ state: 'transferred', parentCallId: 'c-a', leg: 'transfer' });
    });

    it('writes issued together are each acknowledged once stored; a failing one fails alone', async () => {
      const writes = Array.from({ length: 30 }, (_, i) => store.calls.record({ id: `c-batch-${i}`, state: 'initiated' }, { callId: `c-batch-${i}`, source: 'bandwidth', type: 'initiate', data: { i } }));
      const bad = store.calls.recordMany([{ id: 'c-bad', state: 'initiated' }, { id: 'c-bad', state: 'bogus' as never }], { callId: 'c-bad', source: 'bandwidth', type: 'initiate' });
      const alsoGood = store.calls.record({ id: 'c-good', state: 'streaming' }, { callId: 'c-good', source: 'bandwidth', type: 'initiate' });
      await expect(bad).rejects.toThrow(/unknown call state/);
      await Promise.all([...writes, alsoGood]);
      for (let i = 0; i < 30; i++) expect((await store.events.list(`c-batch-${i}`)).map((e) => e.data)).toEqual([{ i }]);
      expect(await store.calls.get('c-bad')).toBeUndefined();
      expect(await store.events.list('c-bad')).toEqual([]);
      expect((await store.calls.get('c-good'))?.state).toBe('streaming');
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

    it('sums usage, and ignores usage for a call it never saw', async () => {
      await store.calls.record({ id: 'c-4' });
      await store.calls.addUsage('c-4', { inputTokens: 10, outputTokens: 5 });
      await store.calls.addUsage('c-4', { inputTokens: 1 });
      await store.calls.addUsage('c-ghost', { inputTokens: 1 });
      expect((await store.calls.get('c-4'))?.usage).toEqual({ inputTokens: 11, outputTokens: 5 });
      expect(await store.calls.get('c-ghost')).toBeUndefined();
    });

    it('lists newest first with every filter, one page at a time', async () => {
      // created_at is the write's time: space the writes so each call has its own.
      const at: Record<string, string> = {};
      const add = async (id: string, fields: Omit<CallUpdate, 'id'>) => {
        await store.calls.record({ ...fields, id });
        at[id] = (await store.calls.get(id))!.createdAt;
        while (new Date().toISOString() === at[id]) await new Promise((resolve) => setImmediate(resolve));
      };
      await add('c-1', { state: 'completed', agentId: 'a1', from: '+19195550001', to: '+19195550100', cause: 'hangup', outcome: o('caller-hung-up') });
      await add('c-2', { state: 'streaming', agentId: 'a2', from: '+19195550002', to: '+19195550100' });
      await add('c-2b', { state: 'transferred', parentCallId: 'c-2', leg: 'transfer', agentId: 'a2' });
      await add('c-3', { state: 'completed', agentId: 'a1', from: '+19195550003', to: '+19195550200', cause: 'timeout', outcome: o('no-answer') });
      await add('c-4', { state: 'rejected', from: '+19195550004', to: '+19195550300' });
      const ids = async (filter: Omit<Parameters<ContractStore['calls']['list']>[0], 'limit'>, limit = 10) => (await store.calls.list({ ...filter, limit })).items.map((c) => c.id);
      expect(await ids({})).toEqual(['c-4', 'c-3', 'c-2', 'c-1']);
      expect(await ids({ allLegs: true })).toEqual(['c-4', 'c-3', 'c-2b', 'c-2', 'c-1']);
      expect(await ids({ agentId: 'a1' })).toEqual(['c-3', 'c-1']);
      expect(await ids({ number: '+19195550100' })).toEqual(['c-2', 'c-1']);
      expect(await ids({ number: '+19195550004' })).toEqual(['c-4']);
      expect(await ids({ since: at['c-2'] })).toEqual(['c-4', 'c-3', 'c-2']);
      expect(await ids({ until: at['c-3'] })).toEqual(['c-2', 'c-1']);
      expect(await ids({ since: at['c-2'], until: at['c-4'] })).toEqual(['c-3', 'c-2']);
      expect(await ids({ state: 'completed' })).toEqual(['c-3', 'c-1']);
      expect(await ids({ cause: 'timeout' })).toEqual(['c-3']);
      expect(await ids({ outcome: 'caller-hung-up' })).toEqual(['c-1']);
      const first = await store.calls.list({ limit: 2 });
      expect(first.items.map((c) => c.id)).toEqual(['c-4', 'c-3']);
      const second = await store.calls.list({ limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((c) => c.id)).toEqual(['c-2', 'c-1']);
      expect(second.nextCursor).toBeNull();
      const err = await store.calls.list({ limit: 2, cursor: 'not-a-cursor' }).catch((e: unknown) => e);
      expect(isSwitchboardError(err, 'invalid_request')).toBe(true);
    });

    it('lists the top-level legs: caller legs and an AI SIP leg with no parent, not the legs under a call', async () => {
      await store.calls.record({ id: 'c-caller', state: 'sip-connected', mode: 'openai-sip' });
      await store.calls.record({ id: 'rtc-under', leg: 'ai-sip', parentCallId: 'c-caller', state: 'sip-connected', mode: 'openai-sip' });
      await store.calls.record({ id: 'c-xfer', leg: 'transfer', parentCallId: 'c-caller', state: 'initiated' });
      await store.calls.record({ id: 'rtc-direct', leg: 'ai-sip', state: 'sip-connected', mode: 'openai-sip' });
      await store.calls.record({ id: 'c-browser', direction: 'browser', state: 'streaming', mode: 'stream' });
      const ids = async (filter: Omit<Parameters<ContractStore['calls']['list']>[0], 'limit'>) => (await store.calls.list({ ...filter, limit: 10 })).items.map((c) => c.id).sort();
      expect(await ids({ topLevel: true })).toEqual(['c-browser', 'c-caller', 'rtc-direct']);
      // It overrides allLegs, and goes with the other filters.
      expect(await ids({ topLevel: true, allLegs: true, state: 'sip-connected' })).toEqual(['c-caller', 'rtc-direct']);
      expect(await ids({})).toEqual(['c-browser', 'c-caller']);
    });

    it('pages through calls created in the same millisecond by id', async () => {
      await Promise.all(['c-x1', 'c-x2', 'c-x3'].map((id) => store.calls.record({ id, state: 'initiated' })));
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.calls.list({ limit: 1, cursor });
        seen.push(...page.items.map((c) => c.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen.sort()).toEqual(['c-x1', 'c-x2', 'c-x3']);
    });

    it('lists the legs started from a call, oldest first', async () => {
      await store.calls.record({ id: 'p', state: 'streaming' });
      await store.calls.record({ id: 'p-b1', parentCallId: 'p', leg: 'transfer', state: 'transferring' });
      await store.calls.record({ id: 'p-b2', parentCallId: 'p', leg: 'ai-sip', state: 'sip-connected' });
      await store.calls.record({ id: 'other', parentCallId: 'q', leg: 'transfer', state: 'transferring' });
      expect((await store.calls.children('p')).map((c) => [c.id, c.leg])).toEqual([
        ['p-b1', 'transfer'],
        ['p-b2', 'ai-sip'],
      ]);
      expect(await store.calls.children('none')).toEqual([]);
    });
  });

  describe('outcomes: one per call, by the rule of src/outcomes.ts', () => {
    it('keeps one outcome per call, and a leg’s proposal goes to its call', async () => {
      await store.calls.record({ id: 'c-a', state: 'streaming' });
      await store.calls.record({ id: 'c-b', parentCallId: 'c-a', leg: 'transfer', state: 'transferred', outcome: o('transferred', 'answered at sales') });
      await store.calls.record({ id: 'c-a', state: 'completed', outcome: outcomeAtEnd('hangup') });
      expect(await store.calls.get('c-a')).toMatchObject({ outcome: 'transferred', outcomeReason: 'answered at sales' });
      expect(await store.calls.get('c-b')).toMatchObject({ outcome: null, outcomeReason: null });
      expect((await store.calls.list({ outcome: 'transferred', limit: 10 })).items.map((c) => c.id)).toEqual(['c-a']);
      await expect(store.calls.record({ id: 'c-a', outcome: { outcome: 'bogus' as never, reason: 'x' } })).rejects.toThrow('unknown call outcome bogus');
      expect(await store.calls.get('c-a')).toMatchObject({ outcome: 'transferred' });
    });

    it('a provisional outcome yields to a later decision; a decision stands', async () => {
      await store.calls.record({ id: 'c-m', state: 'streaming', outcome: o('transfer-failed-returned', 'first') });
      await store.calls.record({ id: 'c-m', outcome: o('transferred', 'second try answered') });
      expect(await store.calls.get('c-m')).toMatchObject({ outcome: 'transferred', outcomeReason: 'second try answered' });
      await store.calls.record({ id: 'c-m', outcome: o('caller-hung-up') });
      expect(await store.calls.get('c-m')).toMatchObject({ outcome: 'transferred' });
    });
  });

  describe('closing out after a crash', () => {
    it('closes out only the owner’s live calls, with an event, an outcome and a report; other instances’ calls are untouched', async () => {
      await store.calls.record({ id: 'mine-live', state: 'streaming', mediaOwner: 'i-a', recordingPath: '/r/mine.wav' });
      await store.calls.record({ id: 'mine-ended', state: 'completed', mediaOwner: 'i-a', outcome: o('caller-hung-up') });
      await store.calls.record({ id: 'theirs-live', state: 'streaming', mediaOwner: 'i-b' });
      const endedAt = new Date().toISOString();
      const closed = await store.calls.closeOutOrphans('i-a', { cause: 'server-restarted', errorMessage: 'the server stopped', endedAt, eventType: 'call.closed-out' });
      expect(closed.map((c) => [c.id, c.state, c.mediaOwner])).toEqual([['mine-live', 'streaming', 'i-a']]);
      expect(await store.calls.get('mine-live')).toMatchObject({ state: 'completed', cause: 'server-restarted', errorMessage: 'the server stopped', endedAt, mediaOwner: null, outcome: 'error' });
      expect((await store.events.list('mine-live')).map((e) => [e.type, e.data])).toEqual([['call.closed-out', { cause: 'server-restarted', reason: 'the server stopped', stateBefore: 'streaming' }]]);
      expect(await store.reports.list({ callId: 'mine-live', limit: 5 })).toEqual([expect.objectContaining({ event: 'call.ended', status: 'pending' })]);
      expect(await store.calls.get('mine-ended')).toMatchObject({ state: 'completed', mediaOwner: null, outcome: 'caller-hung-up' });
      expect(await store.calls.get('theirs-live')).toMatchObject({ state: 'streaming', mediaOwner: 'i-b' });
      expect(await store.calls.closeOutOrphans('i-a', { cause: 'server-restarted', errorMessage: 'again', endedAt, eventType: 'call.closed-out' })).toEqual([]);
    });
  });

  describe('events and transcripts', () => {
    it('keeps events in order, with their data', async () => {
      for (let i = 0; i < 5; i++) await store.events.append({ callId: 'c-5', source: 'media', type: `e${i}`, data: i % 2 ? { i } : undefined });
      const events = await store.events.list('c-5');
      expect(events.map((e) => e.type)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
      expect(events.map((e) => e.data)).toEqual([null, { i: 1 }, null, { i: 3 }, null]);
      expect(events.every((e, i) => i === 0 || e.id > events[i - 1]!.id)).toBe(true);
      await store.events.append({ callId: 'c-5', source: 'tool', type: 'tool.called', at: '2026-01-01T00:00:00.000Z' });
      expect((await store.events.list('c-5')).at(-1)).toMatchObject({ source: 'tool', at: '2026-01-01T00:00:00.000Z' });
    });

    it('lists transcript items by position, then as appended, with what the caller heard', async () => {
      await store.transcripts.append({ callId: 'c-t', role: 'agent', text: 'Hello', itemId: 'item_1', heardMs: 820, truncated: true, position: 1 });
      await store.transcripts.append({ callId: 'c-t', role: 'system', text: 'no position' });
      await store.transcripts.append({ callId: 'c-t', role: 'caller', text: 'Hi', position: 0 });
      await store.transcripts.append({ callId: 'c-t', role: 'tool', text: 'also no position' });
      expect(await store.transcripts.list('c-t')).toEqual([
        expect.objectContaining({ role: 'caller', text: 'Hi', truncated: false, position: 0 }),
        expect.objectContaining({ role: 'agent', text: 'Hello', itemId: 'item_1', heardMs: 820, truncated: true, position: 1 }),
        expect.objectContaining({ role: 'system', text: 'no position', truncated: false }),
        expect.objectContaining({ role: 'tool', text: 'also no position' }),
      ]);
      const [first] = await store.transcripts.list('c-t');
      expect(first).not.toHaveProperty('itemId');
      expect(first).not.toHaveProperty('heardMs');
    });
  });

  describe('the report outbox', () => {
    it('enqueues one report when a call ends with its outcome, due once it has settled', async () => {
      await store.calls.record({ id: 'r-1', state: 'streaming' });
      expect(await store.reports.list({ limit: 10 })).toEqual([]);
      await store.calls.record({ id: 'r-1', state: 'completed', outcome: outcomeAtEnd('hangup') });
      await store.calls.record({ id: 'r-1', state: 'completed', outcome: outcomeAtEnd('hangup') });
      const [report] = await store.reports.list({ callId: 'r-1', limit: 10 });
      expect(await store.reports.list({ callId: 'r-1', limit: 10 })).toHaveLength(1);
      expect(report).toMatchObject({ callId: 'r-1', event: 'call.ended', status: 'pending', attempts: 0, body: null, lastStatus: null, lastError: null, deliveredAt: null });
      expect(report!.id).toMatch(/^msg_/);
      expect(ms(report!.nextAttemptAt) - ms(report!.createdAt)).toBe(REPORT_SETTLE_MS);
      expect(ms(report!.giveUpAt) - ms(report!.createdAt)).toBe(REPORT_GIVE_UP_AFTER_MS);
      expect(await store.reports.due(report!.createdAt, 10)).toEqual([]);
      expect((await store.reports.due(report!.nextAttemptAt, 10)).map((r) => r.id)).toEqual([report!.id]);
      expect(await store.reports.get(report!.id)).toEqual(report);
      expect(await store.reports.get('msg_none')).toBeUndefined();
    });

    it('waits for a live leg, and is due once the last leg has ended', async () => {
      await store.calls.record({ id: 'r-2', state: 'transferred' });
      await store.calls.record({ id: 'r-2b', parentCallId: 'r-2', leg: 'transfer', state: 'transferred' });
      await store.calls.record({ id: 'r-2', state: 'completed', outcome: o('transferred') });
      const [waiting] = await store.reports.list({ callId: 'r-2', limit: 1 });
      expect(ms(waiting!.nextAttemptAt) - ms(waiting!.createdAt)).toBe(REPORT_LEGS_WAIT_MS);
      await store.calls.record({ id: 'r-2b', state: 'completed' });
      const [due] = await store.reports.list({ callId: 'r-2', limit: 1 });
      expect(due!.id).toBe(waiting!.id);
      expect(ms(due!.nextAttemptAt) - ms(due!.updatedAt)).toBe(REPORT_SETTLE_MS);
    });

    it('a call.started notice when the agent asks for one, once', async () => {
      await store.agents.upsert(agentSchema.parse({ id: 'a-notice', name: 'Notice', report: { callStarted: true } }), 'api');
      await store.agents.upsert(agentSchema.parse({ id: 'a-quiet', name: 'Quiet' }), 'api');
      await store.calls.record({ id: 'r-3', state: 'initiated', agentId: 'a-notice' });
      await store.calls.record({ id: 'r-3', state: 'streaming', agentId: 'a-notice' });
      await store.calls.record({ id: 'r-4', state: 'initiated', agentId: 'a-quiet' });
      expect((await store.reports.list({ limit: 10 })).map((r) => [r.callId, r.event])).toEqual([['r-3', 'call.started']]);
    });

    it('keeps the body, counts attempts, delivers, and resends on request', async () => {
      await store.calls.record({ id: 'r-5', state: 'completed', outcome: o('caller-hung-up') });
      const [report] = await store.reports.list({ callId: 'r-5', limit: 1 });
      await store.reports.setBody(report!.id, '{"first":true}');
      await store.reports.setBody(report!.id, '{"second":true}');
      const retryAt = new Date(ms(report!.nextAttemptAt) + 60_000).toISOString();
      await store.reports.attempted(report!.id, { status: 'pending', lastStatus: 503, lastError: 'busy', nextAttemptAt: retryAt, sent: true }, report!.nextAttemptAt);
      expect(await store.reports.get(report!.id)).toMatchObject({ body: '{"first":true}', attempts: 1, lastStatus: 503, lastError: 'busy', nextAttemptAt: retryAt, status: 'pending' });
      expect(await store.reports.due(report!.nextAttemptAt, 10)).toEqual([]);
      await store.reports.attempted(report!.id, { status: 'pending', lastStatus: null, lastError: 'no URL yet', sent: false }, retryAt);
      expect(await store.reports.get(report!.id)).toMatchObject({ attempts: 1, nextAttemptAt: retryAt });
      await store.reports.attempted(report!.id, { status: 'delivered', lastStatus: 200, lastError: null, sent: true }, retryAt);
      expect(await store.reports.get(report!.id)).toMatchObject({ status: 'delivered', attempts: 2, deliveredAt: retryAt, lastStatus: 200 });
      expect(await store.reports.list({ status: 'delivered', limit: 10 })).toHaveLength(1);
      expect(await store.reports.list({ status: 'pending', limit: 10 })).toEqual([]);
      const later = new Date(ms(retryAt) + 1_000).toISOString();
      expect(await store.reports.resend(report!.id, later)).toMatchObject({ status: 'pending', nextAttemptAt: later, giveUpAt: new Date(ms(later) + REPORT_GIVE_UP_AFTER_MS).toISOString(), body: '{"first":true}' });
      expect((await store.reports.due(later, 10)).map((r) => r.id)).toEqual([report!.id]);
      expect(await store.reports.resend('msg_none', later)).toBeUndefined();
    });

    it('lists newest first, limited, by call and status', async () => {
      for (const id of ['r-6', 'r-7', 'r-8']) {
        await store.calls.record({ id, state: 'completed', outcome: o('caller-hung-up') });
        const created = (await store.reports.list({ callId: id, limit: 1 }))[0]!.createdAt;
        while (new Date().toISOString() === created) await new Promise((resolve) => setImmediate(resolve));
      }
      expect((await store.reports.list({ limit: 2 })).map((r) => r.callId)).toEqual(['r-8', 'r-7']);
      expect((await store.reports.list({ callId: 'r-6', limit: 5 })).map((r) => r.callId)).toEqual(['r-6']);
      const due = await store.reports.due(new Date(Date.now() + REPORT_SETTLE_MS + 1_000).toISOString(), 2);
      expect(due.map((r) => r.callId)).toEqual(['r-6', 'r-7']);
    });
  });
});
