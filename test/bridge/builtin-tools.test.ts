import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { agentSchema, httpToolSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools, expandSecrets } from '../../src/bridge/builtin-tools';
import type { CallActions, ToolContext } from '../../src/bridge/tools';

function agentWith(extra: Record<string, unknown> = {}, destinations: AgentWithDestinations['destinations'] = []): AgentWithDestinations {
  return { ...agentSchema.parse({ id: 'a1', name: 'A1', ...extra }), destinations };
}

const human = { id: 'd1', name: 'billing', description: 'The billing team', kind: 'phone' as const, value: '+19195550177', warm: true, callTimeoutS: 30 };

function ctx(agent: AgentWithDestinations, actions: Partial<CallActions> = {}): ToolContext {
  return { callId: 'c-1', agent, signal: new AbortController().signal, actions: { transfer: () => undefined, hangUp: () => undefined, ...actions } };
}

describe('built-in tools', () => {
  it('transfer_call offers exactly the agent\'s destinations, and hands the choice to the call', async () => {
    const agent = agentWith({}, [human, { ...human, id: 'd2', name: 'sales', description: undefined }]);
    const tools = agentTools(agent, {});
    const def = tools.definitions().find((d) => d.name === 'transfer_call')!;
    expect((def.parameters as { properties: { destination: { enum: string[] } } }).properties.destination.enum).toEqual(['billing', 'sales']);
    expect(def.description).toContain('"billing": The billing team');
    const transfers: unknown[] = [];
    const out = await tools.dispatch('transfer_call', '{"destination":"billing","reason":"refund","summary":"Wants a refund."}', ctx(agent, { transfer: (...a) => transfers.push(a) }));
    expect(out.ok).toBe(true);
    expect(transfers).toEqual([[human, 'refund', 'Wants a refund.']]);
    const bad = await tools.dispatch('transfer_call', '{"destination":"ceo","reason":"x","summary":""}', ctx(agent));
    expect(bad.ok).toBe(false);
    expect(JSON.parse(bad.output).error).toMatch(/destination/);
  });

  it('an agent with no destinations gets no transfer_call; everyone gets hang_up', async () => {
    const tools = agentTools(agentWith(), {});
    expect(tools.names).toEqual(['hang_up']);
    const reasons: string[] = [];
    const out = await tools.dispatch('hang_up', '{}', ctx(agentWith(), { hangUp: (r) => reasons.push(r) }));
    expect(out.ok).toBe(true);
    expect(reasons).toEqual(['the conversation is over']);
  });

  it('operator tools may not take a built-in name', () => {
    expect(httpToolSchema.safeParse({ name: 'hang_up', description: 'x', url: 'https://x' }).success).toBe(false);
  });
});

describe('HTTP tools', () => {
  let server: http.Server;
  let base: string;
  const seen: { path: string; headers: http.IncomingHttpHeaders; body: unknown; query: unknown }[] = [];

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.all('/orders', (req, res) => {
      seen.push({ path: req.path, headers: req.headers, body: req.body, query: req.query });
      res.json({ order: 'A7', status: 'shipped' });
    });
    app.post('/broken', (_req, res) => res.status(500).send('database is down'));
    app.post('/slow', () => undefined); // never answers
    app.post('/text', (_req, res) => res.type('text/plain').send('plain words'));
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));

  const agentWithTool = (tool: Record<string, unknown>) => agentWith({ httpTools: [{ name: 'lookup', description: 'Look up an order', ...tool }] });

  it('POSTs the arguments as JSON with secrets from the environment, and returns the JSON answer', async () => {
    const agent = agentWithTool({ url: `${base}/orders`, headers: { Authorization: 'Bearer ${TOOL_SECRET_ORDERS_TOKEN}' }, parameters: { type: 'object', properties: { orderId: { type: 'string' } } } });
    const tools = agentTools(agent, { TOOL_SECRET_ORDERS_TOKEN: 'tok-123' });
    expect(tools.definitions().find((d) => d.name === 'lookup')!.parameters).toEqual({ type: 'object', properties: { orderId: { type: 'string' } } });
    const out = await tools.dispatch('lookup', '{"orderId":"A7"}', ctx(agent));
    expect(JSON.parse(out.output)).toEqual({ order: 'A7', status: 'shipped' });
    const req = seen[seen.length - 1]!;
    expect(req.body).toEqual({ orderId: 'A7' });
    expect(req.headers.authorization).toBe('Bearer tok-123');
    expect(req.headers['x-switchboard-call-id']).toBe('c-1');
  });

  it('GET sends the arguments as the query string', async () => {
    const agent = agentWithTool({ url: `${base}/orders`, method: 'GET' });
    await agentTools(agent, {}).dispatch('lookup', '{"orderId":"A7","n":2}', ctx(agent));
    expect(seen[seen.length - 1]!.query).toEqual({ orderId: 'A7', n: '2' });
  });

  it('a 500 becomes an error result for the model', async () => {
    const agent = agentWithTool({ url: `${base}/broken` });
    const out = await agentTools(agent, {}).dispatch('lookup', '{}', ctx(agent));
    expect(out.ok).toBe(false);
    expect(JSON.parse(out.output).error).toBe('lookup answered HTTP 500: database is down');
  });

  it('a timeout becomes an error result for the model', async () => {
    const agent = agentWithTool({ url: `${base}/slow`, timeoutMs: 100 });
    const out = await agentTools(agent, {}).dispatch('lookup', '{}', ctx(agent));
    expect(JSON.parse(out.output).error).toBe('lookup did not answer within 100 ms');
  });

  it('an unreachable host and a missing secret are errors too, and the secret\'s value is never needed to say so', async () => {
    const unreachable = agentWithTool({ url: 'http://127.0.0.1:1/x' });
    expect(JSON.parse((await agentTools(unreachable, {}).dispatch('lookup', '{}', ctx(unreachable))).output).error).toMatch(/could not be reached/);
    const secret = agentWithTool({ url: `${base}/orders`, headers: { 'X-Key': '${TOOL_SECRET_MISSING}' } });
    expect(JSON.parse((await agentTools(secret, {}).dispatch('lookup', '{}', ctx(secret))).output).error).toMatch(/TOOL_SECRET_MISSING, which is not set/);
    expect(() => expandSecrets('Bearer ${OPENAI_API_KEY}', { OPENAI_API_KEY: 'sk-real' })).toThrow(/must be named TOOL_SECRET_\*/);
    expect(expandSecrets('a ${TOOL_SECRET_X} b', { TOOL_SECRET_X: 'y' })).toBe('a y b');
  });

  it('a plain-text answer is passed on as text', async () => {
    const agent = agentWithTool({ url: `${base}/text` });
    expect(JSON.parse((await agentTools(agent, {}).dispatch('lookup', '{}', ctx(agent))).output)).toEqual({ text: 'plain words' });
  });
});
