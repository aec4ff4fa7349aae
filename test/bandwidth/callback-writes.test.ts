import { CallbackWrites } from '../../src/bandwidth/callback-writes';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';

/** The durability rule (docs/reliability.md): wait for the commit, but not past commitWaitMs, and not twice in one stall. */
describe('CallbackWrites.durable', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('waits for a commit; once a wait ran out, later ones do not wait again until a write lands', async () => {
    const writes = new CallbackWrites(SqliteStore.open(':memory:'), createLogger('silent'), 3000);
    const settledAt: Record<string, number> = {};
    const start = Date.now();
    const track = (name: string, p: Promise<void>) => p.then(() => (settledAt[name] = Date.now() - start));

    let landFirst!: () => void;
    const stuck = new Promise<void>((resolve) => (landFirst = resolve));
    const first = track('first', writes.durable(stuck));
    await jest.advanceTimersByTimeAsync(2999);
    expect(settledAt.first).toBeUndefined(); // still within the wait
    await jest.advanceTimersByTimeAsync(1);
    await first;
    expect(settledAt.first).toBe(3000); // answered anyway

    const second = track('second', writes.durable(new Promise<void>(() => undefined)));
    await jest.advanceTimersByTimeAsync(0);
    await second;
    expect(settledAt.second).toBe(3000); // no second wait in the same stall

    landFirst(); // the store writes again
    await jest.advanceTimersByTimeAsync(0);
    const third = track('third', writes.durable(new Promise<void>(() => undefined)));
    await jest.advanceTimersByTimeAsync(2999);
    expect(settledAt.third).toBeUndefined(); // a new stall: waited for again
    await jest.advanceTimersByTimeAsync(1);
    await third;
    expect(settledAt.third).toBe(6000);
  });
});
