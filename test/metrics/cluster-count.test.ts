import { createLogger } from '../../src/log';
import { EndedCallsCounter } from '../../src/metrics/ended-calls';
import { PrometheusMetrics } from '../../src/metrics/prometheus';
import { PostgresStore } from '../../src/store/postgres';
import { eventually } from '../helpers/eventually';
import { describeWithPostgres, testDatabase, type TestDatabase } from '../helpers/postgres';

/**
 * Metrics summed over the instances sharing one PostgreSQL (docs/operations.md, "Metrics": Prometheus users add
 * the instances' series up). Every instance hears every commit (LISTEN/NOTIFY); each counts the calls whose end
 * it committed, so the sum is the number of calls, whichever instance wrote what.
 */
describeWithPostgres('metrics across instances on PostgreSQL', () => {
  let db: TestDatabase;
  const stopping: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    db = (await testDatabase())!;
  }, 60_000);
  afterEach(async () => {
    for (const stop of stopping.splice(0).reverse()) await stop();
  });
  afterAll(() => db?.close(), 60_000);

  async function instance(instanceId: string) {
    const metrics = new PrometheusMetrics({ instanceId, liveCalls: () => ({}), maxConcurrentCalls: 10 });
    const store = await PostgresStore.open(db.url, { onCommit: (durationMs, writes) => metrics.storeCommit(durationMs, writes) });
    const counter = new EndedCallsCounter(store, metrics, createLogger('silent'), { readDelayMs: 1 });
    stopping.push(() => store.close(), () => counter.stop());
    return { store, metrics };
  }

  const endedTotal = async (metrics: PrometheusMetrics, outcome?: string) => {
    const values = (await metrics.registry.getSingleMetric('switchboard_calls_ended_total')!.get()).values;
    return values.filter((v) => outcome === undefined || v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
  };

  it('counts each call once in the sum over instances, whichever instance ended it, late writes included', async () => {
    const a = await instance('i-a');
    const b = await instance('i-b');
    const calls = 12;
    for (let i = 0; i < calls; i++) {
      // Callbacks alternate between the instances, and the end lands on either.
      const [start, end] = i % 3 === 0 ? [a, b] : i % 3 === 1 ? [b, a] : [a, a];
      await start.store.calls.record({ id: `c-${i}`, leg: 'caller', state: 'initiated', mode: 'stream' }, { callId: `c-${i}`, source: 'bandwidth', type: 'initiate' });
      await end.store.calls.record({ id: `c-${i}`, state: 'streaming', mediaOwner: 'i-x' });
      if (i < calls - 2) await end.store.calls.record({ id: `c-${i}`, state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'hangup' } }, { callId: `c-${i}`, source: 'bandwidth', type: 'disconnect' });
    }
    // The last two were left mid-call by an instance that crashed; instance b closes them out at its restart.
    await b.store.calls.closeOutOrphans('i-x', { cause: 'error', errorMessage: 'restarted', endedAt: new Date().toISOString(), eventType: 'switchboard.closed-out' });
    const sum = async () => (await endedTotal(a.metrics)) + (await endedTotal(b.metrics));
    await eventually(async () => (await sum()) === calls, 'every call counted');
    // Late writes to finished calls, from both instances, then one more call ending on each as a marker: once
    // the markers are counted, each counter has read past the late writes.
    for (let i = 0; i < calls; i++) {
      const late = i % 2 === 0 ? a : b;
      await late.store.calls.addUsage(`c-${i}`, { output_tokens: 5 });
      await late.store.calls.record({ id: `c-${i}`, state: 'completed', errorMessage: 'late' }, { callId: `c-${i}`, source: 'bandwidth', type: 'disconnect' });
    }
    await a.store.calls.record({ id: 'c-mark-a', leg: 'caller', state: 'rejected', outcome: { outcome: 'rejected', reason: 'busy' } });
    await b.store.calls.record({ id: 'c-mark-b', leg: 'caller', state: 'rejected', outcome: { outcome: 'rejected', reason: 'busy' } });
    await eventually(async () => (await endedTotal(a.metrics, 'rejected')) === 1 && (await endedTotal(b.metrics, 'rejected')) === 1, 'the markers counted');
    expect(await sum()).toBe(calls + 2);
    expect((await endedTotal(a.metrics, 'caller-hung-up')) + (await endedTotal(b.metrics, 'caller-hung-up'))).toBe(calls - 2);
    expect((await endedTotal(a.metrics, 'error')) + (await endedTotal(b.metrics, 'error'))).toBe(2);
    expect(await endedTotal(a.metrics, 'error')).toBe(0); // b closed them out: b counted them
    // Both instances split the work: neither counted everything.
    expect(await endedTotal(a.metrics)).toBeGreaterThan(0);
    expect(await endedTotal(b.metrics)).toBeGreaterThan(0);
  });

  it('reports the PostgreSQL write queue’s commits in the store commit series', async () => {
    const a = await instance('i-a');
    await Promise.all([a.store.calls.record({ id: 'c-w', state: 'initiated' }), a.store.events.append({ callId: 'c-w', source: 'switchboard', type: 'note' })]);
    const text = await a.metrics.registry.metrics();
    const count = Number(/^switchboard_store_commit_duration_seconds_count\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
    const writes = Number(/^switchboard_store_writes_total\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
    expect(count).toBeGreaterThanOrEqual(1);
    expect(writes).toBe(2);
  });
});
