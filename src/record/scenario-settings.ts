import { z } from 'zod';
import { agentSipSchema, idSchema, type AgentWithDestinations } from '../agents/agent';
import { envSchema } from '../config';
import { ENV_AGENT_ID } from '../constants';
import { agentSnapshotOf, agentSnapshotSchema } from './agent-snapshot';

/**
 * What a scenario needs of the server that replays it: `meta.requires` (scenario.ts).
 *
 *   "requires": { "agent": "default", "settings": { "mode": "sip-forward", "fallback.transferTo": null, … } }
 *
 * - `agent`: the id of the agent that answers the scenario's calls (it appears in the BXML: the
 *   `agentId` StreamParam, a SIP hand-off's `uui`). Default `default`, the agent built from AGENT_*.
 * - `settings`: the agent settings its callbacks' answers depend on, by the agent's field path as the admin
 *   API shows it. A string is the value that setting must have; `null` says it must be unset (a fallback
 *   with no transfer). A setting not listed does not change any answer of this scenario, whatever its value.
 * - `config` (written by the recorder): the answering agent's whole configuration, secrets stripped
 *   (agent-snapshot.ts). A replay's own server gives the agent exactly this configuration; `settings` stay
 *   the part a running target is checked for (settings-check.ts).
 *
 * Settings are agent fields, not environment variables, because that is what both sides can see: the
 * replayer's own server (`--self`) is given them through the AGENT_* variable each one has (SETTING_ENV),
 * or, for the few SIP details no variable sets (SIP_ONLY), on the agent in its store; a running target is
 * checked through the admin API, whatever set them there (env or API). Values are validated by the same
 * schemas as those variables (config.ts) or the agent model (agent.ts), so a scenario cannot ask for a
 * setting no server could have.
 */

/** Every setting a scenario may require that an environment variable sets on the env agent, and that variable. */
export const SETTING_ENV = {
  name: 'AGENT_NAME',
  mode: 'AGENT_MODE',
  'sip.target': 'AGENT_SIP_TARGET',
  'sip.verb': 'AGENT_SIP_VERB',
  streamHold: 'AGENT_STREAM_HOLD',
  speakVoice: 'AGENT_SPEAK_VOICE',
  holdMessage: 'AGENT_HOLD_MESSAGE',
  'fallback.message': 'AGENT_FALLBACK_MESSAGE',
  'fallback.transferTo': 'TRANSFER_TO',
} as const satisfies Record<string, keyof typeof envSchema.shape>;

/**
 * Settings of a SIP hand-off that reach its BXML but that no variable sets (only an agent managed through
 * the API has them otherwise than by default), validated by the agent model's own schema.
 */
const SIP_ONLY = {
  'sip.callTimeoutS': agentSipSchema.shape.callTimeoutS.unwrap(),
  'sip.from': agentSipSchema.shape.from.unwrap(),
  'sip.diversionTreatment': agentSipSchema.shape.diversionTreatment.unwrap(),
  'sip.diversionReason': agentSipSchema.shape.diversionReason.unwrap(),
} as const;

export type EnvSettingName = keyof typeof SETTING_ENV;
export type SettingName = EnvSettingName | keyof typeof SIP_ONLY;
export type SettingValue = string | number | null;
export const SETTING_NAMES = [...Object.keys(SETTING_ENV), ...Object.keys(SIP_ONLY)] as SettingName[];

export function isEnvSetting(name: SettingName): name is EnvSettingName {
  return name in SETTING_ENV;
}

/** Settings an agent can be without (every other one always has a value, its default at least). */
const UNSETTABLE: ReadonlySet<SettingName> = new Set(['sip.target', 'holdMessage', 'fallback.transferTo', 'sip.from', 'sip.diversionTreatment', 'sip.diversionReason']);

function settingSchema(name: SettingName): z.ZodType<SettingValue> {
  let value: z.ZodType<string | number>;
  if (isEnvSetting(name)) {
    const variable = SETTING_ENV[name];
    value = z.string({ message: `expected a string (the value of ${variable})` }).superRefine((v, ctx) => {
      const parsed = envSchema.shape[variable].safeParse(v);
      if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: `${issue.message} (as ${variable})` });
    });
  } else {
    value = SIP_ONLY[name as keyof typeof SIP_ONLY] as z.ZodType<string | number>;
  }
  return UNSETTABLE.has(name) ? z.union([value, z.null()]) : value;
}

const settingsShape = Object.fromEntries(SETTING_NAMES.map((n) => [n, settingSchema(n).optional()])) as { [K in SettingName]: z.ZodOptional<z.ZodType<SettingValue>> };

const unknownKeys = (what: string, known: readonly string[]) => ({
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys' ? `unknown ${what} ${(issue.keys ?? []).join(', ')}: the ${what}s are ${known.join(', ')}` : undefined,
});

export const scenarioRequiresSchema = z.strictObject(
  {
    agent: idSchema.default(ENV_AGENT_ID),
    config: agentSnapshotSchema.optional(),
    settings: z
      .strictObject(settingsShape, unknownKeys('setting', SETTING_NAMES))
      .default({})
      .superRefine((settings, ctx) => {
        // A SIP hand-off's details need the hand-off: an agent has them only with a SIP target (agent.ts).
        const details = SETTING_NAMES.filter((n) => n.startsWith('sip.') && n !== 'sip.target' && settings[n] !== undefined && settings[n] !== null);
        if (details.length > 0 && typeof settings['sip.target'] !== 'string') {
          ctx.addIssue({ code: 'custom', path: ['sip.target'], message: `${details.join(', ')} need sip.target: an agent has SIP settings only with a SIP target` });
        }
        // The SIP modes hand the call to sip.target, which is then part of every answer (config.ts requires it).
        if ((settings.mode === 'sip-forward' || settings.mode === 'openai-sip') && typeof settings['sip.target'] !== 'string') {
          ctx.addIssue({ code: 'custom', path: ['sip.target'], message: `mode ${settings.mode} needs sip.target (AGENT_SIP_TARGET): the call is handed to it` });
        }
      }),
  },
  unknownKeys('field', ['agent', 'config', 'settings']),
).superRefine((requires, ctx) => {
  if (requires.config && requires.config.agent.id !== requires.agent) {
    ctx.addIssue({ code: 'custom', path: ['config', 'agent', 'id'], message: `is "${requires.config.agent.id}", but the call is answered by agent "${requires.agent}"` });
  }
});
export type ScenarioRequires = z.infer<typeof scenarioRequiresSchema>;

/** A scenario that says nothing needs the default agent with any settings. */
export const NO_REQUIREMENTS: ScenarioRequires = { agent: ENV_AGENT_ID, settings: {} };

/**
 * The environment variables that give a fresh server's env agent these settings (`--self`). The env agent's
 * id is always `default` (constants.ts ENV_AGENT_ID): another required agent is created beside it.
 */
export function settingsEnv(requires: ScenarioRequires): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of SETTING_NAMES) {
    const value = requires.settings[name];
    if (isEnvSetting(name) && typeof value === 'string') env[SETTING_ENV[name]] = value;
  }
  return env;
}

/** The requirements of a call recorded on a server started with these variables (the inverse of settingsEnv). */
export function requiresFromEnv(env: Record<string, string>, agent: string = ENV_AGENT_ID): ScenarioRequires {
  const settings: Record<string, SettingValue> = {};
  for (const [name, variable] of Object.entries(SETTING_ENV)) {
    if (variable in env) settings[name] = env[variable] === '' ? null : env[variable]!;
  }
  return scenarioRequiresSchema.parse({ agent, settings });
}

/**
 * What a call answered by this agent requires (the recorder writes it into each recorded call's meta): every
 * setting the agent has, and "unset" for each it lacks that may be unset. A production recording so replays
 * on a server configured like the one it was recorded on, whichever settings its answers depended on.
 */
export function requiresOfAgent(agent: AgentWithDestinations): ScenarioRequires | undefined {
  const settings: Record<string, SettingValue> = {};
  for (const name of SETTING_NAMES) {
    const value = settingOf(agent as unknown as Record<string, unknown>, name);
    if (value !== undefined) settings[name] = value;
    else if (UNSETTABLE.has(name)) settings[name] = null;
  }
  const config = agentSnapshotOf(agent);
  const parsed = scenarioRequiresSchema.safeParse({ agent: agent.id, settings, ...(config ? { config } : {}) });
  return parsed.success ? parsed.data : undefined;
}

/** The required settings no variable sets, applied to an agent (its `sip`: SIP_ONLY are all SIP settings). */
export function withSipOnlySettings<A extends { sip?: Record<string, unknown> }>(agent: A, requires: ScenarioRequires): A {
  const sip: Record<string, unknown> = { ...agent.sip };
  let changed = false;
  for (const name of SETTING_NAMES) {
    const value = requires.settings[name];
    if (isEnvSetting(name) || value === undefined) continue;
    const field = name.slice('sip.'.length);
    if (value === null) delete sip[field];
    else sip[field] = value;
    changed = true;
  }
  return changed && agent.sip ? { ...agent, sip } : agent;
}

/** A stable key: scenarios with equal requirements can share one server. */
export function requirementsKey(requires: ScenarioRequires): string {
  return JSON.stringify([requires.agent, SETTING_NAMES.map((n) => requires.settings[n] ?? (n in requires.settings ? null : '*')), requires.config ?? null]);
}

/** A setting's value on an agent as the admin API shows it; an empty string counts as unset. */
export function settingOf(agent: Record<string, unknown>, name: SettingName): string | number | undefined {
  let value: unknown = agent;
  for (const part of name.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'number' ? value : String(value);
}

/** The admin API PATCH body that gives an API-managed agent this value (nested objects are replaced whole). */
export function settingPatch(agent: Record<string, unknown>, name: SettingName, value: SettingValue): Record<string, unknown> {
  const [top, field] = name.split('.') as [string, string | undefined];
  if (!field) return { [top]: value ?? '' };
  const current = agent[top] && typeof agent[top] === 'object' ? (agent[top] as Record<string, unknown>) : {};
  const next: Record<string, unknown> = { ...current };
  if (value === null) delete next[field];
  else next[field] = value;
  return { [top]: next };
}
