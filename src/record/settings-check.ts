import { agentSipSchema } from '../agents/agent';
import { exchangesOf, type Scenario } from './scenario';
import { isEnvSetting, SETTING_ENV, SETTING_NAMES, settingOf, settingPatch, type ScenarioRequires } from './scenario-settings';

/**
 * Before replaying against a running server: does it have what the scenario requires (meta.requires)?
 * Asked through the admin API, so it holds whatever set the agent up (environment, API, import):
 *   1. which agent answers the scenario's call: the target's own routing for an inbound call's `to`
 *      (GET /api/routing), or the agent an outbound call's signed answer URL names;
 *   2. that agent's settings (GET /api/agents/ID), each required one compared exactly, `null` meaning unset.
 * Each problem says what the target has, what the scenario needs, and how to give it to the target: the
 * AGENT_* variable for the env agent (rebuilt from the environment at every start), an admin API PATCH
 * for an agent managed through the API.
 */
export interface TargetAdminApi {
  /** GET an admin API path; undefined on 404. Throws when the target cannot be asked. */
  get<T>(path: string): Promise<T | undefined>;
}

interface AgentView extends Record<string, unknown> {
  id: string;
  source: 'env' | 'api' | 'import';
}

interface RoutingView {
  agentId: string | null;
  via: string | null;
}

/** The problems that keep the target from answering the scenario as recorded; empty when it can. */
export async function checkTargetSettings(steps: Scenario, requires: ScenarioRequires, api: TargetAdminApi): Promise<string[]> {
  const problems: string[] = [];
  const call = firstCall(steps);
  const want = requires.agent;
  if (call?.to) {
    const routed = await api.get<RoutingView>(`/routing?to=${encodeURIComponent(call.to)}`);
    // Another agent answers: its settings are beside the point.
    if (routed && routed.agentId !== want) return [routingProblem(call.to, routed, want)];
  }
  const agent = await api.get<AgentView>(`/agents/${encodeURIComponent(want)}`);
  if (!agent) {
    problems.push(`agent "${want}" does not exist on the target; the scenario's call is answered by it${want === 'default' ? ' (the agent built from AGENT_*: DEFAULT_AGENT_ID=default)' : ': create it (POST /api/agents)'}`);
    return problems;
  }
  const sets: string[] = [];
  const unsets: string[] = [];
  const noVariable: string[] = [];
  const patch: Record<string, unknown> = {};
  // An agent without a SIP hand-off gets the defaults of one with its target (agent.ts): only the target is
  // missing then, and the fix is to set it, not every SIP detail as well.
  const effective = agent.sip ? agent : { ...agent, sip: sipDefaults() };
  for (const name of SETTING_NAMES) {
    if (!(name in requires.settings)) continue;
    const needed = requires.settings[name] ?? null;
    const has = settingOf(effective, name);
    if ((has ?? null) === needed) continue;
    const hasText = has === undefined ? 'is not set' : `is ${JSON.stringify(has)}`;
    const needText = needed === null ? 'needs it unset' : `needs ${JSON.stringify(needed)}`;
    problems.push(`agent "${want}": ${name} ${hasText}; the scenario ${needText}`);
    if (agent.source !== 'env') Object.assign(patch, settingPatch({ ...agent, ...patch }, name, needed));
    else if (!isEnvSetting(name)) noVariable.push(`no variable sets ${name}: only an agent managed through the API has it otherwise than by default (meta.requires.agent names another agent, created with POST /api/agents)`);
    else if (needed === null) unsets.push(SETTING_ENV[name]);
    else sets.push(`${SETTING_ENV[name]}=${shellQuote(String(needed))}`);
  }
  for (const f of noVariable) problems.push(`to fix: ${f}`);
  if (sets.length + unsets.length > 0) {
    const how = [sets.length > 0 ? `with ${sets.join(', ')}` : '', unsets.length > 0 ? `without ${unsets.join(', ')}` : ''].filter(Boolean).join(' and ');
    problems.push(`to fix: start the target ${how} (agent "${want}" is built from the AGENT_* variables at every start)`);
  }
  if (Object.keys(patch).length > 0) problems.push(`to fix: PATCH /api/agents/${want} with ${JSON.stringify(patch)} (switchboard agents import, or the admin API)`);
  return problems;
}

/** The scenario's first call as the target routes it: an inbound `initiate`'s dialled number. */
function firstCall(steps: Scenario): { to?: string } | undefined {
  for (const x of exchangesOf(steps).exchanges) {
    if (x.route !== 'initiate' && x.route !== 'answer') continue;
    const body = (x.request.body ?? {}) as Record<string, unknown>;
    // An outbound call's answer URL names its agent (signed): no routing by number.
    if (x.route === 'answer') return {};
    return { to: typeof body.to === 'string' ? body.to : undefined };
  }
  return undefined;
}

function routingProblem(to: string, routed: RoutingView, want: string): string {
  const needs = `the scenario needs agent "${want}"`;
  if (!routed.agentId) return `a call to ${to} is rejected by the target (no agent is assigned to the number and DEFAULT_AGENT_ID names none); ${needs}: start the target with DEFAULT_AGENT_ID=${want}, or assign the number (POST /api/numbers)`;
  if (routed.via === 'number') {
    return `a call to ${to} is answered by agent "${routed.agentId}" (the number is assigned to it); ${needs}: unassign the number (DELETE /api/numbers/${encodeURIComponent(to)}) or assign it to "${want}"`;
  }
  return `a call to ${to} is answered by agent "${routed.agentId}" (${routed.via === 'default' ? 'the default agent, DEFAULT_AGENT_ID' : `routed via ${routed.via}`}); ${needs}: start the target with DEFAULT_AGENT_ID=${want}, or assign the number to "${want}" (POST /api/numbers)`;
}

function sipDefaults(): Record<string, unknown> {
  const { target: _target, ...defaults } = agentSipSchema.parse({ target: 'sip:any@example.com' });
  return defaults;
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}
