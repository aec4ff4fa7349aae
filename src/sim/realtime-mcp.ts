/**
 * Remote MCP servers as the Realtime stand-in reaches them (openai package: RealtimeToolsConfigUnion.Mcp and
 * the MCP server events and items). OpenAI, not the client, talks to MCP servers: the stand-in lists each
 * configured server's tools when the session is configured (session.update, or a SIP call's accept), runs
 * a scripted call during a response, and holds a call that needs approval until the client answers the
 * `mcp_approval_request` with an `mcp_approval_response` item.
 */
import type { SimItem, SimMcpFields } from './realtime-items';
import type { SessionHost } from './realtime-session-host';

export interface SimMcpTool {
  name: string;
  description?: string;
  inputSchema?: unknown;
}

/** A scripted MCP server: its tools, and what a call answers (text output, or the tool's error). */
export interface SimMcpServer {
  tools: SimMcpTool[];
  call(name: string, args: unknown, headers: Record<string, string>): { output: string } | { error: string };
}

/** The MCP servers the stand-in can reach, by URL; a URL not here cannot be reached (its listing fails). */
export type SimMcpServers = Record<string, SimMcpServer>;

/** The `mcp` tool of a session config, as far as the stand-in reads it. */
interface McpToolConfig {
  server_label: string;
  server_url?: string;
  allowed_tools?: string[] | { tool_names?: string[] } | null;
  require_approval?: 'always' | 'never' | { always?: { tool_names?: string[] }; never?: { tool_names?: string[] } } | null;
  headers?: Record<string, string> | null;
}

/** What a planned MCP call comes to: asked for approval, refused by the client, or run (with its result). */
export type McpCallOutcome =
  | { kind: 'ask' }
  | { kind: 'denied'; approvalRequestId: string }
  | { kind: 'run'; approvalRequestId?: string; result: Pick<SimItem, 'output'> & { error: SimMcpFields['error'] } };

export class SessionMcp {
  /** Server labels whose tools were listed in this session. */
  private readonly listed = new Set<string>();
  /** Approval answers already acted on (each approves or refuses one call). */
  private readonly usedAnswers = new Set<string>();

  constructor(
    private readonly host: SessionHost,
    private readonly reachable: SimMcpServers,
  ) {}

  /** After the session's tools were set: list the tools of every server not listed yet, in order. */
  listNewServers(): void {
    for (const server of this.servers()) {
      if (this.listed.has(server.server_label)) continue;
      this.listed.add(server.server_label);
      this.list(server);
    }
  }

  /** Decide a planned call: an approval to ask for, a refusal the client gave, or the call's result. */
  call(label: string, name: string, args: Record<string, unknown>): McpCallOutcome {
    const server = this.servers().find((s) => s.server_label === label);
    const argsJson = JSON.stringify(args);
    let approvalRequestId: string | undefined;
    if (server && needsApproval(server, name)) {
      const answer = this.answerFor(label, name, argsJson);
      if (!answer) return { kind: 'ask' };
      this.usedAnswers.add(answer.id);
      if (!answer.approve) return { kind: 'denied', approvalRequestId: answer.requestId };
      approvalRequestId = answer.requestId;
    }
    return { kind: 'run', ...(approvalRequestId ? { approvalRequestId } : {}), result: this.run(server, name, args) };
  }

  private run(server: McpToolConfig | undefined, name: string, args: Record<string, unknown>): { output?: string; error: SimMcpFields['error'] } {
    if (!server) return { error: { type: 'protocol_error', code: -32602, message: 'no such MCP server in this session' } };
    const remote = server.server_url ? this.reachable[server.server_url] : undefined;
    if (!remote) return { error: { type: 'http_error', code: 502, message: `could not reach ${server.server_url ?? 'the MCP server'}` } };
    if (!allowed(server, name) || !remote.tools.some((t) => t.name === name)) return { error: { type: 'protocol_error', code: -32602, message: `Unknown tool: ${name}` } };
    const answer = remote.call(name, args, server.headers ?? {});
    return 'output' in answer ? { output: answer.output, error: null } : { error: { type: 'tool_execution_error', message: answer.error } };
  }

  /** The client's answer to the latest request for this call that has one and was not acted on yet. */
  private answerFor(label: string, name: string, argsJson: string): { id: string; requestId: string; approve: boolean } | undefined {
    const items = this.host.items;
    for (const request of [...items].reverse()) {
      if (request.type !== 'mcp_approval_request' || request.mcp?.server_label !== label || request.name !== name || request.arguments !== argsJson) continue;
      const answer = items.find((i) => i.type === 'mcp_approval_response' && i.mcp?.approval_request_id === request.id);
      if (answer && !this.usedAnswers.has(answer.id)) return { id: answer.id, requestId: request.id, approve: answer.mcp?.approve === true };
    }
    return undefined;
  }

  private servers(): McpToolConfig[] {
    return (this.host.config.tools as { type?: string }[]).filter((t): t is McpToolConfig & { type: 'mcp' } => t.type === 'mcp');
  }

  /**
   * openai package: `conversation.item.added` (an `mcp_list_tools` item, no tools yet), `mcp_list_tools.in_progress`,
   * then `mcp_list_tools.completed` and `conversation.item.done` with the tools, or `mcp_list_tools.failed`.
   */
  private list(server: McpToolConfig): void {
    const item: SimItem = { id: this.host.env.ids.next('item'), type: 'mcp_list_tools', status: 'in_progress', mcp: { server_label: server.server_label, tools: [] } };
    const previous = this.host.items[this.host.items.length - 1]?.id ?? null;
    this.host.items.push(item);
    const json = () => ({ id: item.id, type: 'mcp_list_tools' as const, server_label: server.server_label, tools: item.mcp?.tools ?? [] });
    this.host.send({ type: 'conversation.item.added', previous_item_id: previous, item: json() });
    this.host.send({ type: 'mcp_list_tools.in_progress', item_id: item.id });
    const remote = server.server_url ? this.reachable[server.server_url] : undefined;
    if (!remote) {
      this.host.send({ type: 'mcp_list_tools.failed', item_id: item.id });
      return;
    }
    item.mcp!.tools = remote.tools.filter((t) => allowed(server, t.name)).map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.inputSchema ?? { type: 'object', properties: {} } }));
    item.status = 'completed';
    this.host.send({ type: 'mcp_list_tools.completed', item_id: item.id });
    this.host.send({ type: 'conversation.item.done', previous_item_id: previous, item: json() });
  }
}

function allowed(server: McpToolConfig, name: string): boolean {
  const a = server.allowed_tools;
  if (!a) return true;
  const names = Array.isArray(a) ? a : a.tool_names;
  return !names || names.includes(name);
}

/** `require_approval` absent means "always", as in OpenAI's MCP tool (approval is the safe default). */
function needsApproval(server: McpToolConfig, name: string): boolean {
  const r = server.require_approval;
  if (r === 'never') return false;
  if (r === undefined || r === null || r === 'always') return true;
  if (r.never?.tool_names?.includes(name)) return false;
  if (r.always?.tool_names) return r.always.tool_names.includes(name);
  return true;
}
