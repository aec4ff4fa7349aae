import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { ManualClock, settleIo, waitFor } from '../../src/clock';
import { SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { createLogger } from '../../src/log';
import { PostgresStore } from '../../src/store/postgres';
import { SqliteStore } from '../../src/store/sqlite';
import type { CallRecord, Store } from '../../src/store/types';
import { CLUSTER_CREDENTIALS, Cluster, dialAll, type StoreBackend } from '../helpers/cluster';
import { standInEnv } from '../helpers/server';
import { postgresAvailable, testDatabase, type TestDatabase } from '../helpers/postgres';
import { deliverSipCall } from '../helpers/sip';
import { eventually, traceWith } from '../helpers/eventually';
import { agentSchema } from '../../src/agents/agent';

const HUMAN = '+19195550177';
/** How long a step of call time waits for the callbacks in flight: Bandwidth's own wait for an answer (BW §1.7). */
const CALLBACK_ANSWER_WAIT_MS = 15_000;
const WEBHOOK_SECRET = `whsec_${Buffer.from('two-instances-signing-key-of-some-length').toString('base64')}`;
const HELD_NUMBER = '+19195550111';
const SUMMARY = 'Wants a refund for order A7.';
const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: SUMMARY } };

/**
 * Two Switchboard instances on one store behind a round-robin proxy (docs/architecture.md, "Several
 * instances"), with Bandwidth's caller and REST API and OpenAI Realtime as the stand-ins on one ManualClock.
 * Callbacks alternate between the instances; each call's media lands where its session was pre-warmed.
 */

/** The in-process store both instances share today (SQLite's channels are in-process: src/store/local-feeds.ts). */
const SHARED_SQLITE = 'one SQLite store object shared in-process';
function sharedSqlite(): StoreBackend {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-cluster-'));
  const store = SqliteStore.open(path.join(dir, 'switchboard.db'));
  return {
    name: SHARED_SQLITE,
    storeFor: async () => store,
    released: async () => undefined,
    close: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * PostgreSQL, as instances in separate processes use it: each instance its own PostgresStore (its own pool and
 * LISTEN connection) on one fresh database, so the bus and the change feed cross between them over NOTIFY.
 */
const POSTGRES = 'PostgreSQL, each instance its own store';
let pgServer: TestDatabase | undefined;
afterAll(async () => pgServer?.close());
function postgresPerInstance(): StoreBackend {
  const open = new Set<Store>();
  let db: TestDatabase | undefined;
  const url = async () => {
    pgServer ??= await testDatabase();
    db ??= await pgServer!.another();
    return db.url;
  };
  return {
    name: POSTGRES,
    storeFor: async () => {
      const store = await PostgresStore.open(await url(), { logger: createLogger('silent') });
      open.add(store);
      return store;
    },
    // A dead process's connections drop: its LISTEN ends with them.
    released: async (_instance, store) => {
      open.delete(store);
      await store.close();
    },
    close: async () => {
      for (const store of open) await store.close();
      open.clear();
      await db?.close();
    },
  };
}

const BACKENDS: [name: string, make: () => StoreBackend][] = [[SHARED_SQLITE, sharedSqlite], ...(postgresAvailable() ? [[POSTGRES, postgresPerInstance] as [string, () => StoreBackend]] : [])];

/** Greeting long enough to be barged into at 1.5 s; the caller's turn asks for a person; the agent says so and transfers. */
function script(n: number): ResponsePlan {
  if (n === 1) return { text: 'Hello, Acme billing, this is the assistant, how can I help you today?', audioMs: 3000 };
  if (n === 2) return { functionCall: TRANSFER };
  if (n === 3) return { text: 'Of course, transferring you to a person now.', audioMs: 1200 };
  return { text: 'Anything else?', audioMs: 800 };
}

/** The instance a call's StartStream destination names (its INSTANCE_PUBLIC_URL): the one that pre-warmed it. */
function prewarmedBy(call: SimulatedCall): string {
  const destination = /destination="([^"]+)"/.exec(call.initiateBxml!.xml)![1]!;
  return /\/instances\/([a-z]+)\/media\//.exec(destination)![1]!;
}

describe.each(BACKENDS)('two instances behind one address: %s', (backendName, makeBackend) => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let rest: BandwidthRestStandIn;
  let cluster: Cluster;
  let store: Store;
  /** Every call this case dialled: their callbacks in flight hold call time (see `advance`). */
  let dialled: SimulatedCall[];

  beforeEach(async () => {
    dialled = [];
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: (ctx) => script(ctx.n), transcribe: () => 'I want to talk to a person about my bill.' });
    rest = await startBandwidthRestStandIn();
    const backend = makeBackend();
    store = await backend.storeFor('test');
    cluster = await Cluster.start(['a', 'b'], backend, { ...standInEnv(openai.url, rest, HUMAN), OPENAI_WEBHOOK_SECRET: WEBHOOK_SECRET }, clock);
  });
  afterEach(async () => {
    await cluster?.close();
    await rest?.close();
    await openai?.close();
  });

  /**
   * Call time stands still while a callback is in flight: Bandwidth waits for the answer (up to 15 s, BW §1.7)
   * and its call goes on only after it, so each step first lets every callback sent so far be answered. On
   * SQLite an answer takes a few event-loop turns; on PostgreSQL each of the callback's reads and writes is a
   * round trip (a transferComplete is several, hundreds of ms on a busy machine). Advancing regardless, the
   * calls' time ran on by seconds while an answer was on its way, and a call had its whole budget used up
   * before its transferComplete came back: that answer was late, not lost.
   */
  const answered = async () => {
    await settleIo();
    await waitFor(() => dialled.every((c) => c.callbacksInFlight === 0), CALLBACK_ANSWER_WAIT_MS, 'every callback in flight to be answered');
  };
  const advance = (ms: number) => clock.advanceAsync(ms, 20, answered);
  /**
   * Move the clock on in small steps until `condition` holds (at most `maxMs` of call time): a callback that
   * took real time on a slower store must not find the clock already past the timers it set.
   */
  async function until(condition: () => boolean, what: string, maxMs = 20_000): Promise<void> {
    for (let ms = 0; !condition(); ms += 50) {
      if (ms >= maxMs) throw new Error(`${what}: not within ${maxMs} ms of call time`);
      await advance(50);
    }
  }

  function caller(i: number, options: Partial<ConstructorParameters<typeof SimulatedCall>[0]> = {}): SimulatedCall {
    const call = cluster.caller({
      from: `+1919555${String(2000 + i)}`,
      audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: i + 1 }),
      transfer: () => ({ outcome: 'answered', ringMs: 2000, talkMs: 4000 }),
      ...options,
    });
    rest.attach(call);
    dialled.push(call);
    return call;
  }

  /** Caller legs in the store. */
  async function callerLegs(): Promise<CallRecord[]> {
    return (await store.calls.list({ limit: 500 })).items;
  }

  // Twenty calls over real sockets take a few seconds of real time on a busy machine.
  it('20 calls whose callbacks alternate between the instances all get greeting, barge-in, transfer and disconnect, one record each', async () => {
    const calls = Array.from({ length: 20 }, (_, i) => caller(i));
    await dialAll(calls, 400, advance);
    // Each stream went to the instance named in its StartStream destination: the one that pre-warmed it.
    for (const call of calls) expect(cluster.holderOf(call.callId)?.name).toBe(prewarmedBy(call));
    expect(cluster.get('a').app.bridge.lateAttaches + cluster.get('b').app.bridge.lateAttaches).toBe(0);

    await advance(6500); // greeting barged into at 1.5 s, the caller's turn, the agent's transferring sentence
    await until(() => rest.requests.filter((r) => r.operation === 'updateCall').length === 20, 'every transfer redirect');
    await advance(8000); // ring 2 s, whisper, talk 4 s, transferComplete
    await rest.idle();
    await until(() => calls.every((c) => c.ended !== undefined), 'every call to end');

    for (const call of calls) {
      expect(call.heard.firstHeardMs).toBeDefined(); // the greeting
      expect(call.receivedOf('clear').length).toBeGreaterThanOrEqual(1); // barge-in
      expect(call.transfers[0]?.outcome).toBe('answered');
      expect(call.transfers[0]!.whisper!.texts.join(' ')).toContain(SUMMARY);
      const disconnect = call.callbacksOf('disconnect');
      expect(disconnect.map((c) => c.status)).toEqual([204]);
      expect(call.callbacks.every((c) => c.status !== undefined && c.status < 300)).toBe(true);
      const events = (await store.events.list(call.callId)).map((e) => e.type);
      expect(events).toContain('bridge.barge-in');
      expect(events).toContain('transferComplete');
    }
    // One stored record per call, each ended by its transfer, each with one outcome.
    const legs = await callerLegs();
    expect(legs.map((c) => c.id).sort()).toEqual(calls.map((c) => c.callId).sort());
    for (const leg of legs) expect(leg).toMatchObject({ state: 'completed', outcome: 'transferred', mediaOwner: null });

    // The proxy alternated: both instances answered initiates, and both answered the other callbacks.
    const voice = cluster.proxy.served.filter((r) => r.path.startsWith('/bandwidth/voice/'));
    for (const name of ['a', 'b']) {
      expect(voice.filter((r) => r.backend === name && r.path.endsWith('/initiate')).length).toBeGreaterThan(0);
      expect(voice.filter((r) => r.backend === name).length).toBeGreaterThan(voice.length / 4);
    }
    // Every media socket went to the instance its prefix named.
    expect(cluster.proxy.served.filter((r) => r.upgrade).length).toBe(20);
  }, 90_000);

  it('a key press and a hang-up that land on the other instance reach the session where the media is', async () => {
    const call = caller(0, { audio: undefined });
    await dialAll([call], 400, advance);
    await advance(500);
    const holder = cluster.holderOf(call.callId)!;
    const other = holder.name === 'a' ? cluster.get('b') : cluster.get('a');
    await eventually(async () => (await store.calls.get(call.callId))?.mediaOwner === holder.name, 'the holder recorded as the owner');

    const body = (eventType: string, extra: Record<string, unknown> = {}) => ({
      eventType,
      callId: call.callId,
      accountId: '9901234',
      applicationId: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47',
      from: call.from,
      to: call.to,
      direction: 'inbound',
      eventTime: new Date().toISOString(),
      ...extra,
    });
    const press = await cluster.post(other.name, 'dtmf', body('dtmf', { digit: '7' }));
    expect(press.status).toBe(204);
    await waitFor(() => holder.app.liveCalls.received === 1, 5000, 'the key press to reach the holder');
    expect(other.app.liveCalls.forwarded).toBe(1);
    await traceWith(store, call.callId, 'caller.key-press'); // the session on the holder took it
    const events = await traceWith(store, call.callId, 'dtmf');
    expect((events.find((e) => e.type === 'dtmf')!.data as { switchboard: { delivered: boolean } }).switchboard.delivered).toBe(true);

    // Bandwidth's disconnect reaches the other instance: the holder's session ends and lets go of the media.
    const hangup = await cluster.post(other.name, 'status', body('disconnect', { cause: 'hangup', startTime: new Date().toISOString(), endTime: new Date().toISOString() }));
    expect(hangup.status).toBe(204);
    await waitFor(() => holder.app.bridge.get(call.callId) === undefined, 5000, 'the holder to end the session');
    expect(holder.app.liveCalls.received).toBe(2);
    await waitFor(() => !call.connected, 5000, 'the media socket to close');
    await advance(100);
    await eventually(async () => (await store.calls.get(call.callId))?.mediaOwner === null, 'the media let go');
    expect(await store.calls.get(call.callId)).toMatchObject({ state: 'completed', mediaOwner: null });
  });

  it('a media stream the proxy sends to the other instance is answered there: its own session, a late greeting, counted', async () => {
    cluster.proxy.misroute = true;
    const calls = [caller(0), caller(1)];
    await dialAll(calls, 400, advance);
    await advance(1000);
    // Each stream is on the instance that did not pre-warm it, answered there by a session of its own.
    const misrouted = calls.filter((call) => prewarmedBy(call) !== cluster.holderOf(call.callId)?.name);
    expect(misrouted).toHaveLength(2);
    expect(cluster.get('a').app.bridge.lateAttaches + cluster.get('b').app.bridge.lateAttaches).toBe(2);
    // And in each instance's metrics, as an operator sees it (docs/operations.md).
    const scraped = await Promise.all(['a', 'b'].map((name) => cluster.get(name).app.metrics!.scrape()));
    const lateIn = (text: string) => Number(/^switchboard_late_attaches_total\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
    expect(scraped.map(lateIn).reduce((sum, n) => sum + n, 0)).toBe(2);
    for (const call of calls) {
      expect(call.heard.firstHeardMs).toBeDefined();
      await eventually(async () => (await store.calls.get(call.callId))?.mediaOwner === cluster.holderOf(call.callId)!.name, 'the late holder recorded as the owner');
    }
    // The pre-warmed session left behind on the other instance gives up without taking the call's ownership with it.
    for (const call of misrouted) {
      const holder = cluster.holderOf(call.callId)!.name;
      const warmed = cluster.get(holder === 'a' ? 'b' : 'a').app.bridge.get(call.callId)!;
      expect(warmed.state).toBe('prewarming');
      warmed.end('the media stream never arrived');
      await advance(20);
      expect((await store.calls.get(call.callId))?.mediaOwner).toBe(holder);
    }
    for (const call of calls) await call.hangup();
  });

  it('a caller back from a failed transfer is resumed where the new stream lands, also on an instance that did not pre-warm it', async () => {
    const lateAttaches = () => cluster.get('a').app.bridge.lateAttaches + cluster.get('b').app.bridge.lateAttaches;
    /** A call whose human is busy: back with the agent on a second stream. `misroute` sends that stream astray. */
    async function returningCall(i: number, misroute: boolean): Promise<SimulatedCall> {
      const call = caller(i, { transfer: () => ({ outcome: 'busy', ringMs: 1500 }) });
      await dialAll([call], 400, advance);
      await advance(6500);
      await until(() => call.transfers.length === 1, 'the transfer');
      cluster.proxy.misroute = misroute;
      await advance(2000); // busy after 1.5 s: transferComplete answers a new stream
      await until(() => call.streams.length === 2 && cluster.holderOf(call.callId) !== undefined, 'the caller back with the agent');
      cluster.proxy.misroute = false;
      await advance(1500);
      return call;
    }
    const resumedNotes = async (call: SimulatedCall) => (await store.events.list(call.callId)).filter((e) => e.type === 'model.resumed').map((e) => (e.data as { note: string }).note);
    const prewarmedAt = (call: SimulatedCall) => /\/instances\/([a-z]+)\/media\//.exec(call.documents.find((d) => d.eventType === 'transferComplete')!.xml)![1]!;

    // The instance that answered transferComplete pre-warmed the resumed session, and the stream went there.
    const straight = await returningCall(0, false);
    expect(cluster.holderOf(straight.callId)?.name).toBe(prewarmedAt(straight));
    expect(lateAttaches()).toBe(0);
    expect(await resumedNotes(straight)).toEqual([expect.stringMatching(/did not go through: the line was busy/)]);

    // Sent to the other instance, the stream is answered there late, and the agent still resumes with the reason.
    const astray = await returningCall(1, true);
    expect(cluster.holderOf(astray.callId)?.name).not.toBe(prewarmedAt(astray));
    expect(lateAttaches()).toBe(1);
    // (The session pre-warmed on the other instance primed itself too, for nobody: it times out.)
    expect(await resumedNotes(astray)).toContainEqual(expect.stringMatching(/^The transfer did not go through \(transfer to .+ failed \(busy/));
    const session = openai.sessions[openai.sessions.length - 1]!;
    expect(session.received.filter((e) => e.type === 'conversation.item.create').length).toBeGreaterThanOrEqual(3); // the conversation so far, then the note
    expect(astray.heard.segments.some((s) => s.startMs >= astray.streams[1]!.startedAtMs)).toBe(true);

    for (const call of [straight, astray]) await call.hangup();
  });

  it('an admin hang-up of an openai-sip call taken by the other instance ends it, and its session there', async () => {
    const base = (await store.agents.get('default'))!.agent;
    await store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' } }), 'api');
    await store.numbers.assign('+19195550100', 'sipper');
    await deliverSipCall({ url: cluster.get('a').app.localUrl }, openai, WEBHOOK_SECRET, 'rtc_admin');
    expect((await store.calls.get('rtc_admin'))?.mediaOwner).toBe('a');
    const res = await fetch(`${cluster.get('b').app.localUrl}/api/calls/rtc_admin/hangup`, { method: 'POST', headers: { authorization: `Bearer ${CLUSTER_CREDENTIALS.ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ callId: 'rtc_admin', result: 'completed' });
    expect(openai.sipCalls.get('rtc_admin')!.state).toBe('ended');
    // OpenAI closes the sideband; the session on the instance that took the call ends and lets the call go.
    for (let i = 0; i < 100 && (await store.calls.get('rtc_admin'))?.mediaOwner !== null; i++) await advance(20);
    const call = await store.calls.get('rtc_admin');
    expect(call).toMatchObject({ state: 'completed', outcome: 'ended-by-operator', mediaOwner: null });
    expect(rest.requests.filter((r) => r.operation === 'updateCall')).toHaveLength(0); // not a Bandwidth call
  });

  it('a media token used on one instance is refused on the other', async () => {
    const call = caller(0);
    rest.attach(call);
    // Only initiate: take the StartStream destination and credentials, and open the socket by hand.
    const res = await fetch(`${cluster.proxy.url}/bandwidth/voice/initiate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${CLUSTER_CREDENTIALS.BANDWIDTH_CALLBACK_USERNAME}:${CLUSTER_CREDENTIALS.BANDWIDTH_CALLBACK_PASSWORD}`).toString('base64')}` },
      body: JSON.stringify({ eventType: 'initiate', callId: 'c-token-test', accountId: '9901234', applicationId: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47', from: '+19195552000', to: '+19195550100', direction: 'inbound', startTime: new Date().toISOString(), eventTime: new Date().toISOString() }),
    });
    const xml = await res.text();
    const destination = /destination="([^"]+)"/.exec(xml)![1]!;
    const password = /destinationPassword="([^"]+)"/.exec(xml)![1]!;
    const token = destination.split('/media/')[1]!;
    const auth = `Basic ${Buffer.from(`${/destinationUsername="([^"]+)"/.exec(xml)![1]}:${password}`).toString('base64')}`;
    const open = (name: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${cluster.get(name).app.localUrl.replace('http', 'ws')}/media/${token}`, { headers: { authorization: auth } });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0));
        ws.on('error', () => resolve(-1));
      });
    expect(await open('a')).toBe(101);
    expect(await open('b')).toBe(401);
    expect(await open('a')).toBe(401);
    expect(cluster.get('b').app.media.rejected).toBe(1);
  });

  it('killing one instance mid-call sends its calls to their fallback while the other serves new calls; restarted, it closes out exactly its calls', async () => {
    // A second agent holds its stream with <Pause>: when its socket dies, Bandwidth asks nobody (DESIGN §4.1),
    // so only the instance that held it can close it out after the crash.
    const admin = { 'content-type': 'application/json', authorization: `Bearer ${CLUSTER_CREDENTIALS.ADMIN_TOKEN}` };
    expect((await fetch(`${cluster.proxy.url}/api/agents`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'held', name: 'Held line', streamHold: 'pause' }) })).status).toBe(201);
    expect((await fetch(`${cluster.proxy.url}/api/numbers`, { method: 'POST', headers: admin, body: JSON.stringify({ number: HELD_NUMBER, agentId: 'held' }) })).status).toBe(201);

    const quiet = { audio: undefined, transfer: () => ({ outcome: 'answered' as const, ringMs: 1000, talkMs: 60_000 }) };
    const calls = [...Array.from({ length: 6 }, (_, i) => caller(i, quiet)), ...Array.from({ length: 4 }, (_, i) => caller(10 + i, { ...quiet, to: HELD_NUMBER }))];
    await dialAll(calls, 400, advance);
    await advance(500);
    const onA = calls.filter((c) => cluster.holderOf(c.callId)?.name === 'a');
    const onB = calls.filter((c) => cluster.holderOf(c.callId)?.name === 'b');
    expect(onA.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);
    expect(onA.length + onB.length).toBe(calls.length);
    const held = (c: SimulatedCall) => c.to === HELD_NUMBER;

    await cluster.kill('a');
    await waitFor(() => onA.every((c) => !c.connected), 5000, 'the dead instance’s media sockets to drop');
    await advance(1500);
    await until(() => onA.filter((c) => !held(c)).every((c) => c.afterStream !== undefined), 'Bandwidth to ask what next');
    await advance(1500);

    // Its stop-stream calls were answered by the survivor with their fallback (apology, then the human).
    for (const call of onA.filter((c) => !held(c))) {
      expect(call.afterStream!.xml).toContain('sb:fallback');
      expect(await store.calls.get(call.callId)).toMatchObject({ outcome: 'fallback', mediaOwner: null });
    }
    // Its Pause-held calls sit where the crash left them, still recorded as its own.
    for (const call of onA.filter(held)) expect((await store.calls.get(call.callId))?.mediaOwner).toBe('a');
    // The survivor's calls go on, and it takes new ones (every callback and stream now goes to it).
    for (const call of onB) expect(call.connected).toBe(true);
    const fresh = [caller(30), caller(31)];
    await dialAll(fresh, 400, advance);
    await advance(1000);
    for (const call of fresh) {
      expect(cluster.holderOf(call.callId)?.name).toBe('b');
      expect(call.heard.firstHeardMs).toBeDefined();
    }

    // Restarted under the same INSTANCE_ID: it closes out the calls it held and nobody took over, nothing else.
    const before = new Map((await Promise.all(calls.map((c) => store.calls.get(c.callId)))).map((r) => [r!.id, r!]));
    await cluster.restart('a');
    const closedOut = (await callerLegs()).filter((c) => c.cause === 'server-restarted').map((c) => c.id).sort();
    expect(closedOut).toEqual(onA.filter(held).map((c) => c.callId).sort());
    for (const call of [...onB, ...fresh]) expect((await store.calls.get(call.callId))?.state).toBe(before.get(call.callId)?.state ?? 'streaming');
    for (const call of onA.filter((c) => !held(c))) expect((await store.calls.get(call.callId))?.cause).not.toBe('server-restarted');

    for (const call of [...calls, ...fresh]) if (!call.ended) await call.hangup();
  });
});
