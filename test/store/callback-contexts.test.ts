import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CALLBACK_CONTEXT_SWEEP_INTERVAL_MS } from '../../src/constants';
import { SqliteStore } from '../../src/store/sqlite';

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/** The stored half of a signed callback URL (DESIGN §4.6): bound to a call, expiring, committed before use. */
describe('SqliteStore callback contexts', () => {
  let dir: string;
  let file: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-contexts-'));
    file = path.join(dir, 'switchboard.db');
    store = SqliteStore.open(file);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores a context bound to its call; the first B-leg named is kept', async () => {
    await store.contexts.put({ id: 'x1', callId: 'c-a', purpose: 'transfer', data: { summary: '客户想要退款' }, expiresAt: inMs(60_000) });
    expect(await store.contexts.get('x1')).toMatchObject({ id: 'x1', callId: 'c-a', purpose: 'transfer', data: { summary: '客户想要退款' }, legCallId: null });
    expect(await store.contexts.bindLeg('x1', 'c-b1')).toBe('c-b1');
    expect(await store.contexts.bindLeg('x1', 'c-b2')).toBe('c-b1');
    expect((await store.contexts.get('x1'))?.legCallId).toBe('c-b1');
    expect(await store.contexts.get('nope')).toBeUndefined();
  });

  it('a context still waiting behind another process\'s lock is read all the same, and written once the lock goes', async () => {
    const reading = SqliteStore.open(file, { readWaitMs: 20 });
    const other = new Database(file);
    try {
      other.prepare('BEGIN IMMEDIATE').run();
      const saved = reading.contexts.put({ id: 'waits', callId: 'c-a', purpose: 'transfer', data: { summary: 'x' }, expiresAt: inMs(60_000) });
      expect(await reading.contexts.get('waits')).toMatchObject({ id: 'waits', callId: 'c-a', data: { summary: 'x' } });
      expect(other.prepare("SELECT count(*) AS n FROM callback_contexts WHERE id = 'waits'").get()).toEqual({ n: 0 });
      other.prepare('COMMIT').run();
      await saved;
      expect(other.prepare("SELECT count(*) AS n FROM callback_contexts WHERE id = 'waits'").get()).toEqual({ n: 1 });
      expect(await reading.contexts.bindLeg('waits', 'c-b1')).toBe('c-b1');
    } finally {
      if (other.inTransaction) other.prepare('ROLLBACK').run();
      other.close();
      await reading.close();
    }
  });

  it('two legs bound in the same turn: exactly one wins, and both learn which', async () => {
    await store.contexts.put({ id: 'race', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: inMs(60_000) });
    expect(await Promise.all([store.contexts.bindLeg('race', 'c-b1'), store.contexts.bindLeg('race', 'c-b2')])).toEqual(['c-b1', 'c-b1']);
  });

  it('consume() is first for exactly one callback; the others learn who used it and the answer kept', async () => {
    await store.contexts.put({ id: 'once', callId: 'c-a', purpose: 'redirect', data: { type: 'hangup' }, expiresAt: inMs(60_000) });
    const [a, b] = await Promise.all([store.contexts.consume('once', 'cb-1'), store.contexts.consume('once', 'cb-2')]);
    expect(a).toEqual({ first: true });
    expect(b).toEqual({ first: false, usedBy: 'cb-1', answer: null });
    await store.contexts.remember('once', { kind: 'bxml', xml: '<Response/>', template: 'hangup' });
    expect(await store.contexts.consume('once', 'cb-1')).toEqual({ first: false, usedBy: 'cb-1', answer: { kind: 'bxml', xml: '<Response/>', template: 'hangup' } });
  });

  it('put(ifAbsent) keeps the first row (a legacy token adopted twice)', async () => {
    await store.contexts.put({ id: 'legacy-1', callId: 'c-a', purpose: 'transfer', data: { n: 1 }, expiresAt: inMs(60_000) });
    await store.contexts.consume('legacy-1', 'cb-1');
    await store.contexts.put({ id: 'legacy-1', callId: 'c-a', purpose: 'transfer', data: { n: 2 }, expiresAt: inMs(60_000) }, { ifAbsent: true });
    expect((await store.contexts.get('legacy-1'))?.data).toEqual({ n: 1 });
    expect(await store.contexts.consume('legacy-1', 'cb-2')).toMatchObject({ first: false, usedBy: 'cb-1' });
  });

  it('put() settles only once the row is committed: another connection sees it at once', async () => {
    await store.contexts.put({ id: 'x2', callId: 'c-a', purpose: 'redirect', data: { type: 'hangup' }, expiresAt: inMs(60_000) });
    const other = new Database(file, { readonly: true });
    try {
      expect(other.prepare('SELECT call_id FROM callback_contexts WHERE id = ?').get('x2')).toEqual({ call_id: 'c-a' });
    } finally {
      other.close();
    }
  });

  it('an expired context is not served, and expired rows are swept by a later put', async () => {
    await store.contexts.put({ id: 'gone', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: inMs(-1) });
    expect(await store.contexts.get('gone')).toBeUndefined();
    await store.contexts.put({ id: 'soon', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: inMs(5 * 60_000) });
    expect(await store.contexts.get('soon')).toBeDefined();
    const later = Date.now() + CALLBACK_CONTEXT_SWEEP_INTERVAL_MS + 1;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    await store.contexts.put({ id: 'fresh', callId: 'c-a', purpose: 'transfer', data: {}, expiresAt: new Date(later + 60_000).toISOString() });
    jest.restoreAllMocks();
    const raw = new Database(file, { readonly: true });
    try {
      expect((raw.prepare('SELECT id FROM callback_contexts ORDER BY id').all() as { id: string }[]).map((r) => r.id)).toEqual(['fresh']);
    } finally {
      raw.close();
    }
  });
});
