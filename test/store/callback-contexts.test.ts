import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CALLBACK_CONTEXT_SWEEP_INTERVAL_MS } from '../../src/constants';
import { SqliteStore } from '../../src/store/sqlite';

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/**
 * The stored half of a signed callback URL (DESIGN §4.6), SQLite's own side: another process's lock, the file
 * seen from another connection, the sweep. What every backend does is in test/store/contract/.
 */
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
