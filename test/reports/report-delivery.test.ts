import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { agentSchema } from '../../src/agents/agent';
import { ManualClock, settleIo } from '../../src/clock';
import { REPORT_LEGS_WAIT_MS, REPORT_SETTLE_MS, REPORT_TIMEOUT_MS } from '../../src/constants';
import { createLogger } from '../../src/log';
import { startSwitchboard, type RunningSwitchboard } from '../../src/main';
import { flattenUsage } from '../../src/openai/events';
import { outcomeAtEnd } from '../../src/outcomes';
import { DEFAULT_PRICES, estimateCost } from '../../src/reports/cost';
import type { CallReport } from '../../src/reports/report';
import { speechLikeAudio } from '../../src/sim/bandwidth-audio';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { SqliteStore } from '../../src/store/sqlite';
import type { ReportRecord } from '../../src/store/types';
import { callerFor, PUBLIC_BASE, type TestServer } from '../helpers/server';

/**
 * Post-call reports over real sockets: the real server delivers to a receiver on loopback, and every
 * delivery is checked with an independent Standard Webhooks verifier, the openai package's
 * webhooks.unwrap. One ManualClock drives the server (and the stand-ins): retries, the settle delay and
 * timeouts move with it, never with real sleeps.
 */
interface Received {
  headers: Record<string, string>;
  body: string;
}

/** The operator's endpoint: answers each request with what `answer` says for it (a status, or never). */
async function startReceiver(answer: (n: number) => number | 'never') {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
      const status = answer(received.length);
      if (status === 'never') return;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? 'receiver says no' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    received,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/calls`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const verifier = new OpenAI({ apiKey: 'sk-test' });
const verify = (app: RunningSwitchboard, r: Received) => verifier.webhooks.unwrap(r.body, r.headers, app.credentials.credentials.reportSigningSecret) as Promise<unknown> as Promise<CallReport>;

const USAGE = flattenUsage({
  total_tokens: 4300,
  input_tokens: 1500,
  output_tokens: 2300,
  input_token_details: { audio_tokens: 1000, text_tokens: 500, cached_tokens: 300, cached_tokens_details: { audio_tokens: 200, text_tokens: 100 } },
  output_token_details: { audio_tokens: 2000, text_tokens: 300 },
});

/** A call that starts and ends through the store, as the call flows record it. */
async function endedCall(app: RunningSwitchboard, id: string, agentId = 'default'): Promise<void> {
  const store = app.store;
  await store.calls.record({ id, direction: 'inbound', from: '+19195550100', to: '+19195550177', agentId, mode: 'stream', state: 'streaming', startedAt: '2026-12-07T10:00:00.000Z', answeredAt: '2026-12-07T10:00:01.000Z' });
  await store.calls.addUsage(id, USAGE);
  await store.calls.record({ id, state: 'completed', cause: 'hangup', endedAt: '2026-12-07T10:01:31.000Z', outcome: outcomeAtEnd('hangup') });
}

describe('post-call reports', () => {
  let clock: ManualClock;
  let dataDir: string;
  let app: RunningSwitchboard | undefined;
  let receiver: Receiver | undefined;
  let openai: RealtimeStandIn | undefined;

  beforeEach(() => {
    clock = new ManualClock(0);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-reports-'));
  });
  afterEach(async () => {
    await app?.close(0);
    await receiver?.close();
    await openai?.close();
    app = receiver = openai = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const start = (env: Record<string, string> = {}) =>
    startSwitchboard({
      env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, PUBLIC_BASE_URL: PUBLIC_BASE, LOG_LEVEL: 'silent', ...env },
      print: () => undefined,
      logger: createLogger('silent'),
      clock,
    });
  const asTestServer = (running: RunningSwitchboard): TestServer => ({ app: running, url: running.localUrl.replace('0.0.0.0', '127.0.0.1') }) as TestServer;

  /** Move the clock in steps until `condition` holds (the server's timers and loopback I/O run meanwhile). */
  async function until(condition: () => boolean | Promise<boolean>, what: string, maxMs = 30_000): Promise<void> {
    for (let ms = 0; ; ms += 250) {
      if (await condition()) return;
      if (ms >= maxMs) throw new Error(`clock moved ${maxMs} ms without ${what}`);
      await clock.advanceAsync(250, 250);
      await settleIo();
    }
  }
  const reportOf = async (callId: string): Promise<ReportRecord | undefined> => (await app!.store.reports.list({ callId, limit: 1 }))[0];

  it('a stream call that ends is reported once, signed so that an independent Standard Webhooks check accepts it, with outcome, latency, transcript, usage and cost', async () => {
    receiver = await startReceiver(() => 200);
    openai = await startRealtimeStandIn({
      clock,
      chunkMs: 100,
      speedFactor: 4,
      firstDeltaLatencyMs: 300,
      script: (ctx) => (ctx.n === 1 ? { text: 'Hello, Acme Plumbing.', audioMs: 1000 } : { text: 'I can book a plumber.', audioMs: 1500 }),
      transcribe: () => 'My sink is leaking.',
    });
    app = await start({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', REPORT_URL: receiver.url, AGENT_REPORT_TRANSCRIPT: 'true' });
    const call = await dialThroughSetup(callerFor(asTestServer(app), clock, { audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 7 }) }), 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(5000);
    expect(await reportOf(call.callId)).toBeUndefined(); // nothing before the call has ended
    await call.hangup();
    await clock.advanceAsync(200);
    await app.bridge.get(call.callId)?.end('test over');

    await until(() => receiver!.received.length >= 1, 'the report to arrive');
    await until(async () => (await reportOf(call.callId))?.status === 'delivered', 'the outbox to say delivered');
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    const report = await verify(app, got);
    await expect(verifier.webhooks.unwrap(got.body.replace('caller-hung-up', 'transferred'), got.headers, app.credentials.credentials.reportSigningSecret)).rejects.toThrow(/signature/);

    const row = (await app.store.calls.get(call.callId))!;
    const outbox = (await reportOf(call.callId))!;
    expect(got.headers['webhook-id']).toBe(outbox.id);
    expect(outbox).toMatchObject({ attempts: 1, lastStatus: 200 });
    expect(report.type).toBe('call.ended');
    expect(report.data.call).toMatchObject({ id: call.callId, state: 'completed' });
    expect(report.data.outcome).toEqual({ outcome: row.outcome, reason: row.outcomeReason });
    expect(report.data.outcome.outcome).toBe('caller-hung-up');
    expect(report.data.agent).toMatchObject({ id: 'default', model: row.usage && 'gpt-realtime-2.1' });
    // Numbers are masked unless REPORT_NUMBERS=full.
    for (const n of [report.data.call.from, report.data.call.to]) if (n) expect(n).toContain('•');
    // Latency from the conversation core's trace: the greeting's first word, and the reply after the caller's turn.
    expect(report.data.latency.firstWordMs).toEqual(expect.any(Number));
    expect(report.data.latency.turns.length).toBeGreaterThanOrEqual(1);
    expect(report.data.latency.turns[0]!.afterCallerMs).toBeGreaterThan(0);
    const transcript = await app.store.transcripts.list(call.callId);
    expect(report.data.transcript!.map((t) => [t.role, t.text])).toEqual(transcript.map((t) => [t.role, t.text]));
    expect(report.data.transcript!.map((t) => t.text)).toContain('My sink is leaking.');
    expect(report.data.usage).toEqual(row.usage);
    const cost = estimateCost(row.usage, 'gpt-realtime-2.1', DEFAULT_PRICES)!;
    expect(cost.totalUsd).toBeGreaterThan(0);
    expect(report.data.cost!.totalUsd).toBe(cost.totalUsd);

    // The call detail and the report agree on the cost.
    const detail = (await (await fetch(`${app.localUrl.replace('0.0.0.0', '127.0.0.1')}/api/calls/${call.callId}`, { headers: { authorization: `Bearer ${app.credentials.credentials.adminToken}` } })).json()) as { cost: { totalUsd: number } };
    expect(detail.cost.totalUsd).toBe(cost.totalUsd);
  });

  it('an endpoint that answers 500 gets the same report again later, with the same webhook-id, until it takes it', async () => {
    receiver = await startReceiver((n) => (n === 1 ? 500 : 200));
    app = await start({ REPORT_URL: receiver.url, REPORT_NUMBERS: 'full' });
    await endedCall(app, 'c-retry');
    expect(await reportOf('c-retry')).toMatchObject({ status: 'pending', attempts: 0 }); // enqueued with the call's end

    await until(() => receiver!.received.length >= 1, 'the first attempt');
    await until(async () => (await reportOf('c-retry'))?.attempts === 1, 'the failed attempt to be recorded');
    expect(await reportOf('c-retry')).toMatchObject({ status: 'pending', lastStatus: 500, lastError: 'HTTP 500: receiver says no' });

    await until(async () => (await reportOf('c-retry'))?.status === 'delivered', 'the retry to deliver');
    expect(receiver.received).toHaveLength(2);
    const [first, second] = receiver.received as [Received, Received];
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    const report = await verify(app, second);
    expect(report.data.call).toMatchObject({ id: 'c-retry', from: '+19195550100', durationMs: 91_000, talkMs: 90_000 });
    expect(report.data.transcript).toBeUndefined(); // the agent did not ask for it
    expect(report.data.cost!.totalUsd).toBe(estimateCost(USAGE, 'gpt-realtime-2.1', DEFAULT_PRICES)!.totalUsd);
    expect(await reportOf('c-retry')).toMatchObject({ attempts: 2, lastStatus: 200 });
  });

  it('a report still pending when the server stops is delivered by the next start', async () => {
    let up = false;
    receiver = await startReceiver(() => (up ? 204 : 503));
    app = await start({ REPORT_URL: receiver.url });
    await endedCall(app, 'c-restart');
    await until(async () => (await reportOf('c-restart'))?.attempts === 1, 'the first attempt to fail');
    await app.close(0);

    up = true;
    clock = new ManualClock(0);
    app = await start({ REPORT_URL: receiver.url });
    expect(await reportOf('c-restart')).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 503 });
    await until(async () => (await reportOf('c-restart'))?.status === 'delivered', 'the restarted server to deliver');
    expect(receiver.received).toHaveLength(2);
    expect((await verify(app, receiver.received[1]!)).data.call.id).toBe('c-restart');
  });

  it('an endpoint that never answers costs the call nothing: the next call runs as usual, and the attempt times out and is retried', async () => {
    receiver = await startReceiver(() => 'never');
    openai = await startRealtimeStandIn({ clock, chunkMs: 100, speedFactor: 4, firstDeltaLatencyMs: 300, script: () => ({ text: 'Hello, Acme Plumbing.', audioMs: 1000 }) });
    app = await start({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', REPORT_URL: receiver.url });
    await endedCall(app, 'c-stuck');
    await until(() => receiver!.received.length >= 1, 'the stuck attempt to reach the endpoint');

    // A call while the endpoint holds the report: greeted at once, ended, and its outcome kept.
    const call = await dialThroughSetup(callerFor(asTestServer(app), clock), 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(100);
    expect(call.heard.firstHeardMs).toBeDefined();
    expect(call.heard.firstHeardMs!).toBeLessThanOrEqual(40);
    await call.hangup();
    await clock.advanceAsync(200);
    await app.bridge.get(call.callId)?.end('test over');
    expect(await app.store.calls.get(call.callId)).toMatchObject({ state: 'completed', outcome: 'caller-hung-up' });

    // The stuck attempt ends at the timeout, on the clock, and the report waits for its retry.
    await until(async () => (await reportOf('c-stuck'))?.attempts === 1, 'the stuck attempt to time out', REPORT_TIMEOUT_MS + 5_000);
    expect(await reportOf('c-stuck')).toMatchObject({ status: 'pending', lastStatus: null, lastError: `no answer within ${REPORT_TIMEOUT_MS} ms` });
  });

  it('an agent that asks for call.started gets a signed notice while the call is live, then the report when it ends', async () => {
    receiver = await startReceiver(() => 200);
    app = await start({});
    await app.store.agents.upsert(agentSchema.parse({ id: 'front', name: 'Front desk', report: { url: receiver.url, callStarted: true } }), 'api');
    await app.store.calls.record({ id: 'c-live', direction: 'inbound', from: '+19195550100', to: '+19195550177', agentId: 'front', mode: 'stream', state: 'streaming' });
    await until(() => receiver!.received.length >= 1, 'the call.started notice');
    const started = (await verify(app, receiver.received[0]!)) as unknown as { type: string; data: { call: { id: string; state: string }; agent: { id: string } } };
    expect(started).toMatchObject({ type: 'call.started', data: { call: { id: 'c-live', state: 'streaming' }, agent: { id: 'front' } } });
    await app.store.calls.record({ id: 'c-live', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });
    await until(() => receiver!.received.length >= 2, 'the report');
    const ended = await verify(app, receiver.received[1]!);
    expect(ended.type).toBe('call.ended');
    expect(receiver.received[1]!.headers['webhook-id']).not.toBe(receiver.received[0]!.headers['webhook-id']);
    await until(async () => (await app!.store.reports.list({ callId: 'c-live', limit: 5 })).every((r) => r.status === 'delivered'), 'both to be marked delivered');
    expect((await app.store.reports.list({ callId: 'c-live', limit: 5 })).map((r) => [r.event, r.status]).sort()).toEqual([
      ['call.ended', 'delivered'],
      ['call.started', 'delivered'],
    ]);
  });

  it('410 Gone is final; an agent may name its own URL; with no URL at all the report is kept as skipped', async () => {
    const gone = await startReceiver(() => 410);
    receiver = await startReceiver(() => 200);
    try {
      app = await start({ REPORT_URL: gone.url });
      await app.store.agents.upsert(agentSchema.parse({ id: 'sales', name: 'Sales', report: { url: receiver.url } }), 'api');
      await endedCall(app, 'c-gone');
      await endedCall(app, 'c-sales', 'sales');
      await until(async () => (await reportOf('c-gone'))?.status === 'failed' && (await reportOf('c-sales'))?.status === 'delivered', 'both reports to settle');
      expect(await reportOf('c-gone')).toMatchObject({ attempts: 1, lastStatus: 410 });
      expect(gone.received).toHaveLength(1);
      expect(receiver.received).toHaveLength(1);
      expect((await verify(app, receiver.received[0]!)).data.agent).toEqual({ id: 'sales', name: 'Sales', model: 'gpt-realtime-2.1' });
      await clock.advanceAsync(60_000, 5_000);
      expect(gone.received).toHaveLength(1); // never again

      await app.close(0);
      app = await start({});
      await endedCall(app, 'c-nowhere');
      await until(async () => (await reportOf('c-nowhere'))?.status === 'skipped', 'the report to be skipped');
      expect(await reportOf('c-nowhere')).toMatchObject({ attempts: 0, lastError: expect.stringMatching(/no REPORT_URL/) });
    } finally {
      await gone.close();
    }
  });
});

describe('the report outbox in the store', () => {
  it('a report is enqueued in the write that ends the call (final state, outcome set), due once its last leg has ended too', async () => {
    const store = SqliteStore.open(':memory:');
    const dueAfterMs = (r: { nextAttemptAt: string; updatedAt: string }) => Date.parse(r.nextAttemptAt) - Date.parse(r.updatedAt);
    try {
      await store.calls.record({ id: 'a', state: 'streaming' });
      await store.calls.record({ id: 'b', parentCallId: 'a', leg: 'transfer', state: 'transferred', outcome: { outcome: 'transferred', reason: 'answered at sales' } });
      await store.calls.record({ id: 'a', state: 'completed', cause: 'hangup' });
      // The transfer leg is still up: the report waits for its end, at most REPORT_LEGS_WAIT_MS.
      const [waiting] = await store.reports.list({ limit: 10 });
      expect(waiting).toMatchObject({ callId: 'a', event: 'call.ended', status: 'pending', attempts: 0, body: null });
      expect(dueAfterMs(waiting!)).toBe(REPORT_LEGS_WAIT_MS);
      await store.calls.record({ id: 'b', state: 'completed', cause: 'hangup' });
      const [report] = await store.reports.list({ limit: 10 });
      expect(report).toMatchObject({ id: waiting!.id, callId: 'a', event: 'call.ended', status: 'pending', attempts: 0, body: null });
      expect(dueAfterMs(report!)).toBe(REPORT_SETTLE_MS); // the last leg ended: due once it has settled
      expect(report!.id).toMatch(/^msg_/);
      await store.calls.record({ id: 'a', state: 'completed', outcome: outcomeAtEnd('hangup') });
      expect(await store.reports.list({ limit: 10 })).toHaveLength(1); // once per call

      // A call closed out after a crash has ended too: its report is enqueued with the close-out.
      await store.calls.record({ id: 'orphan', state: 'streaming', mediaOwner: 'sb-1' });
      await store.calls.closeOutOrphans('sb-1', { cause: 'server-restarted', errorMessage: 'the server stopped', endedAt: new Date().toISOString(), eventType: 'call.closed-out' });
      expect(await store.reports.list({ callId: 'orphan', limit: 1 })).toEqual([expect.objectContaining({ status: 'pending' })]);
    } finally {
      await store.close();
    }
  });
});
