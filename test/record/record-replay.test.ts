import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, waitFor } from '../../src/clock';
import { PACKAGE_ROOT } from '../../src/main';
import { diffBxml } from '../../src/record/compare';
import { PhoneRedactor } from '../../src/record/redact';
import { formatReplay, replayScenario } from '../../src/record/replay';
import { readScenario, scenarioRequires } from '../../src/record/scenario';
import { runReplay } from '../../src/cli/replay';
import { UrlSigner } from '../../src/security/signing';
import { SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { callbackFixture } from '../helpers/fixtures';
import { tokenOf } from '../helpers/bxml';
import { startTestServer, type TestServer } from '../helpers/server';

const CALLER = '+19195550142';
const CALLED = '+19195550100';

/** Issue "develop without a phone": record a simulated call, replay it against a fresh server. */
describe('recording and replaying a call', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  const servers: TestServer[] = [];
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-rec-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    await openai?.close();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** A stream call whose OpenAI session is refused: initiate → stream → stream-ended fallback → disconnect. */
  async function recordFailedCall(env: Record<string, string>): Promise<{ file: string; server: TestServer; callId: string }> {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 500 }) });
    openai.refuse = { status: 429, body: { error: { message: 'rate limited' } } };
    const recordDir = tmp();
    const server = await startTestServer({ OPENAI_API_KEY: 'sk-test-secret-key', OPENAI_BASE_URL: openai.url, RECORD_DIR: recordDir, PUBLIC_BASE_URL: '', ...env }, { clock });
    servers.push(server);
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    const call = new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400, from: CALLER, to: CALLED, audio: speechLikeAudio({ startMs: 500, durationMs: 400, seed: 3 }) });
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(300);
    await call.streamEnded;
    await clock.advanceAsync(200);
    await call.hangup();
    const file = server.app.recorder!.fileFor(call.callId);
    await waitFor(() => fs.existsSync(file) && readScenario(file).some((s) => JSON.stringify(s).includes('"disconnect"')), 5000, 'the disconnect to be recorded');
    return { file, server, callId: call.callId };
  }

  function replayOptions(target: TestServer) {
    const c = target.app.credentials.credentials;
    return { baseUrl: target.url, auth: { username: c.callbackUsername, password: c.callbackPassword }, signer: new UrlSigner(c.urlSigningSecret) };
  }

  it('records every callback with its response, and replays green against a fresh server', async () => {
    const { file, server, callId } = await recordFailedCall({});
    const steps = readScenario(file);
    expect(steps[0]).toMatchObject({ kind: 'meta', meta: { callId } });
    const routes = steps.filter((s) => s.kind === 'callback').map((s) => (s.request as { url: string }).url.split('/').pop()!.split('?')[0]);
    expect(routes).toEqual(expect.arrayContaining(['initiate', 'stream-events', 'stream-ended', 'status']));
    const responses = steps.filter((s) => s.kind === 'callback-response');
    expect(responses.length).toBe(routes.length);
    expect(responses.every((s) => typeof (s.response as { durationMs?: number }).durationMs === 'number')).toBe(true);

    // No credential of the recording server in the file, in any form.
    const text = fs.readFileSync(file, 'utf8');
    const c = server.app.credentials.credentials;
    for (const secret of [c.callbackUsername, c.callbackPassword, c.adminToken, c.urlSigningSecret, 'sk-test-secret-key', server.auth.split(' ')[1]!]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/authorization/i);
    expect(text).not.toMatch(/[?&]t=(?!SEALED)/);
    expect(text).not.toMatch(/\/media\/(?!SEALED)/);

    const fresh = await startTestServer({});
    servers.push(fresh);
    const result = await replayScenario(steps, { ...replayOptions(fresh), shiftIds: true, shiftTimes: true }, path.basename(file));
    expect(formatReplay(result)).toMatch(/^PASS .*: (\d+)\/\1 callbacks matched/m);
    expect(result.ok).toBe(true);
    expect(result.outcomes.find((o) => o.route === 'stream-ended')?.token).toBe('live');
  });

  it('a recording states the settings of the agent that answered, so `replay` (--self) configures its server alike', async () => {
    const env = { TRANSFER_TO: '+19195550177', AGENT_FALLBACK_MESSAGE: 'We will call you back.', AGENT_SPEAK_VOICE: 'kate' };
    const { file } = await recordFailedCall(env);
    await waitFor(() => scenarioRequires(readScenario(file)) !== undefined, 5000, 'the requirements to be recorded');
    const requires = scenarioRequires(readScenario(file))!;
    expect(requires.agent).toBe('default');
    expect(requires.settings).toMatchObject({ 'fallback.transferTo': '+19195550177', 'fallback.message': 'We will call you back.', speakVoice: 'kate', mode: 'stream', holdMessage: null });
    let out = '';
    let err = '';
    const code = await runReplay([file], {}, {}, { out: (t) => (out += t), err: (t) => (err += t) });
    expect([code, err]).toEqual([0, '']);
    expect(out).toMatch(/^PASS .*: (\d+)\/\1 callbacks matched/m);
    // The same recording on a server with the defaults differs where the settings show (the fallback's words).
    const fresh = await startTestServer({});
    servers.push(fresh);
    const result = await replayScenario(readScenario(file), { ...replayOptions(fresh), shiftIds: true }, 'call.json');
    expect(formatReplay(result)).toMatch(/We will call you back/);
  });

  it('a redirect is recorded with the stored context its token named, and replays by storing it in the target', async () => {
    const recordDir = tmp();
    const server = await startTestServer({ RECORD_DIR: recordDir, TRANSFER_TO: '+19195550177' });
    servers.push(server);
    const callId = 'c-recorded-redirect';
    await server.post('initiate', { ...callbackFixture('initiate'), callId });
    const destination = { id: 'default-human', name: 'human', kind: 'phone' as const, value: '+19195550177', warm: true, callTimeoutS: 30 };
    const redirectUrl = await server.app.contexts.redirectUrl(callId, 'default', { type: 'transfer', destination, reason: 'billing', summary: '客户想要退款' });
    const transfer = await (await server.post('redirect', { ...callbackFixture('redirect'), callId }, { query: `t=${tokenOf(redirectUrl)}` })).text();
    const answerUrl = /transferAnswerUrl="([^"]+)"/.exec(transfer)![1]!.replace(/&amp;/g, '&');
    await server.post('transfer-answer', { ...callbackFixture('transferAnswer'), parentCallId: callId }, { query: `t=${tokenOf(answerUrl)}` });
    const steps = readScenario(server.app.recorder!.fileFor(callId));
    const sealedOf = (route: string) => (steps.find((st) => st.kind === 'callback' && (st.request as { url: string }).url.includes(`/${route}?`))!.request as { sealed: { data: Record<string, unknown>; context: unknown } }).sealed;
    // The token held ids only; the action with its summary was recorded beside it.
    expect(Object.keys(sealedOf('redirect').data).sort()).toEqual(['agentId', 'callId', 'ctx']);
    expect(sealedOf('redirect').context).toMatchObject({ type: 'transfer', summary: '客户想要退款' });
    expect(sealedOf('transfer-answer').context).toMatchObject({ origin: 'agent', summary: '客户想要退款', destination: { name: 'human' } });

    const fresh = await startTestServer({ TRANSFER_TO: '+19195550177' });
    servers.push(fresh);
    const result = await replayScenario(steps, { ...replayOptions(fresh), remint: (purpose, sealed) => fresh.app.contexts.remint(purpose, sealed), shiftIds: true }, 'recorded-redirect');
    expect(result.outcomes.find((o) => o.route === 'redirect')?.token).toBe('reminted');
    if (!result.ok) throw new Error(formatReplay(result));
  });

  it('a changed template fails the replay with a diff naming the verb', async () => {
    const { file } = await recordFailedCall({});
    const templates = tmp();
    fs.cpSync(path.join(PACKAGE_ROOT, 'bxml-templates'), templates, { recursive: true });
    const fallback = path.join(templates, 'fallback.xml');
    fs.writeFileSync(fallback, fs.readFileSync(fallback, 'utf8').replace(/ *<SpeakSentence[^\n]*\n/, ''));
    const fresh = await startTestServer({ BXML_TEMPLATES_DIR: templates });
    servers.push(fresh);
    const result = await replayScenario(readScenario(file), replayOptions(fresh), 'call.json');
    expect(result.ok).toBe(false);
    const report = formatReplay(result);
    expect(report).toMatch(/FAIL {2}step \d+ stream-ended: <SpeakSentence> missing; expected <Response>\/<SpeakSentence voice="julie">Sorry/);
    expect(report).toMatch(/^FAIL call\.json: \d+\/\d+ callbacks matched, 1 mismatched/m);
  });

  it('--redact replaces every phone number of the call with consistent placeholders', async () => {
    const { file } = await recordFailedCall({ RECORD_REDACT: 'true', TRANSFER_TO: '+19195550177' });
    const text = fs.readFileSync(file, 'utf8');
    for (const n of [CALLER, CALLED, '+19195550177']) {
      expect(text).not.toContain(n.slice(1));
      expect(text).not.toContain(n.slice(2));
    }
    const steps = readScenario(file);
    const initiate = steps.find((s) => s.kind === 'callback')!.request as { body: { from: string; to: string } };
    expect(initiate.body.from).toBe('+15550000001');
    expect(initiate.body.to).toBe('+15550000002');
    // The same caller is the same placeholder in every later body.
    const froms = steps.filter((s) => s.kind === 'callback').map((s) => (s.request as { body: { from?: string } }).body.from);
    expect(new Set(froms.filter(Boolean))).toEqual(new Set(['+15550000001']));
    expect(text).toContain('+15550000003'); // TRANSFER_TO in the fallback's <PhoneNumber>
  });
});

describe('replay comparison', () => {
  const doc = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Response>${body}</Response>`;
  it('ignores hosts, tokens, credentials and attribute order, but not verbs, attributes or text', () => {
    const a = doc('<Redirect redirectUrl="https://a.example/bandwidth/voice/stream-ended?t=AAA" username="u1" password="p1"/>');
    const b = doc('<Redirect password="p2" username="u2" redirectUrl="http://127.0.0.1:9/bandwidth/voice/stream-ended?t=BBB"/>');
    expect(diffBxml(a, b)).toEqual([]);
    expect(diffBxml(a, doc('<Redirect redirectUrl="https://a.example/bandwidth/voice/status?t=A" username="u" password="p"/>'))[0]).toMatch(
      /<Response>\/<Redirect>: attribute redirectUrl differs; expected "\/bandwidth\/voice\/stream-ended\?t=SEALED", got "\/bandwidth\/voice\/status\?t=SEALED"/,
    );
    expect(diffBxml(doc('<SpeakSentence>Hi</SpeakSentence><Hangup/>'), doc('<Hangup/>'))).toEqual(['<SpeakSentence> missing; expected <Response>/<SpeakSentence>Hi</SpeakSentence>']);
    expect(diffBxml(doc('<Hangup/>'), doc('<Pause duration="1"/><Hangup/>'))).toEqual(['unexpected <Pause>: got <Response>/<Pause duration="1"/>']);
    expect(diffBxml(doc('<SpeakSentence>Hi</SpeakSentence>'), doc('<SpeakSentence>Bye</SpeakSentence>'))).toEqual([
      '<Response>/<SpeakSentence>: text differs; expected "Hi", got "Bye"',
    ]);
  });

  it('redaction is consistent within a redactor and covers numbers without the plus', () => {
    const r = new PhoneRedactor();
    expect(r.redact('{"from":"+19195550142","to":"+19195550100"}')).toBe('{"from":"+15550000001","to":"+15550000002"}');
    expect(r.redact('<say-as>19195550142</say-as> sip:+19195550100@x')).toBe('<say-as>15550000001</say-as> sip:+15550000002@x');
  });
});
