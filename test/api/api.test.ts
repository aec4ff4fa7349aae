import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { bxml } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { bandwidthRestEnv, startTestServer, type TestServer } from '../helpers/server';
import { CONSOLE_API_PATHS } from '../../src/console/api-paths';

interface Json {
  [k: string]: unknown;
}

describe('admin API', () => {
  let server: TestServer;
  let rest: BandwidthRestStandIn;
  let token: string;

  beforeAll(async () => {
    rest = await startBandwidthRestStandIn({ followRedirects: false });
    server = await startTestServer({ TRANSFER_TO: '+19195550177', ...bandwidthRestEnv(rest) });
    token = server.app.credentials.credentials.adminToken;
  });
  afterAll(async () => {
    await server.close();
    await rest.close();
  });

  async function api(method: string, path: string, body?: unknown, auth: string | null = `Bearer ${token}`): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
  }
  const errorOf = (r: { json: Json }) => (r.json.error as { code: string; message: string; fields?: string[] }) ?? { code: '', message: '' };

  describe('every route refuses a missing or wrong admin token before doing anything', () => {
    let routes: [string, string][] = [];
    beforeAll(async () => {
      const doc = (await api('GET', '/openapi.json', undefined, null)).json as { paths: Record<string, Record<string, unknown>> };
      routes = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m): [string, string] => [m.toUpperCase(), p.replace(/^\/api/, '').replace(/\{(\w+)\}/g, 'x1')]));
      expect(routes.length).toBeGreaterThanOrEqual(20);
    });
    it('no token → 401 with WWW-Authenticate; wrong token → 401', async () => {
      for (const [method, path] of routes) {
        const none = await fetch(`${server.url}/api${path}`, { method });
        expect([method, path, none.status]).toEqual([method, path, 401]);
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
        const wrong = await api(method, path, undefined, 'Bearer not-the-token');
        expect([method, path, wrong.status, errorOf(wrong).message]).toEqual([method, path, 401, 'wrong admin token']);
      }
      expect((await server.app.store.agents.list()).map((a) => a.agent.id)).toEqual(['default']); // nothing was done
    });
  });

  describe('agents', () => {
    it('create, get, list, update, delete', async () => {
      const created = await api('POST', '/agents', { id: 'sales', name: 'Sales', greeting: 'Hi from sales!', instructions: 'Sell.' });
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({ id: 'sales', name: 'Sales', greeting: 'Hi from sales!', mode: 'stream', voice: 'marin', numbers: [], source: 'api' });
      expect((await api('GET', '/agents/sales')).json).toMatchObject({ id: 'sales' });
      expect(((await api('GET', '/agents')).json as unknown as Json[]).map((a) => a.id)).toEqual(['default', 'sales']);
      const patched = await api('PATCH', '/agents/sales', { voice: 'cedar' });
      expect(patched.status).toBe(200);
      expect(patched.json).toMatchObject({ voice: 'cedar', greeting: 'Hi from sales!' });
      expect((await api('DELETE', '/agents/sales')).status).toBe(204);
      expect((await api('GET', '/agents/sales')).status).toBe(404);
    });

    it('validation failures name the field', async () => {
      const r = await api('POST', '/agents', { id: 'bad id!', name: '', mode: 'telepathy', audio: 'mp3' });
      expect(r.status).toBe(400);
      expect(errorOf(r).fields).toEqual(expect.arrayContaining(['id', 'name', 'mode', 'audio']));
      const sip = await api('POST', '/agents', { id: 'sipper', name: 'S', mode: 'openai-sip' });
      expect(sip.status).toBe(400);
      expect(errorOf(sip).message).toMatch(/sip.*needs sip.target/);
      const json = await api('POST', '/agents', '{"id": ');
      expect(json.status).toBe(400);
      expect(errorOf(json).message).toMatch(/malformed JSON/);
      const deep = await api('POST', '/agents', `{"id": "deep", "name": "D", "x": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
      expect(deep.status).toBe(400);
      expect(errorOf(deep).message).toMatch(/nested deeper than 32 levels/);
      const path = await api('GET', '/agents/%ED%A0%80');
      expect(path.status).toBe(400);
      expect(errorOf(path).message).toMatch(/malformed path/);
    });

    it('call limits: set, patched and validated through the API, each bad field named', async () => {
      const created = await api('POST', '/agents', { id: 'limited', name: 'L', callLimits: { silence: { promptAfterMs: 8000 }, maxDuration: { limitMs: 600_000, warnMs: 30_000 } } });
      expect(created.status).toBe(201);
      expect(created.json.callLimits).toMatchObject({ silence: { enabled: true, promptAfterMs: 8000, hangUpAfterMs: 10_000 }, maxDuration: { limitMs: 600_000, warnMs: 30_000 } });
      const bad = await api('PATCH', '/agents/limited', { callLimits: { silence: { hangUpAfterMs: 10 }, maxDuration: { limitMs: 600_000, warnMs: 700_000 } } });
      expect(bad.status).toBe(400);
      expect(errorOf(bad).fields).toEqual(expect.arrayContaining(['callLimits.silence.hangUpAfterMs', 'callLimits.maxDuration.warnMs']));
      const off = await api('PATCH', '/agents/limited', { callLimits: { silence: { enabled: false } } });
      expect(off.json.callLimits).toMatchObject({ silence: { enabled: false }, maxDuration: { warnMs: 60_000 } });
      expect((await api('DELETE', '/agents/limited')).status).toBe(204);
    });

    it('openai-sip agents take a REFER target template, which must produce a sip:/sips: URI', async () => {
      const sip = { target: 'sip:proj_1@sip.api.openai.com', referTarget: 'sip:{number}@trunk.example.com;user=phone' };
      const created = await api('POST', '/agents', { id: 'referrer', name: 'R', mode: 'openai-sip', sip });
      expect(created.status).toBe(201);
      expect(created.json.sip).toMatchObject({ referTarget: 'sip:{number}@trunk.example.com;user=phone' });
      const tel = await api('PATCH', '/agents/referrer', { sip: { ...sip, referTarget: 'tel:{number}' } });
      expect(tel.status).toBe(400);
      expect(errorOf(tel).fields).toEqual(['sip.referTarget']);
      expect(errorOf(tel).message).toMatch(/sip\.referTarget must produce a sip: or sips: URI/);
      const unknown = await api('PATCH', '/agents/referrer', { sip: { ...sip, referTarget: 'sip:{extension}@{contactHost}' } });
      expect(errorOf(unknown).message).toMatch(/sip\.referTarget: unknown placeholder \{extension\}/);
      expect((await api('GET', '/agents/referrer')).json.sip).toMatchObject({ referTarget: 'sip:{number}@trunk.example.com;user=phone' });
      const doc = (await api('GET', '/openapi.json', undefined, null)).json as { paths: Record<string, { post?: { requestBody: { content: { 'application/json': { schema: unknown } } } } }> };
      expect(JSON.stringify(doc.paths['/api/agents']!.post!.requestBody.content['application/json'].schema)).toContain('"referTarget"');
      expect((await api('DELETE', '/agents/referrer')).status).toBe(204);
    });

    it('conflicts: an existing id, the env-defined agent, deleting an agent that has numbers', async () => {
      expect((await api('POST', '/agents', { id: 'dup', name: 'D' })).status).toBe(201);
      expect((await api('POST', '/agents', { id: 'dup', name: 'D' })).status).toBe(409);
      const env = await api('PATCH', '/agents/default', { voice: 'ash' });
      expect(env.status).toBe(409);
      expect(errorOf(env).message).toMatch(/AGENT_\* environment variables/);
      expect((await api('POST', '/numbers', { number: '+19195550150', agentId: 'dup' })).status).toBe(201);
      const refused = await api('DELETE', '/agents/dup');
      expect(refused.status).toBe(409);
      expect(errorOf(refused).message).toMatch(/still has 1 phone number/);
      expect((await api('POST', '/agents', { id: 'heir', name: 'H' })).status).toBe(201);
      expect((await api('DELETE', '/agents/dup?reassignTo=heir')).status).toBe(204);
      expect(((await api('GET', '/numbers?agentId=heir')).json as unknown as Json[]).map((n) => n.number)).toEqual(['+19195550150']);
    });

    it('HTTP tools per agent: add, refuse a duplicate name or a built-in name, remove', async () => {
      await api('POST', '/agents', { id: 'tooly', name: 'T' });
      const tool = { name: 'lookup_order', description: 'Find an order', url: 'https://orders.example.com/x', headers: { Authorization: 'Bearer ${TOOL_SECRET_ORDERS}' } };
      const added = await api('POST', '/agents/tooly/tools', tool);
      expect(added.status).toBe(201);
      expect((added.json.httpTools as Json[])[0]).toMatchObject({ name: 'lookup_order', method: 'POST', headers: { Authorization: 'Bearer ${TOOL_SECRET_ORDERS}' } });
      expect((await api('POST', '/agents/tooly/tools', tool)).status).toBe(409);
      expect((await api('POST', '/agents/tooly/tools', { ...tool, name: 'transfer_call' })).status).toBe(400);
      expect((await api('DELETE', '/agents/tooly/tools/lookup_order')).status).toBe(200);
      expect((await api('DELETE', '/agents/tooly/tools/lookup_order')).status).toBe(404);
    });
  });

  describe('numbers and destinations', () => {
    it('numbers: E.164 validated, one agent per number, unassign', async () => {
      await api('POST', '/agents', { id: 'nums', name: 'N' });
      expect((await api('POST', '/numbers', { number: '9195550160', agentId: 'nums' })).status).toBe(400);
      expect((await api('POST', '/numbers', { number: '+19195550160', agentId: 'ghost' })).status).toBe(404);
      expect((await api('POST', '/numbers', { number: '+19195550160', agentId: 'nums' })).status).toBe(201);
      const taken = await api('POST', '/numbers', { number: '+19195550160', agentId: 'default' });
      expect(taken.status).toBe(409);
      expect(errorOf(taken).message).toMatch(/already assigned to agent nums/);
      expect((await api('DELETE', '/numbers/+19195550160')).status).toBe(204);
      expect((await api('DELETE', '/numbers/+19195550160')).status).toBe(404);
    });

    it('destinations: create, update, assign to an agent (the next call sees it), remove, delete', async () => {
      const d = { id: 'billing', name: 'billing', kind: 'phone', value: '+19195550171', warm: true };
      expect((await api('POST', '/destinations', d)).status).toBe(201);
      expect((await api('POST', '/destinations', d)).status).toBe(409);
      expect((await api('POST', '/destinations', { ...d, id: 'x2', value: 'not a number' })).status).toBe(400);
      expect((await api('PATCH', '/destinations/billing', { callTimeoutS: 20 })).json).toMatchObject({ callTimeoutS: 20 });
      expect((await api('PATCH', '/destinations/billing', { kind: 'sip' })).status).toBe(400);
      await api('POST', '/agents', { id: 'desk', name: 'Desk' });
      const assigned = await api('PUT', '/agents/desk/destinations/billing');
      expect((assigned.json.destinations as Json[]).map((x) => x.name)).toEqual(['billing']);
      expect((await api('PUT', '/agents/desk/destinations/nope')).status).toBe(404);
      expect((await server.app.store.agents.get('desk'))!.agent.destinations[0]!.callTimeoutS).toBe(20);
      expect(((await api('DELETE', '/agents/desk/destinations/billing')).json.destinations as Json[])).toEqual([]);
      expect((await api('DELETE', '/destinations/billing')).status).toBe(204);
      expect((await api('GET', '/destinations/billing')).status).toBe(404);
    });
  });

  describe('the next call sees every change at once', () => {
    const NUMBER = '+19195550190';
    let n = 0;
    /** Which agent answers an inbound call to NUMBER now (its stream BXML names it). */
    const answeringAgent = async (): Promise<string | undefined> => {
      const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: `c-next-call-${++n}`, to: NUMBER });
      const params = bxml(await res.text()).all('StreamParam');
      return params.find((p) => p.attributes.name === 'agentId')?.attributes.value;
    };
    const agentNow = async (id: string) => (await server.app.store.agents.get(id))?.agent;

    it('agents, numbers, destinations, tools and import', async () => {
      expect(await answeringAgent()).toBe('default');
      await api('POST', '/agents', { id: 'route-a', name: 'A' });
      await api('POST', '/numbers', { number: NUMBER, agentId: 'route-a' });
      expect(await answeringAgent()).toBe('route-a');

      await api('PATCH', '/agents/route-a', { greeting: 'Changed greeting' });
      expect((await agentNow('route-a'))?.greeting).toBe('Changed greeting');
      await api('POST', '/agents/route-a/tools', { name: 'lookup', description: 'Look up', url: 'https://tools.example.com/x' });
      expect((await agentNow('route-a'))?.httpTools.map((t) => t.name)).toEqual(['lookup']);
      await api('POST', '/destinations', { id: 'route-desk', name: 'route-desk', kind: 'phone', value: '+19195550191' });
      await api('PUT', '/agents/route-a/destinations/route-desk');
      await api('PATCH', '/destinations/route-desk', { value: '+19195550192' });
      expect((await agentNow('route-a'))?.destinations.map((d) => d.value)).toEqual(['+19195550192']);
      await api('DELETE', '/destinations/route-desk');
      expect((await agentNow('route-a'))?.destinations).toEqual([]);

      const imported = await api('POST', '/import', { agents: [{ id: 'route-b', name: 'B' }], numbers: [{ number: NUMBER, agentId: 'route-b' }] });
      expect(imported.json.changed).toBe(2);
      expect(await answeringAgent()).toBe('route-b');

      expect((await api('DELETE', `/numbers/${NUMBER}`)).status).toBe(204);
      expect(await answeringAgent()).toBe('default');
      await api('POST', '/numbers', { number: NUMBER, agentId: 'route-b' });
      expect((await api('DELETE', '/agents/route-b?reassignTo=route-a')).status).toBe(204);
      expect(await answeringAgent()).toBe('route-a');
      expect(await agentNow('route-b')).toBeUndefined();
    });
  });

  describe('calls', () => {
    it('lists with filters and cursor pagination; a call shows its timeline and transcript', async () => {
      for (let i = 0; i < 5; i++) {
        await server.post('initiate', { ...callbackFixture('initiate'), callId: `c-list-${i}`, to: i < 3 ? '+19195550100' : '+19195550199' });
      }
      await server.post('status', { ...callbackFixture('disconnect'), callId: 'c-list-1' });
      const first = await api('GET', '/calls?limit=2');
      expect((first.json.items as Json[]).map((c) => c.id)).toEqual(['c-list-4', 'c-list-3']);
      const second = await api('GET', `/calls?limit=2&cursor=${String(first.json.nextCursor)}`);
      expect((second.json.items as Json[]).map((c) => c.id)).toEqual(['c-list-2', 'c-list-1']);
      expect(((await api('GET', '/calls?number=%2B19195550199')).json.items as Json[]).map((c) => c.id)).toEqual(['c-list-4', 'c-list-3']);
      expect(((await api('GET', '/calls?state=completed')).json.items as Json[]).map((c) => c.id)).toEqual(['c-list-1']);
      expect((await api('GET', '/calls?since=yesterday')).status).toBe(400);
      expect((await api('GET', '/calls?cursor=garbage')).status).toBe(400);
      const detail = await api('GET', '/calls/c-list-1');
      expect(detail.json).toMatchObject({ id: 'c-list-1', state: 'completed', cause: 'hangup', transfer: null });
      const types = (detail.json.events as Json[]).map((e) => e.type as string);
      expect(types.filter((t) => !t.startsWith('bridge.'))).toEqual(['initiate', 'disconnect']); // (no OpenAI key here: the bridge's failure is traced too)
      expect((await api('GET', '/calls/c-nope')).status).toBe(404);
    });

    it('hangs up a live call through the Calls API; an ended one is reported, not an error', async () => {
      await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-live' });
      const r = await api('POST', '/calls/c-live/hangup');
      expect(r.json).toEqual({ callId: 'c-live', result: 'completed' });
      expect(rest.requests.filter((x) => x.operation === 'updateCall').pop()!.body).toEqual({ state: 'completed' });
      expect((await api('POST', '/calls/c-live/hangup')).json).toEqual({ callId: 'c-live', result: 'already-ended' });
      expect((await api('POST', '/calls/c-ghost/hangup')).status).toBe(404);
      // The operator decided how it ended: the carrier's disconnect that follows does not make it the caller's.
      await server.post('status', { ...callbackFixture('disconnect'), callId: 'c-live', cause: 'hangup' });
      expect((await api('GET', '/calls/c-live')).json).toMatchObject({ state: 'completed', outcome: 'ended-by-operator', outcomeReason: 'hung up through the admin API' });
    });

    it('outbound: createCall carries our signed answerUrl and credentials; the answer callback gets the agent BXML; the call is listed', async () => {
      await api('POST', '/agents', { id: 'caller-bot', name: 'Caller bot', greeting: 'Hi, this is a reminder.' });
      await api('POST', '/numbers', { number: '+19195550111', agentId: 'caller-bot' });
      const r = await api('POST', '/calls', { agentId: 'caller-bot', to: '+19195550142' });
      expect(r.status).toBe(201);
      const callId = r.json.callId as string;
      const req = rest.requests.filter((x) => x.operation === 'createCall').pop()!.body as Json;
      const creds = server.app.credentials.credentials;
      expect(req).toMatchObject({ to: '+19195550142', from: '+19195550111', applicationId: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47', answerMethod: 'POST', username: creds.callbackUsername, password: creds.callbackPassword, tag: 'sb:outbound:caller-bot' });
      expect(req.answerUrl).toMatch(/\/bandwidth\/voice\/answer\?t=[A-Za-z0-9_-]+$/);
      expect(req.disconnectUrl).toMatch(/\/bandwidth\/voice\/status$/);
      // Bandwidth answers: the answer callback to that URL returns the agent's stream BXML.
      const t = new URL(req.answerUrl as string).searchParams.get('t')!;
      const answer = await server.post('answer', { ...callbackFixture('answer'), callId, from: '+19195550111', to: '+19195550142' }, { query: `t=${t}` });
      expect(bxml(await answer.text()).verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
      await server.post('status', { ...callbackFixture('disconnect'), callId, direction: 'outbound' });
      const listed = (await api('GET', '/calls?agentId=caller-bot')).json.items as Json[];
      expect(listed.map((c) => [c.id, c.direction, c.state, c.cause])).toEqual([[callId, 'outbound', 'completed', 'hangup']]);
    });

    it('outbound errors from Bandwidth surface as clear API errors', async () => {
      rest.fail('createCall', { status: 400, body: { type: 'validation', description: 'Invalid to: must be an E164 telephone number', id: null } });
      const bad = await api('POST', '/calls', { agentId: 'caller-bot', to: '+19195550142' });
      expect(bad.status).toBe(400);
      expect(errorOf(bad).message).toBe('Bandwidth answered HTTP 400: Invalid to: must be an E164 telephone number');
      rest.fail('createCall', { status: 429, retryAfterS: 0 }, { status: 429, retryAfterS: 0 }, { status: 429, retryAfterS: 0 });
      expect((await api('POST', '/calls', { agentId: 'caller-bot', to: '+19195550142' })).status).toBe(429);
      rest.fail('createCall', { status: 500 }, { status: 500 }, { status: 500 });
      expect((await api('POST', '/calls', { agentId: 'caller-bot', to: '+19195550142' })).status).toBe(502);
      expect((await api('POST', '/calls', { agentId: 'default', to: '+19195550142' })).status).toBe(400); // no number to call from
      expect((await api('POST', '/calls', { agentId: 'caller-bot', to: 'nope' })).status).toBe(400);
    });
  });

  it('the OpenAPI document lists every route, and only those', async () => {
    const doc = (await api('GET', '/openapi.json', undefined, null)).json as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    // What Express actually serves under /api, read from the router itself.
    const { apiRoutes } = jest.requireActual<typeof import('../../src/api/routes')>('../../src/api/routes');
    const json = apiRoutes({} as never).map((r) => `${r.method.toUpperCase()} /api${r.path.replace(/:(\w+)/g, '{$1}')}`);
    // The console's stream and recording answer no JSON: their path items are written by hand (src/console/api-paths.ts).
    const console = Object.entries(CONSOLE_API_PATHS).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented).toEqual([...json, ...console].sort());
    for (const [p, ms] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ms)) {
        const statuses = json.includes(`${m.toUpperCase()} ${p}`) ? ['400', '401'] : ['401'];
        expect([p, m, Object.keys(op.responses)]).toEqual([p, m, expect.arrayContaining(statuses)]);
      }
    }
  });
});
