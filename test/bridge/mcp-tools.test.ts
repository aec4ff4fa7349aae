import { agentSchema } from '../../src/agents/agent';
import { ManualClock, waitFor } from '../../src/clock';
import { SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn, type ScriptContext, type SimMcpServers } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { startTestServer, type TestServer } from '../helpers/server';
import { traceWith as traceWithIn } from '../helpers/eventually';
import { deliverSipCall } from '../helpers/sip';

const SECRET_VALUE = 'crm-secret-value-7f3a';
const CRM_URL = 'https://mcp.crm.example/mcp';
const WEBHOOK_SECRET = `whsec_${Buffer.from('mcp-test-signing-key-of-some-length').toString('base64')}`;
const LOOKUP = { serverLabel: 'crm', name: 'lookup_order', arguments: { orderId: '1234' } };

/**
 * MCP tools end to end (README "MCP tools"): the agent's server reaches OpenAI with its secret header filled
 * in, OpenAI (the stand-in) lists its tools, asks before a call, Switchboard answers by the agent's rule,
 * and every listing, approval and call is in the call's trace, with the secret nowhere in the store.
 */
describe('MCP tools', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  const calls: { name: string; args: unknown; headers: Record<string, string> }[] = [];
  const crm: SimMcpServers = {
    [CRM_URL]: {
      tools: [{ name: 'lookup_order', description: 'Find an order' }, { name: 'cancel_order' }, { name: 'delete_everything' }],
      call: (name, args, headers) => {
        calls.push({ name, args, headers });
        return name === 'lookup_order' ? { output: JSON.stringify({ orderId: '1234', status: 'shipped' }) } : { error: 'not here' };
      },
    },
  };
  const mcpAgent = (fields: Record<string, unknown> = {}) => ({
    mcpServers: [{ label: 'crm', url: CRM_URL, allowedTools: ['lookup_order', 'cancel_order'], requireApproval: 'always', autoApprove: ['lookup_order'], headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } }],
    ...fields,
  });

  async function start(script: (ctx: ScriptContext) => ResponsePlan) {
    clock = new ManualClock(0);
    calls.length = 0;
    openai = await startRealtimeStandIn({ clock, firstDeltaLatencyMs: 50, script: script as never, transcribe: () => 'Where is my order 1234?', mcpServers: crm });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', OPENAI_WEBHOOK_SECRET: WEBHOOK_SECRET, TOOL_SECRET_CRM: SECRET_VALUE }, { clock });
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  async function useAgent(id: string, fields: Record<string, unknown>) {
    const base = (await server.app.store.agents.get('default'))!.agent;
    const { destinations: _d, ...agent } = base;
    await server.app.store.agents.upsert(agentSchema.parse({ ...agent, id, name: id, ...fields }), id === 'default' ? 'env' : 'api', []);
  }

  const traceWith = (callId: string, type: string) => traceWithIn(server.app.store, callId, type);

  /** Nothing in the call's trace or row holds the secret's value. */
  async function expectNoSecretStored(callId: string) {
    const stored = JSON.stringify([await server.app.store.events.list(callId), await server.app.store.calls.get(callId), await server.app.store.agents.list()]);
    expect(stored).not.toContain(SECRET_VALUE);
    expect(stored).toContain('${TOOL_SECRET_CRM}'); // the agent keeps the reference
  }

  it('stream: listed, asked, approved by the agent’s rule, called, spoken; all in the trace', async () => {
    await start((ctx) => {
      if (ctx.n === 1) return { text: 'Hello, how can I help?', audioMs: 600 };
      if (ctx.conversation.some((e) => e.type === 'mcp_call')) return { text: 'Anything else?', audioMs: 400 };
      return { mcpCall: LOOKUP, then: 'Your order 1234 has shipped.' };
    });
    await useAgent('default', mcpAgent());
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    const call = await dialThroughSetup(
      new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400, audio: speechLikeAudio({ startMs: 1000, durationMs: 800, seed: 3 }) }),
      400,
      (ms) => clock.advanceAsync(ms),
    );
    const session = openai.sessions[0]!;
    // The session's mcp tool, secret filled in, as the openai package types it.
    const update = session.received.find((e) => e.type === 'session.update')!.event as { session: { tools: Record<string, unknown>[] } };
    expect(update.session.tools.find((t) => t.type === 'mcp')).toEqual({
      type: 'mcp',
      server_label: 'crm',
      server_url: CRM_URL,
      allowed_tools: ['lookup_order', 'cancel_order'],
      require_approval: 'always',
      headers: { Authorization: `Bearer ${SECRET_VALUE}` },
    });
    await clock.advanceAsync(3000);
    await waitFor(() => session.sent.filter((e) => e.type === 'response.mcp_call.completed').length === 1, 5000, 'the MCP call');
    await clock.advanceAsync(2000);
    await waitFor(() => call.heard.segments.length > 0, 5000, 'audio');

    // Switchboard answered the approval request, then asked for the response that ran the call.
    const answer = session.received.find((e) => e.type === 'conversation.item.create' && (e.event as { item: { type: string } }).item.type === 'mcp_approval_response')!;
    expect((answer.event as { item: unknown }).item).toMatchObject({ type: 'mcp_approval_response', approve: true, reason: 'lookup_order is approved for this agent' });
    expect(calls).toEqual([{ name: 'lookup_order', args: { orderId: '1234' }, headers: { Authorization: `Bearer ${SECRET_VALUE}` } }]);

    const events = await traceWith(call.callId, 'mcp.call');
    const mcp = events.filter((e) => e.type.startsWith('mcp.')).map((e) => [e.type, e.source, e.data]);
    expect(mcp).toEqual([
      ['mcp.tools-listed', 'tool', { serverLabel: 'crm', tools: ['lookup_order', 'cancel_order'], itemId: expect.any(String) }],
      ['mcp.approval', 'tool', { serverLabel: 'crm', name: 'lookup_order', arguments: { orderId: '1234' }, requestId: expect.any(String), approved: true, reason: 'lookup_order is approved for this agent' }],
      ['mcp.call', 'tool', { serverLabel: 'crm', name: 'lookup_order', arguments: { orderId: '1234' }, ok: true, output: { orderId: '1234', status: 'shipped' }, approvalRequestId: expect.any(String), itemId: expect.any(String) }],
    ]);
    await call.hangup();
    await clock.advanceAsync(200);
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    const transcript = (await server.app.store.transcripts.list(call.callId)).map((t) => t.text);
    expect(transcript).toContain('Your order 1234 has shipped.');
    await expectNoSecretStored(call.callId);
  });

  it('openai-sip: the accept carries the server; a refused approval and a failed call are traced', async () => {
    await start((ctx) => {
      // The greeting response looks the caller up first, then asks for the cancel the agent may not do.
      if (ctx.n <= 2) return { mcpCall: { serverLabel: 'crm', name: 'cancel_order', arguments: { orderId: '1234' } }, then: 'Cancelled.', denied: 'I cannot cancel orders on this line.' };
      return { mcpCall: { ...LOOKUP, name: 'delete_everything' }, then: 'Done.' };
    });
    await useAgent('sipper', mcpAgent({ mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' }, mcpServers: [{ ...mcpAgent().mcpServers[0], allowedTools: undefined }] }));
    await server.app.store.numbers.assign('+19195550100', 'sipper');
    await deliverSipCall(server, openai, WEBHOOK_SECRET, 'rtc_mcp_1');
    const accept = openai.sipCalls.get('rtc_mcp_1')!.accept as { tools: Record<string, unknown>[] };
    expect(accept.tools.find((t) => t.type === 'mcp')).toMatchObject({ server_label: 'crm', server_url: CRM_URL, require_approval: 'always', headers: { Authorization: `Bearer ${SECRET_VALUE}` } });
    const session = openai.sipCalls.get('rtc_mcp_1')!.sessions[0]!;
    await waitFor(() => session.received.some((e) => e.type === 'response.create'), 5000, 'the greeting request');
    await clock.advanceAsync(100); // the greeting response asks for approval
    await waitFor(() => session.received.filter((e) => e.type === 'response.create').length >= 2, 5000, 'the response after the refusal');
    await clock.advanceAsync(1500);
    await waitFor(() => session.sent.filter((e) => e.type === 'response.done').length >= 2, 5000, 'the spoken refusal');
    // The stand-in never ran the refused call.
    expect(calls).toEqual([]);
    const denied = session.received.find((e) => e.type === 'conversation.item.create')!.event as { item: Record<string, unknown> };
    expect(denied.item).toMatchObject({ type: 'mcp_approval_response', approve: false, reason: 'cancel_order is not approved for use on calls' });

    // A call the server fails: traced with its error.
    session.send({ type: 'response.created', response: { id: 'resp_x', object: 'realtime.response', status: 'in_progress', output: [] } as never });
    session.send({
      type: 'response.output_item.done',
      response_id: 'resp_x',
      output_index: 0,
      item: { id: 'item_x', type: 'mcp_call', server_label: 'crm', name: 'lookup_order', arguments: '{"orderId":"9"}', output: null, error: { type: 'http_error', code: 502, message: 'Bad gateway' } },
    });
    const mcp = (await traceWith('rtc_mcp_1', 'mcp.call')).filter((e) => e.type.startsWith('mcp.')).map((e) => [e.type, e.data]);
    expect(mcp).toEqual([
      ['mcp.tools-listed', { serverLabel: 'crm', tools: ['lookup_order', 'cancel_order', 'delete_everything'], itemId: expect.any(String) }],
      ['mcp.approval', { serverLabel: 'crm', name: 'cancel_order', arguments: { orderId: '1234' }, requestId: expect.any(String), approved: false, reason: 'cancel_order is not approved for use on calls' }],
      ['mcp.call', { serverLabel: 'crm', name: 'lookup_order', arguments: { orderId: '9' }, ok: false, error: 'Bad gateway', itemId: 'item_x' }],
    ]);
    const transcript = (await server.app.store.transcripts.list('rtc_mcp_1')).map((t) => t.text);
    expect(transcript).toContain('I cannot cancel orders on this line.');
    await expectNoSecretStored('rtc_mcp_1');
  });

  it('a server whose secret is not set is left out of the call; one OpenAI cannot reach fails its listing; the trace says both', async () => {
    await start(() => ({ text: 'Hello.', audioMs: 300 }));
    await useAgent('default', mcpAgent({ mcpServers: [{ label: 'erp', url: 'https://erp.example/mcp', headers: { 'X-Key': '${TOOL_SECRET_ERP}' } }, { label: 'billing', url: 'https://billing.example/mcp' }] }));
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    const call = await dialThroughSetup(new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400 }), 400, (ms) => clock.advanceAsync(ms));
    const update = openai.sessions[0]!.received.find((e) => e.type === 'session.update')!.event as { session: { tools: { type: string }[] } };
    expect(update.session.tools.filter((t) => t.type === 'mcp')).toEqual([expect.objectContaining({ server_label: 'billing' })]);
    const events = await traceWith(call.callId, 'mcp.list-failed');
    expect(events.find((e) => e.type === 'mcp.unavailable')!.data).toEqual({ serverLabel: 'erp', reason: "the tool's configuration needs the environment variable TOOL_SECRET_ERP, which is not set" });
    expect(events.find((e) => e.type === 'mcp.list-failed')!.data).toEqual({ serverLabel: 'billing', itemId: expect.any(String) });
    await call.hangup();
  });
});
