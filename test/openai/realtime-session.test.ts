import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { agentSchema } from '../../src/agents/agent';
import { waitFor } from '../../src/clock';
import { createLogger } from '../../src/log';
import { RealtimeSession } from '../../src/openai/realtime-session';
import { startRealtimeStandIn, type StallMode } from '../../src/sim/realtime-server';

/** A bare Realtime peer that records what the client sends and never configures the session. */
async function silentPeer() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const received: string[] = [];
  wss.on('connection', (ws) => ws.on('message', (data) => received.push(JSON.parse(data.toString()).type)));
  const { port } = wss.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, received, close: () => new Promise((r) => wss.close(r)) };
}

describe('RealtimeSession', () => {
  it('sends requests made while connecting right behind session.update, without waiting for session.updated', async () => {
    const peer = await silentPeer();
    const agent = { ...agentSchema.parse({ id: 'a1', name: 'A1' }), destinations: [] };
    const session = new RealtimeSession({ baseUrl: peer.baseUrl, apiKey: 'sk-test', agent, tools: [], logger: createLogger('silent') });
    session.createResponse({ instructions: 'greet' }); // the greeting, asked for at pre-warm
    session.addItem('system', 'note');
    await waitFor(() => peer.received.length >= 3);
    expect(peer.received).toEqual(['session.update', 'response.create', 'conversation.item.create']);
    session.close();
    await peer.close();
  });

  /**
   * The bridge's agent-audio deadline ends a call whose model never answers by closing the session
   * (DESIGN §4.9): the adapter's own connect/configure deadline (a real 10 s timer) must go with it,
   * and so must the socket, whatever stage the model stalled at.
   */
  it.each<StallMode>(['upgrade', 'session-created'])('close() on a model stalled at %s settles ready at once, clears its deadline and closes the socket', async (stall) => {
    const standIn = await startRealtimeStandIn({ stall });
    const agent = { ...agentSchema.parse({ id: 'a1', name: 'A1' }), destinations: [] };
    const timers = new Set<unknown>();
    const setSpy = jest.spyOn(global, 'setTimeout');
    const clearSpy = jest.spyOn(global, 'clearTimeout');
    try {
      const session = new RealtimeSession({ baseUrl: standIn.url, apiKey: standIn.apiKey, agent, tools: [], logger: createLogger('silent') });
      for (const r of setSpy.mock.results) if (r.type === 'return') timers.add(r.value);
      await waitFor(() => (stall === 'upgrade' ? standIn.heldUpgrades === 1 : standIn.sessions.length === 1), 5_000, 'the stalled connection');
      session.close();
      await expect(session.ready).rejects.toMatchObject({ failure: expect.stringMatching(/^openai_(closed|unreachable)$/) });
      const cleared = new Set(clearSpy.mock.calls.map((c) => c[0]));
      expect([...timers].filter((t) => !cleared.has(t as never))).toEqual([]);
      await waitFor(() => standIn.heldUpgrades === 0 && standIn.sessions.every((s) => !s.open), 5_000, 'the socket to close');
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
      await standIn.close();
    }
  });
});
