import { z } from 'zod';
import { idSchema } from '../agents/agent';
import { envSchema } from '../config';
import { ENV_AGENT_ID } from '../constants';

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
 *
 * Settings are agent fields, not environment variables, because that is what both sides can see: the
 * replayer's own server (`--self`) is given them through the AGENT_* variable each one has (SETTING_ENV),
 * and a running target is checked through the admin API, whatever set them there (env or API).
 * Values are validated by the same schemas as those variables (config.ts), so a scenario cannot ask for a
 * setting no server could have.
 */

/** Every setting a scenario may require, and the environment variable that sets it on the env agent. */
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

export type SettingName = keyof typeof SETTING_ENV;
export const SETTING_NAMES = Object.keys(SETTING_ENV) as SettingName[];

/** Settings an agent can be without (every other one always has a value, its default at least). */
const UNSETTABLE: ReadonlySet<SettingName> = new Set(['sip.target', 'holdMessage', 'fallback.transferTo']);

function settingSchema(name: SettingName): z.ZodType<string | null> {
  const variable = SETTING_ENV[name];
  const value = z.string({ message: `expected a string (the value of ${variable})` }).superRefine((v, ctx) => {
    const parsed = envSchema.shape[variable].safeParse(v);
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: `${issue.message} (as ${variable})` });
  });
  return UNSETTABLE.has(name) ? z.union([value, z.null()]) : value;
}

const settingsShape = Object.fromEntries(SETTING_NAMES.map((n) => [n, settingSchema(n).optional()])) as { [K in SettingName]: z.ZodOptional<z.ZodType<string | null>> };

const unknownKeys = (what: string, known: readonly string[]) => ({
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys' ? `unknown ${what} ${(issue.keys ?? []).join(', ')}: the ${what}s are ${known.join(', ')}` : undefined,
});

export const scenarioRequiresSchema = z.strictObject(
  {
    agent: idSchema.default(ENV_AGENT_ID),
    settings: z.strictObject(settingsShape, unknownKeys('setting', SETTING_NAMES)).default({}),
  },
  unknownKeys('field', ['agent', 'settings']),
);
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
    if (typeof value === 'string') env[SETTING_ENV[name]] = value;
  }
  return env;
}

/** A stable key: scenarios with equal requirements can share one server. */
export function requirementsKey(requires: ScenarioRequires): string {
  return JSON.stringify([requires.agent, SETTING_NAMES.map((n) => requires.settings[n] ?? (n in requires.settings ? null : '*'))]);
}

/** A setting's value on an agent as the admin API shows it; an empty string counts as unset. */
export function settingOf(agent: Record<string, unknown>, name: SettingName): string | undefined {
  let value: unknown = agent;
  for (const part of name.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

/** The admin API PATCH body that gives an API-managed agent this value (nested objects are replaced whole). */
export function settingPatch(agent: Record<string, unknown>, name: SettingName, value: string | null): Record<string, unknown> {
  const [top, field] = name.split('.') as [string, string | undefined];
  if (!field) return { [top]: value ?? '' };
  const current = agent[top] && typeof agent[top] === 'object' ? (agent[top] as Record<string, unknown>) : {};
  const next: Record<string, unknown> = { ...current };
  if (value === null) delete next[field];
  else next[field] = value;
  return { [top]: next };
}
