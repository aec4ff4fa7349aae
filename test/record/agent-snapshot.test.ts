import { agentSchema, transferDestinationSchema, type Agent, type AgentWithDestinations } from '../../src/agents/agent';
import { REDACTED_HEADER_VALUE, REDACTED_URL } from '../../src/constants';
import { installRequiredAgent } from '../../src/record/required-agent';
import { requiresOfAgent, scenarioRequiresSchema } from '../../src/record/scenario-settings';

/**
 * meta.requires.config: what a recording states of the agent that answered (agent-snapshot.ts) — the whole
 * configuration, never a secret or an outside URL — and what a replay's server is given from it.
 */
const SECRET = 'sk-live-very-secret-value';
const agent: AgentWithDestinations = {
  ...agentSchema.parse({
    id: 'sales',
    name: 'Sales',
    instructions: 'You answer for Acme Plumbing. Today is {{localDate}}. Customer tier: {{tier}}.',
    greeting: 'Acme Plumbing, how can I help?',
    voice: 'cedar',
    audio: 'pcm24k',
    turnDetection: { type: 'server_vad', silenceDurationMs: 700 },
    httpTools: [{ name: 'order_status', description: 'Look up an order', url: 'https://orders.acme.example/status?key=abc', headers: { Authorization: `Bearer ${SECRET}`, 'X-Key': '${TOOL_SECRET_ORDERS}' } }],
    mcpServers: [{ label: 'crm', url: 'https://mcp.acme.example/sse', headers: { Authorization: `Bearer ${SECRET}` } }],
    context: { timezone: 'America/New_York', variables: { tier: 'standard' }, hook: { url: 'https://crm.acme.example/hook', headers: { 'X-Token': SECRET } } },
    report: { url: 'https://reports.acme.example/in?token=abc', transcript: true },
    sip: { target: 'sip:agent@ai.example.com', referTarget: 'sip:{number}@{contactHost};transport=tcp' },
  }),
  destinations: [transferDestinationSchema.parse({ id: 'billing', name: 'billing', kind: 'phone', value: '+19195550177', warm: true })],
};

describe('meta.requires.config: the answering agent, stated by the recorder', () => {
  it('holds the whole configuration, without secrets or outside URLs, and validates', () => {
    const requires = requiresOfAgent(agent)!;
    const text = JSON.stringify(requires);
    for (const leak of [SECRET, 'orders.acme.example', 'crm.acme.example', 'reports.acme.example', 'TOOL_SECRET_ORDERS']) expect(text).not.toContain(leak);
    const config = requires.config!;
    expect(config.agent).toMatchObject({ instructions: agent.instructions, greeting: agent.greeting, voice: 'cedar', audio: 'pcm24k', turnDetection: { silenceDurationMs: 700 }, sip: { referTarget: agent.sip!.referTarget } });
    expect(config.agent.httpTools[0]).toMatchObject({ name: 'order_status', url: REDACTED_URL, headers: { Authorization: REDACTED_HEADER_VALUE, 'X-Key': REDACTED_HEADER_VALUE } });
    expect(config.agent.mcpServers[0]).toMatchObject({ url: 'https://mcp.acme.example/sse', headers: { Authorization: REDACTED_HEADER_VALUE } });
    expect(config.agent.context.hook).toMatchObject({ url: REDACTED_URL, headers: { 'X-Token': REDACTED_HEADER_VALUE } });
    expect(config.agent.report.url).toBeUndefined();
    expect(config.destinations).toEqual(agent.destinations);
    // As written to the file and read back: the same requirements.
    expect(scenarioRequiresSchema.parse(JSON.parse(text))).toEqual(requires);
  });

  it('a config that is not the answering agent, or not an agent at all, is refused naming the field', () => {
    const config = requiresOfAgent(agent)!.config!;
    const problems = (requires: unknown) => {
      const parsed = scenarioRequiresSchema.safeParse(requires);
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems({ agent: 'default', config })).toEqual(['config.agent.id: is "sales", but the call is answered by agent "default"']);
    expect(problems({ agent: 'sales', config: { ...config, agent: { ...config.agent, audio: 'mp3' } } })[0]).toMatch(/^config\.agent\.audio: /);
    expect(problems({ agent: 'sales', config: { ...config, destinations: [{ id: 'x', name: 'x', kind: 'phone', value: '555' }] } })[0]).toMatch(/^config\.destinations\.0\.value: a phone destination needs an E\.164 number/);
    expect(problems({ agent: 'sales', config: { ...config, extra: true } })[0]).toMatch(/^config: /);
  });

  it("a replay's server gets exactly that agent and its destinations, pointed at nothing outside even when a file holds real URLs", async () => {
    const upserted: { agent: Agent; source: string; destinationIds?: string[] }[] = [];
    const destinations: unknown[] = [];
    const app = {
      config: { envAgent: { agent: agentSchema.parse({ id: 'default', name: 'Env' }), destinations: [] } },
      store: {
        agents: { upsert: async (a: Agent, source: string, destinationIds?: string[]) => void upserted.push({ agent: a, source, destinationIds }) },
        destinations: { upsert: async (d: unknown) => void destinations.push(d) },
      },
    } as unknown as Parameters<typeof installRequiredAgent>[0];
    // A foreign or hand-edited file: the config still names the real hosts.
    const foreign = scenarioRequiresSchema.parse({ agent: 'sales', config: { agent, destinations: agent.destinations } });
    await installRequiredAgent(app, foreign);
    expect(destinations).toEqual(agent.destinations);
    expect(upserted).toHaveLength(1);
    expect(upserted[0]).toMatchObject({ source: 'api', destinationIds: ['billing'] });
    const installed = upserted[0]!.agent;
    expect(JSON.stringify(installed)).not.toContain(SECRET);
    expect(installed.httpTools[0]!.url).toBe(REDACTED_URL);
    expect(installed.context.hook!.url).toBe(REDACTED_URL);
    expect(installed.report.url).toBeUndefined();
    expect(installed.instructions).toBe(agent.instructions);
  });
});
