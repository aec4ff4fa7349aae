import Database from 'better-sqlite3';
import { ManualClock, settleIo } from '../../src/clock';
import { WriteQueue } from '../../src/store/write-queue';

function setup(maxQueued = 100) {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (x INTEGER UNIQUE)');
  const clock = new ManualClock(0);
  let transactions = 0;
  const queue = new WriteQueue(
    clock,
    (body) => {
      transactions++;
      db.transaction(body)();
    },
    50,
    maxQueued,
  );
  const insert = (x: number) => queue.enqueue(() => db.prepare('INSERT INTO t (x) VALUES (?)').run(x));
  const rows = () => (db.prepare('SELECT x FROM t ORDER BY rowid').all() as { x: number }[]).map((r) => r.x);
  return { db, clock, queue, insert, rows, transactions: () => transactions };
}

describe('WriteQueue', () => {
  it('commits queued writes together, in order, one transaction per interval', async () => {
    const t = setup();
    const settled: number[] = [];
    for (const x of [3, 1, 2]) void t.insert(x).then(() => settled.push(x));
    expect(t.rows()).toEqual([]);
    t.clock.advance(49);
    expect(t.rows()).toEqual([]);
    t.clock.advance(1);
    expect(t.rows()).toEqual([3, 1, 2]);
    expect(t.transactions()).toBe(1);
    await settleIo();
    expect(settled).toEqual([3, 1, 2]);
  });

  it('flush() commits at once (the store calls it before every read and synchronous write)', () => {
    const t = setup();
    void t.insert(1);
    t.queue.flush();
    expect(t.rows()).toEqual([1]);
    t.queue.flush(); // empty: no transaction
    expect(t.transactions()).toBe(1);
    expect(t.clock.pendingTimers).toBe(0);
  });

  it('flushes early when the queue is full', () => {
    const t = setup(3);
    void t.insert(1);
    void t.insert(2);
    expect(t.rows()).toEqual([]);
    void t.insert(3);
    expect(t.rows()).toEqual([1, 2, 3]);
  });

  it('a write that fails rejects alone; the rest of its batch commits', async () => {
    const t = setup();
    const a = t.insert(1);
    const b = t.insert(1); // UNIQUE violation
    const c = t.insert(2);
    t.queue.flush();
    await expect(a).resolves.toBeUndefined();
    await expect(b).rejects.toThrow(/UNIQUE/);
    await expect(c).resolves.toBeUndefined();
    expect(t.rows()).toEqual([1, 2]);
  });

  it('a transaction that cannot commit rejects every write in it', async () => {
    const clock = new ManualClock(0);
    const queue = new WriteQueue(
      clock,
      () => {
        throw new Error('disk full');
      },
      50,
      100,
    );
    const writes = [queue.enqueue(() => undefined), queue.enqueue(() => undefined)];
    queue.flush();
    for (const w of writes) await expect(w).rejects.toThrow('disk full');
  });
});
