import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite';

/** A file store checkpoints on a thread of its own; its commits never wait for the lock on the event loop. */
describe('SqliteStore on a file: WAL checkpoints off the event loop', () => {
  let dir: string;
  let file: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-wal-'));
    file = path.join(dir, 'switchboard.db');
    store = SqliteStore.open(file);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const waitFor = async (what: string, condition: () => boolean, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('copies the WAL into the database in the background, far below the inline checkpoint threshold', async () => {
    const before = fs.statSync(file).size;
    for (let i = 0; i < 50; i++) {
      await store.calls.record({ id: `c-${i}`, state: 'initiated', from: '+19195550142' }, { callId: `c-${i}`, source: 'bandwidth', type: 'initiate', data: { i } });
    }
    await waitFor('the database file to grow', () => fs.statSync(file).size > before);
    expect((await store.calls.get('c-49'))?.state).toBe('initiated');
  });

  it('a commit that finds the write lock taken is retried while the event loop keeps running', async () => {
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE'); // holds the write lock, as a WAL restart does
    let stored = false;
    const write = store.calls.record({ id: 'c-locked', state: 'initiated' }, { callId: 'c-locked', source: 'bandwidth', type: 'initiate' }).then(() => {
      stored = true;
    });
    const timerStartedMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(Date.now() - timerStartedMs).toBeLessThan(1000); // a statement waiting on the lock would block for 5 s
    expect(stored).toBe(false);
    other.exec('COMMIT');
    other.close();
    await write;
    expect((await store.calls.get('c-locked'))?.state).toBe('initiated');
  });

  it('a checkpointer thread that dies is logged, fails readiness, and comes back by itself', async () => {
    const checkpointer = (store as unknown as { checkpointer: { worker: { terminate(): Promise<number> } } }).checkpointer;
    await checkpointer.worker.terminate();
    await waitFor('the failure to be noticed', () => !store.health.snapshot().checkpointerRunning);
    expect(await store.ping()).toBe(false);
    expect(store.health.snapshot().checkpointerFailures).toBe(1);
    await waitFor('the restart', () => store.health.snapshot().checkpointerRunning, 5000);
    expect(await store.ping()).toBe(true);
    expect((store as unknown as { checkpointer: unknown }).checkpointer).not.toBe(checkpointer); // a new thread
  });
});
