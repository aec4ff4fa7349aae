import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/migrations';
import { SqliteStore } from '../../src/store/sqlite';

describe('SqliteStore', () => {
  // Repository behaviour common to both backends is in test/store/contract/; these are SQLite's own.
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
});
