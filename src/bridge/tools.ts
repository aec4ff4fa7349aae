import { z } from 'zod';
import type { AgentWithDestinations, TransferDestination } from '../agents/agent';

/**
 * Function tools the model can call (docs/architecture.md#adding-a-tool). A tool validates its arguments with zod; its
 * result, or its failure, goes back to the model as the function_call_output text — a failing tool
 * never throws into the bridge (style: "tool failures go back to the model as tool output").
 */
/** A tool as the model is told of it: name, what it does, JSON Schema of its arguments. */
export interface ToolDefinition {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ToolContext {
  callId: string;
  agent: AgentWithDestinations;
  /** Aborted when the call ends: long-running tools should stop. */
  signal: AbortSignal;
  actions: CallActions;
}

/**
 * What a tool may ask of the call. Both happen after the agent's current words have played (per the
 * playout clock, bounded), so the caller hears "I'm transferring you now" or "goodbye" in full.
 */
export interface CallActions {
  transfer(destination: TransferDestination, reason: string, summary: string): void;
  hangUp(reason: string): void;
}

export interface Tool<A = unknown> {
  name: string;
  description: string;
  parameters: z.ZodType<A>;
  /** The JSON Schema the model sees, when it is given rather than derived from `parameters` (HTTP tools). */
  jsonSchema?: Record<string, unknown>;
  run(args: A, ctx: ToolContext): Promise<unknown>;
}

export interface ToolOutcome {
  ok: boolean;
  output: string;
  durationMs: number;
}

/**
 * An MCP server as the model is given it (README "MCP tools"): the agent's settings, its header secrets filled
 * in. OpenAI calls it, not Switchboard; the adapter shapes it for its wire. Never logged or stored.
 */
export interface McpServerConfig {
  label: string;
  url: string;
  description?: string;
  allowedTools?: string[];
  requireApproval: 'never' | 'always';
  headers: Record<string, string>;
}

export class ToolRegistry {
  private readonly tools = new Map<string, Tool>();
  /** The agent's MCP servers the model is given. */
  readonly mcpServers: McpServerConfig[] = [];
  /** Servers left out (a header secret not set in the environment), with why: traced on every call. */
  readonly mcpUnavailable: { serverLabel: string; reason: string }[] = [];

  register<A>(tool: Tool<A>): this {
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name)) throw new Error(`invalid tool name ${tool.name}`);
    if (this.tools.has(tool.name)) throw new Error(`tool ${tool.name} is registered twice`);
    this.tools.set(tool.name, tool as Tool);
    return this;
  }

  get names(): string[] {
    return [...this.tools.keys()];
  }

  /** What the model is told of each tool, wire-neutral: the adapter shapes it for its wire. JSON Schema from the zod schemas. */
  definitions(): ToolDefinition[] {
    return [...this.tools.values()].map((t) => {
      const { $schema: _drop, ...parameters } = (t.jsonSchema ?? z.toJSONSchema(t.parameters)) as Record<string, unknown>;
      return { name: t.name, description: t.description, parameters };
    });
  }

  /** Run a call by name with the model's JSON arguments. Always resolves, with text for the model. */
  async dispatch(name: string, argumentsJson: string, ctx: ToolContext, nowMs: () => number = () => performance.now()): Promise<ToolOutcome> {
    const started = nowMs();
    const done = (ok: boolean, value: unknown): ToolOutcome => ({ ok, output: JSON.stringify(ok ? value ?? { ok: true } : { error: value }), durationMs: nowMs() - started });
    const tool = this.tools.get(name);
    if (!tool) return done(false, `unknown tool ${name}; available: ${this.names.join(', ') || 'none'}`);
    let raw: unknown;
    try {
      raw = argumentsJson.trim() === '' ? {} : JSON.parse(argumentsJson);
    } catch {
      return done(false, 'arguments are not valid JSON');
    }
    const args = tool.parameters.safeParse(raw);
    if (!args.success) return done(false, `invalid arguments: ${args.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    try {
      return done(true, await tool.run(args.data, ctx));
    } catch (err) {
      return done(false, (err as Error).message || 'the tool failed');
    }
  }
}
