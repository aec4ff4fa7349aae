import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Env } from '../config';
import { ENV_AGENT_ID } from '../constants';
import { SwitchboardError } from '../errors';
import type { Store } from '../store/types';
import { agentSchema, httpToolSchema, transferDestinationSchema, type Agent, type HttpToolDefinition, type TransferDestination } from './agent';

/**
 * The agent a fresh install answers with, built from AGENT_* and TRANSFER_TO (issue #2 §6). It is
 * re-synced from the environment on every start (source "env"), so the environment stays its truth.
 */
export function envAgent(env: Env): { agent: Agent; destinations: TransferDestination[] } {
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
    httpTools: env.AGENT_TOOLS_FILE ? loadToolsFile(env.AGENT_TOOLS_FILE) : undefined,
    holdMessage: env.AGENT_HOLD_MESSAGE,
    sip: env.AGENT_SIP_TARGET ? { target: env.AGENT_SIP_TARGET, verb: env.AGENT_SIP_VERB } : undefined,
    fallback: {
      ...(env.AGENT_FALLBACK_MESSAGE ? { message: env.AGENT_FALLBACK_MESSAGE } : {}),
      transferTo: env.TRANSFER_TO,
    },
  };
  const parsed = agentSchema.safeParse(dropUndefined(candidate));
  if (!parsed.success) {
    throw new SwitchboardError(
      'config_invalid',
      `The default agent from AGENT_* variables is invalid:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  return { agent: parsed.data, destinations };
}

/** Write the env agent and its destinations to the store. */
export async function syncEnvAgent(store: Store, env: Env): Promise<Agent> {
  const { agent, destinations } = envAgent(env);
  for (const d of destinations) await store.destinations.upsert(d);
  await store.agents.upsert(agent, 'env', destinations.map((d) => d.id));
  return agent;
}

/** AGENT_TOOLS_FILE: a JSON array of HTTP tools (issue #4 §6), checked at start-up. */
function loadToolsFile(file: string): HttpToolDefinition[] {
  const resolved = path.resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(resolved, 'utf8'));
  } catch (err) {
    throw new SwitchboardError('config_invalid', `AGENT_TOOLS_FILE ${resolved}: ${(err as Error).message}`);
  }
  const parsed = z.array(httpToolSchema).safeParse(raw);
  if (!parsed.success) {
    throw new SwitchboardError(
      'config_invalid',
      `AGENT_TOOLS_FILE ${resolved} is invalid:\n${parsed.error.issues.map((i) => `  - [${i.path.join('.')}]: ${i.message}`).join('\n')}`,
    );
  }
  return parsed.data;
}

function dropUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
