import { agentSchema } from '../../src/agents/agent';
import { ManualClock, waitFor } from '../../src/clock';
import { SimulatedCall, speechLikeAudio, type TransferScript } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { callerFor, standInEnv, startTestServer, type TestServer } from '../helpers/server';

const HUMAN = '+19195550177';
const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: 'Wants a refund for order A7.' } };

/**
 * Transfers and tools end to end: the real server between the Bandwidth caller, the Bandwidth REST stand-in
 * (attached to the live call, so it does what Bandwidth would) and the Realtime stand-in.
 */
describe('transfers, hang-up and tools over real sockets', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let rest: BandwidthRestStandIn;
  let server: TestServer;

  async function start(plans: (n: number) => ResponsePlan, env: Record<string, string> = {}) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: (ctx) => plans(ctx.n), transcribe: () => 'I want to talk to a person about my bill.' });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer(
      { ...standInEnv(openai.url, rest, HUMAN), ...env },
      { clock },
    );
  }
  afterEach(async () => {
    await server?.close();
    await rest?.close();
    await openai?.close();
  });

  async function dial(transfer?: (target: unknown) => TransferScript, options: { omitParentCallId?: boolean } = {}): Promise<SimulatedCall> {
    const call = callerFor(server, clock, {
      audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }),
      ...(transfer ? { transfer } : {}),
      ...options,
    });
    rest.attach(call);
    return dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
  }

  const plans = (afterTool: ResponsePlan) => (n: number): ResponsePlan =>
    n === 1 ? { text: 'Hello, Acme billing, how can I help?', audioMs: 1000 } : n === 2 ? { functionCall: TRANSFER } : n === 3 ? afterTool : { text: 'Anything else?', audioMs: 800 };

  /** Agent audio heard after the tool call, in ms. */
  const heardAfter = (call: SimulatedCall, atMs: number) => call.heard.segments.filter((s) => s.startMs >= atMs).reduce((a, s) => a + (s.endMs - s.startMs), 0);

  it('the caller asks for a person: transfer_call → signed redirect → transfer BXML → whisper → transferComplete', async () => {
    await start(plans({ text: 'Of course, transferring you to a person now.', audioMs: 1500 }));
    const call = await dial(() => ({ outcome: 'answered', ringMs: 2000, talkMs: 4000 }));
    await clock.advanceAsync(6500); // the caller asks at 1.5 s; the agent's 1.5 s sentence ends near 5.5 s
    const toolAt = openai.sessions[0]!.received.find((e) => e.type === 'conversation.item.create')!.atMs;
    await waitFor(() => rest.requests.some((r) => r.operation === 'updateCall'), 5000, 'the redirect');
    await clock.advanceAsync(8000);
    await rest.idle();

    // The transferring sentence was heard in full before the stream was stopped.
    expect(heardAfter(call, toolAt)).toBeGreaterThanOrEqual(1480);
    // The REST stand-in saw a redirect to a sealed /redirect URL with our credentials and a fallback.
    const update = rest.requests.find((r) => r.operation === 'updateCall')!.body as Record<string, string>;
    expect(update.redirectUrl).toMatch(/\/bandwidth\/voice\/redirect\?t=[A-Za-z0-9_-]+$/);
    expect(update.redirectUrl).not.toContain('19195550177');
    expect(update.redirectFallbackUrl).toMatch(/\/bandwidth\/voice\/stream-ended$/);
    // The redirect callback answered the transfer template, to the right destination.
    expect(rest.redirects[0]!.bxml).toMatch(/<StopStream name="ai-agent"\/>[\s\S]*<Transfer[\s\S]*<PhoneNumber[^>]*>\+19195550177<\/PhoneNumber>/);
    // The whisper reached the human leg only.
    const transfer = call.transfers[0]!;
    expect(transfer.outcome).toBe('answered');
    const whisper = transfer.whisper!.texts.join(' ');
    expect(whisper).toContain('billing question');
    expect(whisper).toContain('Wants a refund for order A7.');
    // transferComplete was recorded, the human leg has its own row with a duration.
    const events = await server.app.store.events.list(call.callId);
    const complete = events.find((e) => e.type === 'transferComplete');
    expect((complete!.data as { switchboard: { transfer: string } }).switchboard.transfer).toBe('completed');
    const leg = await server.app.store.calls.get(transfer.bLegCallId);
    expect(leg).toMatchObject({ leg: 'transfer', parentCallId: call.callId, to: HUMAN, state: 'completed', cause: 'hangup' });
    expect(Date.parse(leg!.endedAt!) - Date.parse(leg!.answeredAt!)).toBeGreaterThanOrEqual(3900);
  });

  it('a warm transfer works end to end when Bandwidth omits parentCallId (bandwidth.yml has none on transferAnswer)', async () => {
    await start(plans({ text: 'Of course, transferring you to a person now.', audioMs: 1500 }));
    const call = await dial(() => ({ outcome: 'answered', ringMs: 2000, talkMs: 4000 }), { omitParentCallId: true });
    await clock.advanceAsync(6500);
    await waitFor(() => rest.requests.some((r) => r.operation === 'updateCall'), 5000, 'the redirect');
    await clock.advanceAsync(8000);
    await rest.idle();
    const transfer = call.transfers[0]!;
    const answer = call.callbacks.find((c) => c.eventType === 'transferAnswer')!;
    expect(answer.body).not.toHaveProperty('parentCallId');
    expect(answer.status).toBe(200);
    expect(call.callbacks.find((c) => c.eventType === 'transferDisconnect')!.status).toBe(204);
    expect(transfer.outcome).toBe('answered');
    expect(transfer.whisper!.texts.join(' ')).toContain('Wants a refund for order A7.');
    const events = await server.app.store.events.list(call.callId);
    expect((events.find((e) => e.type === 'transferComplete')!.data as { switchboard: { transfer: string } }).switchboard.transfer).toBe('completed');
    expect(await server.app.store.calls.get(transfer.bLegCallId)).toMatchObject({ leg: 'transfer', parentCallId: call.callId, to: HUMAN, state: 'completed', cause: 'hangup' });
    expect(await server.app.store.calls.get(call.callId)).toMatchObject({ state: 'completed', direction: 'inbound', to: '+19195550100' });
  });

  it('a busy human brings the caller back to the agent, which is told why', async () => {
    await start(plans({ text: 'Let me transfer you.', audioMs: 800 }));
    const call = await dial(() => ({ outcome: 'busy', ringMs: 1500 }));
    await clock.advanceAsync(5500);
    await waitFor(() => call.transfers.length === 1, 5000, 'the transfer');
    await clock.advanceAsync(2500);
    await waitFor(() => openai.sessions.length === 2, 5000, 'a new OpenAI session for the returning caller');
    await clock.advanceAsync(1500);
    expect(call.transfers[0]!.outcome).toBe('busy');
    expect(call.streams.length).toBe(2);
    const note = openai.sessions[1]!.received.find((e) => e.type === 'conversation.item.create' && JSON.stringify(e.event).includes('"system"'));
    expect(JSON.stringify(note!.event)).toMatch(/did not go through: the line was busy/);
    // Primed with the conversation so far, then the agent speaks to the caller again.
    expect(openai.sessions[1]!.received.filter((e) => e.type === 'conversation.item.create').length).toBeGreaterThanOrEqual(3);
    expect(heardAfter(call, call.streams[1]!.startedAtMs)).toBeGreaterThan(500);
    await call.hangup();
  });

  it('hang_up ends the call only after the goodbye has played; Bandwidth sees state completed', async () => {
    const goodbye: ResponsePlan = { text: 'Thanks for calling, goodbye!', audioMs: 1200 };
    await start((n) => (n === 1 ? { text: 'Hello!', audioMs: 800 } : n === 2 ? { functionCall: { name: 'hang_up', arguments: { reason: 'caller is done' } } } : goodbye));
    const call = await dial();
    await clock.advanceAsync(6000);
    const toolAt = openai.sessions[0]!.received.find((e) => e.type === 'conversation.item.create')!.atMs;
    await waitFor(() => rest.requests.some((r) => r.operation === 'updateCall'), 5000, 'the hang-up');
    await clock.advanceAsync(500);
    await rest.idle();
    expect(rest.requests.find((r) => r.operation === 'updateCall')!.body).toEqual({ state: 'completed' });
    expect(heardAfter(call, toolAt)).toBeGreaterThanOrEqual(1180);
    await waitFor(() => call.callbacks.some((c) => c.eventType === 'disconnect'), 5000, 'disconnect');
    expect(await server.app.store.calls.get(call.callId)).toMatchObject({ state: 'completed', cause: 'agent-hangup' });
  });

  /**
   * Hang-up after a goodbye whose audio completion is signalled only as `options` say: advance until the
   * caller has heard all of it, then (clock frozen) the hang-up must go out without anything more from
   * the model.
   */
  async function hangUpAfterGoodbye(goodbye: ResponsePlan & { audioMs: number }) {
    await start((n) => (n === 1 ? { text: 'Hello!', audioMs: 800 } : n === 2 ? { functionCall: { name: 'hang_up', arguments: { reason: 'caller is done' } } } : goodbye));
    const call = await dial();
    const session = openai.sessions[0]!;
    const toolAt = () => session.received.find((e) => e.type === 'conversation.item.create')?.atMs;
    for (let i = 0; i < 500 && !(toolAt() !== undefined && heardAfter(call, toolAt()!) >= goodbye.audioMs - 20); i++) await clock.advanceAsync(20);
    await clock.advanceAsync(100); // a playout tick or five: the goodbye is heard in full
    await waitFor(() => rest.requests.some((r) => r.operation === 'updateCall'), 5000, 'the hang-up, with the clock standing still');
    await rest.idle();
    expect(rest.requests.find((r) => r.operation === 'updateCall')!.body).toEqual({ state: 'completed' });
    expect(heardAfter(call, toolAt()!)).toBeGreaterThanOrEqual(goodbye.audioMs - 20);
    return { call, session };
  }

  it('hang_up goes out when the goodbye has played, not when its late transcript arrives (output_audio.done)', async () => {
    const { session } = await hangUpAfterGoodbye({ text: 'Thanks for calling, goodbye!', audioMs: 1200, transcriptDelayMs: 5000 });
    const goodbyeResponse = session.responses[2]!.id;
    const ofGoodbye = (type: string) => session.sent.filter((e) => e.type === type && e.event.response_id === goodbyeResponse);
    expect(ofGoodbye('response.output_audio.done')).toHaveLength(1);
    expect(ofGoodbye('response.output_audio_transcript.done')).toHaveLength(0); // still seconds away
  });

  it('hang_up still goes out after the goodbye when output_audio.done never comes (response.done stands for it)', async () => {
    const { session } = await hangUpAfterGoodbye({ text: 'Thanks for calling, goodbye!', audioMs: 1200, omitAudioDone: true });
    expect(session.sent.filter((e) => e.type === 'response.output_audio.done')).toHaveLength(1); // the greeting's only
    expect(session.sent.filter((e) => e.type === 'response.done')).toHaveLength(3);
  });

  it('an HTTP tool that answers 500 gives the model an error result, and the call continues', async () => {
    await start((n) => (n === 1 ? { text: 'Hello!', audioMs: 600 } : n === 2 ? { functionCall: { name: 'lookup_order', arguments: { orderId: 'A7' } } } : { text: 'Sorry, I cannot look that up right now.', audioMs: 1000 }));
    const stored = (await server.app.store.agents.get('default'))!;
    await server.app.store.agents.upsert(agentSchema.parse({ ...stored.agent, httpTools: [{ name: 'lookup_order', description: 'Find an order', url: `${rest.apiBaseUrl}/../../no-such-endpoint`, timeoutMs: 2000 }] }), 'api');
    const call = await dial();
    await clock.advanceAsync(5000);
    const output = openai.sessions[0]!.received.find((e) => e.type === 'conversation.item.create' && JSON.stringify(e.event).includes('function_call_output'));
    expect(JSON.stringify(output!.event)).toMatch(/lookup_order answered HTTP 404/);
    const toolEvent = (await server.app.store.events.list(call.callId)).find((e) => e.type === 'tool.call');
    expect(toolEvent!.data).toMatchObject({ name: 'lookup_order', ok: false, arguments: { orderId: 'A7' } });
    expect(heardAfter(call, output!.atMs)).toBeGreaterThanOrEqual(900); // the agent carried on
    expect(server.app.bridge.get(call.callId)?.state).toBe('live'); // the call is still with the agent
    await call.hangup();
  });

  it('429 with Retry-After and a 503 are retried and then succeed', async () => {
    await start(plans({ text: 'Transferring you now.', audioMs: 600 }));
    rest.fail('updateCall', { status: 429, retryAfterS: 1 }, { status: 503 });
    const call = await dial(() => ({ outcome: 'answered', ringMs: 500, talkMs: 500 }));
    await clock.advanceAsync(5000);
    // Retry-After 1 s, then 500 ms of backoff: all on the clock.
    await clock.advanceAsync(2000);
    await waitFor(() => rest.requests.filter((r) => r.operation === 'updateCall').length === 3, 5000, 'three attempts');
    await clock.advanceAsync(3000);
    await rest.idle();
    expect(rest.requests.filter((r) => r.operation === 'updateCall').map((r) => r.status)).toEqual([429, 503, 200]);
    expect(call.transfers[0]?.outcome).toBe('answered');
  });

  it('a 409 (the caller already gone when the redirect is sent) is recorded as "call already ended"', async () => {
    await start(plans({ text: 'Transferring you now.', audioMs: 600 }));
    rest.fail('updateCall', { status: 409, body: { type: 'validation', description: 'Call [c-x] cannot be modified in its current state', id: null } });
    const gone = await dial();
    await clock.advanceAsync(5000);
    await waitFor(() => rest.requests.some((r) => r.operation === 'updateCall'), 5000, 'the redirect');
    await clock.advanceAsync(200);
    const handedOff = (await server.app.store.events.list(gone.callId)).find((e) => e.type === 'bridge.handed-off');
    expect(handedOff!.data).toMatchObject({ action: 'transfer', via: 'carrier', outcome: 'call already ended' });
    gone.destroy();
  });
});
