import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Webhooks } from 'openai/resources/webhooks';
import { agentSchema } from '../../src/agents/agent';
import { callIncomingEvent, signWebhook } from '../../src/sim/openai-webhooks';
import { startTestServer, type TestServer } from '../helpers/server';

const SECRET = `whsec_${Buffer.from('a-webhook-signing-key-of-32-bytes!').toString('base64')}`;

/** Just enough of OpenAI's call-control REST (OpenAI reference §4.4) to see what Switchboard sends. */
async function startCallControl() {
  const calls: { verb: string; callId: string; body: Record<string, unknown>; auth?: string }[] = [];
  let acceptStatus = 200;
  const app = express();
  app.use(express.json());
  app.post('/v1/realtime/calls/:id/:verb', (req, res) => {
    calls.push({ verb: req.params.verb, callId: req.params.id, body: req.body as Record<string, unknown>, auth: req.headers.authorization });
    if (req.params.verb === 'accept' && acceptStatus !== 200) return res.status(acceptStatus).json({ error: { message: 'call_id_not_found', type: 'invalid_request_error' } });
    res.status(200).end();
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    calls,
    setAcceptStatus: (s: number) => {
      acceptStatus = s;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('OpenAI SIP webhook (realtime.call.incoming)', () => {
  let server: TestServer;
  let control: Awaited<ReturnType<typeof startCallControl>>;

  beforeAll(async () => {
    control = await startCallControl();
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: control.url, OPENAI_WEBHOOK_SECRET: SECRET, DEFAULT_AGENT_ID: 'none' });
    const base = (await server.app.store.agents.get('default'))!.agent;
    await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sip-agent', name: 'SIP agent', mode: 'openai-sip', voice: 'cedar', sip: { target: 'sip:proj_1@sip.api.openai.com' }, turnDetection: { threshold: 0.7 } }), 'api');
    await server.app.store.numbers.assign('+19195550100', 'sip-agent');
  });
  afterAll(async () => {
    await server.close();
    await control.close();
  });

  const send = async (body: string, headers: Record<string, string>) => {
    const res = await fetch(`${server.url}/openai/webhook`, { method: 'POST', headers, body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const incoming = (callId: string, headers: { name: string; value: string }[]) => JSON.stringify(callIncomingEvent(callId, headers));
  const to = (n: string) => ({ name: 'To', value: `<sip:${n}@sip.api.openai.com>` });

  it('refuses a missing or wrong signature, or an old timestamp, before doing anything', async () => {
    const body = incoming('rtc_forged', [to('+19195550100')]);
    expect((await send(body, { 'content-type': 'application/json' })).status).toBe(401);
    const wrong = signWebhook(`whsec_${Buffer.from('another key').toString('base64')}`, body);
    expect((await send(body, wrong)).status).toBe(401);
    const stale = signWebhook(SECRET, body, { timestampS: Math.floor(Date.now() / 1000) - 600 });
    const r = await send(body, stale);
    expect(r.status).toBe(401);
    expect(JSON.stringify(r.json)).toMatch(/timestamp/i);
    const tampered = signWebhook(SECRET, body);
    expect((await send(body.replace('rtc_forged', 'rtc_other'), tampered)).status).toBe(401);
    expect(control.calls).toEqual([]);
    expect(await server.app.store.calls.get('rtc_forged')).toBeUndefined();
  });

  it('accepts a call for the dialled number with the agent configuration, without SIP-forbidden VAD fields', async () => {
    const body = incoming('rtc_1', [{ name: 'From', value: '"Caller" <sip:+19195550142@bw.example.com>;tag=x' }, to('+19195550100')]);
    const r = await send(body, signWebhook(SECRET, body));
    expect(r).toEqual({ status: 200, json: { status: 'accepted', callId: 'rtc_1', agentId: 'sip-agent' } });
    const accept = control.calls.find((c) => c.callId === 'rtc_1')!;
    expect(accept.verb).toBe('accept');
    expect(accept.auth).toBe('Bearer sk-test');
    expect(accept.body).toMatchObject({ type: 'realtime', model: 'gpt-realtime-2.1', audio: { output: { voice: 'cedar' }, input: { turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true } } } });
    const td = (accept.body.audio as { input: { turn_detection: Record<string, unknown> } }).input.turn_detection;
    expect(Object.keys(td).sort()).toEqual(['create_response', 'interrupt_response', 'type']);
    expect((accept.body.tools as { name: string }[]).map((t) => t.name)).toContain('hang_up');
    expect(await server.app.store.calls.get('rtc_1')).toMatchObject({ leg: 'ai-sip', agentId: 'sip-agent', mode: 'openai-sip', state: 'sip-connected', from: '+19195550142', to: '+19195550100' });
  });

  it('deduplicates retried deliveries, by webhook id and by call id', async () => {
    const body = incoming('rtc_2', [to('+19195550100')]);
    const headers = signWebhook(SECRET, body, { id: 'wh_same' });
    expect((await send(body, headers)).json.status).toBe('accepted');
    expect((await send(body, headers)).json.status).toBe('duplicate');
    const again = signWebhook(SECRET, body, { id: 'wh_different' });
    expect((await send(body, again)).json.status).toBe('duplicate');
    expect(control.calls.filter((c) => c.callId === 'rtc_2')).toHaveLength(1);
  });

  it('matches our uui first, joining the AI leg to its Bandwidth call', async () => {
    await server.app.store.calls.record({ id: 'c-bw-leg', state: 'sip-connecting' });
    const uui = `${Buffer.from('sb=c-bw-leg;agent=sip-agent').toString('base64')};encoding=base64`;
    const body = incoming('rtc_3', [to('+19195550999'), { name: 'user-to-user', value: uui }]);
    expect((await send(body, signWebhook(SECRET, body))).json.status).toBe('accepted');
    expect(await server.app.store.calls.get('rtc_3')).toMatchObject({ parentCallId: 'c-bw-leg', agentId: 'sip-agent' });
    expect((await server.app.store.calls.get('c-bw-leg'))?.state).toBe('sip-connected');
  });

  it('rejects with 404 when no agent answers the number', async () => {
    const body = incoming('rtc_4', [to('+19195550999')]);
    expect((await send(body, signWebhook(SECRET, body))).json.status).toBe('rejected');
    expect(control.calls.find((c) => c.callId === 'rtc_4')).toMatchObject({ verb: 'reject', body: { status_code: 404 } });
    expect(await server.app.store.calls.get('rtc_4')).toMatchObject({ state: 'rejected', cause: 'no-agent' });
  });

  it('a call gone before accept (404) is recorded; an accept failure asks OpenAI to deliver again', async () => {
    control.setAcceptStatus(404);
    let body = incoming('rtc_5', [to('+19195550100')]);
    expect((await send(body, signWebhook(SECRET, body))).json.status).toBe('gone');
    control.setAcceptStatus(500);
    body = incoming('rtc_6', [to('+19195550100')]);
    expect((await send(body, signWebhook(SECRET, body))).status).toBe(502);
    expect(await server.app.store.calls.get('rtc_6')).toBeUndefined();
    control.setAcceptStatus(200);
    expect((await send(body, signWebhook(SECRET, body))).json.status).toBe('accepted');
  });
});

describe('OpenAI SIP webhook without a secret', () => {
  it('answers 503 and does nothing', async () => {
    const server = await startTestServer();
    try {
      const res = await fetch(`${server.url}/openai/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(503);
    } finally {
      await server.close();
    }
  });
});

describe('OpenAI webhook signature flood', () => {
  it('refuses thousands of bogus signatures on a large body before reading or hashing it', async () => {
    const server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_WEBHOOK_SECRET: SECRET });
    const verify = jest.spyOn(Webhooks.prototype, 'verifySignature');
    try {
      const body = JSON.stringify({ pad: 'x'.repeat(250_000) });
      const genuine = signWebhook(SECRET, body);
      // As many as fit in Node's 16 KB of headers; more is refused by Node itself with a 431.
      const bogus = Array.from({ length: 300 }, (_, i) => `v1,${Buffer.alloc(32, i).toString('base64')}`).join(' ');
      const cases: [Record<string, string>, RegExp][] = [
        [{ ...genuine, 'webhook-signature': bogus }, /1 to 4 signatures/],
        [{ ...genuine, 'webhook-signature': 'v1,short v2,abc' }, /no v1 HMAC-SHA256 signature/],
        [{ ...genuine, 'webhook-timestamp': '1e9' }, /not a number of seconds/],
        [{ ...genuine, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) + 3600) }, /outside the tolerance/],
        [{ ...genuine, 'webhook-id': 'w'.repeat(300) }, /webhook-id is longer/],
        [{ 'content-type': 'application/json' }, /headers missing: webhook-id, webhook-timestamp, webhook-signature/],
      ];
      for (const [headers, message] of cases) {
        const res = await fetch(`${server.url}/openai/webhook`, { method: 'POST', headers, body });
        expect(res.status).toBe(401);
        expect(JSON.stringify(await res.json())).toMatch(message);
      }
      expect(verify).not.toHaveBeenCalled();
      const huge = await fetch(`${server.url}/openai/webhook`, { method: 'POST', headers: { ...genuine, 'webhook-signature': `${bogus} ${bogus}` }, body });
      expect(huge.status).toBe(431);
      // A body over the cap with well-formed headers is refused by size, still before any HMAC.
      const big = await fetch(`${server.url}/openai/webhook`, { method: 'POST', headers: genuine, body });
      expect(big.status).toBe(413);
      expect(verify).not.toHaveBeenCalled();
    } finally {
      verify.mockRestore();
      await server.close();
    }
  });
});
