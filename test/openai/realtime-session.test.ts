import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { agentSchema } from '../../src/agents/agent';
import { waitFor } from '../../src/clock';
import { createLogger } from '../../src/log';
import { RealtimeSession } from '../../src/openai/realtime-session';

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
});
