import { ManualClock, waitFor } from '../../src/clock';
import type { CalleeModel, SimulatedCall } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { eventually } from '../helpers/eventually';
import { callerFor, standInEnv, startTestServer, type TestServer } from '../helpers/server';

const GREETING = 'Hi, this is Acme Plumbing calling about your appointment.';
const MESSAGE = 'This is Acme Plumbing: your plumber comes tomorrow at nine. Call us back on 919 555 0100.';
/** What the model stand-in says when asked for the voicemail. */
const SPOKEN_MESSAGE = 'Hello, this is Acme Plumbing with a message about your appointment.';
const FROM = '+19195550100';
const CALLEE = '+19195550142';

/**
 * Outbound calls that meet a person, an answering machine or an undecided detection, end to end: POST
 * /api/calls → the Bandwidth REST stand-in (createCall with machineDetection) → the caller stand-in answers,
 * runs the BXML and, as Bandwidth's async detection does, sends machineDetectionComplete → the live session.
 * One ManualClock drives the server, both stand-ins and the callee.
 */
describe('voicemail detection on outbound calls', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let rest: BandwidthRestStandIn;
  let server: TestServer;

  async function start(env: Record<string, string>, messageAudioMs = 3000) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({
      clock,
      chunkMs: 100,
      speedFactor: 4,
      firstDeltaLatencyMs: 200,
      // The greeting, then whatever the agent is asked to say (the voicemail), 3 s of audio each.
      script: (ctx) => (ctx.n === 1 ? { text: GREETING, audioMs: 3000 } : { text: SPOKEN_MESSAGE, audioMs: messageAudioMs }),
    });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer({ ...standInEnv(openai.url, rest, '+19195550177'), AGENT_GREETING: GREETING, AGENT_VOICEMAIL_DETECT: 'true', ...env }, { clock });
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
    await rest?.close();
  });

  /** Place the call through the admin API and let the callee answer it as `callee` says. */
  async function place(callee: CalleeModel): Promise<{ call: SimulatedCall; machineDetection: Record<string, unknown> }> {
    const res = await fetch(`${server.url}/api/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agentId: 'default', to: CALLEE, from: FROM }),
    });
    expect(res.status).toBe(201);
    const { callId } = (await res.json()) as { callId: string };
    const request = rest.requests.filter((r) => r.operation === 'createCall').pop()!;
    expect(request.status).toBe(201); // the stand-in checked machineDetection against bandwidth.yml
    const body = request.body as { answerUrl: string; machineDetection: Record<string, unknown> };
    const call = callerFor(server, clock, { callId, from: FROM, to: CALLEE, answerUrl: body.answerUrl, machineDetection: body.machineDetection, callee });
    rest.attach(call);
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    return { call, machineDetection: body.machineDetection };
  }

  async function detectionEvent(callId: string) {
    await eventually(async () => (await server.app.store.events.list(callId)).some((e) => e.type === 'machineDetectionComplete'), 'the verdict to be stored');
    const event = (await server.app.store.events.list(callId)).find((e) => e.type === 'machineDetectionComplete')!;
    return (event.data as { switchboard: Record<string, unknown> }).switchboard;
  }

  it('createCall asks for async detection with its callback; a person answering goes on as any call', async () => {
    await start({});
    const { call, machineDetection } = await place({ result: 'human', decideMs: 1500 });
    expect(machineDetection).toEqual({
      mode: 'async',
      detectionTimeout: 15,
      silenceTimeout: 10,
      machineSpeechEndThreshold: 5,
      delayResult: false,
      callbackUrl: `${server.url}/bandwidth/voice/machine-detection`,
      callbackMethod: 'POST',
      username: server.app.credentials.credentials.callbackUsername,
      password: server.app.credentials.credentials.callbackPassword,
    });
    await clock.advanceAsync(1500);
    expect((await call.machineDetectionSent)?.status).toBe(204);
    expect(await detectionEvent(call.callId)).toMatchObject({ machineDetection: 'human', decision: 'proceed' });
    await clock.advanceAsync(2000);
    expect(call.connected).toBe(true);
    expect(call.heard.segments.length).toBeGreaterThan(0); // the greeting plays on
    await call.hangup();
    await eventually(async () => (await server.app.store.calls.get(call.callId))?.outcome === 'caller-hung-up', 'the outcome');
  });

  it('an answering machine with action hang-up: the call ends at once through the Calls API, outcome voicemail', async () => {
    await start({ AGENT_VOICEMAIL_ACTION: 'hang-up' });
    const { call } = await place({ result: 'answering-machine', decideMs: 2000 });
    await clock.advanceAsync(2000);
    expect((await call.machineDetectionSent)?.status).toBe(204);
    await waitFor(() => call.ended !== undefined, 5000, 'the call to end');
    expect(rest.hungUp.has(call.callId)).toBe(true);
    expect(call.ended).toMatchObject({ reason: 'api-hangup' });
    expect(await detectionEvent(call.callId)).toMatchObject({ machineDetection: 'answering-machine', decision: 'hang-up' });
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect(await server.app.store.calls.get(call.callId)).toMatchObject({ outcome: 'voicemail', outcomeReason: 'an answering machine answered' });
  });

  it.each([
    ['a configured message', MESSAGE, `Say exactly this, naturally, and nothing else: "${MESSAGE}"`],
    ['a message the model composes', '', 'Leave a short message'],
  ])('an answering machine with action leave-message (%s): after the greeting ends the agent speaks it, then hangs up, outcome voicemail', async (_name, message, instruction) => {
    await start({ AGENT_VOICEMAIL_ACTION: 'leave-message', AGENT_VOICEMAIL_MESSAGE: message });
    const { call, machineDetection } = await place({ result: 'answering-machine', greetingMs: 7000 });
    expect(machineDetection.delayResult).toBe(true); // the verdict waits for the greeting's end
    await clock.advanceAsync(6500);
    expect(call.machineDetectionSent).toBeUndefined();
    await clock.advanceAsync(500);
    expect((await call.machineDetectionSent)?.status).toBe(204);
    const session = openai.sessions[0]!;
    const create = await session.waitForClientEvent('response.create', (e) => JSON.stringify(e.event).includes('recording a voicemail'));
    expect(JSON.stringify(create.event)).toContain(JSON.stringify(instruction).slice(1, -1));
    const createdAtMs = create.atMs;
    // The message is heard in full (3 s of audio), and only then is the call hung up.
    await clock.advanceAsync(2500);
    expect(call.ended).toBeUndefined();
    for (let i = 0; i < 20 && !call.ended; i++) await clock.advanceAsync(250);
    expect(call.ended).toMatchObject({ reason: 'api-hangup' });
    const messageHeardMs = call.heard.segments.filter((s) => s.startMs >= createdAtMs).reduce((a, s) => a + (s.endMs - s.startMs), 0);
    expect(messageHeardMs).toBeGreaterThanOrEqual(2900);
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect(await server.app.store.calls.get(call.callId)).toMatchObject({ outcome: 'voicemail', outcomeReason: 'left a voicemail message' });
    const transcript = await server.app.store.transcripts.list(call.callId);
    expect(transcript.map((t) => [t.role, t.text, t.truncated])).toEqual([
      ['agent', GREETING, false],
      ['agent', SPOKEN_MESSAGE, false],
    ]);
  });

  it('a message longer than a goodbye (15 s) is heard in full before the hang-up', async () => {
    await start({ AGENT_VOICEMAIL_ACTION: 'leave-message', AGENT_VOICEMAIL_MESSAGE: MESSAGE }, 15_000);
    const { call } = await place({ result: 'answering-machine', greetingMs: 5000 });
    await clock.advanceAsync(5000);
    expect((await call.machineDetectionSent)?.status).toBe(204);
    const create = await openai.sessions[0]!.waitForClientEvent('response.create', (e) => JSON.stringify(e.event).includes('recording a voicemail'));
    for (let i = 0; i < 100 && !call.ended; i++) await clock.advanceAsync(250);
    expect(call.ended).toMatchObject({ reason: 'api-hangup' });
    const heardMs = call.heard.segments.filter((s) => s.startMs >= create.atMs).reduce((a, s) => a + (s.endMs - s.startMs), 0);
    expect(heardMs).toBeGreaterThanOrEqual(14_900);
    expect(call.ended!.atMs - create.atMs).toBeGreaterThan(15_000);
  });

  it('an undecided detection (timeout) lets the call go on with the agent', async () => {
    await start({ AGENT_VOICEMAIL_ACTION: 'hang-up' });
    const { call } = await place({ result: 'timeout' });
    await clock.advanceAsync(14_000);
    expect(call.machineDetectionSent).toBeUndefined();
    await clock.advanceAsync(1000); // detectionTimeout: 15 s after the answer
    expect((await call.machineDetectionSent)?.status).toBe(204);
    expect(await detectionEvent(call.callId)).toMatchObject({ machineDetection: 'timeout', decision: 'proceed (undecided)' });
    await clock.advanceAsync(1000);
    expect(call.connected).toBe(true);
    expect(rest.hungUp.has(call.callId)).toBe(false);
    await call.hangup();
    await eventually(async () => (await server.app.store.calls.get(call.callId))?.outcome === 'caller-hung-up', 'the outcome');
  });
});
