import { agentSchema, type Agent } from '../agents/agent';
import { ENV_AGENT_ID } from '../constants';
import type { RunningSwitchboard } from '../main';
import { withoutSecrets } from './agent-snapshot';
import { withSipOnlySettings, type ScenarioRequires } from './scenario-settings';

/**
 * Give a replaying server (`replay --self`, `replay --media`) the agent a scenario requires
 * (scenario-settings.ts), written to its store as the admin API would — after start, because the env
 * agent is rebuilt from the environment at every start:
 *   - a recording that states the agent's configuration (`requires.config`): exactly that agent, with its
 *     destinations, its secrets and outside URLs replaced again (agent-snapshot.ts: whatever a file holds,
 *     a replay calls nothing outside the machine);
 *   - otherwise the env agent (built from the settings' AGENT_* variables) under the required id, with the
 *     SIP settings no variable sets.
 * The required id keeps source `env` when it is the env agent's, `api` otherwise (an API-managed agent).
 * `change` is a deliberate change to that agent (a replay that shows the comparison catching it): a
 * recording's own configuration outranks the server's AGENT_* variables, so a change to it is made here.
 */
export async function installRequiredAgent(app: Pick<RunningSwitchboard, 'config' | 'store'>, requires: ScenarioRequires, change?: (agent: Agent) => Agent): Promise<void> {
  const source = requires.agent === ENV_AGENT_ID ? 'env' : 'api';
  if (requires.config) {
    const { agent, destinations } = requires.config;
    for (const destination of destinations) await app.store.destinations.upsert(destination);
    const installed = withoutSecrets(agent);
    await app.store.agents.upsert(agentSchema.parse(change ? change(installed) : installed), source, destinations.map((d) => d.id));
    return;
  }
  const { agent, destinations } = app.config.envAgent;
  const renamed = { ...agent, id: requires.agent };
  const required = withSipOnlySettings(renamed, requires);
  if (required !== renamed || requires.agent !== ENV_AGENT_ID || change) {
    await app.store.agents.upsert(agentSchema.parse(change ? change(required) : required), source, destinations.map((d) => d.id));
  }
}
