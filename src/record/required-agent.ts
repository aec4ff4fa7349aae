import { agentSchema } from '../agents/agent';
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
 */
export async function installRequiredAgent(app: Pick<RunningSwitchboard, 'config' | 'store'>, requires: ScenarioRequires): Promise<void> {
  const source = requires.agent === ENV_AGENT_ID ? 'env' : 'api';
  if (requires.config) {
    const { agent, destinations } = requires.config;
    for (const destination of destinations) await app.store.destinations.upsert(destination);
    await app.store.agents.upsert(agentSchema.parse(withoutSecrets(agent)), source, destinations.map((d) => d.id));
    return;
  }
  const { agent, destinations } = app.config.envAgent;
  const renamed = { ...agent, id: requires.agent };
  const required = withSipOnlySettings(renamed, requires);
  if (required !== renamed || requires.agent !== ENV_AGENT_ID) {
    await app.store.agents.upsert(agentSchema.parse(required), source, destinations.map((d) => d.id));
  }
}
