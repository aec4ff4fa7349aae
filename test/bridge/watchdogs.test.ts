import { ManualClock, waitFor } from '../../src/clock';
import { speechLikeAudio, type SimulatedCall } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ScriptContext } from '../../src/sim/realtime-script';
import { callerFor, startTestServer, type TestServer } from '../helpers/server';

const GREETING = 'Hello, this is Acme.';
const REPLY = 'Sure, tell me more.';

/**
 * The stand-in model says the quoted line of an instructed response (the greeting and the watchdogs'
 * lines are "Say exactly this …: \"line\""), 1 s of audio; to the caller (VAD) it replies REPLY.
 */
function lineScript(ctx: ScriptContext) {
  const quoted = ctx.trigger === 'response.create' ? /"([^"]+)"/.exec(ctx.instructions)?.[1] : undefined;
  return { text: quoted ?? REPLY, audioMs: 1000 };
}

/** What the server asked the model to say, in order (the quoted line of each instructed response.create). */
function requestedLines(openai: RealtimeStandIn, session = 0): string[] {
  return (openai.sessions[session]?.received ?? [])
    .filter((e) => e.type === 'response.create')
    .map((e) => /"([^"]+)"/.exec(((e.event as { response?: { instructions?: string } }).response?.instructions ?? ''))?.[1] ?? '(no instructions)');
}

/** Clock time the caller finished hearing the agent's latest audio. */
function lastHeardAtMs(call: SimulatedCall): number {
  return Math.max(...call.heard.segments.map((seg) => seg.endMs));
}

/** Silence watchdog and maximum call duration, stream mode, over real sockets on one ManualClock. */
describe('watchdogs on a stream call', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  async function start(env: Record<string, string>) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, firstDeltaLatencyMs: 100, script: lineScript, transcribe: () => 'Hmm, let me think.' });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, ...env }, { clock });
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  const dial = (call: SimulatedCall) => dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
  const eventTypes = async (callId: string) => (await server.app.store.events.list(callId)).map((e) => e.type);

  it('silence: asks once after promptAfterMs, then says goodbye and hangs up with no-input; the goodbye is heard first', async () => {
    await start({ AGENT_SILENCE_PROMPT_AFTER_MS: '5000', AGENT_SILENCE_HANGUP_AFTER_MS: '4000' });
    const call = await dial(callerFor(server, clock));
    // The silence counts from when the greeting has been heard in full, not from the stream start.
    await clock.advanceAsync(1500);
    expect(requestedLines(openai)).toEqual([GREETING]);
    const greetingHeardAtMs = lastHeardAtMs(call);
    await clock.advanceAsync(greetingHeardAtMs + 4900 - clock.now(), 100);
    expect(requestedLines(openai)).toEqual([GREETING]); // 5 s of silence not yet up
    await clock.advanceAsync(200, 20);
    expect(requestedLines(openai)).toEqual([GREETING, 'Are you still there?']);
    expect(await eventTypes(call.callId)).toContain('bridge.silence-prompt');

    // The prompt is heard; then 4 s more of silence: the goodbye, heard, then the hang-up.
    await clock.advanceAsync(1500, 20);
    const promptHeardAtMs = lastHeardAtMs(call);
    await clock.advanceAsync(promptHeardAtMs + 3900 - clock.now(), 100);
    expect(requestedLines(openai)).toHaveLength(2);
    const heardBeforeGoodbye = call.heard.totalMs;
    await clock.advanceAsync(200, 20);
    expect(requestedLines(openai)).toEqual([GREETING, 'Are you still there?', "I haven't heard anything, so I'll end the call now. Goodbye!"]);
    await clock.advanceAsync(1500, 20);
    await waitFor(() => call.ended !== undefined, 5000, 'the call to end');
    expect(call.heard.totalMs - heardBeforeGoodbye).toBeGreaterThanOrEqual(990); // the whole goodbye was heard
    expect(call.afterStream?.xml).toContain('<Hangup');
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    const row = await server.app.store.calls.get(call.callId);
    expect(row).toMatchObject({ state: 'completed', outcome: 'no-input', outcomeReason: 'no input from the caller', cause: 'agent-hangup' });
    expect(await eventTypes(call.callId)).toEqual(expect.arrayContaining(['bridge.silence-prompt', 'bridge.silence-timeout', 'bridge.hangup-requested', 'bridge.handed-off']));
    const transcript = await server.app.store.transcripts.list(call.callId);
    expect(transcript.map((t) => t.text)).toEqual([GREETING, 'Are you still there?', "I haven't heard anything, so I'll end the call now. Goodbye!"]);
  });

  it('silence: the caller speaking after the prompt starts it over (a new prompt later, no hang-up)', async () => {
    await start({ AGENT_SILENCE_PROMPT_AFTER_MS: '5000', AGENT_SILENCE_HANGUP_AFTER_MS: '4000' });
    // Greeting heard by ~1.2 s, the prompt at ~6.2 s heard by ~7.4 s; the caller answers at 8 s.
    const call = await dial(callerFor(server, clock, { audio: speechLikeAudio({ startMs: 8000, durationMs: 800, seed: 5 }) }));
    await clock.advanceAsync(6500, 100);
    expect(requestedLines(openai)).toEqual([GREETING, 'Are you still there?']);
    // Past when the goodbye would have come (7.4 s + 4 s): the caller spoke and the agent replied instead.
    await clock.advanceAsync(5500, 100);
    expect(openai.sessions[0]!.sent.some((e) => e.type === 'input_audio_buffer.speech_started')).toBe(true);
    expect(requestedLines(openai)).toEqual([GREETING, 'Are you still there?']); // the reply came from VAD, not a goodbye
    expect(await eventTypes(call.callId)).not.toContain('bridge.silence-timeout');
    // A fresh silence after the reply is asked about again, once.
    await clock.advanceAsync(4000, 100);
    expect(requestedLines(openai)).toEqual([GREETING, 'Are you still there?', 'Are you still there?']);
    expect(call.ended).toBeUndefined();
    await call.hangup();
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect((await server.app.store.calls.get(call.callId))?.outcome).toBe('caller-hung-up');
  });

  it('a key press (callerActivity) starts the silence over too', async () => {
    await start({ AGENT_SILENCE_PROMPT_AFTER_MS: '5000', AGENT_SILENCE_HANGUP_AFTER_MS: '4000' });
    const call = await dial(callerFor(server, clock));
    await clock.advanceAsync(1500 + 4000, 100);
    expect(requestedLines(openai)).toEqual([GREETING]);
    server.app.bridge.get(call.callId)!.callerActivity();
    await clock.advanceAsync(4900, 100); // ~9 s of quiet in all, but under 5 s since the key press
    expect(requestedLines(openai)).toEqual([GREETING]);
    await clock.advanceAsync(200, 20);
    expect(requestedLines(openai)).toEqual([GREETING, 'Are you still there?']);
    await call.hangup();
  });

  it('time limit: a warning warnMs before the limit, then the goodbye and hang-up with time-limit', async () => {
    await start({ AGENT_SILENCE_WATCHDOG: 'false', AGENT_MAX_CALL_MS: '60000', AGENT_MAX_CALL_WARN_MS: '20000' });
    const call = await dial(callerFor(server, clock));
    await clock.advanceAsync(39_900, 100);
    expect(requestedLines(openai)).toEqual([GREETING]); // no silence prompt: the watchdog is off
    await clock.advanceAsync(200, 20);
    expect(requestedLines(openai)).toEqual([GREETING, 'Just so you know, we only have about a minute left on this call.']);
    expect(await eventTypes(call.callId)).toContain('bridge.time-limit-warning');
    await clock.advanceAsync(19_800, 100);
    expect(call.ended).toBeUndefined();
    await clock.advanceAsync(200, 20);
    expect(requestedLines(openai).at(-1)).toBe("We've reached the time limit for this call, so I'll have to end it now. Goodbye!");
    await clock.advanceAsync(1500, 20);
    await waitFor(() => call.ended !== undefined, 5000, 'the call to end');
    expect(call.afterStream?.xml).toContain('<Hangup');
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect(await server.app.store.calls.get(call.callId)).toMatchObject({ state: 'completed', outcome: 'time-limit', cause: 'agent-hangup' });
    expect((await server.app.store.transcripts.list(call.callId)).at(-1)?.text).toMatch(/time limit/);
  });

  it('time limit with a transfer configured: the caller is told and transferred; the outcome stays time-limit', async () => {
    await start({ AGENT_SILENCE_WATCHDOG: 'false', AGENT_MAX_CALL_MS: '60000', AGENT_MAX_CALL_WARN_MS: '0', AGENT_MAX_CALL_TRANSFER_TO: 'human', TRANSFER_TO: '+19195550177' });
    const call = await dial(callerFor(server, clock));
    await clock.advanceAsync(60_000, 100);
    expect(requestedLines(openai)).toEqual([GREETING, "We've reached the time limit for this call, so I'm transferring you to a colleague now."]);
    await clock.advanceAsync(1500, 20);
    await waitFor(() => call.afterStream !== undefined, 5000, 'the stream to end into the transfer');
    expect(call.afterStream?.xml).toContain('<Transfer');
    expect(call.afterStream?.xml).toContain('+19195550177');
    await clock.advanceAsync(3000, 100); // the human answers (the stand-in's default), and the legs are bridged
    await waitFor(() => call.callbacks.some((c) => c.eventType === 'transferAnswer' && c.status !== undefined), 5000, 'the human to answer');
    expect(await eventTypes(call.callId)).toEqual(expect.arrayContaining(['bridge.time-limit', 'bridge.transfer-requested']));
    // transferAnswer proposed `transferred`; the time limit, decided first, stands.
    expect((await server.app.store.calls.get(call.callId))?.state).toBe('transferred');
    await call.hangup();
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect((await server.app.store.calls.get(call.callId))?.outcome).toBe('time-limit');
  });

  it('time limit: a transfer at the limit that fails brings the caller back only for the goodbye (the limit is the call\'s)', async () => {
    await start({ AGENT_SILENCE_WATCHDOG: 'false', AGENT_MAX_CALL_MS: '60000', AGENT_MAX_CALL_WARN_MS: '0', AGENT_MAX_CALL_TRANSFER_TO: 'human', TRANSFER_TO: '+19195550177' });
    const call = await dial(callerFor(server, clock, { transfer: () => ({ outcome: 'busy', ringMs: 1000 }) }));
    await clock.advanceAsync(61_500, 100);
    await waitFor(() => call.transfers.length === 1, 5000, 'the transfer');
    await clock.advanceAsync(1500, 50); // busy after 1 s: transferComplete brings the caller back on a new stream
    await waitFor(() => openai.sessions.length === 2, 5000, 'the resumed session');
    await clock.advanceAsync(3000, 20);
    await waitFor(() => call.ended !== undefined, 5000, 'the call to end');
    expect(requestedLines(openai, 1)).toContain("We've reached the time limit for this call, so I'll have to end it now. Goodbye!");
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    const row = await server.app.store.calls.get(call.callId);
    expect(row).toMatchObject({ state: 'completed', outcome: 'time-limit' });
    const limits = (await server.app.store.events.list(call.callId)).filter((e) => e.type === 'bridge.time-limit').map((e) => e.data);
    expect(limits).toEqual([expect.objectContaining({ action: 'transfer', transferTo: 'human' }), expect.objectContaining({ action: 'hangup' })]);
    expect(call.transfers).toHaveLength(1);
  });
});
