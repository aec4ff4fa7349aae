import fs from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { maskPhone } from '../log';
import { CALL_OUTCOMES } from '../outcomes';
import { ApiError, connect, type ApiClient } from './api-client';

/**
 * The admin commands of `switchboard`. Exit codes: 0 done, 1 refused by the API (the
 * message says why), 2 bad usage or input file, 3 server unreachable.
 */
interface Remote {
  url?: string;
  token?: string;
}

type Out = (text: string) => void;

let cliEnv: NodeJS.ProcessEnv = process.env;

async function withApi(opts: Remote, run: (api: ApiClient) => Promise<void>): Promise<void> {
  const api = await connect({ url: opts.url, token: opts.token, env: cliEnv });
  try {
    await run(api);
  } finally {
    await api.close();
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ApiError) return err.status === 0 ? 3 : 1;
  return 2;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

interface AgentView {
  id: string;
  name: string;
  mode: string;
  voice: string;
  numbers: string[];
  source: string;
}
interface CallView {
  id: string;
  direction: string | null;
  from: string | null;
  to: string | null;
  agentId: string | null;
  state: string;
  cause: string | null;
  outcome: string | null;
  outcomeReason: string | null;
  createdAt: string;
  endedAt: string | null;
}
interface CallDetail extends CallView {
  usage: Record<string, number> | null;
  cost: { model: string; totalUsd: number; tokens: Record<string, number> } | null;
  transfer: { outcome: string; destination: string | null; cause: string | null; durationMs: number | null } | null;
  transcript: { role: string; text: string; truncated: boolean; heardMs?: number }[];
  events: { at: string; source: string; type: string }[];
}

interface ReportView {
  id: string;
  callId: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: string;
  deliveredAt: string | null;
  createdAt: string;
}

export function registerAdminCommands(program: Command, out: Out = (t) => process.stdout.write(`${t}\n`), env: NodeJS.ProcessEnv = process.env): void {
  cliEnv = env;
  const remote = (c: Command) => c.option('--url <url>', 'a running Switchboard (default: the local data directory)').option('--token <token>', 'admin token for --url (default: ADMIN_TOKEN)');

  const agents = program.command('agents').description('manage agents');
  remote(agents.command('list').description('list agents')).action((o: Remote) =>
    withApi(o, async (api) => {
      const list = await api.request<AgentView[]>('GET', '/agents');
      out(table([['ID', 'NAME', 'MODE', 'VOICE', 'NUMBERS', 'SOURCE'], ...list.map((a) => [a.id, a.name, a.mode, a.voice, a.numbers.join(',') || '-', a.source])]));
    }),
  );
  remote(agents.command('show <id>').description('show an agent as JSON')).action((id: string, o: Remote) =>
    withApi(o, async (api) => out(JSON.stringify(await api.request('GET', `/agents/${encodeURIComponent(id)}`), null, 2))),
  );
  remote(
    agents
      .command('create <id>')
      .description('create a stream agent')
      .requiredOption('--name <name>', 'display name')
      .option('--greeting <text>')
      .option('--instructions <text>')
      .option('--voice <voice>'),
  ).action((id: string, o: Remote & { name: string; greeting?: string; instructions?: string; voice?: string }) =>
    withApi(o, async (api) => {
      const body = Object.fromEntries(Object.entries({ id, name: o.name, greeting: o.greeting, instructions: o.instructions, voice: o.voice }).filter(([, v]) => v !== undefined));
      const created = await api.request<AgentView>('POST', '/agents', body);
      out(`created agent ${created.id}`);
    }),
  );
  remote(agents.command('import <file>').description('apply a JSON or YAML file of destinations, agents and numbers (idempotent)').option('--dry-run', 'report what would change')).action(
    (file: string, o: Remote & { dryRun?: boolean }) =>
      withApi(o, async (api) => {
        let doc: unknown;
        try {
          const text = fs.readFileSync(file, 'utf8');
          doc = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
        } catch (err) {
          throw new Error(`${file}: ${(err as Error).message}`);
        }
        const result = await api.request<{ changed: number; changes: { kind: string; id: string; action: string }[] }>('POST', '/import', { ...(doc as object), dryRun: Boolean(o.dryRun) });
        for (const c of result.changes) out(`${c.action.padEnd(9)} ${c.kind} ${c.id}`);
        out(result.changed === 0 ? 'no changes' : `${result.changed} change${result.changed === 1 ? '' : 's'}${o.dryRun ? ' (dry run: nothing written)' : ''}`);
      }),
  );

  const numbers = program.command('numbers').description('assign phone numbers to agents');
  remote(numbers.command('assign <number>').description('assign a number (E.164) to an agent').requiredOption('--agent <id>')).action((number: string, o: Remote & { agent: string }) =>
    withApi(o, async (api) => {
      await api.request('POST', '/numbers', { number, agentId: o.agent });
      out(`${number} → ${o.agent}`);
    }),
  );
  remote(numbers.command('list').description('list number assignments').option('--agent <id>')).action((o: Remote & { agent?: string }) =>
    withApi(o, async (api) => {
      const list = await api.request<{ number: string; agentId: string }[]>('GET', `/numbers${o.agent ? `?agentId=${encodeURIComponent(o.agent)}` : ''}`);
      out(table([['NUMBER', 'AGENT'], ...list.map((n) => [n.number, n.agentId])]));
    }),
  );

  const calls = program.command('calls').description('read calls');
  remote(calls.command('list').description('newest calls first').option('--agent <id>').option('--outcome <outcome>', `only calls that ended so (${CALL_OUTCOMES.join(', ')})`).option('--limit <n>', 'how many', '20')).action((o: Remote & { agent?: string; outcome?: string; limit: string }) =>
    withApi(o, async (api) => {
      const q = new URLSearchParams({ limit: o.limit, ...(o.agent ? { agentId: o.agent } : {}), ...(o.outcome ? { outcome: o.outcome } : {}) });
      const page = await api.request<{ items: CallView[] }>('GET', `/calls?${q}`);
      out(
        table([
          ['CALL', 'WHEN', 'DIR', 'FROM', 'TO', 'AGENT', 'STATE', 'OUTCOME'],
          ...page.items.map((c) => [c.id, c.createdAt.replace('T', ' ').slice(0, 19), c.direction ?? '-', maskPhone(c.from) ?? '-', maskPhone(c.to) ?? '-', c.agentId ?? '-', c.state, c.outcome ?? '-']),
        ]),
      );
    }),
  );
  remote(calls.command('show <id>').description('a call: outcome, transcript and timeline')).action((id: string, o: Remote) =>
    withApi(o, async (api) => {
      const c = await api.request<CallDetail>('GET', `/calls/${encodeURIComponent(id)}`);
      out(`Call ${c.id}  ${c.direction ?? ''}  ${maskPhone(c.from) ?? '?'} → ${maskPhone(c.to) ?? '?'}  agent ${c.agentId ?? '-'}`);
      out(`State ${c.state}${c.cause ? ` (${c.cause})` : ''}, started ${c.createdAt}${c.endedAt ? `, ended ${c.endedAt}` : ''}`);
      if (c.outcome) out(`Outcome: ${c.outcome}${c.outcomeReason ? ` (${c.outcomeReason})` : ''}`);
      if (c.transfer) out(`Transfer: ${c.transfer.outcome}${c.transfer.destination ? ` to ${c.transfer.destination}` : ''}${c.transfer.cause ? ` (${c.transfer.cause})` : ''}${c.transfer.durationMs !== null ? `, ${Math.round(c.transfer.durationMs / 1000)} s` : ''}`);
      if (c.usage) out(`Usage: ${Object.entries(c.usage).filter(([k]) => !k.includes('.')).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      if (c.cost) out(`Estimated cost: $${c.cost.totalUsd.toFixed(4)} (${c.cost.model}; ${Object.entries(c.cost.tokens).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'no tokens'})`);
      out('\nTranscript:');
      for (const t of c.transcript) out(`  ${t.role.padEnd(6)} ${t.text}${t.truncated ? `  [cut off after ${t.heardMs} ms]` : ''}`);
      if (c.transcript.length === 0) out('  (none)');
      out('\nTimeline:');
      for (const e of c.events) out(`  ${e.at.slice(11, 23)}  ${e.source.padEnd(11)} ${e.type}`);
    }),
  );

  const reports = program.command('reports').description('post-call reports: delivery state and replay');
  remote(reports.command('list').description('newest reports first').option('--status <status>', 'pending, delivered, failed or skipped').option('--call <id>', 'only this call\'s report').option('--limit <n>', 'how many', '20')).action(
    (o: Remote & { status?: string; call?: string; limit: string }) =>
      withApi(o, async (api) => {
        const q = new URLSearchParams({ limit: o.limit, ...(o.status ? { status: o.status } : {}), ...(o.call ? { callId: o.call } : {}) });
        const list = await api.request<ReportView[]>('GET', `/reports?${q}`);
        out(
          table([
            ['REPORT', 'CALL', 'CREATED', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT / DELIVERED'],
            ...list.map((r) => [r.id, r.callId, r.createdAt.replace('T', ' ').slice(0, 19), r.status, String(r.attempts), r.lastStatus === null ? (r.lastError ? 'error' : '-') : String(r.lastStatus), (r.status === 'delivered' ? r.deliveredAt : r.status === 'pending' ? r.nextAttemptAt : '-') ?? '-']),
          ]),
        );
      }),
  );
  remote(reports.command('resend <id>').description('deliver a report again (same webhook-id and body)')).action((id: string, o: Remote) =>
    withApi(o, async (api) => {
      const r = await api.request<ReportView>('POST', `/reports/${encodeURIComponent(id)}/resend`);
      out(`report ${r.id} (call ${r.callId}) is pending again: due ${r.nextAttemptAt}${o.url ? '' : '; the serving process sends it at its next poll'}`);
    }),
  );

  remote(program.command('call <to>').description('place an outbound call answered by an agent').requiredOption('--agent <id>').option('--from <number>', 'one of your Bandwidth numbers')).action(
    (to: string, o: Remote & { agent: string; from?: string }) =>
      withApi(o, async (api) => {
        const r = await api.request<{ callId: string; from: string }>('POST', '/calls', { agentId: o.agent, to, ...(o.from ? { from: o.from } : {}) });
        out(`calling ${to} from ${r.from}: ${r.callId}`);
      }),
  );
}
