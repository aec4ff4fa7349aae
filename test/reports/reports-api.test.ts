import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import OpenAI from 'openai';
import { ManualClock, settleIo } from '../../src/clock';
import { registerAdminCommands } from '../../src/cli/commands';
import { flattenUsage } from '../../src/openai/events';
import { outcomeAtEnd } from '../../src/outcomes';
import { startTestServer, type TestServer } from '../helpers/server';

/** The admin API's and the CLI's view of the outbox: list, show, replay; and the call detail's cost in `calls show`. */
describe('reports in the admin API and the CLI', () => {
  let clock: ManualClock;
  let server: TestServer;
  let hooks: http.Server;
  const received: { headers: Record<string, string>; body: string }[] = [];

  beforeAll(async () => {
    hooks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => (received.push({ headers: req.headers as Record<string, string>, body }), res.writeHead(200).end()));
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    clock = new ManualClock(0);
    server = await startTestServer({ REPORT_URL: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/` }, { clock });
  });
  afterAll(async () => {
    await server.close();
    await new Promise<void>((resolve) => (hooks.closeAllConnections(), hooks.close(() => resolve())));
  });

  const api = async (method: string, path: string) => {
    const res = await fetch(`${server.url}/api${path}`, { method, headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}` } });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { message: string } } };
  };
  const cli = async (args: string[]) => {
    const lines: string[] = [];
    const program = new Command().exitOverride();
    registerAdminCommands(program, (t) => lines.push(t), {});
    await program.parseAsync(['node', 'switchboard', ...args, '--url', server.url, '--token', server.app.credentials.credentials.adminToken]);
    return lines.flatMap((l) => l.split('\n'));
  };
  async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
    for (let i = 0; i < 120 && !(await condition()); i++) {
      await clock.advanceAsync(250, 250);
      await settleIo();
    }
    expect(await condition()).toBe(true);
  }

  it('lists a delivered report, shows its JSON, replays it with the same webhook-id, and shows the cost in calls show', async () => {
    const store = server.app.store;
    await store.calls.record({ id: 'c-api', direction: 'inbound', from: '+19195550100', to: '+19195550177', agentId: 'default', mode: 'stream', state: 'streaming' });
    await store.calls.addUsage('c-api', flattenUsage({ input_token_details: { audio_tokens: 1_000_000 }, output_token_details: { audio_tokens: 0 } }));
    await store.calls.record({ id: 'c-api', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });
    await until(async () => (await store.reports.list({ callId: 'c-api', limit: 1 }))[0]?.status === 'delivered');

    const list = await api('GET', '/reports?status=delivered');
    expect(list.status).toBe(200);
    const [item] = list.json as unknown as { id: string; callId: string; status: string; attempts: number; body?: string }[];
    expect(item).toMatchObject({ callId: 'c-api', status: 'delivered', attempts: 1 });
    expect(item!.body).toBeUndefined();
    const shown = await api('GET', `/reports/${item!.id}`);
    expect(shown.json.report).toMatchObject({ type: 'call.ended', data: { call: { id: 'c-api' }, cost: { totalUsd: 32 } } });

    const lines = await cli(['reports', 'list']);
    expect(lines[0]).toMatch(/^REPORT\s+CALL\s+CREATED\s+STATUS\s+ATTEMPTS/);
    expect(lines[1]).toMatch(new RegExp(`^${item!.id}\\s+c-api\\s+.*\\s+delivered\\s+1\\s+200`));

    expect(await cli(['reports', 'resend', item!.id])).toEqual([expect.stringMatching(new RegExp(`^report ${item!.id} \\(call c-api\\) is pending again`))]);
    await until(() => received.length === 2);
    expect(received[1]!.headers['webhook-id']).toBe(item!.id);
    expect(received[1]!.body).toBe(received[0]!.body);
    await new OpenAI({ apiKey: 'sk-test' }).webhooks.unwrap(received[1]!.body, received[1]!.headers, server.app.credentials.credentials.reportSigningSecret);
    await until(async () => (await store.reports.get(item!.id))?.attempts === 2);
    expect(await store.reports.get(item!.id)).toMatchObject({ status: 'delivered', attempts: 2 });

    // 1M fresh audio-in tokens of gpt-realtime-2.1 at $32 per million.
    expect(await cli(['calls', 'show', 'c-api'])).toContain('Estimated cost: $32.0000 (gpt-realtime-2.1; audioIn 1000000)');
  });

  it('a malformed report id is a 400 naming it; an unknown one a 404; a bad report setting on an agent a 400 naming it; the OpenAPI document has the routes', async () => {
    const bad = await api('POST', '/reports/nope/resend');
    expect(bad.status).toBe(400);
    expect(bad.json.error!.message).toMatch(/^id: must be a report id/);
    expect((await api('POST', '/reports/msg_unknown/resend')).status).toBe(404);
    expect((await api('GET', '/reports?status=lost')).status).toBe(400);
    const badAgent = await fetch(`${server.url}/api/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'bad-report', name: 'Bad', report: { url: 'ftp://crm.example.com', transcript: 'yes' } }),
    });
    expect(badAgent.status).toBe(400);
    const problem = ((await badAgent.json()) as { error: { message: string; fields: string[] } }).error;
    expect(problem.fields).toEqual(expect.arrayContaining(['report.url', 'report.transcript']));
    expect(problem.message).toMatch(/report\.url: must be an http:\/\/ or https:\/\/ URL/);
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/api/reports/{id}/resend']!)).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/reports']!)).toEqual(['get']);
  });
});
