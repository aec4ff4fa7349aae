import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Env } from '../config';
import { ENV_AGENT_ID } from '../constants';
import type { Store } from '../store/types';
import { agentSchema, httpToolSchema, transferDestinationSchema, type Agent, type HttpToolDefinition, type TransferDestination } from './agent';

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
    httpTools: tools.tools,
    holdMessage: env.AGENT_HOLD_MESSAGE,
    sip: env.AGENT_SIP_TARGET ? { target: env.AGENT_SIP_TARGET, verb: env.AGENT_SIP_VERB } : undefined,
    telephony: {
      keyPresses: { enabled: env.AGENT_KEY_PRESSES, interrupt: env.AGENT_KEY_PRESS_INTERRUPTS },
      voicemail: { detect: env.AGENT_VOICEMAIL_DETECT, action: env.AGENT_VOICEMAIL_ACTION, ...(env.AGENT_VOICEMAIL_MESSAGE ? { message: env.AGENT_VOICEMAIL_MESSAGE } : {}) },
    },
    fallback: {
      ...(env.AGENT_FALLBACK_MESSAGE ? { message: env.AGENT_FALLBACK_MESSAGE } : {}),
      transferTo: env.TRANSFER_TO,
    },
  };
  if (tools.problems.length > 0) return { value: undefined, problems: tools.problems };
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
  const resolved = path.resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(resolved, 'utf8'));
  } catch (err) {
    return { tools: undefined, problems: [`AGENT_TOOLS_FILE ${resolved}: ${(err as Error).message}`] };
  }
  const parsed = z.array(httpToolSchema).safeParse(raw);
  if (!parsed.success) {
    return { tools: undefined, problems: parsed.error.issues.map((i) => `AGENT_TOOLS_FILE ${resolved}: [${i.path.join('.')}]: ${i.message}`) };
  }
  return { tools: parsed.data, problems: [] };
}

function dropUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
