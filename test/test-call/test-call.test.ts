import { ManualClock, waitFor } from '../../src/clock';
import { UrlSigner } from '../../src/security/signing';
import { silence, speechLikeAudio } from '../../src/sim/bandwidth-audio';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { TEST_CALL_TRANSFER_REFUSAL } from '../../src/test-call/test-call-control';
import { startTestServer, type TestServer } from '../helpers/server';
import { respelled } from '../helpers/token-spellings';
import { BrowserSocket } from './browser-socket';

const GREETING = 'Hello from the test agent, how can I help?';

/**
 * The browser test call (docs/console.md, "Test call") over real sockets: the admin API mints it, a Node client speaks
 * the page's protocol through the minted URL, and the Realtime stand-in answers. One ManualClock drives all.
 */
describe('browser test calls', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  let adminToken: string;

  async function start(script: (n: number) => ResponsePlan = (n) => (n === 1 ? { text: GREETING, audioMs: 3000 } : { text: 'Sure.', audioMs: 800 }), env: Record<string, string> = {}) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: (ctx) => script(ctx.n), transcribe: () => 'I would like to talk to a person.' });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, ...env }, { clock });
    adminToken = server.app.credentials.credentials.adminToken;
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  const mint = (body: unknown, auth: string | null = `Bearer ${adminToken}`) =>
    fetch(`${server.url}/api/test-calls`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify(body) });
  const minted = async () => {
    const res = await mint({ agentId: 'default' });
    expect(res.status).toBe(201);
    return (await res.json()) as { callId: string; agentId: string; url: string; path: string; expiresAt: string };
  };
  const wsUrl = (path: string) => `${server.url.replace(/^http/, 'ws')}${path}`;
  const refusedWith = (promise: Promise<unknown>) => promise.then(() => 'opened', (err: { status?: number; message: string }) => err.status ?? err.message);

  describe('POST /api/test-calls', () => {
    it('needs the admin token, a valid body and a known agent; the message names the problem', async () => {
      await start();
      expect((await mint({ agentId: 'default' }, null)).status).toBe(401);
      expect((await mint({ agentId: 'default' }, 'Bearer wrong')).status).toBe(401);
      const missing = await mint({});
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/agentId/);
      const unknown = await mint({ agentId: 'no-such-agent' });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe('agent no-such-agent does not exist');
      // Nothing was recorded or pre-warmed for a refused request.
      expect((await server.app.store.calls.list({ limit: 10 })).items).toHaveLength(0);
      expect(openai.connections).toBe(0);
    });

    it('at MAX_CONCURRENT_CALLS, refuses with 503 naming the cap, and records and pre-warms nothing', async () => {
      await start(undefined, { MAX_CONCURRENT_CALLS: '1' });
      const first = await minted();
      await waitFor(() => openai.connections === 1, 5000, 'the first call pre-warmed');
      const refused = await mint({ agentId: 'default' });
      expect(refused.status).toBe(503);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error).toEqual({ code: 'unavailable', message: 'at capacity: 1 calls live on this instance (MAX_CONCURRENT_CALLS 1); try again when one ends' });
      expect((await server.app.store.calls.list({ limit: 10 })).items.map((c) => c.id)).toEqual([first.callId]);
      expect(server.app.bridge.size).toBe(1);
      expect(openai.connections).toBe(1);
      // Once the first call ends, its place is free again.
      server.app.bridge.get(first.callId)!.end('test over');
      await waitFor(() => server.app.bridge.size === 0, 5000, 'the first call to end');
      await minted();
    });

    it('records a browser call, pre-warms its session and mints a test-call token that is no media token', async () => {
      await start();
      const call = await minted();
      expect(call.agentId).toBe('default');
      expect(call.url).toBe(`${server.app.publicBaseUrl.replace(/^http/, 'ws')}${call.path}`);
      expect(call.path).toMatch(/^\/media\/test\/[A-Za-z0-9_-]+$/);
      const record = await server.app.store.calls.get(call.callId);
      expect(record).toMatchObject({ direction: 'browser', leg: 'caller', agentId: 'default', mode: 'stream', state: 'streaming', tag: 'sb:test-call' });
      // Pre-warmed like initiate: the OpenAI session is open before the browser connects.
      await waitFor(() => openai.connections === 1, 5000, 'the pre-warmed session');

      const token = call.path.split('/').pop()!;
      const signer = new UrlSigner(server.app.credentials.credentials.urlSigningSecret);
      expect(signer.verify(token, 'test-call', clock.wallNow())).toEqual({ callId: call.callId, agentId: 'default' });
      expect(() => signer.verify(token, 'media', clock.wallNow())).toThrow(/another purpose/);

      // The call list tells test calls apart.
      const list = async (query: string) =>
        ((await (await fetch(`${server.url}/api/calls?${query}`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as { items: { id: string }[] }).items.map((c) => c.id);
      expect(await list('direction=browser')).toEqual([call.callId]);
      expect(await list('direction=inbound')).toEqual([]);
      const bad = await fetch(`${server.url}/api/calls?direction=sideways`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect(bad.status).toBe(400);
    });
  });

  describe('the test-call socket', () => {
    it('opens only from the server’s own origin, once, and a test-call token opens no Bandwidth media socket', async () => {
      await start();
      const call = await minted();
      const token = call.path.split('/').pop()!;
      expect(await refusedWith(BrowserSocket.open(wsUrl(call.path), clock, 'https://evil.example'))).toBe(403);
      expect(await refusedWith(BrowserSocket.open(wsUrl(call.path), clock, undefined))).toBe(403);
      // The Bandwidth door refuses the browser's token (its purpose), Origin or not.
      expect(await refusedWith(BrowserSocket.open(wsUrl(`/media/${token}`), clock, server.url))).toBe(401);
      // Refusals did not spend it: the page's own attempt opens it, and a second one is refused.
      const socket = await BrowserSocket.open(wsUrl(call.path), clock, server.url);
      expect(await refusedWith(BrowserSocket.open(wsUrl(call.path), clock, server.url))).toBe(401);
      // Nor in another spelling of the same bytes (a trailing character, a flipped padding bit).
      expect(await refusedWith(BrowserSocket.open(wsUrl(`/media/test/${respelled(token)}`), clock, server.url))).toBe(401);
      // The public base URL's origin counts as the server's own too.
      const other = await minted();
      const viaPublic = await BrowserSocket.open(wsUrl(other.path), clock, server.app.publicBaseUrl);
      socket.ws.close();
      viaPublic.ws.close();
    });

    it('refuses an expired token and a Bandwidth media token on the browser door', async () => {
      await start();
      const call = await minted();
      const signer = new UrlSigner(server.app.credentials.credentials.urlSigningSecret);
      const mediaToken = signer.sign('media', { callId: call.callId, agentId: 'default' }, 60_000, clock.wallNow());
      expect(await refusedWith(BrowserSocket.open(wsUrl(`/media/test/${mediaToken}`), clock, server.url))).toBe(401);
      clock.advance(31_000);
      expect(await refusedWith(BrowserSocket.open(wsUrl(call.path), clock, server.url))).toBe(401);
    });

    it('speaks the media-stream protocol to the agent: greeting as playAudio, caller audio appended, clear on barge-in, closed out on stop', async () => {
      await start();
      const call = await minted();
      const socket = await BrowserSocket.open(wsUrl(call.path), clock, server.url);
      socket.start(call.callId);
      // The greeting (pre-warmed) plays while the tester listens.
      await socket.speak(silence(), 1000);
      // Paced at real time with a small lead (DESIGN §4.4): about a second of the greeting in a second.
      const playedMs = socket.playAudio.reduce((sum, b) => sum + b.length, 0) / 8;
      expect(playedMs).toBeGreaterThanOrEqual(700);
      expect(playedMs).toBeLessThanOrEqual(1400);
      const session = openai.sessions[0]!;
      // The tester talks over the greeting: appended to the model, which hears speech; the page is told to clear.
      await socket.speak(speechLikeAudio({ startMs: 1000, durationMs: 900, seed: 7 }), 1500);
      expect(session.appendedMs).toBeGreaterThanOrEqual(2000);
      expect(session.sent.some((e) => e.type === 'input_audio_buffer.speech_started')).toBe(true);
      expect(socket.count('clear')).toBeGreaterThanOrEqual(1);
      expect(session.truncates.length).toBeGreaterThanOrEqual(1);
      // Hang up: the call is closed out with the tester's hang-up as its outcome, and the transcript is kept.
      socket.stop();
      await waitFor(() => socket.closed !== undefined, 5000, 'the socket to close');
      await clock.advanceAsync(200);
      const record = await server.app.store.calls.get(call.callId);
      expect(record).toMatchObject({ state: 'completed', outcome: 'caller-hung-up', cause: 'hangup', mediaOwner: null });
      expect(record!.endedAt).not.toBeNull();
      const transcript = await server.app.store.transcripts.list(call.callId);
      expect(transcript.map((t) => t.role)).toEqual(expect.arrayContaining(['agent', 'caller']));
      const events = (await server.app.store.events.list(call.callId)).map((e) => e.type);
      expect(events).toEqual(expect.arrayContaining(['test-call.created', 'media.start', 'bridge.barge-in', 'media.stop', 'bridge.ended', 'test-call.ended']));
    });

    it('a transfer cannot reach a phone from a browser: the agent gets a tool result saying so, and the call goes on', async () => {
      await start((n) => (n === 1 ? { text: 'Hi.', audioMs: 600 } : n === 2 ? { functionCall: { name: 'transfer_call', arguments: { destination: 'human', reason: 'asked for a person', summary: 'wants a person' } } } : { text: 'I cannot transfer you from here.', audioMs: 800 }), {
        TRANSFER_TO: '+19195550177',
      });
      const call = await minted();
      const socket = await BrowserSocket.open(wsUrl(call.path), clock, server.url);
      socket.start(call.callId);
      await socket.speak(silence(), 800);
      await socket.speak(speechLikeAudio({ startMs: 800, durationMs: 900, seed: 3 }), 3000);
      const session = openai.sessions[0]!;
      const output = session.conversation.find((item) => item.type === 'function_call_output');
      expect(output).toBeDefined();
      expect(JSON.parse(output!.output!)).toEqual({ error: TEST_CALL_TRANSFER_REFUSAL });
      // The agent answered after the tool result, and the socket is still open.
      expect(session.responses.length).toBeGreaterThanOrEqual(3);
      expect(socket.closed).toBeUndefined();
      socket.stop();
      await waitFor(() => socket.closed !== undefined, 5000, 'the socket to close');
      await clock.advanceAsync(100);
      expect((await server.app.store.calls.get(call.callId))?.state).toBe('completed');
    });
  });
});
