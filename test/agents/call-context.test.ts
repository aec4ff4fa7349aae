import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { checkTemplate, renderTemplate } from '../../src/agents/call-context';
import { mcpApproval } from '../../src/agents/mcp-servers';
import { ManualClock } from '../../src/clock';
import { CallContexts } from '../../src/context/call-contexts';
import { askContextHook, type ContextHookRequest } from '../../src/context/hook';

const agentOf = (fields: Record<string, unknown>): AgentWithDestinations => ({ ...agentSchema.parse({ id: 'a', name: 'A', ...fields }), destinations: [] });
const problems = (fields: Record<string, unknown>) => {
  const r = agentSchema.safeParse({ id: 'a', name: 'A', ...fields });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('templated instructions and greeting: checked when the agent is saved', () => {
  it('built-ins and declared variables are accepted; an unknown name is refused, naming the field and the variable', () => {
    expect(problems({ greeting: 'Hi {{customerName}}, you called {{called}} at {{localTime}}.', context: { variables: { customerName: 'there' } } })).toEqual([]);
    expect(problems({ greeting: 'Hi {{customerNme}}!', context: { variables: { customerName: 'there' } } })).toEqual([
      expect.stringMatching(/^greeting: unknown variable \{\{customerNme\}\}: use a built-in \(caller, called, .*\) or declare it in context\.variables$/),
    ]);
    expect(problems({ instructions: 'Caller: {{#vip}}VIP {{tier}}{{/vip}}', context: { variables: { vip: '' } } })).toEqual([expect.stringMatching(/^instructions: unknown variable \{\{tier\}\}/)]);
  });

  it('syntax errors, partials and delimiter changes are refused; a built-in cannot be redeclared', () => {
    expect(problems({ greeting: 'Hi {{#vip}}there' })).toEqual([expect.stringMatching(/^greeting: not a valid template: Unclosed section "vip"/)]);
    expect(problems({ instructions: 'Be {{> persona}}' })).toEqual(['instructions: partials ({{> persona}}) are not supported']);
    expect(problems({ greeting: '{{=<% %>=}}Hi <%caller%>' })).toEqual(['greeting: changing the {{ }} delimiters is not supported']);
    expect(problems({ context: { variables: { caller: 'x' } } })).toEqual(['context.variables.caller: {{caller}} is a built-in variable; choose another name']);
    expect(problems({ context: { timezone: 'Mars/Olympus' } })).toEqual(['context.timezone: must be an IANA time zone like America/New_York or UTC']);
    expect(problems({ context: { hook: { url: 'https://crm.example.com/ctx', timeoutMs: 10 } } })).toEqual([expect.stringMatching(/^context\.hook\.timeoutMs: /)]);
  });

  it('renders plain text: nothing is HTML-escaped', () => {
    expect(checkTemplate('{{a}}', { a: '' })).toBeUndefined();
    expect(renderTemplate('Hi {{name}} & {{{name}}}', { name: "O'Brien <VIP>" })).toBe("Hi O'Brien <VIP> & O'Brien <VIP>");
  });
});

describe('MCP servers: checked when the agent is saved', () => {
  const server = { label: 'crm', url: 'https://mcp.crm.example/mcp' };
  it('header secrets must be TOOL_SECRET_* references; auto-approved tools must be allowed and asked for', () => {
    expect(problems({ mcpServers: [{ ...server, headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } }] })).toEqual([]);
    expect(problems({ mcpServers: [{ ...server, headers: { Authorization: 'Bearer ${OPENAI_API_KEY}' } }] })).toEqual([
      'mcpServers.0.headers.Authorization: ${OPENAI_API_KEY}: header secrets must be environment variables named TOOL_SECRET_*',
    ]);
    expect(problems({ mcpServers: [{ ...server, allowedTools: ['lookup'], requireApproval: 'always', autoApprove: ['cancel'] }] })).toEqual(['mcpServers.0.autoApprove: cancel not in allowedTools: the model can never call it']);
    expect(problems({ mcpServers: [{ ...server, autoApprove: ['lookup'] }] })).toEqual(['mcpServers.0.autoApprove: has no effect with requireApproval "never" (nothing is asked)']);
    expect(problems({ mcpServers: [server, server] })).toEqual(['mcpServers: MCP server labels must be unique']);
    expect(problems({ mcpServers: [{ ...server, url: 'ftp://x' }] })).toEqual(['mcpServers.0.url: must be an http:// or https:// URL']);
  });

  it('approval: the auto-approved tools of the server, nothing else', () => {
    const agent = agentOf({ mcpServers: [{ ...server, requireApproval: 'always', autoApprove: ['lookup_order'] }] });
    expect(mcpApproval(agent.mcpServers, 'crm', 'lookup_order')).toEqual({ approve: true, reason: 'lookup_order is approved for this agent' });
    expect(mcpApproval(agent.mcpServers, 'crm', 'cancel_order')).toEqual({ approve: false, reason: 'cancel_order is not approved for use on calls' });
    expect(mcpApproval(agent.mcpServers, 'other', 'lookup_order').approve).toBe(false);
  });
});

describe('CallContexts: one call’s prompts', () => {
  // 19:21 UTC on Monday 7 December 2026.
  const clock = () => new ManualClock(0, Date.UTC(2026, 11, 7, 19, 21));
  const facts = { callId: 'c-1', direction: 'inbound' as const, caller: '+19195550142', called: '+19195550100' };

  it('renders the call’s values, local time in the agent’s timezone, and the declared defaults; no hook, no wait', () => {
    const agent = agentOf({
      instructions: 'Caller {{caller}} dialled {{called}} ({{direction}}, {{callId}}). It is {{localDateTime}} ({{timezone}}). Plan: {{plan}}.',
      greeting: 'Good {{#morning}}morning{{/morning}}{{^morning}}day{{/morning}}, {{localTime}}.',
      context: { timezone: 'America/New_York', variables: { plan: 'standard', morning: '' } },
    });
    const prompts = new CallContexts({ clock: clock(), env: {} }).forCall(agent, facts);
    expect(prompts.final).toBeUndefined();
    expect(prompts.initial).toEqual({
      instructions: 'Caller +19195550142 dialled +19195550100 (inbound, c-1). It is Monday, December 7, 2026 at 2:21 PM (America/New_York). Plan: standard.',
      greeting: 'Good day, 2:21 PM.',
    });
  });

  describe('with a hook', () => {
    let server: http.Server;
    let url: string;
    let answer: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
    const requests: { headers: http.IncomingHttpHeaders; body: ContextHookRequest }[] = [];
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          requests.push({ headers: req.headers, body: JSON.parse(body) as ContextHookRequest });
          answer(req, body, res);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/context`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const json = (status: number, body: unknown) => (_q: http.IncomingMessage, _b: string, res: http.ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));

    it('its declared variables replace the defaults; others are ignored, by name; the request carries the call and the secret header', async () => {
      answer = json(200, { variables: { customerName: 'Dana', vip: true, balance: 12.5, favouriteColour: 'teal', overdue: false } });
      const agent = agentOf({
        greeting: 'Hello {{customerName}}{{#vip}}, our valued member{{/vip}}!',
        instructions: 'Balance {{balance}}.{{#overdue}} Overdue!{{/overdue}}',
        context: { variables: { customerName: 'there', vip: '', balance: 'unknown', overdue: 'yes' }, hook: { url, headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } } },
      });
      const c = clock();
      const result = await new CallContexts({ clock: c, env: { TOOL_SECRET_CRM: 's3cret' } }).forCall(agent, facts).final!;
      expect(result.prompts).toEqual({ greeting: 'Hello Dana, our valued member!', instructions: 'Balance 12.5.' });
      expect(result.hook).toEqual({ ok: true, durationMs: 0, variables: ['customerName', 'vip', 'balance', 'overdue'], ignored: ['favouriteColour'] });
      const asked = requests.at(-1)!;
      expect(asked.headers.authorization).toBe('Bearer s3cret');
      expect(asked.body).toEqual({ event: 'call.context', callId: 'c-1', agentId: 'a', mode: 'stream', direction: 'inbound', caller: '+19195550142', called: '+19195550100', at: '2026-12-07T19:21:00.000Z' });
    });

    it('a failure falls back to the defaults, with the reason: HTTP error, not JSON, wrong shape, too large, missing secret', async () => {
      const agent = agentOf({ greeting: 'Hello {{customerName}}!', context: { variables: { customerName: 'there' }, hook: { url } } });
      const ask = async (reply: typeof answer, env: NodeJS.ProcessEnv = {}, a = agent) => {
        answer = reply;
        return new CallContexts({ clock: clock(), env }).forCall(a, facts).final!;
      };
      const failed = await ask(json(500, { error: 'down' }));
      expect(failed.prompts.greeting).toBe('Hello there!');
      expect(failed.hook).toEqual({ ok: false, durationMs: 0, reason: 'answered HTTP 500', status: 500 });
      expect((await ask(json(200, 'not json'))).hook).toMatchObject({ ok: false, reason: 'answer is not JSON' });
      expect((await ask(json(200, { variables: { customerName: { nested: true } } }))).hook).toMatchObject({ ok: false, reason: expect.stringMatching(/^answer refused: variables\.customerName: /) });
      expect((await ask(json(200, { variables: { customerName: 'x'.repeat(20_000) } }))).hook).toMatchObject({ ok: false, reason: 'answer larger than 16384 bytes' });
      const secretAgent = agentOf({ greeting: 'Hi', context: { hook: { url, headers: { 'X-Key': '${TOOL_SECRET_MISSING}' } } } });
      expect((await ask(json(200, { variables: {} }), {}, secretAgent)).hook).toMatchObject({ ok: false, reason: expect.stringMatching(/TOOL_SECRET_MISSING, which is not set/) });
    });

    it('no answer within the timeout: the defaults, on the injected clock, without waiting for the hook', async () => {
      answer = () => undefined; // never answers
      const c = clock();
      const agent = agentOf({ greeting: 'Hello {{customerName}}!', context: { variables: { customerName: 'there' }, hook: { url, timeoutMs: 300 } } });
      let settled: { hook: { ok: boolean } } | undefined;
      const asked = requests.length;
      void new CallContexts({ clock: c, env: {} }).forCall(agent, facts).final!.then((r) => (settled = r));
      await new Promise<void>((r) => {
        const poll = () => (requests.length > asked ? r() : setTimeout(poll, 5));
        poll();
      });
      await c.advanceAsync(280);
      expect(settled).toBeUndefined();
      await c.advanceAsync(20);
      expect(settled).toEqual({ prompts: { instructions: expect.any(String), greeting: 'Hello there!' }, hook: { ok: false, durationMs: 300, reason: 'no answer within 300 ms' } });
    });

    it('askContextHook: an unreachable hook is a failure, not an exception', async () => {
      const result = await askContextHook({ url: 'http://127.0.0.1:1/nothing', timeoutMs: 300, headers: {} }, { event: 'call.context', callId: 'c', agentId: 'a', mode: 'stream', direction: 'inbound', caller: null, called: null, at: '' }, { clock: clock(), env: {} });
      expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^could not be reached: /) });
    });
  });
});
