import { agentSchema } from '../src/agents/agent';
import { ManualClock, waitFor } from '../src/clock';
import { speechLikeAudio, type SimulatedCall } from '../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../src/sim/drive';
import { callIncomingEvent, signWebhook } from '../src/sim/openai-webhooks';
import { startRealtimeStandIn, type RealtimeStandIn } from '../src/sim/realtime-server';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../src/sim/bandwidth-rest';
import { eventually } from './helpers/eventually';
import { parseExposition } from './helpers/exposition';
import { callerFor, standInEnv, startTestServer, type TestServer } from './helpers/server';
import { deliverSipCall } from './helpers/sip';

/**
 * MAX_CONCURRENT_CALLS (docs/operations.md, "Capacity"): with a cap of 1, a second concurrent call gets its
 * agent's busy handling, is recorded with its outcome and counted, and the live call goes on as before.
 */
const GREETING = 'Thanks for calling Acme Plumbing, this is the assistant. How can I help you today?';
const SECRET = `whsec_${Buffer.from('a-webhook-signing-key-of-32-bytes!').toString('base64')}`;

describe('the concurrency cap (MAX_CONCURRENT_CALLS=1)', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  let rest: BandwidthRestStandIn | undefined;

  async function start(env: Record<string, string> = {}) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({
      clock,
      chunkMs: 100,
      speedFactor: 4,
      firstDeltaLatencyMs: 300,
      script: (ctx) => (ctx.n === 1 ? { text: GREETING, audioMs: 4000 } : { text: 'I can book a plumber for tomorrow.', audioMs: 1500 }),
      transcribe: () => 'My kitchen sink is leaking.',
    });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, OPENAI_WEBHOOK_SECRET: SECRET, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, MAX_CONCURRENT_CALLS: '1', ...env }, { clock });
  }
  afterEach(async () => {
    await server?.close();
    await rest?.close();
    rest = undefined;
    await openai?.close();
  });

  const dial = (call: SimulatedCall) => dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));

  /** A call beyond the cap: initiate is answered without a stream; the clock runs until the call is over. */
  async function dialBusy(call: SimulatedCall): Promise<void> {
    const dialing = call.dial();
    await waitFor(() => call.callbacks.some((c) => c.eventType === 'initiate' && c.status !== undefined), 5000, 'initiate to be answered');
    await dialing;
    for (let i = 0; i < 20 && !call.ended; i++) await clock.advanceAsync(500); // the apology is spoken on the clock
  }

  async function metrics() {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}` } });
    return parseExposition(await res.text());
  }

  it("a second call gets the agent's fallback; the first call keeps its audio, barge-in and reply; both are counted", async () => {
    await start({ TRANSFER_TO: '+19195550177' });
    const first = await dial(callerFor(server, clock, { from: '+19195550101', audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 7 }) }));
    await clock.advanceAsync(300);
    expect(first.heard.firstHeardMs).toBeDefined();

    const second = callerFor(server, clock, { from: '+19195550102' });
    const dialing = second.dial();
    await waitFor(() => second.callbacks.some((c) => c.eventType === 'initiate' && c.status !== undefined), 5000, 'initiate to be answered');
    await dialing;
    // The busy call's BXML: the agent's fallback (apology, then its transfer), no stream, no OpenAI session.
    expect(second.initiateBxml?.xml).toMatch(/<SpeakSentence[^>]*>Sorry, our assistant is unavailable/);
    expect(second.initiateBxml?.xml).toContain('+19195550177');
    expect(second.initiateBxml?.xml).not.toContain('StartStream');
    expect(openai.sessions).toHaveLength(1);
    expect(server.app.bridge.size).toBe(1);
    const busyRow = await server.app.store.calls.get(second.callId);
    expect(busyRow).toMatchObject({ state: 'fallback', outcome: 'fallback', agentId: 'default', mode: 'stream' });
    expect(busyRow?.outcomeReason).toBe('busy: 1 calls live on this instance (MAX_CONCURRENT_CALLS 1)');

    // The live call is untouched: the caller barges in at 1.5 s, the truncate names what was heard, the reply plays.
    await clock.advanceAsync(2700);
    const session = openai.sessions[0]!;
    const speechStarted = session.sent.find((e) => e.type === 'input_audio_buffer.speech_started');
    expect(speechStarted).toBeDefined();
    expect(session.truncates).toHaveLength(1);
    await clock.advanceAsync(2500);
    const replyHeardMs = first.heard.segments.filter((s) => s.startMs > speechStarted!.atMs).reduce((a, s) => a + (s.endMs - s.startMs), 0);
    expect(replyHeardMs).toBeGreaterThanOrEqual(1400);
    expect(Buffer.compare(session.appendedAudio, first.sentInbound)).toBe(0);

    const m = await metrics();
    expect(m.value('switchboard_calls_refused_total', { mode: 'stream', handling: 'fallback' })).toBe(1);
    expect(m.value('switchboard_fallbacks_total', { reason: 'at-capacity' })).toBe(1);
    expect(m.value('switchboard_active_calls', { mode: 'stream' })).toBe(1);

    // Once the first call ends, the next one is taken.
    await first.hangup();
    await second.hangup();
    await clock.advanceAsync(200);
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the first session to end');
    const third = await dial(callerFor(server, clock, { from: '+19195550103' }));
    expect(third.initiateBxml?.xml).toContain('StartStream');
    await clock.advanceAsync(300);
    expect(third.heard.firstHeardMs).toBeDefined();
    await third.hangup();
    await clock.advanceAsync(200);
    await eventually(async () => (await metrics()).find('switchboard_calls_ended_total').reduce((a, s) => a + s.value, 0) === 3, 'three calls counted');
    const ended = await metrics();
    expect(ended.value('switchboard_calls_ended_total', { outcome: 'fallback', mode: 'stream' })).toBe(1);
    expect(ended.value('switchboard_calls_ended_total', { outcome: 'caller-hung-up', mode: 'stream' })).toBe(2);
  });

  it('an agent whose busy handling is reject: the second call is rejected unanswered, recorded and counted', async () => {
    await start({ AGENT_WHEN_BUSY: 'reject' });
    const first = await dial(callerFor(server, clock, { from: '+19195550101' }));
    await clock.advanceAsync(300);
    const second = callerFor(server, clock, { from: '+19195550102' });
    await dialBusy(second);
    expect(second.initiateBxml?.xml).toMatch(/<Response>\s*<Hangup\/>\s*<\/Response>/);
    // The carrier's disconnect then replaces the cause (as for any call); the outcome and its reason stay.
    expect(await server.app.store.calls.get(second.callId)).toMatchObject({ state: 'rejected', outcome: 'rejected', outcomeReason: 'busy: 1 calls live on this instance (MAX_CONCURRENT_CALLS 1)', mode: 'stream' });
    const initiate = (await server.app.store.events.list(second.callId)).find((e) => e.type === 'initiate');
    expect(initiate?.data).toMatchObject({ switchboard: { template: 'reject', busy: true } });
    const m = await metrics();
    expect(m.value('switchboard_calls_refused_total', { mode: 'stream', handling: 'reject' })).toBe(1);
    expect(m.value('switchboard_fallbacks_total', { reason: 'at-capacity' })).toBe(0);
    // The live call never noticed.
    const before = first.heard.segments.reduce((a, s) => a + (s.endMs - s.startMs), 0);
    await clock.advanceAsync(1000);
    expect(first.heard.segments.reduce((a, s) => a + (s.endMs - s.startMs), 0)).toBeGreaterThan(before + 900);
    expect(first.ended).toBeUndefined();
    await first.hangup();
  });

  it('a retried initiate of the call already held is not a new call', async () => {
    await start();
    const first = await dial(callerFor(server, clock, { from: '+19195550101' }));
    await clock.advanceAsync(300);
    // Bandwidth retries initiate when our answer was lost (BW §1.7): the same call, the same session.
    const retried = await server.post('initiate', { eventType: 'initiate', callId: first.callId, from: '+19195550101', to: '+19195550100', direction: 'inbound', accountId: '9901234', applicationId: 'app', eventTime: new Date().toISOString(), callUrl: 'https://voice.bandwidth.com/x', startTime: new Date().toISOString() });
    expect(retried.status).toBe(200);
    expect(await retried.text()).toContain('StartStream');
    expect(server.app.bridge.size).toBe(1);
    await first.hangup();
  });

  it('a caller back from a failed transfer is a live call: taken back by the agent even at the cap', async () => {
    await server?.close();
    await openai?.close();
    clock = new ManualClock(0);
    let n = 0;
    openai = await startRealtimeStandIn({
      clock,
      script: () => {
        n++;
        if (n === 1) return { text: 'Hello, Acme billing, how can I help?', audioMs: 1000 };
        if (n === 2) return { functionCall: { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: 'Wants a refund.' } } };
        return { text: 'Let me transfer you.', audioMs: 800 };
      },
      transcribe: () => 'I want to talk to a person about my bill.',
    });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer({ ...standInEnv(openai.url, rest, '+19195550177'), MAX_CONCURRENT_CALLS: '1' }, { clock });
    const first = callerFor(server, clock, { from: '+19195550101', audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }), transfer: () => ({ outcome: 'busy', ringMs: 3000 }) });
    rest.attach(first);
    await dial(first);
    await clock.advanceAsync(5500);
    await waitFor(() => first.transfers.length === 1 && server.app.bridge.size === 0, 5000, 'the transfer to ring with the stream ended');
    // The place the first call left is taken by a new call while the human's line rings.
    const second = callerFor(server, clock, { from: '+19195550102' });
    rest.attach(second);
    await dial(second);
    expect(second.initiateBxml?.xml).toContain('StartStream');
    // The human is busy: the first caller comes back to the agent on a new stream, over the cap.
    await clock.advanceAsync(3000);
    await waitFor(() => first.streams.length === 2, 5000, 'the first caller back on a new stream');
    expect(first.transfers[0]!.outcome).toBe('busy');
    expect(server.app.bridge.size).toBe(2);
    const m = await metrics();
    expect(m.find('switchboard_calls_refused_total').every((s) => s.value === 0)).toBe(true);
    await first.hangup();
    await second.hangup();
  });

  it('an openai-sip call beyond the cap is refused with OpenAI\'s SIP reject (486 Busy Here), recorded and counted', async () => {
    await start();
    const base = (await server.app.store.agents.get('default'))!.agent;
    await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' } }), 'api');
    await server.app.store.numbers.assign('+19195550100', 'sipper');
    const live = await deliverSipCall(server, openai, SECRET, 'rtc_live');
    expect(live).toBeDefined();
    expect(server.app.capacity.live).toBe(1);

    openai.incomingSipCall('rtc_busy');
    const body = JSON.stringify(callIncomingEvent('rtc_busy', [{ name: 'To', value: '<sip:+19195550100@sip.api.openai.com>' }]));
    const res = await fetch(`${server.url}/openai/webhook`, { method: 'POST', headers: signWebhook(SECRET, body), body });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'rejected', callId: 'rtc_busy' });
    expect(openai.sipCalls.get('rtc_busy')).toMatchObject({ state: 'rejected', rejectStatus: 486 });
    expect(await server.app.store.calls.get('rtc_busy')).toMatchObject({ state: 'rejected', cause: 'at-capacity', outcome: 'rejected', mode: 'openai-sip', agentId: 'sipper' });
    expect(openai.sipCalls.get('rtc_live')?.state).toBe('accepted');
    const m = await metrics();
    expect(m.value('switchboard_calls_refused_total', { mode: 'openai-sip', handling: 'sip-reject' })).toBe(1);
    expect(m.value('switchboard_active_calls', { mode: 'openai-sip' })).toBe(1);
  });

  it('a stream call and an openai-sip call share the cap', async () => {
    await start({ AGENT_WHEN_BUSY: 'reject' });
    const base = (await server.app.store.agents.get('default'))!.agent;
    await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' } }), 'api');
    await server.app.store.numbers.assign('+19195550199', 'sipper');
    await deliverSipCall(server, openai, SECRET, 'rtc_live', { to: '<sip:+19195550199@sip.api.openai.com>' });
    const stream = callerFor(server, clock, { from: '+19195550101' });
    await dialBusy(stream);
    expect(await server.app.store.calls.get(stream.callId)).toMatchObject({ state: 'rejected', outcome: 'rejected', outcomeReason: expect.stringMatching(/^busy: 1 calls live/) });
  });
});
