import { z } from 'zod';
import { agentSchema, transferDestinationSchema, type Agent, type AgentWithDestinations, type TransferDestination } from '../agents/agent';
import { REDACTED_HEADER_VALUE, REDACTED_URL } from '../constants';

/**
 * The answering agent's whole configuration, as a recording states it (`meta.requires.config`,
 * scenario-settings.ts): everything a call's answers and model session depend on — instructions, greeting,
 * voice, model, audio path, tools, MCP servers, transfer destinations, SIP details (referTarget included),
 * call limits, telephony, turn detection — so that a replay's server answers as the recording one did, not
 * only in the few settings an AGENT_* variable sets.
 *
 * Never in a recording: an HTTP tool's URL and header values, a context hook's URL and header values, an
 * MCP server's header values, the post-call report's URL. URLs become REDACTED_URL (loopback, nobody
 * listening: a replay calls nothing outside the machine, and the tool or hook fails there, as the
 * recording's own failure path would); header values become REDACTED_HEADER_VALUE. The MCP server URL is kept:
 * it is what OpenAI was told in the session (RT §1.3 tools), which the recording holds anyway.
 */
export const agentSnapshotSchema = z.strictObject({
  agent: agentSchema,
  destinations: z.array(transferDestinationSchema).default([]),
});
export type AgentSnapshot = z.infer<typeof agentSnapshotSchema>;

const redactHeaders = (headers: Record<string, string>): Record<string, string> => Object.fromEntries(Object.keys(headers).map((name) => [name, REDACTED_HEADER_VALUE]));

/** The agent with its secrets and outside URLs replaced (see above). Idempotent: a replay applies it again to whatever a file holds. */
export function withoutSecrets(agent: Agent): Agent {
  const { url: _reportUrl, ...report } = agent.report;
  return {
    ...agent,
    httpTools: agent.httpTools.map((t) => ({ ...t, url: REDACTED_URL, headers: redactHeaders(t.headers) })),
    mcpServers: agent.mcpServers.map((s) => ({ ...s, headers: redactHeaders(s.headers) })),
    context: agent.context.hook ? { ...agent.context, hook: { ...agent.context.hook, url: REDACTED_URL, headers: redactHeaders(agent.context.hook.headers) } } : agent.context,
    report,
  };
}

/** What a recording states of the agent that answered (undefined when the stored agent no longer validates). */
export function agentSnapshotOf(agent: AgentWithDestinations): AgentSnapshot | undefined {
  const parsed = agentSnapshotSchema.safeParse({ agent: withoutSecrets(agent), destinations: agent.destinations satisfies TransferDestination[] });
  return parsed.success ? parsed.data : undefined;
}
