import { agentSchema, transferDestinationSchema } from '../src/agents/agent';
import { ManualClock, waitFor } from '../src/clock';
import { startRealtimeStandIn, type RealtimeStandIn } from '../src/sim/realtime-server';
import { callbackFixture } from './helpers/fixtures';
import { startTestServer, type TestServer } from './helpers/server';

/**
 * The server builds an agent's tools once per version of the agent (main.ts): every pre-warmed session
 * must still advertise the agent's tools as they are when the call comes in.
 */
describe("pre-warmed sessions advertise the agent's current tools", () => {
  let openai: RealtimeStandIn;
  let server: TestServer;
  let n = 0;

  beforeAll(async () => {
    openai = await startRealtimeStandIn({ clock: new ManualClock(0), script: () => ({ text: 'Hello.', audioMs: 200 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, TRANSFER_TO: '+19195550177' });
  });
  afterAll(async () => {
    await server.close();
    await openai.close();
  });

  /** Answer one initiate; the tools its pre-warmed session was given, by name, with transfer_call's destinations. */
  async function toolsOfNextCall(): Promise<{ names: string[]; destinations: string[] }> {
    const index = openai.sessions.length;
    await server.post('initiate', { ...callbackFixture('initiate'), callId: `c-tools-${++n}` });
    await waitFor(() => openai.sessions[index]?.received.some((e) => e.type === 'session.update') ?? false, 5000, 'session.update');
    const update = openai.sessions[index]!.received.find((e) => e.type === 'session.update')!.event as {
      session: { tools: { name: string; parameters: { properties: { destination?: { enum: string[] } } } }[] };
    };
    const tools = update.session.tools;
    return { names: tools.map((t) => t.name).sort(), destinations: tools.find((t) => t.name === 'transfer_call')?.parameters.properties.destination?.enum ?? [] };
  }

  it('the same tools call after call, and the new ones once the agent changes', async () => {
    const first = await toolsOfNextCall();
    expect(first.names).toEqual(['hang_up', 'transfer_call']);
    expect(await toolsOfNextCall()).toEqual(first);

    const stored = (await server.app.store.agents.get('default'))!;
    await server.app.store.destinations.upsert(transferDestinationSchema.parse({ id: 'billing', name: 'billing', kind: 'phone', value: '+19195550171' }));
    const { destinations: _d, ...agent } = stored.agent;
    await server.app.store.agents.upsert(
      agentSchema.parse({ ...agent, httpTools: [{ name: 'lookup_order', description: 'Find an order', url: 'https://orders.example.com/x' }] }),
      'env',
      [...stored.agent.destinations.map((d) => d.id), 'billing'],
    );
    const changed = await toolsOfNextCall();
    expect(changed.names).toEqual(['hang_up', 'lookup_order', 'transfer_call']);
    expect(changed.destinations).toEqual([...first.destinations, 'billing']);
  });
});
