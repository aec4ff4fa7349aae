import { z } from 'zod';
import type { AgentWithDestinations, HttpToolDefinition } from '../agents/agent';
import { expandHeaderSecrets, expandSecrets } from '../agents/tool-secrets';
import { ToolRegistry, type Tool } from './tools';

/**
 * The tools an agent gets (docs/architecture.md#hand-off-how-a-call-leaves-the-agent): `transfer_call` when it has destinations, `hang_up` always,
 * its operator-defined HTTP tools, and its MCP servers (which OpenAI calls, README "MCP tools"). Failures are returned to the model as tool output by ToolRegistry.
 */
export function agentTools(agent: AgentWithDestinations, env: NodeJS.ProcessEnv, fetchImpl: typeof fetch = fetch): ToolRegistry {
  const registry = new ToolRegistry();
  if (agent.destinations.length > 0) registry.register(transferCallTool(agent));
  registry.register(hangUpTool());
  for (const def of agent.httpTools) registry.register(httpTool(def, env, fetchImpl));
  for (const { label, url, description, allowedTools, requireApproval, headers } of agent.mcpServers) {
    try {
      registry.mcpServers.push({ label, url, description, allowedTools, requireApproval, headers: expandHeaderSecrets(headers, env) });
    } catch (err) {
      // The call goes on without this server (its tools are not offered); the trace says why.
      registry.mcpUnavailable.push({ serverLabel: label, reason: (err as Error).message });
    }
  }
  return registry;
}

/** The destinations are an enum built from the agent's configuration. */
export function transferCallTool(agent: AgentWithDestinations): Tool<{ destination: string; reason: string; summary: string }> {
  const names = agent.destinations.map((d) => d.name) as [string, ...string[]];
  const described = agent.destinations.map((d) => `"${d.name}"${d.description ? `: ${d.description}` : ''}`).join('; ');
  return {
    name: 'transfer_call',
    description:
      `Transfer the caller to a person or team. Use it when the caller asks for a human or when you cannot help. ` +
      `Tell the caller you are transferring them before or right after calling it. Destinations: ${described}.`,
    parameters: z.object({
      destination: z.enum(names).describe('Where to transfer the caller'),
      reason: z.string().trim().min(1).max(300).describe('Why the caller is being transferred, in a few words'),
      summary: z.string().trim().max(1000).describe('A short summary of the conversation for the person who answers'),
    }),
    run: async ({ destination, reason, summary }, ctx) => {
      const target = ctx.agent.destinations.find((d) => d.name === destination);
      if (!target) throw new Error(`unknown destination ${destination}`);
      ctx.actions.transfer(target, reason, summary);
      return { status: 'transferring', destination, note: 'The transfer starts as soon as you finish speaking. Keep it to one short sentence.' };
    },
  };
}

/** The goodbye plays in full, then the call ends. */
export function hangUpTool(): Tool<{ reason?: string }> {
  return {
    name: 'hang_up',
    description: 'End the call. Use it when the conversation is over and the caller has said goodbye, or asks you to hang up. Say a short goodbye first.',
    parameters: z.object({ reason: z.string().trim().max(300).optional().describe('Why the call is ending') }),
    run: async ({ reason }, ctx) => {
      ctx.actions.hangUp(reason ?? 'the conversation is over');
      return { status: 'ending', note: 'The call ends when you finish speaking. If you have not said goodbye yet, say it now in a few words.' };
    },
  };
}

export { TOOL_SECRET_PREFIX, expandSecrets } from '../agents/tool-secrets';

/**
 * An operator's HTTP endpoint as a tool. JSON in (the model's arguments; query string for
 * GET), JSON out. Non-2xx, timeouts and unreachable hosts become error output for the model.
 */
export function httpTool(def: HttpToolDefinition, env: NodeJS.ProcessEnv, fetchImpl: typeof fetch = fetch): Tool<Record<string, unknown>> {
  return {
    name: def.name,
    description: def.description,
    parameters: z.record(z.string(), z.unknown()),
    jsonSchema: def.parameters,
    run: async (args, ctx) => {
      const headers: Record<string, string> = { Accept: 'application/json', 'X-Switchboard-Call-Id': ctx.callId, 'X-Switchboard-Agent-Id': ctx.agent.id };
      for (const [k, v] of Object.entries(def.headers)) headers[k] = expandSecrets(v, env);
      let url = def.url;
      let body: string | undefined;
      if (def.method === 'GET' || def.method === 'DELETE') {
        const q = new URLSearchParams(Object.entries(args).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
        if ([...q].length > 0) url += (url.includes('?') ? '&' : '?') + q.toString();
      } else {
        headers['Content-Type'] = 'application/json';
        body = JSON.stringify(args);
      }
      let res: Response;
      try {
        res = await fetchImpl(url, { method: def.method, headers, body, signal: AbortSignal.any([AbortSignal.timeout(def.timeoutMs), ctx.signal]) });
      } catch (err) {
        const e = err as Error;
        if (e.name === 'TimeoutError') throw new Error(`${def.name} did not answer within ${def.timeoutMs} ms`);
        throw new Error(`${def.name} could not be reached: ${e.message}`);
      }
      const text = await res.text();
      if (!res.ok) throw new Error(`${def.name} answered HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`);
      if (!text) return { ok: true };
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return { text: text.slice(0, 4000) };
      }
    },
  };
}
