import type { McpServerConfig, ToolDefinition } from '../bridge/tools';
import type { RealtimeAudioInputTurnDetection, RealtimeToolsConfigUnion, SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import type { AgentWithDestinations } from '../agents/agent';

/** The Realtime `tools` array (OpenAI reference §1.3): function tools from the wire-neutral definitions. */
export function functionTools(tools: readonly ToolDefinition[]): { type: 'function'; name: string; description: string; parameters: Record<string, unknown> }[] {
  return tools.map((t) => ({ type: 'function', ...t }));
}

/**
 * The agent's MCP servers as Realtime `mcp` tools (openai package: RealtimeToolsConfigUnion.Mcp): OpenAI lists
 * and calls them itself. Headers carry the filled-in TOOL_SECRET_* values: this object goes to OpenAI only.
 */
export function mcpTools(servers: readonly McpServerConfig[]): RealtimeToolsConfigUnion.Mcp[] {
  return servers.map((s) => ({
    type: 'mcp',
    server_label: s.label,
    server_url: s.url,
    ...(s.description ? { server_description: s.description } : {}),
    ...(s.allowedTools ? { allowed_tools: s.allowedTools } : {}),
    require_approval: s.requireApproval,
    ...(Object.keys(s.headers).length > 0 ? { headers: s.headers } : {}),
  }));
}

/** Function tools and MCP servers, in one Realtime `tools` array. */
export function realtimeTools(tools: readonly ToolDefinition[], mcpServers: readonly McpServerConfig[]): RealtimeToolsConfigUnion[] {
  return [...functionTools(tools), ...mcpTools(mcpServers)];
}

/** Phone-line defaults (§7 P3): a little less sensitive than OpenAI's 0.5, the documented timings. */
export const PHONE_VAD_DEFAULTS = { threshold: 0.6, prefixPaddingMs: 300, silenceDurationMs: 500 } as const;

export function audioFormat(audio: AgentWithDestinations['audio']): { type: 'audio/pcmu' } | { type: 'audio/pcm'; rate: 24000 } {
  return audio === 'pcm24k' ? { type: 'audio/pcm', rate: 24000 } : { type: 'audio/pcmu' };
}

export function turnDetectionFor(agent: AgentWithDestinations): RealtimeAudioInputTurnDetection {
  const td = agent.turnDetection;
  if (td.type === 'semantic_vad') {
    return { type: 'semantic_vad', eagerness: td.eagerness ?? 'auto', create_response: true, interrupt_response: true };
  }
  return {
    type: 'server_vad',
    threshold: td.threshold ?? PHONE_VAD_DEFAULTS.threshold,
    prefix_padding_ms: td.prefixPaddingMs ?? PHONE_VAD_DEFAULTS.prefixPaddingMs,
    silence_duration_ms: td.silenceDurationMs ?? PHONE_VAD_DEFAULTS.silenceDurationMs,
    create_response: true,
    interrupt_response: true,
    ...(td.idleTimeoutMs ? { idle_timeout_ms: td.idleTimeoutMs } : {}),
  };
}

/**
 * The GA `session.update` for an agent (OpenAI reference §1.3). Every update carries
 * `session.type: "realtime"` and the audio formats as GA objects: a missing type fails the session, and
 * a missing format silently falls back to PCM16, which plays as static on a μ-law line (§7 P1).
 */
export function sessionUpdate(agent: AgentWithDestinations, tools: ToolDefinition[], mcpServers: readonly McpServerConfig[] = []): SessionUpdateEvent {
  const format = audioFormat(agent.audio);
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: agent.instructions,
      output_modalities: ['audio'],
      audio: {
        input: {
          format,
          noise_reduction: { type: 'near_field' },
          transcription: { model: agent.transcriptionModel, language: agent.language.slice(0, 2) },
          turn_detection: turnDetectionFor(agent),
        },
        output: { format, voice: agent.voice },
      },
      tools: realtimeTools(tools, mcpServers),
      tool_choice: tools.length + mcpServers.length > 0 ? 'auto' : 'none',
    },
  };
}


