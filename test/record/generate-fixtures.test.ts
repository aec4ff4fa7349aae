import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, waitFor } from '../../src/clock';
import { UrlSigner } from '../../src/security/signing';
import { SimulatedCall, speechLikeAudio, type TransferScript } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { readScenario, type Step } from '../../src/record/scenario';
import type { ScenarioRequires } from '../../src/record/scenario-settings';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * Regenerates the replay library in fixtures/replay/ by recording simulated calls (and, for what the
 * recorder cannot see — 401s and unparseable bodies — by building the steps from live answers).
 * Not part of the normal run: `RECORD_FIXTURES=1 npx jest test/record/generate-fixtures.test.ts`.
 * Each file starts with a `meta` step whose `requires` names the agent settings its answers depend on
 * (REQUIRES; test/record/scenario-settings.test.ts checks that each list is exact).
 */
const OUT = path.join(__dirname, '../../fixtures/replay');
const HUMAN = '+19195550177';
const APOLOGY = 'Sorry, our assistant is unavailable right now. Please call again later.';
const STREAM = { mode: 'stream', streamHold: 'stop-stream-wait' };
const FALLBACK = (transferTo: string | null) => ({ ...STREAM, speakVoice: 'julie', 'fallback.message': APOLOGY, 'fallback.transferTo': transferTo });
const REQUIRES: Record<string, ScenarioRequires['settings']> = {
  'inbound-stream-hangup': STREAM,
  'outbound-answered': STREAM,
  'stream-rejected': FALLBACK(null),
  'ai-failure-fallback-hangup': FALLBACK(null),
  'fallback-transfer-answered': FALLBACK(HUMAN),
  'fallback-transfer-busy': FALLBACK(HUMAN),
  'fallback-transfer-no-answer': FALLBACK(HUMAN),
  'agent-transfer-whisper': { ...STREAM, name: 'Default agent', speakVoice: 'julie', holdMessage: null },
  'sip-forward-answered': {
    mode: 'sip-forward',
    'sip.target': 'sip:agent@ai.example.com',
    'sip.verb': 'transfer',
    'sip.callTimeoutS': 30,
    'sip.diversionTreatment': null,
    'sip.diversionReason': null,
    holdMessage: null,
  },
};
const run = process.env.RECORD_FIXTURES === '1' ? describe : describe.skip;

run('regenerate fixtures/replay', () => {
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

  async function start(env: Record<string, string>, plans?: (n: number) => ResponsePlan, withRest = false) {
    clock = new ManualClock(0);
    recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-fixtures-'));
    openai = await startRealtimeStandIn({ clock, script: (ctx) => (plans ? plans(ctx.n) : { text: 'Hello, how can I help?', audioMs: 800 }), transcribe: () => 'I want to talk to a person.' });
    const restEnv: Record<string, string> = {};
    if (withRest) {
      rest = await startBandwidthRestStandIn();
      Object.assign(restEnv, { BANDWIDTH_ACCOUNT_ID: '9901234', BANDWIDTH_CLIENT_ID: 'client-id', BANDWIDTH_CLIENT_SECRET: 'client-secret', BANDWIDTH_API_BASE_URL: rest.apiBaseUrl, BANDWIDTH_OAUTH_URL: rest.oauthUrl });
    }
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', RECORD_DIR: recordDir, ...restEnv, ...env }, { clock });
  }

  function caller(transfer?: () => TransferScript): SimulatedCall {
    const { callbackUsername: username, callbackPassword: password } = server!.app.credentials.credentials;
    const call = new SimulatedCall({ baseUrl: server!.url, callbackAuth: { username, password }, clock, streamSetupMs: 400, audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }), ...(transfer ? { transfer } : {}) });
    rest?.attach(call);
    return call;
  }

  async function save(name: string, callId: string, description: string, _env: Record<string, string>) {
    const file = server!.app.recorder!.fileFor(callId);
    await waitFor(() => fs.existsSync(file) && JSON.stringify(readScenario(file)).includes('"disconnect"'), 5000, `${name}: the disconnect`);
    const steps = readScenario(file);
    steps[0] = { seq: 0, from: 'switchboard', to: 'recorder', transport: 'none', kind: 'meta', meta: { description, requires: { agent: 'default', settings: REQUIRES[name] ?? {} }, callId } };
    write(name, steps);
  }

  function write(name: string, steps: Step[]) {
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, `${name}.json`), `${JSON.stringify(steps, null, 2)}\n`);
  }

  it('inbound stream call answered, caller hangs up', async () => {
    await start({});
    const call = await dialThroughSetup(caller(), 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(3000);
    await call.hangup();
    await save('inbound-stream-hangup', call.callId, 'Inbound call answered by the stream agent; the caller hangs up.', {});
  });

  async function aiFailure(name: string, description: string, env: Record<string, string>, transfer?: () => TransferScript) {
    await start(env);
    openai!.refuse = { status: 429, body: { error: { message: 'rate limited' } } };
    const call = await dialThroughSetup(caller(transfer), 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(300);
    await call.streamEnded;
    for (let i = 0; i < 40 && !call.callbacks.some((c) => c.eventType === 'disconnect'); i++) await clock.advanceAsync(1000);
    if (!call.callbacks.some((c) => c.eventType === 'disconnect')) await call.hangup();
    await save(name, call.callId, description, env);
  }

  it('AI failure → fallback (apology, hang up)', () => aiFailure('ai-failure-fallback-hangup', 'OpenAI refuses the session: the stream ends, /stream-ended answers the fallback apology and hangs up.', {}));
  it('AI failure → fallback transfer answered', () =>
    aiFailure('fallback-transfer-answered', 'OpenAI refuses the session: the fallback transfers to TRANSFER_TO, the human answers, talks, hangs up.', { TRANSFER_TO: HUMAN }, () => ({ outcome: 'answered', ringMs: 2000, talkMs: 4000 })));
  it('AI failure → fallback transfer busy', () =>
    aiFailure('fallback-transfer-busy', 'The fallback transfer finds the line busy: transferComplete apologises and hangs up.', { TRANSFER_TO: HUMAN }, () => ({ outcome: 'busy', ringMs: 1000 })));
  it('AI failure → fallback transfer not answered', () =>
    aiFailure('fallback-transfer-no-answer', 'Nobody answers the fallback transfer: transferComplete (timeout) apologises and hangs up.', { TRANSFER_TO: HUMAN }, () => ({ outcome: 'no-answer' })));

  it('agent transfer with whisper (Calls API redirect → transfer → whisper → complete)', async () => {
    const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: 'Wants a refund for order A7.' } };
    await start({ TRANSFER_TO: HUMAN }, (n) => (n === 1 ? { text: 'Hello, Acme billing.', audioMs: 1000 } : n === 2 ? { functionCall: TRANSFER } : { text: 'Transferring you now.', audioMs: 1000 }), true);
    const call = await dialThroughSetup(caller(() => ({ outcome: 'answered', ringMs: 2000, talkMs: 3000 })), 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(6500);
    await waitFor(() => rest!.requests.some((r) => r.operation === 'updateCall'), 5000, 'the redirect');
    for (let i = 0; i < 20 && !call.callbacks.some((c) => c.eventType === 'disconnect'); i++) await clock.advanceAsync(1000);
    await rest!.idle();
    if (!call.callbacks.some((c) => c.eventType === 'disconnect')) await call.hangup();
    await save('agent-transfer-whisper', call.callId, 'The agent calls transfer_call: the Calls API redirect (token re-minted on replay) answers the transfer, the human hears the whisper, the call completes.', { TRANSFER_TO: HUMAN });
  });

  it('sip-forward answered', async () => {
    const env = { AGENT_MODE: 'sip-forward', AGENT_SIP_TARGET: 'sip:agent@ai.example.com' };
    await start(env);
    const call = caller(() => ({ outcome: 'answered', ringMs: 1000, talkMs: 3000 }));
    await call.dial();
    for (let i = 0; i < 10 && !call.callbacks.some((c) => c.eventType === 'disconnect'); i++) await clock.advanceAsync(1000);
    if (!call.callbacks.some((c) => c.eventType === 'disconnect')) await call.hangup();
    await save('sip-forward-answered', call.callId, 'A sip-forward agent: initiate answers <Transfer><SipUri uui=…>, the AI endpoint answers, then hangs up.', env);
  });

  async function post(route: string, body: unknown, query = '') {
    const res = await server!.post(route, body, query ? { query } : {});
    return { status: res.status, text: await res.text() };
  }

  it('stream rejected (Bandwidth cannot open the media socket)', async () => {
    await start({});
    const init = callbackFixture('initiate');
    const callId = String(init.callId);
    const answer = await post('initiate', init);
    const streamEnded = /redirectUrl="[^"]*\?t=([^"&]+)"/.exec(answer.text)![1]!;
    await post('stream-events', { ...callbackFixture('mediaStreamRejected-connection-error'), callId });
    await post('stream-ended', { ...callbackFixture('redirect'), callId, eventType: 'redirect' }, `t=${streamEnded}`);
    await post('status', { ...callbackFixture('disconnect'), callId });
    await save('stream-rejected', callId, 'mediaStreamRejected (connection error), then /stream-ended answers the fallback.', {});
  });

  it('outbound call answered', async () => {
    await start({});
    const token = new UrlSigner(server!.app.credentials.credentials.urlSigningSecret).sign('answer', { agentId: 'default' }, 60_000);
    const answer: Record<string, unknown> = { ...callbackFixture('answer'), direction: 'outbound' };
    const callId = String(answer.callId);
    await post('answer', answer, `t=${token}`);
    await post('status', { ...callbackFixture('disconnect'), callId, direction: 'outbound' });
    await save('outbound-answered', callId, 'An outbound call (POST /api/calls) is answered: /answer (token re-minted on replay) returns the stream BXML.', {});
  });

  it('bad credentials and malformed bodies (built from live answers)', async () => {
    await start({});
    const init = callbackFixture('initiate');
    const steps: Step[] = [];
    const add = async (request: Record<string, unknown>, note: string) => {
      const c = server!.app.credentials.credentials;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (request.auth === 'invalid') headers.authorization = `Basic ${Buffer.from(`${c.callbackUsername}:wrong`).toString('base64')}`;
      else if (request.auth !== 'none') headers.authorization = server!.auth;
      const res = await fetch(`${server!.url}/bandwidth/voice/${String(request.url)}`, { method: 'POST', headers, body: typeof request.rawBody === 'string' ? request.rawBody : JSON.stringify(request.body) });
      const text = await res.text();
      const seq = steps.length + 1;
      const { url, ...rest } = request;
      steps.push({ seq, from: 'bandwidth', to: 'app', transport: 'http', kind: 'callback', request: { method: 'POST', url: `https://switchboard.test/bandwidth/voice/${String(url)}`, headers: { 'Content-Type': 'application/json' }, ...rest }, note });
      steps.push({ seq: seq + 1, from: 'app', to: 'bandwidth', transport: 'http', kind: 'callback-response', response: { status: res.status, headers: { 'Content-Type': res.headers.get('content-type') ?? '' }, ...(text ? { body: text } : {}) } });
    };
    await add({ url: 'initiate', body: init, auth: 'none' }, 'No Authorization header: 401, nothing stored.');
    await add({ url: 'initiate', body: init, auth: 'invalid' }, 'Wrong callback password: 401.');
    write('bad-credentials', [{ seq: 0, from: 'switchboard', to: 'recorder', transport: 'none', kind: 'meta', meta: { description: 'Callbacks without or with wrong Basic credentials are refused with 401.' } }, ...steps.splice(0)]);
    await add({ url: 'initiate', rawBody: '{"eventType": "initiate", "callId": ' }, 'Unparseable JSON: 400 callback_invalid.');
    await add({ url: 'initiate', body: { eventType: 'initiate', from: '+19195550142' } }, 'No callId: 400 callback_invalid.');
    await add({ url: 'status', body: ['not', 'an', 'object'] }, 'A JSON array, not an object: 400.');
    await add({ url: 'redirect', body: { ...callbackFixture('redirect') } }, 'A redirect without its signed token is refused: 403.');
    write('malformed-bodies', [{ seq: 0, from: 'switchboard', to: 'recorder', transport: 'none', kind: 'meta', meta: { description: 'Malformed or invalid callback bodies get a clear 4xx.' } }, ...steps]);
  });
});
