import { register } from 'prom-client';
import { CallCapacity } from '../../src/capacity';
import { createLogger } from '../../src/log';
import { EndedCallsCounter } from '../../src/metrics/ended-calls';
import { PrometheusMetrics } from '../../src/metrics/prometheus';
import { FALLBACK_REASONS, fallbackReasonOf, NO_METRICS } from '../../src/metrics/sink';
import { SqliteStore } from '../../src/store/sqlite';
import { parseExposition } from '../helpers/exposition';
import { eventually } from '../helpers/eventually';
import { RecordingSink } from '../helpers/recording-sink';

const scrape = async (m: PrometheusMetrics) => parseExposition(await m.scrape());

describe('PrometheusMetrics (the MetricsSink behind GET /metrics)', () => {
  const live = { stream: 0, 'openai-sip': 0 };
  const metrics = () => new PrometheusMetrics({ instanceId: 'i-unit', liveCalls: () => live, maxConcurrentCalls: 7 });

  it('every series carries the instance label, process and event-loop metrics included', async () => {
    const text = await scrape(metrics());
    expect(text.samples.length).toBeGreaterThan(50);
    expect(text.samples.filter((s) => s.labels.instance !== 'i-unit')).toEqual([]);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text.find(name)).toHaveLength(1);
    }
    expect(text.value('switchboard_max_concurrent_calls')).toBe(7);
  });

  it('active calls by mode are read from the live calls at each scrape', async () => {
    const m = metrics();
    live.stream = 3;
    live['openai-sip'] = 1;
    let text = await scrape(m);
    expect(text.value('switchboard_active_calls', { mode: 'stream' })).toBe(3);
    expect(text.value('switchboard_active_calls', { mode: 'openai-sip' })).toBe(1);
    live.stream = 0;
    text = await scrape(m);
    expect(text.value('switchboard_active_calls', { mode: 'stream' })).toBe(0);
    live['openai-sip'] = 0;
  });

  it('each report moves its series: histograms in seconds, counters by their closed labels', async () => {
    const m = metrics();
    const before = await scrape(m);
    // Closed label sets exist at 0 before anything happened.
    for (const reason of FALLBACK_REASONS) expect(before.value('switchboard_fallbacks_total', { reason })).toBe(0);
    expect(before.value('switchboard_openai_reconnects_total', { result: 'renewed' })).toBe(0);
    expect(before.value('switchboard_calls_refused_total', { mode: 'openai-sip', handling: 'sip-reject' })).toBe(0);
    expect(before.value('switchboard_barge_ins_total')).toBe(0);

    m.firstWord(180);
    m.firstWord(1200);
    m.callback('initiate', 2);
    m.callback('initiate', 4);
    m.callback('status', 1);
    m.bargeIn();
    m.truncation(95);
    m.truncation(-3); // never negative
    m.fallback('openai-refused');
    m.modelError('session-failed', 'openai-refused');
    m.modelError('event');
    m.modelReconnect('renewed');
    m.storeCommit(0.8, 12);
    m.callRefused('stream', 'reject');
    m.callEnded('caller-hung-up', 'stream');
    m.callEnded('caller-hung-up', 'stream');
    m.callEnded('rejected', 'none');
    const t = await scrape(m);
    expect(t.value('switchboard_first_word_latency_seconds_count')).toBe(2);
    expect(t.value('switchboard_first_word_latency_seconds_sum')).toBeCloseTo(1.38, 6);
    expect(t.value('switchboard_first_word_latency_seconds_bucket', { le: '0.2' })).toBe(1);
    expect(t.value('switchboard_first_word_latency_seconds_bucket', { le: '1.5' })).toBe(2);
    expect(t.value('switchboard_callback_duration_seconds_count', { route: 'initiate' })).toBe(2);
    expect(t.value('switchboard_callback_duration_seconds_sum', { route: 'initiate' })).toBeCloseTo(0.006, 9);
    expect(t.value('switchboard_callback_duration_seconds_count', { route: 'status' })).toBe(1);
    expect(t.value('switchboard_barge_ins_total')).toBe(1);
    expect(t.value('switchboard_truncation_error_bound_seconds_count')).toBe(2);
    expect(t.value('switchboard_truncation_error_bound_seconds_sum')).toBeCloseTo(0.095, 9);
    expect(t.value('switchboard_truncation_error_bound_seconds_bucket', { le: '0' })).toBe(1);
    expect(t.value('switchboard_fallbacks_total', { reason: 'openai-refused' })).toBe(1);
    expect(t.value('switchboard_openai_errors_total', { kind: 'session-failed', code: 'openai-refused' })).toBe(1);
    expect(t.value('switchboard_openai_errors_total', { kind: 'event', code: 'event' })).toBe(1);
    expect(t.value('switchboard_openai_reconnects_total', { result: 'renewed' })).toBe(1);
    expect(t.value('switchboard_store_commit_duration_seconds_count')).toBe(1);
    expect(t.value('switchboard_store_writes_total')).toBe(12);
    expect(t.value('switchboard_calls_refused_total', { mode: 'stream', handling: 'reject' })).toBe(1);
    expect(t.value('switchboard_calls_ended_total', { outcome: 'caller-hung-up', mode: 'stream' })).toBe(2);
    expect(t.value('switchboard_calls_ended_total', { outcome: 'rejected', mode: 'none' })).toBe(1);
    expect(t.types.get('switchboard_first_word_latency_seconds')).toBe('histogram');
    expect(t.types.get('switchboard_active_calls')).toBe('gauge');
    expect(t.types.get('switchboard_fallbacks_total')).toBe('counter');
  });

  it('two servers in one process keep their own registries; nothing lands on the global one', async () => {
    const a = new PrometheusMetrics({ instanceId: 'i-a', liveCalls: () => ({}), maxConcurrentCalls: 1 });
    const b = new PrometheusMetrics({ instanceId: 'i-b', liveCalls: () => ({}), maxConcurrentCalls: 1 });
    a.bargeIn();
    expect((await scrape(a)).value('switchboard_barge_ins_total')).toBe(1);
    expect((await scrape(b)).value('switchboard_barge_ins_total')).toBe(0);
    expect((await scrape(b)).find('switchboard_barge_ins_total')[0]!.labels).toEqual({ instance: 'i-b' });
    expect(await register.getMetricsAsJSON()).toEqual([]);
  });

  it('a bridge cause outside the closed set of reasons counts as model-failed; the no-op sink takes every report', () => {
    expect(fallbackReasonOf('openai-refused')).toBe('openai-refused');
    expect(fallbackReasonOf('something new')).toBe('model-failed');
    expect(() => {
      NO_METRICS.firstWord(1);
      NO_METRICS.callEnded('error', 'stream');
    }).not.toThrow();
  });
});

describe('CallCapacity', () => {
  it('admits up to the cap, counts places held for sessions being opened, and lets a held call through', () => {
    let held = 0;
    const heldIds = new Set<string>();
    const capacity = new CallCapacity(2, () => held, (id) => heldIds.has(id));
    expect(capacity.hasRoom()).toBe(true);
    const place = capacity.reserve()!;
    expect(capacity.live).toBe(1);
    held = 1; // another session exists
    heldIds.add('c-held');
    expect(capacity.reserve()).toBeUndefined(); // 1 held + 1 reserved = 2
    expect(capacity.admits('c-new')).toBe(false);
    expect(capacity.admits('c-held')).toBe(true); // a retried initiate of a call already held
    place.release();
    place.release(); // once only
    expect(capacity.live).toBe(1);
    expect(capacity.admits('c-new')).toBe(true);
  });
});

describe('EndedCallsCounter', () => {
  it('counts each call once, when the store has it final, with the outcome the store settled; child legs are not calls', async () => {
    const store = SqliteStore.open(':memory:');
    const sink = new RecordingSink();
    const counter = new EndedCallsCounter(store, sink, createLogger('silent'), { readDelayMs: 1 });
    const counted = (n: number) => eventually(async () => sink.of('callEnded').length === n, `${n} calls counted`);
    await store.calls.record({ id: 'c-1', state: 'streaming', mode: 'stream', leg: 'caller' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sink.of('callEnded')).toEqual([]);
    // A decided outcome, then the carrier's end: the decision stands (src/outcomes.ts).
    await store.calls.record({ id: 'c-1', state: 'transferred', outcome: { outcome: 'transferred', reason: 'answered' } });
    await store.calls.recordMany([
      { id: 'c-1', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'hangup' } },
      { id: 'c-1b', leg: 'transfer', parentCallId: 'c-1', state: 'completed' },
    ]);
    await counted(1);
    await store.calls.addUsage('c-1', { output_tokens: 3 }); // a late write to a finished call
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sink.of('callEnded')).toEqual([['transferred', 'stream']]);
    // A rejected call with no agent.
    await store.calls.record({ id: 'c-2', state: 'rejected', outcome: { outcome: 'rejected', reason: 'no agent' } });
    await store.calls.record({ id: 'c-3', state: 'completed' });
    await counted(3);
    // Late writes to calls counted long ago: the oldest included, nothing counts them again.
    await store.calls.record({ id: 'c-1', state: 'completed', errorMessage: 'late' }, { callId: 'c-1', source: 'bandwidth', type: 'disconnect' });
    await store.calls.addUsage('c-2', { output_tokens: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sink.of('callEnded')).toEqual([['transferred', 'stream'], ['rejected', 'none'], ['none', 'none']]);
    counter.stop();
    await store.calls.record({ id: 'c-4', state: 'completed' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sink.of('callEnded')).toHaveLength(3);
    await store.close();
  });

  it('reads the changed calls together, after the changes: one read per call however many writes it had', async () => {
    const store = SqliteStore.open(':memory:');
    const sink = new RecordingSink();
    const reads: string[] = [];
    const get = store.calls.get.bind(store.calls);
    store.calls.get = (id: string) => {
      reads.push(id);
      return get(id);
    };
    const counter = new EndedCallsCounter(store, sink, createLogger('silent'), { readDelayMs: 5 });
    for (let i = 0; i < 5; i++) void store.calls.record({ id: 'c-busy', state: 'streaming', errorMessage: `write ${i}` });
    await store.calls.record({ id: 'c-busy', state: 'completed', outcome: { outcome: 'completed-by-agent', reason: 'done' } });
    await eventually(async () => sink.of('callEnded').length === 1, 'the call counted');
    expect(reads).toEqual(['c-busy']);
    counter.stop();
    await store.close();
  });
});
