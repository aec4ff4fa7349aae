import { ManualClock, waitFor } from '../../src/clock';
import { speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ScriptContext } from '../../src/sim/realtime-script';
import { PostgresStore } from '../../src/store/postgres';
import { eventually } from '../helpers/eventually';
import { postgresServerAvailable, startPostgresServer, type PostgresServer } from '../helpers/postgres';
import { callerFor, startTestServer, type TestServer } from '../helpers/server';

const GREETING = 'Hello, this is Acme.';
const REPLY = 'Sure, tell me more.';

/** The greeting is the quoted line of the instructed response; to the caller (VAD) the model replies REPLY. */
function lineScript(ctx: ScriptContext) {
  const quoted = ctx.trigger === 'response.create' ? /"([^"]+)"/.exec(ctx.instructions)?.[1] : undefined;
  return { text: quoted ?? REPLY, audioMs: 1000 };
}

const readiness = async (server: TestServer) => {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, store: ((await res.json()) as { checks: { store: boolean } }).checks.store };
};

/**
 * The database going away never drops a live call (docs/reliability.md, "the store never stalls live calls"):
 * PostgreSQL is stopped mid-call (pg_ctl stop, connections cut), the caller speaks and hears the agent's reply,
 * hangs up and is answered; readiness says the store is not ready meanwhile; once PostgreSQL is back every write
 * of the call lands, in order. A server of the test's own, since it is stopped: PG_TEST_URL's is not ours to stop.
 */
const describeWithOwnServer = postgresServerAvailable() ? describe : describe.skip;

describeWithOwnServer('a PostgreSQL outage mid-call', () => {
  let pg: PostgresServer;
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  beforeAll(async () => {
    pg = await startPostgresServer();
  }, 60_000);
  afterAll(() => pg?.destroy());
  afterEach(async () => {
    try {
      await server?.close();
    } finally {
      await openai?.close();
    }
  });

  it('keeps the call’s audio while the database is down, answers its callbacks, and lands every write once it is back', async () => {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, firstDeltaLatencyMs: 100, script: lineScript, transcribe: () => 'I have a question.' });
    server = await startTestServer(
      { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, AGENT_SILENCE_WATCHDOG: 'false', DATABASE_URL: pg.url },
      { clock, storeWaits: { callbackCommitMs: 50, readMs: 50 } },
    );
    expect(server.app.store).toBeInstanceOf(PostgresStore);
    // The caller speaks at 4 s, once the database is down.
    const call = await dialThroughSetup(callerFor(server, clock, { audio: speechLikeAudio({ startMs: 4000, durationMs: 800, seed: 7 }) }), 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(1500, 20);
    const greetingHeardMs = call.heard.totalMs;
    expect(greetingHeardMs).toBeGreaterThanOrEqual(990);
    await eventually(async () => (await server.app.store.events.list(call.callId)).length > 0, 'the call’s first events');

    pg.stop();
    // Live audio goes on: the caller is heard, the model answers, the caller hears all of the reply.
    await clock.advanceAsync(5000, 20);
    await waitFor(() => call.heard.totalMs - greetingHeardMs >= 990, 5000, 'the reply to be heard while the database is down');
    expect(openai.sessions[0]!.sent.some((e) => e.type === 'input_audio_buffer.speech_started')).toBe(true);
    await eventually(async () => (await readiness(server)).status === 503, 'readiness to report the store');
    expect(await readiness(server)).toEqual({ status: 503, store: false });
    expect((server.app.store as PostgresStore).health.snapshot()).toMatchObject({ writable: false });
    // The caller hangs up while the database is still down: answered all the same.
    await call.hangup();
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect(call.callbacks.filter((c) => c.eventType === 'disconnect').map((c) => c.status)).toEqual([204]);

    pg.start();
    await eventually(async () => (await server.app.store.calls.get(call.callId))?.state === 'completed', 'the call’s writes to land', 15_000);
    expect(await server.app.store.calls.get(call.callId)).toMatchObject({ state: 'completed', outcome: 'caller-hung-up' });
    const transcript = (await server.app.store.transcripts.list(call.callId)).map((t) => t.text);
    expect(transcript).toEqual(expect.arrayContaining([GREETING, 'I have a question.', REPLY]));
    const events = (await server.app.store.events.list(call.callId)).map((e) => e.type);
    expect(events[0]).toBe('initiate');
    expect(events.at(-1)).toBe('disconnect');
    await eventually(async () => (await readiness(server)).status === 200, 'readiness to recover', 15_000);
  }, 60_000);
});
