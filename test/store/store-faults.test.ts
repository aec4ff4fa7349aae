import path from 'node:path';
import Database from 'better-sqlite3';
import type { SqliteStore } from '../../src/store/sqlite';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * The store never stalls live calls (docs/reliability.md): while another process holds the write lock, or
 * the disk is full, callbacks are still answered, /healthz answers, /readyz says the store is not ready,
 * and every write is committed once the store can write again. Ordering, not wall-clock time, is what is
 * asserted: everything below happens while the fault is still in place.
 */
const readiness = async (server: TestServer) => {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, store: ((await res.json()) as { checks: { store: boolean } }).checks.store };
};

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await read();
    if (ok(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the store never stalls live calls', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer({ AGENT_MODE: 'sip-forward', AGENT_SIP_TARGET: 'sip:agent@sip.example.com', AGENT_SIP_VERB: 'forward' }, { storeWaits: { callbackCommitMs: 50, readMs: 50 }});
  });
  afterEach(() => server.close());

  it('another process holding the write lock: callbacks answered, health answers, readiness honest, nothing lost', async () => {
    const other = new Database(path.join(server.dataDir, 'switchboard.db'));
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-locked' });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<Forward');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect(await readiness(server)).toEqual({ status: 503, store: false });
      expect((await server.post('status', { ...callbackFixture('disconnect'), callId: 'c-locked' })).status).toBe(204);
    } finally {
      other.prepare('COMMIT').run();
      other.close();
    }
    const call = await eventually(() => server.app.store.calls.get('c-locked'), (c) => c?.state === 'completed', 'the writes to commit');
    expect(call?.cause).toBe('hangup');
    expect((await server.app.store.events.list('c-locked')).map((e) => e.type)).toEqual(['initiate', 'disconnect']);
    expect(await eventually(() => readiness(server), (r) => r.status === 200, 'readiness')).toEqual({ status: 200, store: true });
  });

  it('a full disk: callbacks answered, readiness fails and says so, the writes land once there is room', async () => {
    const db = (server.app.store as unknown as { db: Database.Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`); // SQLite's own quota: writes needing a new page fail with SQLITE_FULL
    const calls = Array.from({ length: 40 }, (_, i) => `c-full-${i}`);
    try {
      for (const callId of calls) {
        const res = await server.post('initiate', { ...callbackFixture('initiate'), callId, tag: 'x'.repeat(200) });
        expect(res.status).toBe(200);
      }
      expect(await readiness(server)).toEqual({ status: 503, store: false });
      expect((server.app.store as SqliteStore).health.snapshot()).toMatchObject({ writable: false, lastError: expect.stringMatching(/SQLITE_FULL/) });
    } finally {
      db.pragma('max_page_count = 1073741823');
    }
    await eventually(() => server.app.store.calls.get(calls[calls.length - 1]!), (c) => c !== undefined, 'the writes to land');
    for (const callId of calls) expect((await server.app.store.calls.get(callId))?.state).toBe('forwarded');
    expect((await eventually(() => readiness(server), (r) => r.status === 200, 'readiness')).store).toBe(true);
  });
});
