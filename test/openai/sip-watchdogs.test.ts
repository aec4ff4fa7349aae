import { agentSchema } from '../../src/agents/agent';
import { ManualClock, waitFor } from '../../src/clock';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ScriptContext } from '../../src/sim/realtime-script';
import { startTestServer, type TestServer } from '../helpers/server';
import { deliverSipCall } from '../helpers/sip';

const SECRET = `whsec_${Buffer.from('watchdog-signing-key-of-some-length').toString('base64')}`;
const GREETING = 'Hello from the SIP agent.';
const PROMPT = 'Are you still there?';
const GOODBYE = "I haven't heard anything, so I'll end the call now. Goodbye!";

/** The stand-in says the quoted line of each instructed response (greeting, watchdog lines), 1 s of audio each. */
const lineScript = (ctx: ScriptContext) => ({ text: /"([^"]+)"/.exec(ctx.instructions)?.[1] ?? 'Sure.', audioMs: 1000 });

/**
 * The same watchdogs in openai-sip mode: OpenAI plays the audio over RTP and says on the sideband when its
 * playout stopped (`output_audio_buffer.stopped`, sent here by hand as in sip-sideband.test.ts); the
 * server and the stand-in share one ManualClock.
 */
describe('watchdogs on an openai-sip call', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  async function start(callLimits: Record<string, unknown>) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, firstDeltaLatencyMs: 0, script: lineScript });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, OPENAI_WEBHOOK_SECRET: SECRET, AGENT_GREETING: GREETING }, { clock });
    const base = (await server.app.store.agents.get('default'))!.agent;
    await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' }, callLimits }), 'api');
    await server.app.store.numbers.assign('+19195550100', 'sipper');
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  async function incoming(callId: string) {
    return deliverSipCall(server, openai, SECRET, callId);
  }
  type Sideband = Awaited<ReturnType<typeof incoming>>;

  const lines = (session: Sideband) =>
    session.received.filter((e) => e.type === 'response.create').map((e) => /"([^"]+)"/.exec((e.event as { response?: { instructions?: string } }).response?.instructions ?? '')?.[1]);

  /** Let the stand-in speak the latest response (1 s), then OpenAI's playout stops. */
  async function spoken(session: Sideband, responses: number) {
    await clock.advanceAsync(1100, 50);
    await waitFor(() => session.sent.filter((e) => e.type === 'response.done').length >= responses, 5000, `response ${responses} done`);
    session.send({ type: 'output_audio_buffer.stopped', response_id: `resp_${responses}` });
    await clock.advanceAsync(40); // lets the event cross the socket
  }

  it('silence: the prompt, then the goodbye and OpenAI hangup with no-input; caller speech starts it over', async () => {
    await start({ silence: { promptAfterMs: 5000, hangUpAfterMs: 4000 } });
    const session = await incoming('rtc_wd_silence');
    await waitFor(() => lines(session).length === 1, 5000, 'the greeting request');
    await spoken(session, 1);
    await clock.advanceAsync(4800, 100);
    expect(lines(session)).toEqual([GREETING]);
    await clock.advanceAsync(300, 20);
    await waitFor(() => lines(session).length === 2, 5000, 'the prompt');
    expect(lines(session)).toEqual([GREETING, PROMPT]);
    await spoken(session, 2);

    // The caller answers: speech started and stopped (the model would reply; none here), the count starts over.
    session.send({ type: 'input_audio_buffer.speech_started', item_id: 'item_caller_1', audio_start_ms: 9000 });
    await clock.advanceAsync(600, 20);
    session.send({ type: 'input_audio_buffer.speech_stopped', item_id: 'item_caller_1', audio_end_ms: 9600 });
    await clock.advanceAsync(4500, 100); // past the 4 s after the prompt: no goodbye, it was answered
    expect(lines(session)).toEqual([GREETING, PROMPT]);
    await clock.advanceAsync(700, 100); // 5 s after the caller stopped: asked again
    await waitFor(() => lines(session).length === 3, 5000, 'the second prompt');
    expect(lines(session)).toEqual([GREETING, PROMPT, PROMPT]);
    await spoken(session, 3);

    await clock.advanceAsync(4100, 100);
    await waitFor(() => lines(session).length === 4, 5000, 'the goodbye');
    expect(lines(session).at(-1)).toBe(GOODBYE);
    expect(openai.sipCalls.get('rtc_wd_silence')!.state).toBe('accepted'); // the goodbye is said first
    await spoken(session, 4);
    await waitFor(() => openai.sipCalls.get('rtc_wd_silence')!.state === 'ended', 5000, 'the hangup');
    await waitFor(() => session.open === false, 5000, 'the sideband to close');
    const row = await server.app.store.calls.get('rtc_wd_silence');
    expect(row).toMatchObject({ state: 'completed', outcome: 'no-input', cause: 'agent-hangup' });
    const events = (await server.app.store.events.list('rtc_wd_silence')).map((e) => e.type);
    expect(events.filter((t) => t === 'bridge.silence-prompt')).toHaveLength(2);
    expect(events).toEqual(expect.arrayContaining(['bridge.silence-timeout', 'sip.hangup']));
  });

  it('time limit: the warning, then the goodbye and OpenAI hangup with time-limit', async () => {
    await start({ silence: { enabled: false }, maxDuration: { limitMs: 60_000, warnMs: 15_000 } });
    const session = await incoming('rtc_wd_limit');
    await waitFor(() => lines(session).length === 1, 5000, 'the greeting request');
    await spoken(session, 1);
    await clock.advanceAsync(43_000, 200);
    expect(lines(session)).toEqual([GREETING]);
    await clock.advanceAsync(2000, 100);
    await waitFor(() => lines(session).length === 2, 5000, 'the warning');
    expect(lines(session)[1]).toBe('Just so you know, we only have about a minute left on this call.');
    await spoken(session, 2);
    await clock.advanceAsync(13_000, 200);
    await waitFor(() => lines(session).length === 3, 5000, 'the goodbye');
    expect(lines(session)[2]).toMatch(/time limit .* Goodbye!/);
    await spoken(session, 3);
    await waitFor(() => openai.sipCalls.get('rtc_wd_limit')!.state === 'ended', 5000, 'the hangup');
    await waitFor(() => session.open === false, 5000, 'the sideband to close');
    expect(await server.app.store.calls.get('rtc_wd_limit')).toMatchObject({ state: 'completed', outcome: 'time-limit', cause: 'agent-hangup' });
  });
});
