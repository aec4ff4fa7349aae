import { ManualClock, waitFor } from '../../src/clock';
import { speechLikeAudio, type SimulatedCall } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { parseExposition, type Exposition } from '../helpers/exposition';
import { eventually } from '../helpers/eventually';
import { callerFor, startTestServer, type TestServer } from '../helpers/server';

/**
 * GET /metrics scraped from a real server (docs/operations.md, "Metrics"): a stream call with a barge-in
 * through the stand-ins, then the exposition text parsed as Prometheus would read it.
 */
const GREETING = 'Thanks for calling Acme Plumbing, this is the assistant. How can I help you today?';

/** Every switchboard series docs/operations.md lists, and the process and event-loop series beside them. */
const SERIES = [
  'switchboard_active_calls',
  'switchboard_max_concurrent_calls',
  'switchboard_calls_ended_total',
  'switchboard_first_word_latency_seconds_bucket',
  'switchboard_callback_duration_seconds_bucket',
  'switchboard_barge_ins_total',
  'switchboard_truncation_error_bound_seconds_bucket',
  'switchboard_fallbacks_total',
  'switchboard_openai_errors_total',
  'switchboard_openai_reconnects_total',
  'switchboard_store_commit_duration_seconds_bucket',
  'switchboard_store_writes_total',
  'switchboard_calls_refused_total',
  'switchboard_late_attaches_total',
  'switchboard_instance_messages_total',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
];

describe('GET /metrics', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  async function start(env: Record<string, string> = {}) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({
      clock,
      chunkMs: 100,
      speedFactor: 4,
      firstDeltaLatencyMs: 300,
      script: (ctx) => (ctx.n === 1 ? { text: GREETING, audioMs: 4000 } : { text: 'I can book a plumber.', audioMs: 1500 }),
      transcribe: () => 'My kitchen sink is leaking.',
    });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, ...env }, { clock });
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  const dial = (call: SimulatedCall) => dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
  const adminToken = () => server.app.credentials.credentials.adminToken;

  async function scrape(url: string, token: string | null = adminToken()): Promise<{ status: number; contentType: string | null; text: string; metrics?: Exposition }> {
    const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type'), text, metrics: res.status === 200 ? parseExposition(text) : undefined };
  }

  /** A scrape once the call's end has been counted (the count follows the store's commit). */
  async function scrapedOnceCounted(): Promise<Exposition> {
    let m: Exposition | undefined;
    await eventually(async () => (m = (await scrape(`${server.url}/metrics`)).metrics!).find('switchboard_calls_ended_total').length > 0, 'the call to be counted');
    return m!;
  }

  it('a call with a barge-in moves every series it touches; every series has the instance label', async () => {
    await start();
    const empty = (await scrape(`${server.url}/metrics`)).metrics!;
    expect(empty.value('switchboard_barge_ins_total')).toBe(0);
    expect(empty.find('switchboard_calls_ended_total')).toEqual([]);

    const call = await dial(callerFor(server, clock, { audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 7 }) }));
    await clock.advanceAsync(100);
    const during = (await scrape(`${server.url}/metrics`)).metrics!;
    expect(during.value('switchboard_active_calls', { mode: 'stream' })).toBe(1);

    await clock.advanceAsync(3000); // the caller speaks over the greeting at 1.5 s
    const truncate = openai.sessions[0]!.truncates[0];
    expect(truncate).toBeDefined();
    await call.hangup();
    await clock.advanceAsync(200);
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    const after = await scrapedOnceCounted();

    const res = await scrape(`${server.url}/metrics`);
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of SERIES) expect({ name, present: res.metrics!.find(name).length > 0 }).toEqual({ name, present: true });
    expect(res.metrics!.samples.filter((s) => s.labels.instance !== server.app.instanceId).map((s) => s.name)).toEqual([]);

    expect(after.value('switchboard_active_calls', { mode: 'stream' })).toBe(0);
    expect(after.value('switchboard_calls_ended_total', { outcome: 'caller-hung-up', mode: 'stream' })).toBe(1);
    expect(after.value('switchboard_barge_ins_total')).toBe(1);
    // One item cut; the bound is what playout had sent past the truncation point: about the lead (DESIGN §4.4).
    expect(after.value('switchboard_truncation_error_bound_seconds_count')).toBe(1);
    const boundS = after.value('switchboard_truncation_error_bound_seconds_sum');
    expect(boundS).toBeGreaterThan(0);
    expect(boundS).toBeLessThanOrEqual(0.3);
    // The pre-warmed greeting was waiting when the stream started: its first audio went out at once.
    expect(after.value('switchboard_first_word_latency_seconds_count')).toBe(1);
    expect(after.value('switchboard_first_word_latency_seconds_sum')).toBeLessThanOrEqual(0.04);
    expect(after.value('switchboard_callback_duration_seconds_count', { route: 'initiate' })).toBe(1);
    expect(after.value('switchboard_callback_duration_seconds_count', { route: 'status' })).toBeGreaterThanOrEqual(1);
    expect(after.value('switchboard_store_commit_duration_seconds_count')).toBeGreaterThan(0);
    expect(after.value('switchboard_store_writes_total')).toBeGreaterThan(after.value('switchboard_store_commit_duration_seconds_count') - 1);
    expect(after.find('switchboard_fallbacks_total').every((s) => s.value === 0)).toBe(true);
    expect(after.value('switchboard_max_concurrent_calls')).toBe(200);
    // One instance: its stream was pre-warmed here, and nothing crossed to another instance.
    expect(after.value('switchboard_late_attaches_total')).toBe(0);
    expect(after.find('switchboard_instance_messages_total').map((s) => s.labels.result).sort()).toEqual(['forwarded', 'missed', 'received', 'refused']);
  });

  it('OpenAI refusing the session: a fallback with its reason, an OpenAI error, the call ended as fallback', async () => {
    await start({ TRANSFER_TO: '+19195550177' });
    openai.refuse = { status: 429, body: { error: { message: 'rate limited' } } };
    const call = await dial(callerFor(server, clock));
    await clock.advanceAsync(200);
    await call.streamEnded;
    await clock.advanceAsync(100);
    await call.hangup();
    const m = await scrapedOnceCounted();
    expect(m.value('switchboard_fallbacks_total', { reason: 'openai-refused' })).toBe(1);
    expect(m.value('switchboard_openai_errors_total', { kind: 'session-failed', code: 'openai-refused' })).toBe(1);
    expect(m.value('switchboard_calls_ended_total', { outcome: 'fallback', mode: 'stream' })).toBe(1);
    expect(m.value('switchboard_callback_duration_seconds_count', { route: 'stream-ended' })).toBe(1);
  });

  it('refuses a scrape without the token, or with a wrong one: 401, nothing served', async () => {
    await start();
    for (const token of [null, 'not-the-token']) {
      const res = await scrape(`${server.url}/metrics`, token);
      expect(res.status).toBe(401);
      expect(res.text).not.toContain('switchboard_');
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it('METRICS_TOKEN replaces the admin token for /metrics', async () => {
    await start({ METRICS_TOKEN: 'scrape-token-0123456789' });
    expect((await scrape(`${server.url}/metrics`)).status).toBe(401);
    expect((await scrape(`${server.url}/metrics`, 'scrape-token-0123456789')).status).toBe(200);
  });

  it('METRICS_PORT serves /metrics on a listener of its own, without auth; PORT still wants the token', async () => {
    await start({ METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
    const url = server.app.metricsUrl;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const open = await scrape(`${url}/metrics`, null);
    expect(open.status).toBe(200);
    expect(open.metrics!.value('switchboard_max_concurrent_calls')).toBe(200);
    expect(open.metrics!.find('switchboard_max_concurrent_calls')[0]!.labels).toEqual({ instance: server.app.instanceId });
    expect((await fetch(`${url}/api/agents`)).status).toBe(404); // nothing else is served there
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
    expect((await scrape(`${server.url}/metrics`, null)).status).toBe(401);
  });
});
