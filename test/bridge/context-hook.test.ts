import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentSchema } from '../../src/agents/agent';
import { ManualClock, waitFor } from '../../src/clock';
import { SimulatedCall } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { startTestServer, type TestServer } from '../helpers/server';
import { traceWith as traceWithIn } from '../helpers/eventually';
import { deliverSipCall } from '../helpers/sip';

const WEBHOOK_SECRET = `whsec_${Buffer.from('context-test-signing-key-of-some-length').toString('base64')}`;

/**
 * Per-call context end to end (README "Per-call context"): templated prompts rendered for the call, and the
 * context hook asked while OpenAI connects. The greeting waits for the hook at most its timeout (on the one
 * ManualClock), and what the hook answers reaches the session's instructions and the greeting.
 */
describe('per-call context and the context hook', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  let hook: http.Server;
  let hookUrl: string;
  let hookAnswer: ((res: http.ServerResponse) => void) | undefined;
  const hookRequests: { body: Record<string, unknown>; authorization?: string }[] = [];

  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hookRequests.push({ body: JSON.parse(body) as Record<string, unknown>, authorization: req.headers.authorization });
        hookAnswer?.(res); // undefined: never answers
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/context`;
  });
  afterAll(async () => {
    hook.closeAllConnections();
    await new Promise((r) => hook.close(r));
  });

  beforeEach(async () => {
    clock = new ManualClock(0);
    hookRequests.length = 0;
    // The stand-in says the greeting it was asked for (greetingInstructions quotes it).
    openai = await startRealtimeStandIn({
      clock,
      firstDeltaLatencyMs: 50,
      script: (ctx) => ({ text: /"(.*)"$/.exec(ctx.instructions)?.[1] ?? 'How can I help?', audioMs: 1200 }),
    });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', OPENAI_WEBHOOK_SECRET: WEBHOOK_SECRET, TOOL_SECRET_CRM: 'crm-token' }, { clock });
  });
  afterEach(async () => {
    await server.close();
    await openai.close();
  });

  const contextAgent = {
    instructions: 'You are talking to {{customerName}}, calling from {{caller}} on {{localDate}}.',
    greeting: 'Hello {{customerName}}, thanks for calling.',
    context: { timezone: 'America/Chicago', variables: { customerName: 'there' }, hook: { url: '', timeoutMs: 300, headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } } },
  };

  async function useAgent(id: string, fields: Record<string, unknown> = {}) {
    const { destinations: _d, ...base } = (await server.app.store.agents.get('default'))!.agent;
    await server.app.store.agents.upsert(
      agentSchema.parse({ ...base, ...contextAgent, context: { ...contextAgent.context, hook: { ...contextAgent.context.hook, url: hookUrl } }, id, name: id, ...fields }),
      id === 'default' ? 'env' : 'api',
      [],
    );
  }

  function dial() {
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    return dialThroughSetup(new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400 }), 400, (ms) => clock.advanceAsync(ms));
  }

  const traceWith = (callId: string, type: string) => traceWithIn(server.app.store, callId, type);

  const greetingRequests = (session: RealtimeStandIn['sessions'][number]) => session.received.filter((e) => e.type === 'response.create');
  const instructionUpdates = (session: RealtimeStandIn['sessions'][number]) =>
    session.received.filter((e) => e.type === 'session.update').map((e) => (e.event as { session: { instructions?: string } }).session.instructions);

  it('stream: a hook that never answers does not delay the greeting beyond its timeout; the defaults are used and the failure traced', async () => {
    hookAnswer = undefined;
    await useAgent('default');
    const call = await dial();
    const session = openai.sessions[0]!;
    expect(hookRequests).toHaveLength(1);
    // Asked at initiate (clock 0), with the OpenAI connect; the greeting went when the 300 ms ran out.
    const [greeting] = greetingRequests(session);
    expect(greeting).toBeDefined();
    expect(greeting!.atMs).toBeGreaterThanOrEqual(300);
    expect(greeting!.atMs).toBeLessThanOrEqual(340); // the clock moves in 20 ms steps while the socket delivers
    expect((greeting!.event as { response: { instructions: string } }).response.instructions).toContain('"Hello there, thanks for calling."');
    // Its audio was ready when the stream started: the caller heard it at once.
    await clock.advanceAsync(100);
    expect(call.heard.firstHeardMs).toBeDefined();
    expect(call.heard.firstHeardMs!).toBeLessThanOrEqual(40);
    // The session kept the default-rendered instructions (no second update).
    expect(instructionUpdates(session)).toEqual([expect.stringMatching(/^You are talking to there, calling from \+1\d{10} on \w+day, /)]);
    const events = await traceWith(call.callId, 'context.hook');
    expect(events.find((e) => e.type === 'context.hook')!.data).toEqual({ ok: false, durationMs: 300, reason: 'no answer within 300 ms' });
    await clock.advanceAsync(1500);
    await call.hangup();
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect((await server.app.store.transcripts.list(call.callId)).map((t) => t.text)).toEqual(['Hello there, thanks for calling.']);
  });

  it('stream: the hook’s variables reach the instructions and the greeting; {{caller}} is the caller', async () => {
    hookAnswer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ variables: { customerName: 'Dana', unused: 'x' } }));
    await useAgent('default');
    const call = await dial();
    const session = openai.sessions[0]!;
    expect(hookRequests[0]!.body).toMatchObject({ event: 'call.context', callId: call.callId, agentId: 'default', mode: 'stream', direction: 'inbound', caller: call.from, called: call.to });
    expect(hookRequests[0]!.authorization).toBe('Bearer crm-token');
    const updates = instructionUpdates(session);
    expect(updates).toHaveLength(2);
    expect(updates[1]).toMatch(new RegExp(`^You are talking to Dana, calling from \\${call.from} on \\w+day, `));
    expect(session.config.instructions).toBe(updates[1]);
    // The update went before the greeting, and the greeting did not wait for the hook's timeout: it answered.
    const order = session.received.filter((e) => e.type === 'session.update' || e.type === 'response.create');
    expect(order.map((e) => e.type)).toEqual(['session.update', 'session.update', 'response.create']);
    expect(order[2]!.atMs).toBeLessThan(300);
    await clock.advanceAsync(1500);
    await call.hangup();
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    expect((await server.app.store.transcripts.list(call.callId)).map((t) => t.text)).toEqual(['Hello Dana, thanks for calling.']);
    const events = await traceWith(call.callId, 'context.hook');
    expect(events.find((e) => e.type === 'context.hook')!.data).toEqual({ ok: true, durationMs: 0, variables: ['customerName'], ignored: ['unused'] });
  });

  it('openai-sip: asked at the webhook; the accept carries the defaults, the sideband takes the answer before the greeting', async () => {
    hookAnswer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ variables: { customerName: 'Dana' } }));
    await useAgent('sipper', { mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' } });
    await server.app.store.numbers.assign('+19195550100', 'sipper');
    await deliverSipCall(server, openai, WEBHOOK_SECRET, 'rtc_ctx_1');
    expect(hookRequests[0]!.body).toMatchObject({ callId: 'rtc_ctx_1', agentId: 'sipper', mode: 'openai-sip', caller: '+19195550142', called: '+19195550100' });
    expect(openai.sipCalls.get('rtc_ctx_1')!.accept!.instructions).toMatch(/^You are talking to there, calling from \+19195550142 on /);
    const session = openai.sipCalls.get('rtc_ctx_1')!.sessions[0]!;
    await waitFor(() => greetingRequests(session).length === 1, 5000, 'the greeting request');
    expect(instructionUpdates(session)).toEqual([undefined, expect.stringMatching(/^You are talking to Dana, calling from \+19195550142 on /)]);
    expect((greetingRequests(session)[0]!.event as { response: { instructions: string } }).response.instructions).toContain('"Hello Dana, thanks for calling."');
    const events = await traceWith('rtc_ctx_1', 'context.hook');
    expect(events.find((e) => e.type === 'context.hook')!.data).toMatchObject({ ok: true, variables: ['customerName'] });
  });

  it('the admin API refuses a template with an unknown variable, naming the field', async () => {
    const res = await fetch(`${server.url}/api/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'typo', name: 'Typo', greeting: 'Hi {{custmerName}}', context: { variables: { customerName: '' } } }),
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { message: string; fields?: string[] } };
    expect(error.message).toMatch(/greeting: unknown variable \{\{custmerName\}\}/);
    expect(error.fields).toEqual(['greeting']);
  });

  it('import takes the context and MCP servers of an agent, and refuses a bad one naming the field', async () => {
    const importDoc = async (agent: Record<string, unknown>) =>
      fetch(`${server.url}/api/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agents: [{ id: 'imported', name: 'Imported', ...agent }] }),
      });
    const good = {
      greeting: 'Hi {{customerName}}',
      context: { timezone: 'Europe/Paris', variables: { customerName: 'there' }, hook: { url: 'https://crm.example.com/ctx', headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } } },
      mcpServers: [{ label: 'crm', url: 'https://mcp.crm.example/mcp', requireApproval: 'always', autoApprove: ['lookup_order'] }],
    };
    expect((await importDoc(good)).status).toBe(200);
    const stored = (await server.app.store.agents.get('imported'))!.agent;
    expect(stored.context).toEqual({ timezone: 'Europe/Paris', variables: { customerName: 'there' }, hook: { url: 'https://crm.example.com/ctx', timeoutMs: 300, headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } } });
    expect(stored.mcpServers).toEqual([{ label: 'crm', url: 'https://mcp.crm.example/mcp', requireApproval: 'always', autoApprove: ['lookup_order'], headers: {} }]);
    const bad = await importDoc({ ...good, mcpServers: [{ label: 'crm', url: 'https://mcp.crm.example/mcp', headers: { 'X-Key': '${BANDWIDTH_CLIENT_SECRET}' } }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/mcpServers\.0\.headers\.X-Key: \$\{BANDWIDTH_CLIENT_SECRET\}: header secrets must be environment variables named TOOL_SECRET_\*/);
  });
});
