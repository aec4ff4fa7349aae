import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../../src/store/sqlite';
import { describeEachBackend, type ContractStore } from './backends';

const T0 = Date.parse('2026-12-07T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const session = (idHash: string, expiresInMs = 60_000) => ({ idHash, csrfToken: `csrf-${idHash}`, expiresAt: at(expiresInMs) });

/**
 * Console sessions (store/types.ts ConsoleSessionsRepository): the same on every backend, and on PostgreSQL
 * the same on every instance, which is what lets a browser's next request reach any of them.
 */
describeEachBackend('console sessions', (backend) => {
  let store: ContractStore;
  beforeEach(async () => {
    store = await backend.open();
  });

  it('creates a session and finds it by its id hash, with its CSRF token and times', async () => {
    await store.consoleSessions.create(session('h-1'), { now: at(0), maxLive: 10 });
    expect(await store.consoleSessions.get('h-1', at(1))).toEqual({ idHash: 'h-1', csrfToken: 'csrf-h-1', createdAt: at(0), expiresAt: at(60_000) });
    expect(await store.consoleSessions.get('h-2', at(1))).toBeUndefined();
    expect(await store.consoleSessions.count(at(1))).toBe(1);
  });

  it('serves a session only until it expires, and sweeps the expired ones', async () => {
    await store.consoleSessions.create(session('h-short', 1_000), { now: at(0), maxLive: 10 });
    await store.consoleSessions.create(session('h-long', 5_000), { now: at(0), maxLive: 10 });
    expect(await store.consoleSessions.get('h-short', at(999))).toMatchObject({ idHash: 'h-short' });
    expect(await store.consoleSessions.get('h-short', at(1_000))).toBeUndefined();
    expect(await store.consoleSessions.count(at(1_000))).toBe(1);
    expect(await store.consoleSessions.sweep(at(1_000))).toBe(1);
    // Gone, not only hidden: asked about an earlier moment, the store no longer has it.
    expect(await store.consoleSessions.get('h-short', at(0))).toBeUndefined();
    expect(await store.consoleSessions.get('h-long', at(1_000))).toMatchObject({ idHash: 'h-long' });
    expect(await store.consoleSessions.sweep(at(1_000))).toBe(0);
  });

  it('sweeps the expired sessions when it creates one', async () => {
    await store.consoleSessions.create(session('h-old', 1_000), { now: at(0), maxLive: 10 });
    await store.consoleSessions.create(session('h-new', 60_000), { now: at(2_000), maxLive: 10 });
    expect(await store.consoleSessions.get('h-old', at(0))).toBeUndefined();
    expect(await store.consoleSessions.sweep(at(2_000))).toBe(0);
  });

  it('deletes a session once: the second delete finds nothing', async () => {
    await store.consoleSessions.create(session('h-1'), { now: at(0), maxLive: 10 });
    expect(await store.consoleSessions.delete('h-1')).toBe(true);
    expect(await store.consoleSessions.get('h-1', at(1))).toBeUndefined();
    expect(await store.consoleSessions.delete('h-1')).toBe(false);
    expect(await store.consoleSessions.count(at(1))).toBe(0);
  });

  it('keeps at most maxLive sessions, evicting the oldest first, even when they were created at the same moment', async () => {
    for (const h of ['h-1', 'h-2', 'h-3']) await store.consoleSessions.create(session(h), { now: at(0), maxLive: 2 });
    expect(await store.consoleSessions.get('h-1', at(1))).toBeUndefined();
    expect(await store.consoleSessions.get('h-2', at(1))).toMatchObject({ idHash: 'h-2' });
    expect(await store.consoleSessions.get('h-3', at(1))).toMatchObject({ idHash: 'h-3' });
    expect(await store.consoleSessions.count(at(1))).toBe(2);
    // A smaller cap later keeps only the newest; a cap below one still keeps the session just created.
    await store.consoleSessions.create(session('h-4'), { now: at(0), maxLive: 0 });
    expect(await store.consoleSessions.count(at(1))).toBe(1);
    expect(await store.consoleSessions.get('h-4', at(1))).toMatchObject({ idHash: 'h-4' });
  });

  it('is the same on another instance: created on one, found, capped and ended on the other', async () => {
    const other = await backend.peer();
    await store.consoleSessions.create(session('h-a'), { now: at(0), maxLive: 2 });
    expect(await other.consoleSessions.get('h-a', at(1))).toMatchObject({ idHash: 'h-a', csrfToken: 'csrf-h-a' });
    await other.consoleSessions.create(session('h-b'), { now: at(1), maxLive: 2 });
    await store.consoleSessions.create(session('h-c'), { now: at(2), maxLive: 2 });
    expect(await other.consoleSessions.get('h-a', at(3))).toBeUndefined(); // the oldest, whichever instance made it
    expect(await other.consoleSessions.count(at(3))).toBe(2);
    expect(await other.consoleSessions.delete('h-b')).toBe(true);
    expect(await store.consoleSessions.get('h-b', at(3))).toBeUndefined();
    expect(await store.consoleSessions.get('h-c', at(3))).toMatchObject({ idHash: 'h-c' });
  });
});

describe('console sessions (SQLite): two store objects on one database file', () => {
  // A CLI command's in-process server opens the serving process's database beside it (StartOptions.forCommand).
  it('see each other’s sessions and sign-outs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-console-sessions-'));
    const file = path.join(dir, 'switchboard.db');
    const a = SqliteStore.open(file);
    const b = SqliteStore.open(file);
    try {
      await a.consoleSessions.create(session('h-1'), { now: at(0), maxLive: 10 });
      expect(await b.consoleSessions.get('h-1', at(1))).toMatchObject({ csrfToken: 'csrf-h-1' });
      expect(await b.consoleSessions.delete('h-1')).toBe(true);
      expect(await a.consoleSessions.get('h-1', at(1))).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
