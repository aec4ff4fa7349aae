import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, waitFor } from '../../src/clock';
import { SimulatedCall, speechLikeAudio, type CallbackRecord, type TransferScript } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { standInEnv, startTestServer, type TestServer } from '../helpers/server';
import { BandwidthSpec } from './bandwidth-spec';

/**
 * The Bandwidth caller stand-in (src/sim/bandwidth-caller.ts, its transfer model in bandwidth-transfer.ts)
 * and the REST stand-in's own redirect (src/sim/bandwidth-rest.ts) send only callbacks Bandwidth could send: every body it sent in real simulated calls against the real
 * server validates against the SDK's bandwidth.yml (media-stream events: BW §3, since the yml has none).
 */
const spec = BandwidthSpec.load();
const HUMAN = '+19195550177';
const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: 'Wants a refund.' } };

describe('the Bandwidth caller stand-in sends what bandwidth.yml describes', () => {
  const sent: CallbackRecord[] = [];
  let clock: ManualClock;
  let openai: RealtimeStandIn | undefined;
  let rest: BandwidthRestStandIn | undefined;
  let server: TestServer | undefined;

  async function start(plans: (n: number) => ResponsePlan, env: Record<string, string> = {}): Promise<void> {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: (ctx) => plans(ctx.n), transcribe: () => 'I want to talk to a person.' });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer(
      { ...standInEnv(openai.url, rest, HUMAN), ...env },
      { clock },
    );
  }

  async function stop(): Promise<void> {
    await server?.close();
    await rest?.close();
    await openai?.close();
    server = rest = openai = undefined;
  }

  async function dial(transfer?: () => TransferScript): Promise<SimulatedCall> {
    const { callbackUsername: username, callbackPassword: password } = server!.app.credentials.credentials;
    const call = new SimulatedCall({
      baseUrl: server!.url,
      callbackAuth: { username, password },
      clock,
      streamSetupMs: 400,
      audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }),
      ...(transfer ? { transfer } : {}),
    });
    rest!.attach(call);
    return dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
  }

  const transferPlans = (n: number): ResponsePlan => (n === 1 ? { text: 'Hello, how can I help?', audioMs: 600 } : n === 2 ? { functionCall: TRANSFER } : { text: 'Transferring you now.', audioMs: 600 });

  afterEach(stop);

  async function transferCall(script: TransferScript): Promise<SimulatedCall> {
    await start(transferPlans);
    const call = await dial(() => script);
    await clock.advanceAsync(5000);
    await waitFor(() => call.transfers.length === 1, 5000, 'the transfer');
    await clock.advanceAsync(8000);
    await rest!.idle();
    if (!call.callbacks.some((c) => c.eventType === 'disconnect')) await call.hangup();
    return call;
  }

  it('an inbound stream call the caller hangs up (initiate, stream events, disconnect)', async () => {
    await start(() => ({ text: 'Hello!', audioMs: 500 }));
    const call = await dial();
    await clock.advanceAsync(3000);
    await call.hangup();
    sent.push(...call.callbacks);
    expect(call.callbacks.map((c) => c.eventType)).toEqual(expect.arrayContaining(['initiate', 'mediaStreamStarted', 'mediaStreamStopped', 'disconnect']));
  });

  it('a transfer the human answers (redirect, transferAnswer, transferDisconnect, transferComplete)', async () => {
    const call = await transferCall({ outcome: 'answered', ringMs: 1000, talkMs: 2000 });
    sent.push(...call.callbacks);
    expect(call.callbacks.map((c) => c.eventType)).toEqual(expect.arrayContaining(['redirect', 'transferAnswer', 'transferDisconnect', 'transferComplete']));
  });

  it('a transfer the human is busy for (failed transferComplete, back on a new stream)', async () => {
    const call = await transferCall({ outcome: 'busy', ringMs: 1000 });
    sent.push(...call.callbacks);
    expect(call.callbacks.filter((c) => c.eventType === 'transferComplete').map((c) => c.body.cause)).toEqual(['busy']);
    expect(call.callbacks.filter((c) => c.eventType === 'mediaStreamStarted')).toHaveLength(2);
  });

  it('the agent hangs up (hang_up → Calls API completed → stream stopped, disconnect)', async () => {
    await start((n) => (n === 1 ? { text: 'Hello!', audioMs: 500 } : n === 2 ? { functionCall: { name: 'hang_up', arguments: { reason: 'done' } } } : { text: 'Goodbye!', audioMs: 500 }));
    const call = await dial();
    await clock.advanceAsync(6000);
    await waitFor(() => call.callbacks.some((c) => c.eventType === 'disconnect'), 5000, 'disconnect');
    sent.push(...call.callbacks);
  });

  it('the AI side fails (the stream ends, the Redirect after StopStream asks stream-ended)', async () => {
    await start(() => ({ text: 'Hello!', audioMs: 500 }));
    const call = await dial();
    await clock.advanceAsync(1000);
    openai!.sessions[0]!.close(1011, 'stand-in failure');
    await clock.advanceAsync(2000);
    await waitFor(() => call.callbacks.some((c) => c.eventType === 'redirect' && c.url.includes('/stream-ended')), 5000, 'the stream-ended redirect');
    await call.hangup();
    sent.push(...call.callbacks);
  });

  it('an outbound call placed through the admin API (answer, stream events, disconnect)', async () => {
    await start(() => ({ text: 'Hi, this is a reminder.', audioMs: 500 }), { BANDWIDTH_APPLICATION_ID: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47' });
    const admin = { authorization: `Bearer ${server!.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' };
    await fetch(`${server!.url}/api/numbers`, { method: 'POST', headers: admin, body: JSON.stringify({ number: '+19195550111', agentId: 'default' }) });
    const placed = await fetch(`${server!.url}/api/calls`, { method: 'POST', headers: admin, body: JSON.stringify({ agentId: 'default', to: '+19195550142' }) });
    expect(placed.status).toBe(201);
    const { callId } = (await placed.json()) as { callId: string };
    const createCall = rest!.requests.find((r) => r.operation === 'createCall')!.body as Record<string, string>;
    const { callbackUsername: username, callbackPassword: password } = server!.app.credentials.credentials;
    const call = new SimulatedCall({
      baseUrl: server!.url,
      answerUrl: createCall.answerUrl,
      statusUrl: createCall.disconnectUrl,
      tag: createCall.tag,
      callId,
      from: createCall.from,
      to: createCall.to,
      callbackAuth: { username, password },
      clock,
      streamSetupMs: 400,
    });
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(2000);
    await call.hangup();
    expect(call.callbacks.map((c) => c.eventType)).toEqual(['answer', 'mediaStreamStarted', 'mediaStreamStopped', 'disconnect']);
    expect(call.callbacks[0]!.body).toMatchObject({ direction: 'outbound', tag: createCall.tag });
    expect(await server!.app.store.calls.get(callId)).toMatchObject({ direction: 'outbound', state: 'completed' });
    sent.push(...call.callbacks);
  });

  it('an outbound call to an answering machine and an inbound call with key presses (machineDetectionComplete, dtmf)', async () => {
    await start(() => ({ text: 'Hi, this is a reminder.', audioMs: 500 }), { AGENT_VOICEMAIL_DETECT: 'true' });
    const admin = { authorization: `Bearer ${server!.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' };
    const placed = await fetch(`${server!.url}/api/calls`, { method: 'POST', headers: admin, body: JSON.stringify({ agentId: 'default', to: '+19195550142', from: '+19195550100' }) });
    expect(placed.status).toBe(201);
    const { callId } = (await placed.json()) as { callId: string };
    const createCall = rest!.requests.find((r) => r.operation === 'createCall')!.body as Record<string, string> & { machineDetection: Record<string, unknown> };
    const { callbackUsername: username, callbackPassword: password } = server!.app.credentials.credentials;
    const outbound = new SimulatedCall({
      baseUrl: server!.url, answerUrl: createCall.answerUrl, statusUrl: createCall.disconnectUrl, tag: createCall.tag, callId, from: createCall.from, to: createCall.to,
      machineDetection: createCall.machineDetection, callee: { result: 'answering-machine', decideMs: 1000 }, callbackAuth: { username, password }, clock, streamSetupMs: 400,
    });
    rest!.attach(outbound);
    await dialThroughSetup(outbound, 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(1000);
    await outbound.machineDetectionSent;
    await waitFor(() => outbound.ended !== undefined, 5000, 'the hang-up');
    const inbound = await dial();
    await inbound.pressKeys('5#');
    await inbound.hangup();
    sent.push(...outbound.callbacks, ...inbound.callbacks);
    expect(outbound.callbacksOf('machineDetectionComplete').map((c) => c.status)).toEqual([204]);
    expect(inbound.callbacksOf('dtmf').map((c) => [c.body.digit, c.status])).toEqual([['5', 204], ['#', 204]]);
  });

  it("the REST stand-in's own redirect callback (updateCall for a call no SimulatedCall holds)", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const capture = http.createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(text) as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'application/xml' }).end('<Response/>');
      });
    });
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
    rest = await startBandwidthRestStandIn();
    try {
      const token = await fetch(rest.oauthUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('client-id:client-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      const { access_token: accessToken } = (await token.json()) as { access_token: string };
      const redirectUrl = `http://127.0.0.1:${(capture.address() as AddressInfo).port}/redirect`;
      const res = await fetch(`${rest.apiBaseUrl}/accounts/9901234/calls/c-not-held`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirectUrl, tag: 'sb:redirected' }),
      });
      expect(res.status).toBe(200);
      await waitFor(() => bodies.length === 1, 5000, 'the redirect callback');
    } finally {
      capture.close();
    }
    for (const body of bodies) sent.push({ atMs: 0, eventType: String(body.eventType), method: 'POST', url: 'bandwidth-rest stand-in redirect', body });
  });

  it('every body it sent conforms (after the flows above)', () => {
    const types = new Set(sent.map((c) => c.eventType));
    for (const t of ['initiate', 'answer', 'mediaStreamStarted', 'mediaStreamStopped', 'redirect', 'transferAnswer', 'transferComplete', 'transferDisconnect', 'disconnect', 'machineDetectionComplete', 'dtmf']) expect(types).toContain(t);
    const problems = sent.flatMap((c) => spec.validateCallback(c.body).map((p) => `${c.eventType} → ${c.url.replace(/\?.*/, '')}: ${p}`));
    expect(problems).toEqual([]);
  });
});
