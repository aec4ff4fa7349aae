import { GroupCommit, StoreStalledError, type GroupCommitOptions } from '../../src/store/group-commit';

const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
const isTransient = (err: unknown) => ['SQLITE_BUSY', 'SQLITE_FULL'].includes(String((err as { code?: string }).code));

function options(extra: Partial<GroupCommitOptions> = {}) {
  const log: string[] = [];
  const opts: GroupCommitOptions = {
    isTransient,
    retryDelayMs: 1,
    maxRetryDelayMs: 8,
    maxPending: 1000,
    now: () => Date.now(),
    onStall: (err) => log.push(`stall ${(err as Error).message}`),
    onRecover: () => log.push('recover'),
    ...extra,
  };
  return { opts, log };
}

describe('GroupCommit', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('commits what was submitted in one turn together, and settles each submitter after the commit', async () => {
    const commits: string[][] = [];
    const group = new GroupCommit<string>((writes) => (commits.push(writes), writes.map(() => undefined)), options().opts);
    const settled: string[] = [];
    const all = ['a', 'b', 'c'].map((w) => group.submit(w).then(() => settled.push(w)));
    expect(commits).toEqual([]);
    await jest.advanceTimersByTimeAsync(0);
    await Promise.all(all);
    expect(commits).toEqual([['a', 'b', 'c']]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('rejects only the writes that failed; a transaction that fails for good rejects them all', async () => {
    const fail = new Error('bad write');
    const group = new GroupCommit<string>((writes) => writes.map((w) => (w === 'bad' ? fail : undefined)), options().opts);
    const results = Promise.allSettled(['ok', 'bad', 'ok2'].map((w) => group.submit(w)));
    await jest.advanceTimersByTimeAsync(0);
    expect((await results).map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);

    const broken = new GroupCommit<string>(() => {
      throw new Error('no such table');
    }, options().opts);
    const outcomes = Promise.allSettled(['x', 'y'].map((w) => broken.submit(w)));
    await jest.advanceTimersByTimeAsync(0);
    expect((await outcomes).map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('a taken lock or a full disk keeps the writes, in order, retried with backoff and never waited for, said once when it starts and once when it ends', async () => {
    let failWith: Error | undefined = busy;
    const attempts: { writes: string[]; wait: boolean; at: number }[] = [];
    const { opts, log } = options();
    const group = new GroupCommit<string>((writes, wait) => {
      attempts.push({ writes, wait, at: Date.now() });
      if (failWith) throw failWith;
      return writes.map(() => undefined);
    }, opts);
    const first = group.submit('a');
    await jest.advanceTimersByTimeAsync(0);
    const second = group.submit('b');
    await jest.advanceTimersByTimeAsync(50);
    failWith = full;
    await jest.advanceTimersByTimeAsync(50);
    expect(group.stalledForMs).toBeGreaterThanOrEqual(100);
    expect(group.pendingWrites).toBe(2);
    expect(attempts.every((a) => !a.wait)).toBe(true);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    expect(Math.max(...gaps)).toBe(8); // backed off to the cap
    failWith = undefined;
    await jest.advanceTimersByTimeAsync(10);
    await Promise.all([first, second]);
    expect(attempts[attempts.length - 1]).toMatchObject({ writes: ['a', 'b'], wait: false });
    expect(log).toEqual(['stall database is locked', 'recover']);
    expect(group.stalledForMs).toBe(0);
  });

  it('settled() waits for the writes before it without blocking, and gives up with StoreStalledError after its timeout', async () => {
    let locked = false;
    const committed: string[] = [];
    const group = new GroupCommit<string>((writes) => {
      if (locked) throw busy;
      committed.push(...writes);
      return writes.map(() => undefined);
    }, options().opts);
    void group.submit('a');
    await group.settled(1000); // commits at once instead of waiting for the turn to end
    expect(committed).toEqual(['a']);

    locked = true;
    void group.submit('b');
    await jest.advanceTimersByTimeAsync(0);
    const gaveUp = group.settled(500).catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(500);
    expect(await gaveUp).toBeInstanceOf(StoreStalledError);

    const waiting = group.settled(5000);
    locked = false;
    await jest.advanceTimersByTimeAsync(10);
    await waiting;
    expect(committed).toEqual(['a', 'b']);
  });

  it('refuses new writes at once when too many wait', async () => {
    const group = new GroupCommit<string>(() => {
      throw busy;
    }, options({ maxPending: 2 }).opts);
    void group.submit('a').catch(() => undefined);
    void group.submit('b').catch(() => undefined);
    await expect(group.submit('c')).rejects.toBeInstanceOf(StoreStalledError);
  });

  it('flushSync() (closing) commits now, waiting for the lock', () => {
    const waits: boolean[] = [];
    const group = new GroupCommit<string>((writes, wait) => {
      waits.push(wait);
      if (!wait) throw busy;
      return writes.map(() => undefined);
    }, options().opts);
    const flushed = group.submit('now');
    group.flushSync();
    expect(waits).toEqual([true]);
    return flushed;
  });
});
