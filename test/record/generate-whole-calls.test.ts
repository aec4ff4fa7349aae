import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, waitFor } from '../../src/clock';
import { speechLikeAudio, type SimulatedCall, type TransferScriptFn } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { readScenario } from '../../src/record/scenario';
import { requiresFromEnv } from '../../src/record/scenario-settings';
import { tapeDirFor } from '../../src/record/tape-format';
import { callerFor, standInEnv, startTestServer, type TestServer } from '../helpers/server';
import { deliverSipCall } from '../helpers/sip';

/**
 * Regenerates the whole-call library in fixtures/whole-call/ (a scenario DIR/<name>.json and its
 * recording DIR/<name>.call/) by recording simulated calls with RECORD_DIR.
 * Not part of the normal run: `RECORD_FIXTURES=1 npx jest test/record/generate-whole-calls.test.ts`.
 * Each scenario's `meta.requires` is the configuration its replay server needs (scenario-settings.ts).
 */
const OUT = path.join(__dirname, '../../fixtures/whole-call');
const HUMAN = '+19195550177';
const run = process.env.RECORD_FIXTURES === '1' ? describe : describe.skip;

run('regenerate fixtures/whole-call', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn | undefined;
  let rest: BandwidthRestStandIn | undefined;
  let server: TestServer | undefined;
  let recordDir: string;

  afterEach(async () => {
    await server?.close();
    await openai?.close();
    await rest?.close();
    server = openai = rest = undefined;
    fs.rmSync(recordDir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>, plans: (n: number) => ResponsePlan) {
    clock = new ManualClock(0);
    recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-whole-calls-'));
    openai = await startRealtimeStandIn({ clock, script: (ctx) => plans(ctx.n), transcribe: () => 'I want to talk to a person.' });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer({ ...standInEnv(openai.url, rest, HUMAN), RECORD_DIR: recordDir, ...env }, { clock });
  }

  function caller(options: { speechAtMs?: number; transfer?: TransferScriptFn } = {}): SimulatedCall {
    const call = callerFor(server!, clock, { audio: speechLikeAudio({ startMs: options.speechAtMs ?? 1500, durationMs: 900, seed: 5 }), ...(options.transfer ? { transfer: options.transfer } : {}) });
    rest!.attach(call);
    return call;
  }

  async function finish(call: SimulatedCall, untilMs: number) {
    while (!call.ended && clock.now() < untilMs) await clock.advanceAsync(20);
    if (!call.ended) await call.hangup();
    await clock.advanceAsync(2000);
    await rest!.idle();
  }

  async function save(name: string, callId: string, description: string, env: Record<string, string>) {
    const file = server!.app.recorder!.fileFor(callId);
    await waitFor(() => fs.existsSync(file) && JSON.stringify(readScenario(file)).includes('"disconnect"'), 5000, `${name}: the disconnect`);
    await server!.close();
    server = undefined;
    const steps = readScenario(file);
    steps[0] = { seq: 0, from: 'switchboard', to: 'recorder', transport: 'none', kind: 'meta', meta: { description, requires: requiresFromEnv({ TRANSFER_TO: HUMAN, ...env }), callId } };
    fs.mkdirSync(OUT, { recursive: true });
    const dest = path.join(OUT, `${name}.json`);
    fs.writeFileSync(dest, `${JSON.stringify(steps, null, 2)}\n`);
    fs.rmSync(tapeDirFor(dest), { recursive: true, force: true });
    fs.cpSync(tapeDirFor(file), tapeDirFor(dest), { recursive: true });
  }

  it('barge-in: the caller talks over a long greeting', async () => {
    await start({}, (n) => (n === 1 ? { text: 'Hello, thanks for calling Acme. Our opening hours are nine to five, Monday to Friday.', audioMs: 5000 } : { text: 'Of course, one moment.', audioMs: 1200 }));
    const call = await dialThroughSetup(caller({ speechAtMs: 1500 }), 400, (ms) => clock.advanceAsync(ms));
    await finish(call, 7000);
    await save('barge-in', call.callId, 'The caller talks over a long greeting: the bridge clears the playout and truncates the greeting at what was heard; the agent answers; the caller hangs up.', {});
  });

  it('tool call: the agent hangs up with the hang_up tool', async () => {
    await start({}, (n) => (n === 1 ? { text: 'Hello, Acme support.', audioMs: 1000 } : n === 2 ? { text: 'Goodbye!', audioMs: 800, functionCall: { name: 'hang_up', arguments: { reason: 'caller is done' } } } : { text: 'Bye.', audioMs: 400 }));
    const call = await dialThroughSetup(caller({ speechAtMs: 1500 }), 400, (ms) => clock.advanceAsync(ms));
    await finish(call, 12000);
    await save('tool-call-hang-up', call.callId, 'The agent calls the hang_up tool after saying goodbye: the tool output goes back to the model and the call ends.', {});
  });

  it('warm transfer fails (busy) and the caller returns to the agent', async () => {
    const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: 'Wants a refund for order A7.' } };
    await start({}, (n) => (n === 1 ? { text: 'Hello, Acme billing.', audioMs: 1000 } : n === 2 ? { functionCall: TRANSFER } : { text: 'Sorry, nobody is free right now. Can I help?', audioMs: 1500 }));
    const call = await dialThroughSetup(caller({ speechAtMs: 1500, transfer: () => ({ outcome: 'busy', ringMs: 1000 }) }), 400, (ms) => clock.advanceAsync(ms));
    await finish(call, 16000);
    await save('transfer-busy-returns', call.callId, 'The agent transfers to a human who is busy: transferComplete brings the caller back to the agent, who says so; the caller hangs up.', {});
  });

  it('AI failure: OpenAI refuses the session and the fallback apologises', async () => {
    await start({ TRANSFER_TO: '' }, () => ({ text: 'unused', audioMs: 400 }));
    openai!.refuse = { status: 429, body: { error: { message: 'rate limited' } } };
    const call = await dialThroughSetup(caller(), 400, (ms) => clock.advanceAsync(ms));
    await finish(call, 10000);
    await save('ai-failure-fallback', call.callId, 'OpenAI refuses the Realtime session (429): the stream ends and /stream-ended answers the fallback apology and hangs up.', { TRANSFER_TO: '' });
  });

  it('openai-sip: OpenAI answers the SIP leg, the agent transfers with a REFER', async () => {
    const secret = `whsec_${Buffer.from('whole-call-fixture-signing-key').toString('base64')}`;
    const env = { AGENT_MODE: 'openai-sip', AGENT_SIP_TARGET: 'sip:proj_1@sip.api.openai.com' };
    const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing', summary: 'Wants a refund.' } };
    await start({ ...env, OPENAI_WEBHOOK_SECRET: secret }, (n) => (n === 1 ? { text: 'Hello from the SIP agent.', audioMs: 400 } : { text: 'One moment, transferring you.', audioMs: 600 }));
    let uui = '';
    const call = caller({ transfer: (target) => ((uui = target.uui ?? ''), { outcome: 'answered', ringMs: 500, talkMs: 15000 }) });
    await call.dial();
    await clock.advanceAsync(500);
    const sipCallId = 'rtc_fixture_sip_1';
    await deliverSipCall(server!, openai!, secret, sipCallId, { contact: '<sip:+19195550142@67.231.4.10:5060;transport=udp>', uui });
    const session = openai!.sipCalls.get(sipCallId)!.sessions[0]!;
    for (let i = 0; i < 100 && !session.sent.some((e) => e.type === 'response.done'); i++) await clock.advanceAsync(20);
    await clock.advanceAsync(2000);
    // The caller asked for a person (over SIP, unseen here): the model calls transfer_call on its own.
    session.send({ type: 'response.created', response: { id: 'resp_transfer', status: 'in_progress' } });
    session.send({ type: 'response.function_call_arguments.done', response_id: 'resp_transfer', item_id: 'fc_transfer', output_index: 0, call_id: 'call_transfer', name: TRANSFER.name, arguments: JSON.stringify(TRANSFER.arguments) });
    session.send({ type: 'response.done', response: { id: 'resp_transfer', status: 'completed', output: [] } });
    for (let i = 0; i < 800 && openai!.sipCalls.get(sipCallId)!.refers.length === 0; i++) await clock.advanceAsync(20);
    expect(openai!.sipCalls.get(sipCallId)!.refers.length).toBe(1);
    await finish(call, 20000);
    await save('openai-sip-refer', call.callId, 'An openai-sip agent: Bandwidth transfers the caller to OpenAI SIP, the webhook is accepted, the sideband greets, the model calls transfer_call, and Switchboard REFERs the call to the human.', env);
  });
});
