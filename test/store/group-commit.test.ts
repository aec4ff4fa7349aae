import { GroupCommit } from '../../src/store/group-commit';

const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
const isBusy = (err: unknown) => (err as { code?: string }).code === 'SQLITE_BUSY';
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('commits what was submitted in one turn together, and settles each submitter after the commit', async () => {
    const commits: string[][] = [];
    const group = new GroupCommit<string>((writes) => (commits.push(writes), writes.map(() => undefined)), { isBusy, retryDelayMs: 1, maxWaitMs: 1000 });
    const settled: string[] = [];
    const all = ['a', 'b', 'c'].map((w) => group.submit(w).then(() => settled.push(w)));
    expect(commits).toEqual([]);
    await Promise.all(all);
    expect(commits).toEqual([['a', 'b', 'c']]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('rejects only the writes that failed; a failed transaction rejects them all', async () => {
    const fail = new Error('bad write');
    const group = new GroupCommit<string>((writes) => writes.map((w) => (w === 'bad' ? fail : undefined)), { isBusy, retryDelayMs: 1, maxWaitMs: 1000 });
    const results = await Promise.allSettled(['ok', 'bad', 'ok2'].map((w) => group.submit(w)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);

    const broken = new GroupCommit<string>(() => {
      throw new Error('disk full');
    }, { isBusy, retryDelayMs: 1, maxWaitMs: 1000 });
    const outcomes = await Promise.allSettled(['x', 'y'].map((w) => broken.submit(w)));
    expect(outcomes.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('a taken write lock is retried later, in order, with what arrived meanwhile, and never waited for on the event loop', async () => {
    let locked = true;
    const attempts: { writes: string[]; wait: boolean }[] = [];
    const group = new GroupCommit<string>(
      (writes, wait) => {
        attempts.push({ writes, wait });
        if (locked) throw busy;
        return writes.map(() => undefined);
      },
      { isBusy, retryDelayMs: 1, maxWaitMs: 10_000 },
    );
    const first = group.submit('a');
    await tick();
    const second = group.submit('b');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(attempts.every((a) => !a.wait)).toBe(true);
    locked = false;
    await Promise.all([first, second]);
    expect(attempts[attempts.length - 1]).toEqual({ writes: ['a', 'b'], wait: false });
  });

  it('flush() commits now, waiting for the lock; after maxWaitMs of retries the batch waits too', async () => {
    const waits: boolean[] = [];
    const group = new GroupCommit<string>(
      (writes, wait) => {
        waits.push(wait);
        if (!wait) throw busy;
        return writes.map(() => undefined);
      },
      { isBusy, retryDelayMs: 1, maxWaitMs: 10 },
    );
    const flushed = group.submit('now');
    group.flush();
    await flushed;
    expect(waits).toEqual([true]);

    waits.length = 0;
    await group.submit('later');
    expect(waits[0]).toBe(false);
    expect(waits[waits.length - 1]).toBe(true);
  });
});
