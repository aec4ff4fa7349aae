import { ManualClock, waitFor } from '../../src/clock';
import { AGENT_AUDIO_DEADLINE_MS } from '../../src/constants';
import { SimulatedCall } from '../../src/sim/bandwidth-caller';
import { speechLikeAudio } from '../../src/sim/bandwidth-audio';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn, type RealtimeStandInOptions, type StallMode } from '../../src/sim/realtime-server';
import { startTestServer, type TestServer } from '../helpers/server';

const GREETING = 'Thanks for calling Acme Plumbing. How can I help?';
const SETUP_MS = 400;

/**
 * DESIGN §4.9 with the caller's clock: an OpenAI that never answers (the upgrade, session.created, or
 * any audio) costs the caller at most AGENT_AUDIO_DEADLINE_MS of silence after the stream's `start`
 * frame, then the fallback; the reason and its cause are stored, and nothing is left open.
 */
describe('a model that never answers', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  async function start(standIn: Partial<RealtimeStandInOptions>, env: Record<string, string> = {}, greeting = GREETING): Promise<SimulatedCall> {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: () => ({ text: GREETING, audioMs: 3000 }), ...standIn });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, TRANSFER_TO: '+19195550177', ...env }, { clock });
    if (greeting !== GREETING) {
      const stored = (await server.app.store.agents.get('default'))!.agent;
      await server.app.store.agents.upsert({ ...stored, greeting }, 'api');
    }
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    const call = new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: SETUP_MS });
    return dialThroughSetup(call, SETUP_MS, (ms) => clock.advanceAsync(ms));
  }

  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  /** Advance until the server ends the stream; returns when it ended, in ms after the stream's start. */
  async function streamEndAfterStartMs(call: SimulatedCall, limitMs: number): Promise<number | undefined> {
    const stream = call.streams[0]!;
    for (let elapsed = 0; elapsed < limitMs && stream.endedAtMs === undefined; elapsed += 20) await clock.advanceAsync(20);
    return stream.endedAtMs === undefined ? undefined : stream.endedAtMs - stream.startedAtMs;
  }

  const cases: [StallMode, RegExp][] = [
    ['upgrade', /the OpenAI session was not ready/],
    ['session-created', /the OpenAI session was not ready/],
    ['audio', /the session was ready but no greeting audio arrived/],
  ];

  it.each(cases)('stall %s: fallback within the deadline of the stream start, cause stored, nothing left open', async (stall, why) => {
    const call = await start({ stall });
    if (stall === 'upgrade') expect(openai.heldUpgrades).toBe(1);
    else expect(openai.sessions).toHaveLength(1);

    const endedAfterMs = await streamEndAfterStartMs(call, 3000);
    expect(endedAfterMs).toBeDefined();
    expect(endedAfterMs!).toBeGreaterThanOrEqual(AGENT_AUDIO_DEADLINE_MS - 20);
    expect(endedAfterMs!).toBeLessThanOrEqual(AGENT_AUDIO_DEADLINE_MS + 40);
    await clock.advanceAsync(100);
    // The existing fallback: the apology, then the transfer to TRANSFER_TO.
    expect(call.afterStream?.xml).toContain('<Transfer');
    expect(call.afterStream?.xml).toContain('+19195550177');
    expect(call.heard.firstHeardMs).toBeUndefined();

    const row = await server.app.store.calls.get(call.callId);
    expect(row?.state).toBe('fallback');
    expect(row?.errorMessage).toMatch(new RegExp(`no agent audio within ${AGENT_AUDIO_DEADLINE_MS} ms of the stream start`));
    expect(row?.errorMessage).toMatch(why);
    const failed = (await server.app.store.events.list(call.callId)).filter((e) => e.type === 'bridge.failed');
    expect(failed.map((e) => (e.data as { cause: string }).cause)).toEqual(['agent-audio-timeout']);

    // Nothing leaked: the model socket is closed (or the held upgrade given up), the session forgotten
    // (its clock timers: call-session.test.ts; the adapter's own deadline: realtime-session.test.ts).
    await waitFor(() => openai.heldUpgrades === 0 && openai.sessions.every((s) => !s.open), 5_000, 'the model socket to close');
    expect(server.app.bridge.size).toBe(0);
    await call.hangup();
  });

  it('a slow greeting that is queued inside the deadline keeps the call with the agent', async () => {
    // The greeting's first audio leaves the model 1.8 s after the stream starts (pre-warm request at initiate).
    const call = await start({ firstDeltaLatencyMs: SETUP_MS + 1800 });
    expect(await streamEndAfterStartMs(call, 4000)).toBeUndefined();
    expect(call.heard.firstHeardMs).toBeDefined();
    const row = await server.app.store.calls.get(call.callId);
    expect(row?.state).toBe('streaming');
    await call.hangup();
  });

  it('a greeting slower than the deadline sends the call to its fallback, saying the session was ready', async () => {
    const call = await start({ firstDeltaLatencyMs: SETUP_MS + 2500 });
    expect(await streamEndAfterStartMs(call, 3000)).toBeDefined();
    const row = await server.app.store.calls.get(call.callId);
    expect(row?.errorMessage).toMatch(/the session was ready but no greeting audio arrived/);
    await call.hangup();
  });

  it('a caller who speaks before the greeting is voiced takes the turn: no fallback, the agent answers after', async () => {
    // The greeting's first audio would leave the model 600 ms after the stream starts; the caller talks
    // over it from 100 ms for 2.5 s, so the stand-in's VAD cancels it (interrupt_response) before any audio.
    const call = await start({ firstDeltaLatencyMs: SETUP_MS + 600 });
    const said = call.say(speechLikeAudio({ durationMs: 2500 }), { delayMs: 100 });
    expect(await streamEndAfterStartMs(call, 2500 + 2000)).toBeUndefined();
    const row = await server.app.store.calls.get(call.callId);
    expect(row?.state).toBe('streaming');
    expect((await server.app.store.events.list(call.callId)).filter((e) => e.type === 'bridge.failed')).toEqual([]);
    // The greeting was cancelled unvoiced; the agent's first words answer the caller, after they stopped.
    const [greeting] = openai.sessions[0]!.sent.filter((e) => e.type === 'response.done');
    expect((greeting?.event as { response?: { status?: string } }).response?.status).toBe('cancelled');
    expect(call.heard.firstHeardAtMs).toBeDefined();
    expect(call.heard.firstHeardAtMs!).toBeGreaterThan(said.atMs + 2500);
    await call.hangup();
  });

  it('an agent without a greeting counts the session being ready: a silent model is not a failure', async () => {
    const call = await start({ stall: 'audio' }, {}, '');
    expect(await streamEndAfterStartMs(call, 4000)).toBeUndefined();
    expect((await server.app.store.calls.get(call.callId))?.state).toBe('streaming');
    await call.hangup();
  });

  it('the deadline is configurable per environment (AGENT_AUDIO_DEADLINE_MS)', async () => {
    const call = await start({ stall: 'upgrade' }, { AGENT_AUDIO_DEADLINE_MS: '500' });
    const endedAfterMs = await streamEndAfterStartMs(call, 2000);
    expect(endedAfterMs!).toBeGreaterThanOrEqual(480);
    expect(endedAfterMs!).toBeLessThanOrEqual(540);
    await call.hangup();
  });
});
