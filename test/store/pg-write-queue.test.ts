import { StoreStalledError } from '../../src/store/group-commit';
import { PgWriteQueue, type PgWrite } from '../../src/store/postgres/write-queue';
import { isTransientPgError } from '../../src/store/postgres/sql';

/** The PostgreSQL write queue's contract (docs/reliability.md), with a scripted commit in place of the database. */
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const shutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
const write = (name: string): PgWrite => ({ run: async () => undefined, changes: [{ kind: 'event', callId: name, type: name }] });
const names = (writes: PgWrite[]) => writes.map((w) => (w.changes[0] as { callId: string }).callId);

function queue(commit: (writes: PgWrite[]) => Promise<(Error | undefined)[]>, extra: { maxPending?: number; maxBatch?: number } = {}) {
  const log: string[] = [];
  const q = new PgWriteQueue(commit, {
    isTransient: isTransientPgError,
    retryDelayMs: 1,
    maxRetryDelayMs: 8,
    maxPending: extra.maxPending ?? 1000,
    maxBatch: extra.maxBatch ?? 500,
    now: () => Date.now(),
    onStall: (err) => log.push(`stall ${(err as Error).message}`),
    onRecover: () => log.push('recover'),
  });
  return { q, log };
}

describe('PgWriteQueue', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('commits one batch at a time, in order: what arrives during a commit goes in the next', async () => {
    const commits: string[][] = [];
    let finish: (() => void) | undefined;
    const { q } = queue((writes) => {
      commits.push(names(writes));
      return new Promise((resolve) => (finish = () => resolve(writes.map(() => undefined))));
    });
    const settled: string[] = [];
    const first = ['a', 'b'].map((n) => q.submit(write(n)).then(() => settled.push(n)));
    await jest.advanceTimersByTimeAsync(0);
    const later = ['c', 'd'].map((n) => q.submit(write(n)).then(() => settled.push(n)));
    await jest.advanceTimersByTimeAsync(0);
    expect(commits).toEqual([['a', 'b']]); // c and d wait for the commit in flight
    expect(settled).toEqual([]);
    finish!();
    await Promise.all(first);
    await jest.advanceTimersByTimeAsync(0);
    expect(commits).toEqual([['a', 'b'], ['c', 'd']]);
    finish!();
    await Promise.all(later);
    expect(settled).toEqual(['a', 'b', 'c', 'd']);
  });

  it('rejects only the writes that failed; a commit that fails for good rejects its batch and goes on', async () => {
    const bad = new Error('unknown call state bogus');
    let failBatch = false;
    const { q } = queue(async (writes) => {
      if (failBatch) throw new Error('relation "calls" does not exist');
      return names(writes).map((n) => (n === 'bad' ? bad : undefined));
    });
    const results = Promise.allSettled(['ok', 'bad', 'ok2'].map((n) => q.submit(write(n))));
    await jest.advanceTimersByTimeAsync(5);
    expect((await results).map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    failBatch = true;
    const broken = Promise.allSettled(['x', 'y'].map((n) => q.submit(write(n))));
    await jest.advanceTimersByTimeAsync(5);
    expect((await broken).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    failBatch = false;
    const after = q.submit(write('z'));
    await jest.advanceTimersByTimeAsync(5);
    await expect(after).resolves.toBeUndefined();
  });

  it('keeps a batch the server could not take, in order, retried with backoff; stall said once, recovery once', async () => {
    let down: Error | undefined = refused;
    const attempts: { writes: string[]; at: number }[] = [];
    const { q, log } = queue(async (writes) => {
      attempts.push({ writes: names(writes), at: Date.now() });
      if (down) throw down;
      return writes.map(() => undefined);
    });
    const start = Date.now();
    const first = q.submit(write('a'));
    await jest.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['stall connect ECONNREFUSED 127.0.0.1:5432']);
    const second = q.submit(write('b'));
    await jest.advanceTimersByTimeAsync(20);
    down = shutdown;
    await jest.advanceTimersByTimeAsync(20);
    expect(q.stalledForMs).toBeGreaterThanOrEqual(40);
    expect(q.pendingWrites).toBe(2);
    expect(log).toHaveLength(1);
    // Backoff: 1, 2, 4, 8, 8… ms after each failure.
    const gaps = attempts.slice(1, 6).map((a, i) => a.at - attempts[i]!.at);
    expect(gaps).toEqual([1, 2, 4, 8, 8]);
    down = undefined;
    await jest.advanceTimersByTimeAsync(8);
    await Promise.all([first, second]);
    expect(attempts.at(-1)!.writes).toEqual(['a', 'b']);
    expect(log).toEqual(['stall connect ECONNREFUSED 127.0.0.1:5432', 'recover']);
    expect(q.stalledForMs).toBe(0);
    expect(attempts[0]!.at).toBe(start);
  });

  it('reads wait for the writes before them, at most their timeout while the server is away', async () => {
    let down = true;
    const { q } = queue(async (writes) => {
      if (down) throw refused;
      return writes.map(() => undefined);
    });
    await expect(q.settled(0)).resolves.toBeUndefined(); // nothing submitted: nothing to wait for
    void q.submit(write('a'));
    const waiting = q.settled(50).then(
      () => 'settled',
      (err: unknown) => (err instanceof StoreStalledError ? 'stalled' : 'other'),
    );
    await jest.advanceTimersByTimeAsync(60);
    expect(await waiting).toBe('stalled');
    down = false;
    const again = q.settled(1_000).then(() => 'settled');
    await jest.advanceTimersByTimeAsync(10);
    expect(await again).toBe('settled');
  });

  it('refuses new writes past maxPending, and on close refuses what the server never took', async () => {
    const { q } = queue(async () => {
      throw refused;
    }, { maxPending: 2 });
    const kept = [q.submit(write('a')), q.submit(write('b'))].map((p) => p.catch((e: unknown) => e));
    await expect(q.submit(write('c'))).rejects.toBeInstanceOf(StoreStalledError);
    await jest.advanceTimersByTimeAsync(5);
    const closing = q.close(100);
    await jest.advanceTimersByTimeAsync(150);
    expect(await closing).toBe(2);
    for (const err of await Promise.all(kept)) expect(err).toBeInstanceOf(StoreStalledError);
    await expect(q.submit(write('d'))).rejects.toThrow(/closed/);
  });

  it('commits at most maxBatch writes at a time', async () => {
    const commits: number[] = [];
    const { q } = queue(async (writes) => (commits.push(writes.length), writes.map(() => undefined)), { maxBatch: 2 });
    const all = ['a', 'b', 'c', 'd', 'e'].map((n) => q.submit(write(n)));
    await jest.advanceTimersByTimeAsync(5);
    await Promise.all(all);
    expect(commits).toEqual([2, 2, 1]);
  });
});
