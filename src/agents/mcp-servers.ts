import { z } from 'zod';
import { MAX_MCP_SERVERS_PER_AGENT } from '../constants';
import { secretHeadersSchema } from './tool-secrets';

/**
 * An agent's remote MCP servers (README "MCP tools"). OpenAI, not Switchboard, talks to them: each becomes a
 * Realtime `mcp` tool (openai package: RealtimeToolsConfigUnion.Mcp) in the session (stream mode) or in the
 * SIP accept (openai-sip mode). Header values may name `${TOOL_SECRET_*}` variables, filled in per call from
 * the environment and sent only to OpenAI: never stored, never logged.
 *
 * Approval: OpenAI pauses a call that needs approval (`requireApproval`) and asks with an
 * `mcp_approval_request`. Nobody on a phone call can click "approve", so Switchboard answers at once, by the
 * agent's rule: a tool named in `autoApprove` is approved, any other is denied (the model is told, and tells
 * the caller). Every request and answer is in the call's trace.
 */
const mcpToolName = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be an MCP tool name (letters, digits, "_", "." or "-")');

export const mcpServerSchema = z
  .object({
    /** Names the server in tool calls and the trace (Realtime `server_label`). */
    label: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"'),
    url: z.string().trim().regex(/^https?:\/\/[^\s]+$/i, 'must be an http:// or https:// URL'),
    description: z.string().trim().max(1000).optional(),
    /** Only these of the server's tools reach the model; absent = all of them. */
    allowedTools: z.array(mcpToolName).max(100).optional(),
    /** Which calls OpenAI holds for approval (Realtime `require_approval`). */
    requireApproval: z.enum(['never', 'always']).default('never'),
    /** Approval requests Switchboard approves; every other one is denied. */
    autoApprove: z.array(mcpToolName).max(100).default([]),
    headers: secretHeadersSchema.default({}),
  })
  .superRefine((s, ctx) => {
    const outside = s.allowedTools ? s.autoApprove.filter((t) => !s.allowedTools!.includes(t)) : [];
    if (outside.length > 0) ctx.addIssue({ code: 'custom', path: ['autoApprove'], message: `${outside.join(', ')} not in allowedTools: the model can never call it` });
    if (s.autoApprove.length > 0 && s.requireApproval === 'never') ctx.addIssue({ code: 'custom', path: ['autoApprove'], message: 'has no effect with requireApproval "never" (nothing is asked)' });
  });
export type McpServer = z.infer<typeof mcpServerSchema>;

export const mcpServersSchema = z
  .array(mcpServerSchema)
  .max(MAX_MCP_SERVERS_PER_AGENT)
  .default([])
  .refine((servers) => new Set(servers.map((s) => s.label)).size === servers.length, 'MCP server labels must be unique');

/** Switchboard's answer to an approval request, by the server's rule (see above). */
export function mcpApproval(servers: readonly McpServer[], serverLabel: string, tool: string): { approve: boolean; reason: string } {
  const server = servers.find((s) => s.label === serverLabel);
  if (!server) return { approve: false, reason: `${serverLabel} is not one of this agent's MCP servers` };
  if (server.autoApprove.includes(tool)) return { approve: true, reason: `${tool} is approved for this agent` };
  return { approve: false, reason: `${tool} is not approved for use on calls` };
}
