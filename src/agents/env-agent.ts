import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Env } from '../config';
import { ENV_AGENT_ID } from '../constants';
import type { Store } from '../store/types';
import { agentSchema, httpToolSchema, transferDestinationSchema, type Agent, type HttpToolDefinition, type TransferDestination } from './agent';
import { mcpServersSchema } from './mcp-servers';

export interface EnvAgent {
  agent: Agent;
  destinations: TransferDestination[];
}

/**
 * The agent a fresh install answers with, built from AGENT_* and TRANSFER_TO. It is re-synced from the
 * environment on every start (source "env"), so the environment stays its truth. Returns the problems
 * instead of throwing, so that `loadConfig` can report them with every other configuration problem.
 */
export function envAgent(env: Env): { value: EnvAgent; problems: [] } | { value: undefined; problems: string[] } {
  const tools = env.AGENT_TOOLS_FILE ? loadToolsFile(env.AGENT_TOOLS_FILE) : { tools: undefined, problems: [] };
  const mcp = env.AGENT_MCP_SERVERS_FILE ? loadJsonFile('AGENT_MCP_SERVERS_FILE', env.AGENT_MCP_SERVERS_FILE, mcpServersSchema) : { value: undefined, problems: [] };
  const contextProblems: string[] = [];
  const variables = env.AGENT_CONTEXT_VARIABLES ? parseJsonVariable('AGENT_CONTEXT_VARIABLES', env.AGENT_CONTEXT_VARIABLES, contextProblems) : undefined;
  const hookHeaders = env.AGENT_CONTEXT_HOOK_HEADERS ? parseJsonVariable('AGENT_CONTEXT_HOOK_HEADERS', env.AGENT_CONTEXT_HOOK_HEADERS, contextProblems) : undefined;
  const destinations: TransferDestination[] = [];
  if (env.TRANSFER_TO) {
    destinations.push(
      transferDestinationSchema.parse({
        id: `${ENV_AGENT_ID}-human`,
        name: 'human',
        description: 'A person on the team, for anything the assistant cannot handle or when the caller asks for a human.',
        kind: env.TRANSFER_TO.startsWith('+') ? 'phone' : 'sip',
        value: env.TRANSFER_TO,
        warm: true,
      }),
    );
  }
  const candidate = {
    id: ENV_AGENT_ID,
    name: env.AGENT_NAME,
    mode: env.AGENT_MODE,
    instructions: env.AGENT_INSTRUCTIONS,
    greeting: env.AGENT_GREETING,
    voice: env.AGENT_VOICE,
    model: env.AGENT_MODEL,
    language: env.AGENT_LANGUAGE,
    speakVoice: env.AGENT_SPEAK_VOICE,
    streamHold: env.AGENT_STREAM_HOLD,
    audio: env.AGENT_AUDIO,
    record: env.AGENT_RECORD,
    report: { transcript: env.AGENT_REPORT_TRANSCRIPT, callStarted: env.AGENT_REPORT_CALL_STARTED },
    httpTools: tools.tools,
    mcpServers: mcp.value,
    context: dropUndefined({
      timezone: env.AGENT_TIMEZONE,
      variables,
      hook: env.AGENT_CONTEXT_HOOK_URL ? dropUndefined({ url: env.AGENT_CONTEXT_HOOK_URL, timeoutMs: env.AGENT_CONTEXT_HOOK_TIMEOUT_MS, headers: hookHeaders }) : undefined,
    }),
    holdMessage: env.AGENT_HOLD_MESSAGE,
    sip: env.AGENT_SIP_TARGET ? { target: env.AGENT_SIP_TARGET, verb: env.AGENT_SIP_VERB } : undefined,
    callLimits: {
      silence: dropUndefined({ enabled: env.AGENT_SILENCE_WATCHDOG, promptAfterMs: env.AGENT_SILENCE_PROMPT_AFTER_MS, hangUpAfterMs: env.AGENT_SILENCE_HANGUP_AFTER_MS }),
      maxDuration: dropUndefined({ limitMs: env.AGENT_MAX_CALL_MS, warnMs: env.AGENT_MAX_CALL_WARN_MS, transferTo: env.AGENT_MAX_CALL_TRANSFER_TO }),
    },
    telephony: {
      keyPresses: { enabled: env.AGENT_KEY_PRESSES, interrupt: env.AGENT_KEY_PRESS_INTERRUPTS },
      voicemail: { detect: env.AGENT_VOICEMAIL_DETECT, action: env.AGENT_VOICEMAIL_ACTION, ...(env.AGENT_VOICEMAIL_MESSAGE ? { message: env.AGENT_VOICEMAIL_MESSAGE } : {}) },
    },
    fallback: {
      ...(env.AGENT_FALLBACK_MESSAGE ? { message: env.AGENT_FALLBACK_MESSAGE } : {}),
      transferTo: env.TRANSFER_TO,
      whenBusy: env.AGENT_WHEN_BUSY,
    },
  };
  const fileProblems = [...tools.problems, ...mcp.problems, ...contextProblems];
  if (fileProblems.length > 0) return { value: undefined, problems: fileProblems };
  const parsed = agentSchema.safeParse(dropUndefined(candidate));
  if (!parsed.success) {
    return { value: undefined, problems: parsed.error.issues.map((i) => `default agent from AGENT_* variables: ${i.path.join('.')}: ${i.message}`) };
  }
  return { value: { agent: parsed.data, destinations }, problems: [] };
}

/** Write the env agent and its destinations to the store. */
export async function syncEnvAgent(store: Store, { agent, destinations }: EnvAgent): Promise<Agent> {
  for (const d of destinations) await store.destinations.upsert(d);
  await store.agents.upsert(agent, 'env', destinations.map((d) => d.id));
  return agent;
}

/** AGENT_TOOLS_FILE: a JSON array of HTTP tools, checked at start-up; every problem names the file. */
export function loadToolsFile(file: string): { tools: HttpToolDefinition[] | undefined; problems: string[] } {
  const { value, problems } = loadJsonFile('AGENT_TOOLS_FILE', file, z.array(httpToolSchema));
  return { tools: value, problems };
}

/** A JSON file named by an environment variable, checked at start-up; every problem names the variable and the file. */
export function loadJsonFile<S extends z.ZodType>(variable: string, file: string, schema: S): { value: z.infer<S> | undefined; problems: string[] } {
  const resolved = path.resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(resolved, 'utf8'));
  } catch (err) {
    return { value: undefined, problems: [`${variable} ${resolved}: ${(err as Error).message}`] };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    return { value: undefined, problems: parsed.error.issues.map((i) => `${variable} ${resolved}: [${i.path.join('.')}]: ${i.message}`) };
  }
  return { value: parsed.data, problems: [] };
}

/** A JSON value in an environment variable (checked against the agent schema afterwards). */
function parseJsonVariable(variable: string, text: string, problems: string[]): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    problems.push(`${variable}: not JSON: ${(err as Error).message}`);
    return undefined;
  }
}

function dropUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
