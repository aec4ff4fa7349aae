import { agentSchema } from '../../src/agents/agent';
import { ManualClock, settleIo, waitFor } from '../../src/clock';
import { DTMF_GROUP_GAP_MS } from '../../src/constants';
import type { SimulatedCall } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { RealtimeSimSession } from '../../src/sim/realtime-session';
import { bxml } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { eventually } from '../helpers/eventually';
import { callerFor, startTestServer, type TestServer } from '../helpers/server';
import { deliverSipCall } from '../helpers/sip';

const GREETING = 'Thanks for calling Acme Plumbing. Press 1 for bookings or 2 for billing.';
const REPLY = 'Bookings it is.';
const SECRET = `whsec_${Buffer.from('a-signing-key-for-the-dtmf-tests').toString('base64')}`;

/** The text of the user items Switchboard created, in order. */
function userTexts(session: RealtimeSimSession): string[] {
  return session.received
    .filter((e) => e.type === 'conversation.item.create')
    .map((e) => (e.event as { item: { role?: string; content?: { text?: string }[] } }).item)
    .filter((item) => item.role === 'user')
    .map((item) => item.content?.[0]?.text ?? '');
}

/**
 * The caller's key presses reach the model in both modes (stream: <StartGather> and its dtmf callbacks;
 * openai-sip: the sideband's DTMF event), through the conversation core, over real sockets with the
 * stand-ins and one ManualClock.
 */
describe('key presses in stream mode', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  async function start(env: Record<string, string> = {}) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, chunkMs: 100, speedFactor: 4, firstDeltaLatencyMs: 200, script: (ctx) => (ctx.n === 1 ? { text: GREETING, audioMs: 4000 } : { text: REPLY, audioMs: 1000 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, ...env }, { clock });
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });
  const dial = (call: SimulatedCall) => dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));

  it('the stream BXML starts a gather beside the stream; a key becomes a user item the model answers', async () => {
    await start();
    const call = await dial(callerFor(server, clock));
    const start0 = bxml(call.initiateBxml!.xml);
    expect(start0.verbs[0]).toBe('StartGather');
    const { callbackUsername, callbackPassword } = server.app.credentials.credentials;
    expect(start0.one('StartGather').attributes).toEqual({ dtmfUrl: `${server.url}/bandwidth/voice/dtmf`, dtmfMethod: 'POST', username: callbackUsername, password: callbackPassword });
    await clock.advanceAsync(5000); // the greeting is over
    const session = openai.sessions[0]!;
    const before = session.received.length;
    const [sent] = await call.pressKeys('5');
    expect(sent!.status).toBe(204);
    expect(userTexts(session)).toEqual([]); // keys typed in a run are gathered first
    await clock.advanceAsync(DTMF_GROUP_GAP_MS);
    await session.waitForClientEvent('response.create', () => true, before);
    expect(userTexts(session)).toEqual(["[The caller pressed the key 5 on their phone's keypad.]"]);
    await clock.advanceAsync(1500);
    const events = await server.app.store.events.list(call.callId);
    expect(events.filter((e) => e.type === 'caller.key-press').map((e) => e.data)).toEqual([{ digit: '5' }]);
    expect(events.find((e) => e.type === 'dtmf')!.data).toMatchObject({ callback: { digit: '5' }, switchboard: { delivered: true } });
    const transcript = await server.app.store.transcripts.list(call.callId);
    expect(transcript.map((t) => t.text)).toEqual([GREETING, REPLY]);
    await call.hangup();
  });

  it('a run of keys is one item, and # ends the run at once', async () => {
    await start();
    const call = await dial(callerFor(server, clock));
    await clock.advanceAsync(5000);
    const session = openai.sessions[0]!;
    await call.pressKeys('1234#');
    await waitFor(() => userTexts(session).length === 1, 5000, 'the item');
    expect(userTexts(session)).toEqual(["[The caller pressed the keys 1 2 3 4 # on their phone's keypad.]"]);
    await clock.advanceAsync(DTMF_GROUP_GAP_MS * 2);
    expect(userTexts(session)).toHaveLength(1);
    expect(session.received.filter((e) => e.type === 'response.create')).toHaveLength(2); // the greeting, then the keys' answer
    await call.hangup();
  });

  it('without interrupt, a key pressed while the greeting is generated is answered once it is done: no clear, no cancel', async () => {
    await start();
    const call = await dial(callerFor(server, clock));
    const session = openai.sessions[0]!;
    expect(session.sent.some((e) => e.type === 'response.done')).toBe(false); // the greeting is still being generated
    await call.pressKeys('1#');
    await waitFor(() => userTexts(session).length === 1, 5000, 'the item');
    // One response at a time: the keys' answer is owed until the greeting's response is done.
    expect(session.received.filter((e) => e.type === 'response.create')).toHaveLength(1);
    await clock.advanceAsync(1500);
    await waitFor(() => session.received.filter((e) => e.type === 'response.create').length === 2, 5000, 'the owed response');
    await clock.advanceAsync(5000);
    expect(session.received.some((e) => e.type === 'response.cancel')).toBe(false);
    expect(call.receivedOf('clear')).toHaveLength(0);
    const transcript = await server.app.store.transcripts.list(call.callId);
    expect(transcript.map((t) => [t.text, t.truncated])).toEqual([
      [GREETING, false],
      [REPLY, false],
    ]);
    expect((await server.app.store.events.list(call.callId)).some((e) => e.type === 'model.error')).toBe(false);
    await call.hangup();
  });

  it('with interrupt, a key cuts the agent off like speech: clear, cancel, truncate at what was heard', async () => {
    await start({ AGENT_KEY_PRESS_INTERRUPTS: 'true' });
    const call = await dial(callerFor(server, clock));
    await clock.advanceAsync(1500);
    const session = openai.sessions[0]!;
    await call.pressKeys('1');
    await session.waitForClientEvent('conversation.item.truncate');
    // The greeting's response was done (generated faster than real time): only its playout is cut, no cancel.
    expect(session.received.some((e) => e.type === 'response.cancel')).toBe(false);
    expect(call.receivedOf('clear').length).toBeGreaterThanOrEqual(1);
    const truncate = session.truncates[0]!;
    expect(truncate.audio_end_ms).toBeGreaterThan(800);
    expect(truncate.audio_end_ms).toBeLessThan(2000);
    await clock.advanceAsync(DTMF_GROUP_GAP_MS + 2000);
    expect(userTexts(session)).toEqual(["[The caller pressed the key 1 on their phone's keypad.]"]);
    const transcript = await server.app.store.transcripts.list(call.callId);
    expect(transcript.map((t) => [t.text, t.truncated])).toEqual([
      [GREETING, true],
      [REPLY, false],
    ]);
    const events = await server.app.store.events.list(call.callId);
    expect(events.filter((e) => e.type === 'caller.key-press').map((e) => e.data)).toEqual([{ digit: '1', interrupted: true }]);
    expect(events.filter((e) => e.type === 'bridge.barge-in')).toHaveLength(1); // the session's, with what was heard
    await call.hangup();
  });

  it('an agent that does not listen for keys gets no StartGather, so Bandwidth reports none', async () => {
    await start({ AGENT_KEY_PRESSES: 'false' });
    const call = await dial(callerFor(server, clock));
    expect(bxml(call.initiateBxml!.xml).verbs).toEqual(['StartStream', 'StopStream', 'Redirect']);
    await expect(call.pressKeys('1')).rejects.toThrow(/no <StartGather> is active/);
    await call.hangup();
  });
});

describe('key presses and voicemail in openai-sip mode', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  beforeEach(async () => {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, firstDeltaLatencyMs: 0, script: (ctx) => (ctx.n === 1 ? { text: 'Hello from the SIP agent.', audioMs: 400 } : { text: 'Noted.', audioMs: 300 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, OPENAI_WEBHOOK_SECRET: SECRET });
    const base = (await server.app.store.agents.get('default'))!.agent;
    const telephony = { keyPresses: { enabled: true, interrupt: true }, voicemail: { detect: true, action: 'hang-up' } };
    await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' }, telephony }), 'api');
    await server.app.store.numbers.assign('+19195550100', 'sipper');
  });
  afterEach(async () => {
    await server.close();
    await openai.close();
  });

  async function incoming(callId: string, bandwidthCallId: string): Promise<RealtimeSimSession> {
    // The Bandwidth leg our UUI names, as call-flows left it: handed to the AI SIP endpoint (sip-webhook.ts parentOf).
    await server.app.store.calls.record({ id: bandwidthCallId, leg: 'caller', state: 'sip-connecting' });
    const session = await deliverSipCall(server, openai, SECRET, callId, { uui: { parentCallId: bandwidthCallId, agentId: 'sipper' } });
    await waitFor(() => session.received.some((e) => e.type === 'response.create'), 5000, 'the greeting request');
    return session;
  }

  it("the sideband's DTMF event reaches the model as the same user item, and interrupts when the agent says so", async () => {
    const session = await incoming('rtc_keys_1', 'c-bw-keys-1');
    // The greeting is under way: the key cuts it off (cancel, then OpenAI's output buffer is cleared).
    session.pressKey('7');
    await session.waitForClientEvent('output_audio_buffer.clear');
    const types = session.received.map((e) => e.type);
    expect(types.indexOf('response.cancel')).toBeGreaterThan(-1);
    expect(types.indexOf('response.cancel')).toBeLessThan(types.indexOf('output_audio_buffer.clear'));
    await clock.advanceAsync(DTMF_GROUP_GAP_MS);
    await waitFor(() => userTexts(session).length === 1, 5000, 'the item');
    expect(userTexts(session)).toEqual(["[The caller pressed the key 7 on their phone's keypad.]"]);
    await waitFor(() => session.received.filter((e) => e.type === 'response.create').length === 2, 5000, 'the answer to the key');
    const events = await server.app.store.events.list('rtc_keys_1');
    expect(events.filter((e) => e.type === 'caller.key-press').map((e) => e.data)).toEqual([{ digit: '7', interrupted: true }]);
  });

  it('an agent that does not listen for keys ignores the sideband\'s DTMF events', async () => {
    const base = (await server.app.store.agents.get('sipper'))!.agent;
    const { destinations: _d, ...agent } = base;
    await server.app.store.agents.upsert(agentSchema.parse({ ...agent, telephony: { ...agent.telephony, keyPresses: { enabled: false, interrupt: true } } }), 'api');
    const session = await incoming('rtc_keys_off', 'c-bw-keys-off');
    session.pressKey('3');
    await settleIo(20); // the server has read the event before the clock moves past the key's group gap
    await clock.advanceAsync(DTMF_GROUP_GAP_MS * 2);
    await settleIo(20);
    expect(userTexts(session)).toEqual([]);
    expect(session.received.some((e) => e.type === 'response.cancel' || e.type === 'output_audio_buffer.clear')).toBe(false);
  });

  it('an answering machine on the Bandwidth leg reaches the sideband session of its AI leg: hang-up, outcome voicemail', async () => {
    const session = await incoming('rtc_vm_1', 'c-bw-vm-1');
    // The Bandwidth leg as the outbound answer callback recorded it (agent and mode).
    await server.app.store.calls.record({ id: 'c-bw-vm-1', agentId: 'sipper', mode: 'openai-sip', direction: 'outbound' });
    const res = await server.post('machine-detection', { ...callbackFixture('machineDetectionComplete'), callId: 'c-bw-vm-1' });
    expect(res.status).toBe(204);
    await waitFor(() => openai.sipCalls.get('rtc_vm_1')!.state === 'ended', 5000, 'OpenAI to hang up the SIP call');
    expect(session.received.some((e) => e.type === 'response.cancel')).toBe(true);
    // One outcome per call: the AI leg's decision is the Bandwidth call's (src/store/sqlite/calls.ts).
    await eventually(async () => (await server.app.store.calls.get('c-bw-vm-1'))?.outcome === 'voicemail', 'the outcome');
    expect((await server.app.store.calls.get('c-bw-vm-1'))?.outcomeReason).toBe('an answering machine answered');
  });
});

describe('malformed dtmf and machineDetectionComplete callbacks', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  const messageOf = async (res: Response) => ((await res.json()) as { error: { message: string } }).error.message;

  it.each([
    ['dtmf', { ...callbackFixture('dtmf'), digit: undefined }, 'invalid dtmf callback: digit is required'],
    ['dtmf', { ...callbackFixture('dtmf'), digit: 5 }, 'invalid dtmf callback: digit: expected a string, got number'],
    ['dtmf', { ...callbackFixture('dtmf'), digit: '55' }, 'invalid dtmf callback: digit: expected one key (0-9, *, #, A-D)'],
    ['dtmf', { ...callbackFixture('dtmf'), digit: null }, 'invalid dtmf callback: digit: expected a non-empty string, got null'],
    ['machine-detection', { ...callbackFixture('machineDetectionComplete'), machineDetectionResult: 'answering-machine' }, 'invalid machine-detection callback: machineDetectionResult: expected an object, got string'],
    ['machine-detection', { ...callbackFixture('machineDetectionComplete'), machineDetectionResult: { value: 1 } }, 'invalid machine-detection callback: machineDetectionResult.value: expected a string, got number'],
    ['machine-detection', { ...callbackFixture('machineDetectionComplete'), callId: undefined }, 'invalid machine-detection callback: callId is required'],
  ])('%s %j is a 400 naming the field', async (route, body, message) => {
    const res = await server.post(route, body);
    expect(res.status).toBe(400);
    expect(await messageOf(res)).toBe(message);
  });

  it('a result bandwidth.yml does not list is answered, kept, and decides nothing', async () => {
    const res = await server.post('machine-detection', { ...callbackFixture('machineDetectionComplete'), callId: 'c-odd-result', machineDetectionResult: { value: 'fax', duration: 'PT1S' } });
    expect(res.status).toBe(204);
    const [event] = await server.app.store.events.list('c-odd-result');
    expect((event!.data as { switchboard: unknown }).switchboard).toEqual({ machineDetection: 'fax', decision: 'proceed (unknown result)' });
  });

  it('both routes need the callback credentials like every other', async () => {
    expect((await server.post('dtmf', callbackFixture('dtmf'), { auth: null })).status).toBe(401);
    expect((await server.post('machine-detection', callbackFixture('machineDetectionComplete'), { auth: null })).status).toBe(401);
  });

  it('a key press or a verdict for a call with no live session here is answered and kept in its trace', async () => {
    expect((await server.post('dtmf', { ...callbackFixture('dtmf'), callId: 'c-no-session' })).status).toBe(204);
    expect((await server.post('machine-detection', { ...callbackFixture('machineDetectionComplete'), callId: 'c-no-session' })).status).toBe(204);
    const events = await server.app.store.events.list('c-no-session');
    expect(events.map((e) => [e.type, (e.data as { switchboard: unknown }).switchboard])).toEqual([
      ['dtmf', { delivered: false }],
      ['machineDetectionComplete', { machineDetection: 'answering-machine', decision: 'proceed (undecided)' }],
    ]);
    // A key no session took (pressed for a human after a transfer: a card number, a PIN) is kept without its digit.
    expect((events[0]!.data as { callback: { digit: string } }).callback.digit).toBe('');
  });
});
