import { agentSchema } from '../../src/agents/agent';
import { ManualClock, waitFor } from '../../src/clock';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { startTestServer, type TestServer } from '../helpers/server';
import { deliverSipCall } from '../helpers/sip';

const SECRET = `whsec_${Buffer.from('another-signing-key-of-some-length').toString('base64')}`;

/** openai-sip over real sockets: accept, sideband, greeting, transcripts, tools → refer / hangup. */
describe('openai-sip sideband control', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  beforeEach(async () => {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, firstDeltaLatencyMs: 0, script: (ctx) => (ctx.n === 1 ? { text: 'Hello from the SIP agent.', audioMs: 400 } : { text: 'One moment.', audioMs: 300 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, OPENAI_WEBHOOK_SECRET: SECRET, TRANSFER_TO: '+19195550177' });
    const base = (await server.app.store.agents.get('default'))!.agent;
    await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' } }), 'api', ['default-human']);
    await server.app.store.numbers.assign('+19195550100', 'sipper');
  });
  afterEach(async () => {
    await server.close();
    await openai.close();
  });

  async function incoming(callId: string, carrier: { from?: string; contact?: string; parent?: string } = {}) {
    // The Bandwidth leg our UUI names, as call-flows left it: handed to the AI SIP endpoint (sip-webhook.ts parentOf).
    const parent = carrier.parent ?? 'c-bw-leg-1';
    if (!carrier.parent) await server.app.store.calls.record({ id: parent, leg: 'caller', state: 'sip-connecting' });
    return deliverSipCall(server, openai, SECRET, callId, {
      from: carrier.from ?? '<sip:+19195550142@67.231.4.10:5060>;tag=a',
      contact: carrier.contact ?? '<sip:+19195550142@67.231.4.10:5060;transport=udp>',
      uui: { parentCallId: parent, agentId: 'sipper' },
    });
  }

  /** Play the server's part of a function call on the sideband. */
  function callTool(session: Awaited<ReturnType<typeof incoming>>, name: string, args: object) {
    session.send({ type: 'response.created', response: { id: `resp_${name}`, status: 'in_progress' } });
    session.send({ type: 'response.function_call_arguments.done', response_id: `resp_${name}`, item_id: `fc_${name}`, output_index: 0, call_id: `call_${name}`, name, arguments: JSON.stringify(args) });
    session.send({ type: 'response.done', response: { id: `resp_${name}`, status: 'completed', output: [] } });
  }

  it('greets, keeps the transcript, and transfers with a REFER to the phone destination on the trunk host', async () => {
    const session = await incoming('rtc_side_1');
    await waitFor(() => session.received.some((e) => e.type === 'session.update'), 5000, 'session.update');
    expect((session.received.find((e) => e.type === 'session.update')!.event as { session: unknown }).session).toEqual({ type: 'realtime' });
    await waitFor(() => session.received.some((e) => e.type === 'response.create'), 5000, 'the greeting request');
    await clock.advanceAsync(500);
    await waitFor(() => session.sent.some((e) => e.type === 'response.done'), 5000, 'the greeting');
    callTool(session, 'transfer_call', { destination: 'human', reason: 'billing', summary: 'Wants a refund.' });
    await waitFor(() => session.received.some((e) => e.type === 'conversation.item.create'), 5000, 'the tool output');
    await clock.advanceAsync(400); // the stand-in speaks "One moment."
    await waitFor(() => session.sent.filter((e) => e.type === 'response.done').length >= 2, 5000, 'the spoken reply');
    session.send({ type: 'output_audio_buffer.stopped', response_id: 'x' }); // OpenAI's playout finished
    await waitFor(() => openai.sipCalls.get('rtc_side_1')!.refers.length === 1, 5000, 'the REFER');
    expect(openai.sipCalls.get('rtc_side_1')!.refers).toEqual(['sip:+19195550177@67.231.4.10:5060']);
    const transcript = await server.app.store.transcripts.list('rtc_side_1');
    expect(transcript.map((t) => t.text)).toContain('Hello from the SIP agent.');
    // Linked to the Bandwidth leg, and accepted with the agent's instructions and tools.
    expect((await server.app.store.calls.get('rtc_side_1'))?.parentCallId).toBe('c-bw-leg-1');
    const accept = openai.sipCalls.get('rtc_side_1')!.accept!;
    expect(accept.instructions).toBe((await server.app.store.agents.get('sipper'))!.agent.instructions);
    expect((accept.tools as { name: string }[]).map((t) => t.name).sort()).toEqual(['hang_up', 'transfer_call']);
    expect(openai.upgrades.some((u) => u.path.endsWith('/realtime?call_id=rtc_side_1') && u.status === 101)).toBe(true);
    const events = (await server.app.store.events.list('rtc_side_1')).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(['realtime.call.incoming', 'model.ready', 'tool.call', 'sip.refer']));
    expect((await server.app.store.calls.get('rtc_side_1'))?.state).toBe('transferring');
  });

  /** Greeting, then transfer_call to the human, the agent's last words, and OpenAI's playout stopping. */
  async function transferToHuman(session: Awaited<ReturnType<typeof incoming>>) {
    await waitFor(() => session.received.some((e) => e.type === 'response.create'), 5000, 'the greeting request');
    await clock.advanceAsync(500);
    await waitFor(() => session.sent.some((e) => e.type === 'response.done'), 5000, 'the greeting');
    callTool(session, 'transfer_call', { destination: 'human', reason: 'billing', summary: 'Wants a refund.' });
    await waitFor(() => session.received.some((e) => e.type === 'conversation.item.create'), 5000, 'the tool output');
    await clock.advanceAsync(400);
    await waitFor(() => session.sent.filter((e) => e.type === 'response.done').length >= 2, 5000, 'the spoken reply');
    session.send({ type: 'output_audio_buffer.stopped', response_id: 'x' });
  }

  it("REFERs a phone destination to the agent's sip.referTarget template", async () => {
    const stored = (await server.app.store.agents.get('sipper'))!;
    await server.app.store.agents.upsert({ ...stored.agent, sip: { ...stored.agent.sip!, referTarget: 'sips:{number}@pbx.example.com;user=phone' } }, 'api', ['default-human']);
    const session = await incoming('rtc_side_tpl');
    await transferToHuman(session);
    await waitFor(() => openai.sipCalls.get('rtc_side_tpl')!.refers.length === 1, 5000, 'the REFER');
    expect(openai.sipCalls.get('rtc_side_tpl')!.refers).toEqual(['sips:+19195550177@pbx.example.com;user=phone']);
  });

  it('a carrier that refuses the REFER: the agent is told, the caller stays with it, the outcome is an event on the call', async () => {
    openai.referRefusal = { status: 500, sipStatus: 405, sipReason: 'Method Not Allowed' };
    const session = await incoming('rtc_side_refused');
    await transferToHuman(session);
    await waitFor(() => openai.sipCalls.get('rtc_side_refused')!.refusedRefers.length === 1, 5000, 'the refused REFER');
    // The agent hears why and is asked to speak again; nothing was resent.
    await waitFor(() => session.received.filter((e) => e.type === 'response.create').length >= 3, 5000, 'the response after the failure');
    const told = session.received.filter((e) => e.type === 'conversation.item.create').map((e) => (e.event as { item: { type: string; role?: string; content?: { text: string }[] } }).item);
    expect(told.at(-1)).toMatchObject({ type: 'message', role: 'system' });
    expect(told.at(-1)!.content![0]!.text).toMatch(/The transfer to human failed .*SIP 405 Method Not Allowed.*Tell the caller/);
    expect(openai.sipCalls.get('rtc_side_refused')!.refusedRefers).toEqual([{ target: 'sip:+19195550177@67.231.4.10:5060', status: 500, sipStatus: 405 }]);
    expect(openai.sipCalls.get('rtc_side_refused')!.refers).toEqual([]);
    // The caller is still on the AI leg: the call is neither transferring nor ended, the sideband open.
    expect(openai.sipCalls.get('rtc_side_refused')!.state).toBe('accepted');
    expect(session.open).toBe(true);
    const failed = (await server.app.store.events.list('rtc_side_refused')).filter((e) => e.type === 'sip.refer-failed');
    expect(failed.map((e) => e.data)).toEqual([
      expect.objectContaining({ kind: 'refer', destination: 'human', target: 'sip:+19195550177@67.231.4.10:5060', status: 500, reason: expect.stringMatching(/SIP 405/) }),
    ]);
    expect((await server.app.store.calls.get('rtc_side_refused'))?.state).toBe('sip-connected');
  });

  it('a Contact that is not a plain host never reaches a REFER: the From host is used, and without one nothing is REFERred', async () => {
    const hostile = '<sip:x@carrier.example, <sip:attacker@evil.example>>';
    const session = await incoming('rtc_side_hostile', { contact: hostile });
    await transferToHuman(session);
    await waitFor(() => openai.sipCalls.get('rtc_side_hostile')!.refers.length === 1, 5000, 'the REFER');
    expect(openai.sipCalls.get('rtc_side_hostile')!.refers).toEqual(['sip:+19195550177@67.231.4.10:5060']);

    const none = await incoming('rtc_side_no_host', { contact: hostile, from: '<sip:+19195550142@carrier.example"evil>;tag=a' });
    await transferToHuman(none);
    await waitFor(() => none.received.filter((e) => e.type === 'conversation.item.create').length >= 1, 5000, 'the tool output');
    const output = none.received.filter((e) => e.type === 'conversation.item.create').map((e) => (e.event as { item: { type: string; output?: string } }).item).find((i) => i.type === 'function_call_output');
    expect(output?.output).toMatch(/contactHost|REFER target/);
    expect(openai.sipCalls.get('rtc_side_no_host')!.refers).toEqual([]);
    const failed = (await server.app.store.events.list('rtc_side_no_host')).filter((e) => e.type === 'sip.refer-failed');
    expect(failed.map((e) => e.data)).toEqual([expect.objectContaining({ destination: 'human', reason: expect.stringMatching(/contactHost/) })]);
  });

  it('hang_up becomes hangup; the call ends with agent-hangup', async () => {
    const session = await incoming('rtc_side_2');
    await waitFor(() => session.received.some((e) => e.type === 'response.create'), 5000, 'the greeting request');
    await clock.advanceAsync(500);
    await waitFor(() => session.sent.some((e) => e.type === 'response.done'), 5000, 'the greeting');
    callTool(session, 'hang_up', {});
    await waitFor(() => session.received.filter((e) => e.type === 'response.create').length >= 2, 5000, 'the goodbye request');
    await clock.advanceAsync(400);
    await waitFor(() => session.sent.filter((e) => e.type === 'response.done').length >= 2, 5000, 'the goodbye');
    session.send({ type: 'output_audio_buffer.stopped', response_id: 'x' });
    await waitFor(() => openai.sipCalls.get('rtc_side_2')!.state === 'ended', 5000, 'the hangup');
    expect(await server.app.store.calls.get('rtc_side_2')).toMatchObject({ state: 'completed', cause: 'agent-hangup' });
  });

  it('a UUI naming a call of ours that is not being handed to an AI endpoint is not believed: that call is left alone', async () => {
    // Whoever dials OpenAI's SIP endpoint writes the UUI: a forged `sb=` must not touch another call.
    await server.app.store.calls.record({ id: 'c-victim', leg: 'caller', state: 'streaming', agentId: 'sipper' });
    const session = await incoming('rtc_forged_1', { parent: 'c-victim' });
    expect((await server.app.store.calls.get('rtc_forged_1'))?.parentCallId).toBeNull();
    session.close();
    let ended: Awaited<ReturnType<typeof server.app.store.calls.get>>;
    for (let i = 0; i < 200 && ended?.state !== 'completed'; i++) {
      await clock.advanceAsync(10);
      ended = await server.app.store.calls.get('rtc_forged_1');
    }
    expect(ended).toMatchObject({ state: 'completed', outcome: 'caller-hung-up' });
    expect(await server.app.store.calls.get('c-victim')).toMatchObject({ state: 'streaming', outcome: null });
    await server.app.store.calls.record({ id: 'c-victim', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });
  });
});
