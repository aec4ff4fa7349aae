import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { agentSchema } from '../../src/agents/agent';
import { ManualClock, waitFor } from '../../src/clock';
import { createLogger } from '../../src/log';
import { chunkOf } from '../../src/bridge/transports';
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

  it('sends caller audio as one text frame per chunk, the exact input_audio_buffer.append JSON, in order, also while a tap records it', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    const frames: Array<{ text: string; isBinary: boolean }> = [];
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => frames.push({ text: data.toString(), isBinary })));
    const { port } = wss.address() as AddressInfo;
    const agent = { ...agentSchema.parse({ id: 'a1', name: 'A1' }), destinations: [] };
    const tapped: string[] = [];
    const tap = { sent: (text: string) => tapped.push(text), received: () => undefined, refused: () => undefined, closed: () => undefined };
    const plain = new RealtimeSession({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test', agent, tools: [], logger: createLogger('silent') });
    await waitFor(() => frames.length === 1); // session.update: the socket is open
    const chunks = ['AAECAw==', Buffer.alloc(160, 0x7f).toString('base64'), '/+/+'].map((base64) => chunkOf(base64));
    for (const chunk of chunks) plain.appendAudio(chunk);
    await waitFor(() => frames.length === 4);
    expect(frames.slice(1)).toEqual(chunks.map((c) => ({ text: `{"type":"input_audio_buffer.append","audio":"${c.base64}"}`, isBinary: false })));
    for (const f of frames.slice(1)) expect(JSON.parse(f.text)).toEqual({ type: 'input_audio_buffer.append', audio: expect.any(String) });
    plain.close();

    const recorded = new RealtimeSession({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test', agent, tools: [], logger: createLogger('silent'), tap });
    await waitFor(() => frames.length === 5);
    recorded.appendAudio(chunks[0]!);
    await waitFor(() => frames.length === 6);
    expect(frames[5]).toEqual({ text: `{"type":"input_audio_buffer.append","audio":"AAECAw=="}`, isBinary: false });
    expect(tapped.at(-1)).toBe(frames[5]!.text);
    recorded.close();
    await new Promise((r) => wss.close(r));
  });

  it('a socket that opens and never configures the session fails ready at the deadline, on the injected clock', async () => {
    const peer = await silentPeer();
    const clock = new ManualClock(0);
    const agent = { ...agentSchema.parse({ id: 'a1', name: 'A1' }), destinations: [] };
    const session = new RealtimeSession({ baseUrl: peer.baseUrl, apiKey: 'sk-test', agent, tools: [], logger: createLogger('silent'), clock, connectTimeoutMs: 10_000 });
    let failure: unknown;
    session.ready.catch((err: unknown) => (failure = err));
    await waitFor(() => peer.received.includes('session.update'), 5000, 'the socket to open');
    await clock.advanceAsync(9_999);
    expect(failure).toBeUndefined();
    await clock.advanceAsync(1);
    await waitFor(() => failure !== undefined, 5000, 'ready to fail');
    expect(failure).toMatchObject({ failure: 'openai_unreachable', message: 'OpenAI did not configure the session in time' });
    session.close();
    await peer.close();
  });

  it('a configured session whose peer stops answering pings is ended after two heartbeats, and says so', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => ws.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { type: string }).type === 'session.update') ws.send(JSON.stringify({ type: 'session.updated', event_id: 'e1', session: {} }));
    }));
    const { port } = wss.address() as AddressInfo;
    const clock = new ManualClock(0);
    const agent = { ...agentSchema.parse({ id: 'a1', name: 'A1' }), destinations: [] };
    const session = new RealtimeSession({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test', agent, tools: [], logger: createLogger('silent'), clock });
    const closed: { code: number; expected: boolean }[] = [];
    session.setHandlers(new Proxy({}, { get: (_t, name) => (name === 'closed' ? (e: { code: number; expected: boolean }) => closed.push(e) : () => undefined) }) as never);
    await session.ready;
    await clock.advanceAsync(15_000); // a ping, never answered
    expect(closed).toEqual([]);
    await clock.advanceAsync(15_000); // no pong since: terminated
    await waitFor(() => closed.length === 1, 5000, 'the socket to be ended');
    expect(closed[0]).toMatchObject({ code: 1006, expected: false });
    await new Promise((r) => wss.close(r));
  });
});
