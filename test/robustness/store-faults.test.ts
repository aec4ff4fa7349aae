import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, waitFor } from '../../src/clock';
import { MULAW_BYTES_PER_MS } from '../../src/constants';
import { SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { SqliteStore } from '../../src/store/sqlite';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';
import { bxml } from '../helpers/bxml';
import { percentile, recordFigures, round2, sleep, Tally } from './harness';

/**
 * The store never stalls live calls (docs/reliability.md): a write lock held for 8 s by another process
 * during a live call, and a full disk. Both run on the real clock with the real waits (3 s callback commit
 * wait, 2 s read wait): the promise is about real time, so this is measured, not simulated.
 */
const LOCK_HELD_MS = 8000;
/** Bandwidth waits this long for a callback's answer (BW §1.7); past it the call has no BXML and drops. */
const BANDWIDTH_CALLBACK_TIMEOUT_MS = 15_000;

const readiness = async (server: TestServer) => {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, store: ((await res.json()) as { checks: { store: boolean } }).checks.store };
};

/** POSTs a callback and times its answer. */
async function timedPost(server: TestServer, route: string, body: unknown): Promise<{ status: number; ms: number }> {
  const startedMs = performance.now();
  const res = await server.post(route, body);
  await res.text();
  return { status: res.status, ms: performance.now() - startedMs };
}

describe('a write lock held for 8 s by another process during a live call', () => {
  let openai: RealtimeStandIn;
  let server: TestServer;
  afterAll(async () => {
    await server?.close();
    await openai?.close();
  });

  it('no media stall, no 5xx, /readyz honest, every write lands after', async () => {
    openai = await startRealtimeStandIn({
      chunkMs: 100,
      script: (ctx) => ({ text: ctx.n === 1 ? 'Thanks for calling, this is a long greeting.' : 'Sure, I can help with that.', audioMs: ctx.n === 1 ? 12_000 : 4000 }),
      transcribe: () => 'I need a plumber.',
    });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: 'Thanks for calling.' });
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    // The caller speaks in the middle of the lock: barge-in, a transcript item and a reply all happen while the store cannot write.
    const call = await dialThroughSetup(new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, streamSetupMs: 200, audio: speechLikeAudio({ startMs: 4500, durationMs: 1000, seed: 5 }) }), 200, sleep);
    await sleep(1000);
    const eventsBeforeLock = (await server.app.store.events.list(call.callId)).length;

    const other = new Database(path.join(server.dataDir, 'switchboard.db'));
    const lockedAtMs = systemClock.now(); // the caller's clock: its timestamps are compared with this
    other.prepare('BEGIN IMMEDIATE').run();
    const callbacks: { status: number; ms: number }[] = [];
    const readyDuringLock: boolean[] = [];
    const callIds: string[] = [];
    let releasedAtMs = 0;
    try {
      const sendBatch = async (n: number, from: number) => {
        const batch = Array.from({ length: n }, (_, i) => `c-locked-${from + i}`);
        callIds.push(...batch);
        callbacks.push(...(await Promise.all(batch.map((callId) => timedPost(server, 'initiate', { ...callbackFixture('initiate'), callId })))));
      };
      const first = sendBatch(4, 0);
      await sleep(300);
      readyDuringLock.push((await readiness(server)).store);
      await first;
      await sleep(1000);
      await sendBatch(3, 4); // the second batch: answered within the 3 s commit wait, the lock still held
      readyDuringLock.push((await readiness(server)).store);
      const left = LOCK_HELD_MS - (systemClock.now() - lockedAtMs);
      if (left > 0) await sleep(left);
      readyDuringLock.push((await readiness(server)).store);
    } finally {
      other.prepare('COMMIT').run();
      other.close();
      releasedAtMs = systemClock.now();
    }
    let ready = await readiness(server);
    for (let i = 0; i < 200 && ready.status !== 200; i++) {
      await sleep(10);
      ready = await readiness(server);
    }
    const readyAfterMs = systemClock.now() - releasedAtMs;
    await sleep(1500); // the reply plays on past the lock
    await call.hangup();
    await waitFor(() => server.app.bridge.get(call.callId) === undefined, 5000, 'the call to end');

    // Media: the server paces playAudio in real time (DESIGN §4.4), one message per model delta, so a stall is a
    // message later than the audio before it lasted: the gap minus the previous message's duration (8 bytes per ms).
    // A barge-in (a clear, then the model's latency) is not a stall and is left out.
    const playAudio = call.received.filter((m) => m.kind === 'playAudio');
    const clears = call.received.filter((m) => m.kind === 'clear').map((m) => m.atMs);
    const gapsMs: number[] = [];
    const lateMs: number[] = [];
    const lateDuringLockMs: number[] = [];
    for (let i = 1; i < playAudio.length; i++) {
      const a = playAudio[i - 1]!;
      const b = playAudio[i]!;
      if (clears.some((c) => c >= a.atMs && c <= b.atMs)) continue;
      const gap = b.atMs - a.atMs;
      const late = Math.max(0, gap - (a.queuedBytes ?? 0) / MULAW_BYTES_PER_MS);
      gapsMs.push(gap);
      lateMs.push(late);
      if (b.atMs >= lockedAtMs && b.atMs <= releasedAtMs) lateDuringLockMs.push(late);
    }
    // And what the caller heard: a pause inside the audio (not at a clear) would be a stall the caller hears.
    const segments = call.heard.segments;
    const heardPausesMs = segments.slice(1).map((s, i) => s.startMs - segments[i]!.endMs).filter((gap, i) => gap > 0 && !clears.some((c) => c >= segments[i]!.endMs - 40 && c <= segments[i + 1]!.startMs));

    // Every write of the lock window landed: the callbacks' calls and their events, and the live call's own.
    for (const callId of callIds) {
      expect(await server.app.store.calls.get(callId)).toMatchObject({ state: expect.any(String) });
      expect((await server.app.store.events.list(callId)).map((e) => e.type)).toContain('initiate');
    }
    const transcript = await server.app.store.transcripts.list(call.callId);
    const events = await server.app.store.events.list(call.callId);
    const statuses = new Tally();
    for (const c of callbacks) statuses.add(c.status);

    recordFigures('store-lock', {
      lockHeldMs: round2(releasedAtMs - lockedAtMs), playAudioMessages: playAudio.length, gapsMeasured: gapsMs.length, duringLock: lateDuringLockMs.length,
      gapP50Ms: round2(percentile(gapsMs, 50)), gapMaxMs: round2(Math.max(...gapsMs)),
      lateP50Ms: round2(percentile(lateMs, 50)), lateP99Ms: round2(percentile(lateMs, 99)), lateMaxMs: round2(Math.max(...lateMs)),
      lateDuringLockP99Ms: round2(percentile(lateDuringLockMs, 99)), lateDuringLockMaxMs: round2(Math.max(...lateDuringLockMs)), heardPauses: heardPausesMs.length,
      callbacksDuringLock: callbacks.length, callbackStatuses: statuses.counts, callbackMaxMs: round2(Math.max(...callbacks.map((c) => c.ms))),
      readyDuringLock, readyAgainAfterMs: round2(readyAfterMs), eventsBeforeLock, eventsAtEnd: events.length, transcriptItems: transcript.length,
    });
    expect(statuses.atLeast(500)).toBe(0);
    expect(callbacks.every((c) => c.status === 200)).toBe(true);
    expect(readyDuringLock).toEqual([false, false, false]);
    expect(ready).toEqual({ status: 200, store: true });
    expect(lateDuringLockMs.length).toBeGreaterThan(40); // audio was playing through the lock
    expect(percentile(lateDuringLockMs, 99)).toBeLessThan(50);
    expect(percentile(lateMs, 99)).toBeLessThan(50);
    expect(heardPausesMs).toEqual([]);
    expect(transcript.map((t) => t.role)).toEqual(expect.arrayContaining(['agent', 'caller']));
    expect(events.length).toBeGreaterThan(eventsBeforeLock);
  });
});

/**
 * A full disk: DATA_DIR on a small tmpfs filled to the last byte (root can mount one here; elsewhere SQLite's
 * own quota, `PRAGMA max_page_count` on the server's connection, stands in for it, as in test/store/store-faults.test.ts).
 */
function mountTmpfs(sizeBytes: number): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    fs.rmdirSync(dir);
    return undefined;
  }
}

function fillDisk(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
      try {
        for (;;) fs.writeSync(fd, chunk.subarray(0, n));
      } catch {
        // that size no longer fits; try a smaller one
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

describe('a full disk', () => {
  let mount: string | undefined;
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.close();
    if (mount) {
      execFileSync('umount', [mount]);
      fs.rmdirSync(mount);
    }
  });

  it('callbacks keep being answered, /readyz fails, and every write lands once space returns', async () => {
    mount = mountTmpfs(16 * 1024 * 1024);
    const dataDir = mount ? path.join(mount, 'data') : undefined;
    server = await startTestServer(
      { AGENT_MODE: 'sip-forward', AGENT_SIP_TARGET: 'sip:agent@sip.example.com', AGENT_SIP_VERB: 'forward', ...(dataDir ? { DATA_DIR: dataDir } : {}) },
    );
    const db = path.join(dataDir ?? server.dataDir, 'switchboard.db');
    let free: () => void;
    if (mount) {
      // An empty WAL, so the next commit must grow a file; then not one byte left on the device.
      const other = new Database(db);
      other.pragma('wal_checkpoint(TRUNCATE)');
      other.close();
      const filler = fillDisk(mount);
      free = () => fs.rmSync(filler);
    } else {
      const conn = (server.app.store as unknown as { db: Database.Database }).db;
      conn.pragma(`max_page_count = ${conn.pragma('page_count', { simple: true }) as number}`);
      free = () => conn.pragma('max_page_count = 1073741823');
    }
    const callIds = Array.from({ length: 24 }, (_, i) => `c-full-${i}`);
    const answers: { status: number; ms: number }[] = [];
    const readyWhileFull: { status: number; store: boolean }[] = [];
    let lastError: string | undefined;
    try {
      for (let b = 0; b < callIds.length; b += 12) {
        const batch = callIds.slice(b, b + 12);
        answers.push(...(await Promise.all(batch.map((callId) => timedPost(server!, 'initiate', { ...callbackFixture('initiate'), callId, tag: 'x'.repeat(200) })))));
        answers.push(...(await Promise.all(batch.map((callId) => timedPost(server!, 'status', { ...callbackFixture('disconnect'), callId })))));
        readyWhileFull.push(await readiness(server!));
      }
      lastError = (server.app.store as SqliteStore).health.snapshot().lastError ?? undefined;
    } finally {
      free();
    }
    const freedAtMs = performance.now();
    let ready = await readiness(server);
    for (let i = 0; i < 300 && ready.status !== 200; i++) {
      await sleep(10);
      ready = await readiness(server);
    }
    const readyAfterMs = performance.now() - freedAtMs;
    const lost: string[] = [];
    for (const callId of callIds) {
      const row = await server.app.store.calls.get(callId);
      const events = (await server.app.store.events.list(callId)).map((e) => e.type);
      if (row?.state !== 'completed' || events.join() !== 'initiate,disconnect') lost.push(`${callId}: ${row?.state} ${events.join()}`);
    }
    const statuses = new Tally();
    for (const a of answers) statuses.add(a.status);
    recordFigures('store-disk-full', {
      fault: mount ? 'tmpfs 16 MiB filled to ENOSPC' : 'PRAGMA max_page_count (no tmpfs)', callbacks: answers.length, statuses: statuses.counts,
      initiateMaxMs: round2(Math.max(...answers.filter((a) => a.status === 200).map((a) => a.ms))), statusMaxMs: round2(Math.max(...answers.filter((a) => a.status === 204).map((a) => a.ms))), readyWhileFull, lastError, readyAgainAfterMs: round2(readyAfterMs), callsWritten: callIds.length, lost: lost.length,
    });
    expect(statuses.atLeast(500)).toBe(0);
    expect(answers.filter((a, i) => a.status !== (Math.floor(i / 12) % 2 === 0 ? 200 : 204))).toEqual([]);
    expect(readyWhileFull.every((r) => r.status === 503 && r.store === false)).toBe(true);
    expect(lastError).toMatch(/SQLITE_FULL|full/i);
    expect(ready).toEqual({ status: 200, store: true });
    expect(lost).toEqual([]);
  });
});

/**
 * The worst answer time of each callback route that reads before it writes, while the store cannot write
 * (the lock held throughout, writes already waiting): each read waits up to STORE_READ_WAIT_MS and the commit up
 * to CALLBACK_COMMIT_WAIT_MS. The hard bound is Bandwidth's 15 s (BW §1.7); the figures say how close each comes.
 */
describe('callback answer times while the store cannot write', () => {
  let openai: RealtimeStandIn;
  let server: TestServer;
  afterAll(async () => {
    await server?.close();
    await openai?.close();
  });

  it('every route answers within Bandwidth’s 15 s, with its writes landing after', async () => {
    openai = await startRealtimeStandIn({ script: () => ({ text: 'Hello.', audioMs: 400 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', TRANSFER_TO: '+19195550177' });
    const callId = 'c-slow-answers';
    const initiate = await server.post('initiate', { ...callbackFixture('initiate'), callId });
    const streamEndedToken = new URL(bxml(await initiate.text()).one('Redirect').attributes.redirectUrl!).searchParams.get('t')!;
    const other = new Database(path.join(server.dataDir, 'switchboard.db'));
    other.prepare('BEGIN IMMEDIATE').run();
    const timings: Record<string, { status: number; ms: number }> = {};
    try {
      const time = async (name: string, route: string, body: unknown, query?: string) => {
        const startedMs = performance.now();
        const res = await server.post(route, body, query ? { query } : {});
        const text = await res.text();
        timings[name] = { status: res.status, ms: round2(performance.now() - startedMs) };
        return text;
      };
      /** The signed token of a verb attribute in BXML (`transferCompleteUrl="…?t=…"`). */
      const tokenOf = (xml: string, attribute: string) => {
        const url = new RegExp(`${attribute}="([^"]+)"`).exec(xml)?.[1]?.replace(/&amp;/g, '&');
        return url ? new URL(url).searchParams.get('t') ?? '' : '';
      };
      await time('initiate', 'initiate', { ...callbackFixture('initiate'), callId: 'c-slow-other' });
      await time('stream-events (mediaStreamStarted)', 'stream-events', { ...callbackFixture('mediaStreamStarted'), callId });
      await time('stream-events (mediaStreamStopped)', 'stream-events', { ...callbackFixture('mediaStreamStopped'), callId });
      const transferXml = await time('stream-ended (fallback transfer)', 'stream-ended', { ...callbackFixture('redirect'), callId }, `t=${encodeURIComponent(streamEndedToken)}`);
      expect(transferXml).toContain('<Transfer');
      const bLeg = 'c-slow-answers-b';
      const transferBody = (name: string, extra: Record<string, unknown>) => ({ ...callbackFixture(name), ...extra });
      await time('transfer-answer', 'transfer-answer', transferBody('transferAnswer', { callId: bLeg, parentCallId: callId }), `t=${encodeURIComponent(tokenOf(transferXml, 'transferAnswerUrl'))}`);
      await time('transfer-disconnect', 'transfer-disconnect', transferBody('transferDisconnect', { callId: bLeg, parentCallId: callId }), `t=${encodeURIComponent(tokenOf(transferXml, 'transferDisconnectUrl'))}`);
      await time('transfer-complete', 'transfer-complete', transferBody('transferComplete', { callId }), `t=${encodeURIComponent(tokenOf(transferXml, 'transferCompleteUrl'))}`);
      await time('status (disconnect)', 'status', { ...callbackFixture('disconnect'), callId });
    } finally {
      other.prepare('COMMIT').run();
      other.close();
    }
    let call = await server.app.store.calls.get(callId);
    for (let i = 0; i < 300 && call?.state !== 'completed'; i++) {
      await sleep(10);
      call = await server.app.store.calls.get(callId);
    }
    const events = (await server.app.store.events.list(callId)).map((e) => e.type);
    recordFigures('store-callback-answer-times', { timings, eventsAfter: events });
    for (const [name, t] of Object.entries(timings)) {
      expect([name, t.status < 500]).toEqual([name, true]);
      expect([name, t.ms < BANDWIDTH_CALLBACK_TIMEOUT_MS]).toEqual([name, true]);
    }
    expect(call?.state).toBe('completed');
    // Every callback's raw body landed in the timeline once the lock went. The transfer callbacks are there as
    // refusals: see the next test.
    expect(events).toEqual(expect.arrayContaining(['initiate', 'mediaStreamStarted', 'mediaStreamStopped', 'redirect', 'disconnect']));
  });

  /**
   * A transfer begun while the store cannot write: stream-ended answers a <Transfer> whose URLs name a callback
   * context (DESIGN §4.6) still queued behind the lock. Bandwidth's transfer callbacks must find it all the same
   * (the contexts repository reads its uncommitted contexts), not be refused until the lock goes.
   */
  it('a transfer begun while the store cannot write is answered when Bandwidth calls back about it, during the stall', async () => {
    const standIn = await startRealtimeStandIn({ script: () => ({ text: 'Hello.', audioMs: 400 }) });
    const fast = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: standIn.url, PUBLIC_BASE_URL: '', TRANSFER_TO: '+19195550177' }, { storeWaits: { callbackCommitMs: 50, readMs: 50 } });
    try {
      const callId = 'c-transfer-in-stall';
      const initiate = await fast.post('initiate', { ...callbackFixture('initiate'), callId });
      const streamEndedToken = new URL(bxml(await initiate.text()).one('Redirect').attributes.redirectUrl!).searchParams.get('t')!;
      const other = new Database(path.join(fast.dataDir, 'switchboard.db'));
      other.prepare('BEGIN IMMEDIATE').run();
      let complete: () => Promise<Response>;
      try {
        const transfer = await (await fast.post('stream-ended', { ...callbackFixture('redirect'), callId }, { query: `t=${encodeURIComponent(streamEndedToken)}` })).text();
        expect(transfer).toContain('<Transfer');
        const url = /transferCompleteUrl="([^"]+)"/.exec(transfer)![1]!.replace(/&amp;/g, '&');
        complete = () => fast.post('transfer-complete', { ...callbackFixture('transferComplete'), callId }, { query: `t=${encodeURIComponent(new URL(url).searchParams.get('t')!)}` });
        const during = await complete();
        expect(during.status).toBe(200);
        expect(await during.text()).toContain('<Hangup'); // a busy human: the fallback hangs up (no agent to return to without a model)
      } finally {
        other.prepare('COMMIT').run();
        other.close();
      }
      let after = await complete();
      for (let i = 0; i < 100 && after.status !== 200; i++) {
        await sleep(10);
        after = await complete();
      }
      expect(after.status).toBe(200);
    } finally {
      await fast.close();
      await standIn.close();
    }
  });
});
