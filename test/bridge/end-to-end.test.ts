import fs from 'node:fs';
import WebSocket from 'ws';
import { readWav } from '../../src/bridge/wav';
import { ManualClock, waitFor } from '../../src/clock';
import { UrlSigner } from '../../src/security/signing';
import { SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server';

const GREETING = 'Thanks for calling Acme Plumbing, this is the assistant. How can I help you today?';
const REPLY = 'I can book a plumber for tomorrow morning.';

/**
 * A whole call over real sockets on loopback: Bandwidth's caller and OpenAI
 * are the stand-ins in src/sim; everything in between is the real server. One ManualClock drives all
 * three, so pacing and barge-in are measured in exact clock time, never by sleeping.
 */
describe('a stream call end to end', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  async function start(env: Record<string, string> = {}, script?: (n: number) => ResponsePlan) {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({
      clock,
      chunkMs: 100,
      speedFactor: 4,
      firstDeltaLatencyMs: 300,
      script: (ctx) => (script ? script(ctx.n) : ctx.n === 1 ? { text: GREETING, audioMs: 4000 } : { text: REPLY, audioMs: 1500 }),
      transcribe: () => 'My kitchen sink is leaking.',
    });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, ...env }, { clock });
  }
  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  function caller(options: Partial<ConstructorParameters<typeof SimulatedCall>[0]> = {}) {
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    return new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400, ...options });
  }

  /** Dial, let Bandwidth's 400 ms of stream setup pass on the clock, and wait until the stream is up. */
  const dial = (call: SimulatedCall) => dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));

  it('greets at once, barges in cleanly, keeps every caller byte, and stores the transcript in order', async () => {
    await start();
    const call = await dial(caller({ audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 7 }) }));

    // Pre-warm: the greeting was requested at initiate, so it is waiting when the stream starts.
    await clock.advanceAsync(100);
    expect(call.heard.firstHeardMs).toBeDefined();
    expect(call.heard.firstHeardMs!).toBeLessThanOrEqual(40); // within two 20 ms frames of the stream starting

    await clock.advanceAsync(3000);
    const session = openai.sessions[0]!;
    const speechStarted = session.sent.find((e) => e.type === 'input_audio_buffer.speech_started');
    expect(speechStarted).toBeDefined();

    // Barge-in: the caller's playout stops within one frame of speech_started.
    const greetingHeard = call.heard.segments.filter((s) => s.startMs < speechStarted!.atMs);
    const lastHeardEnd = Math.max(...greetingHeard.map((s) => s.endMs));
    expect(lastHeardEnd - speechStarted!.atMs).toBeLessThanOrEqual(20);
    expect(call.receivedOf('clear').length).toBeGreaterThanOrEqual(1);

    // The truncate names what the caller heard, within 100 ms, and the stand-in accepted it.
    const heardMs = greetingHeard.reduce((a, s) => a + (s.endMs - s.startMs), 0);
    expect(session.truncates).toHaveLength(1);
    const truncate = session.truncates[0]!;
    expect(truncate.ok).toBe(true);
    expect(Math.abs(truncate.audio_end_ms - heardMs)).toBeLessThanOrEqual(100);
    expect(truncate.audio_end_ms).toBeLessThan(4000);

    // The reply to the caller's turn is heard too.
    await clock.advanceAsync(2500);
    const replyHeard = call.heard.segments.filter((s) => s.startMs > speechStarted!.atMs).reduce((a, s) => a + (s.endMs - s.startMs), 0);
    expect(replyHeard).toBeGreaterThanOrEqual(1400);

    await call.hangup();
    await clock.advanceAsync(200);
    await server.app.bridge.get(call.callId)?.end('test over');

    // Caller audio reached OpenAI byte for byte.
    expect(Buffer.compare(session.appendedAudio, call.sentInbound)).toBe(0);
    expect(session.appendedAudio.length).toBeGreaterThan(160 * 100);

    const transcript = await server.app.store.transcripts.list(call.callId);
    expect(transcript.map((t) => [t.role, t.text, t.truncated])).toEqual([
      ['agent', GREETING, true],
      ['caller', 'My kitchen sink is leaking.', false],
      ['agent', REPLY, false],
    ]);
    expect(transcript[0]!.heardMs).toBe(truncate.audio_end_ms);
    const row = await server.app.store.calls.get(call.callId);
    expect(row?.state).toBe('completed');
    // BW §1.8: every callback went first without credentials, drew the server's Basic challenge, and succeeded on the retry.
    expect(call.callbacks.length).toBeGreaterThanOrEqual(4);
    expect(call.callbacks.map((c) => [c.eventType, c.challenged, c.status! < 300])).toEqual(call.callbacks.map((c) => [c.eventType, true, true]));
    expect(row?.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('records both legs to a stereo WAV, the agent where the caller heard it and nothing after a clear', async () => {
    await start({ AGENT_RECORD: 'true' });
    const call = await dial(caller({ audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 7 }) }));
    await clock.advanceAsync(2500);
    await call.hangup();
    await clock.advanceAsync(100);
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
    const row = await server.app.store.calls.get(call.callId);
    expect(row?.recordingPath).toMatch(/recordings\/c-.*\.wav$/);
    await waitFor(() => fs.existsSync(row!.recordingPath!) && fs.statSync(row!.recordingPath!).size > 44 && !fs.readFileSync(row!.recordingPath!).subarray(4, 8).equals(Buffer.from([0xff, 0xff, 0xff, 0xff])), 5000, 'the WAV to be closed');
    const wav = readWav(row!.recordingPath!);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 2 });
    const frames = wav.samples.length / 2;
    expect(frames).toBe(call.sentInbound.length); // one stereo frame per caller sample
    const rms = (fromMs: number, toMs: number, channel: 0 | 1) => {
      let sum = 0;
      let n = 0;
      for (let i = fromMs * 8; i < Math.min(frames, toMs * 8); i++, n++) sum += wav.samples[i * 2 + channel]! ** 2;
      return Math.sqrt(sum / Math.max(1, n));
    };
    const speechStarted = openai.sessions[0]!.sent.find((e) => e.type === 'input_audio_buffer.speech_started')!.atMs - call.streamStartedAtMs!;
    expect(rms(100, 1000, 1)).toBeGreaterThan(500); // the greeting, heard
    expect(rms(speechStarted + 40, speechStarted + 600, 1)).toBe(0); // cut off by the clear
    expect(rms(1500, 2300, 0)).toBeGreaterThan(500); // the caller speaking
    expect(rms(200, 1400, 0)).toBeLessThan(50); // the caller silent
  });

  it('OpenAI refusing the session sends the caller to the fallback, with the reason stored', async () => {
    await start({ TRANSFER_TO: '+19195550177' });
    openai.refuse = { status: 429, body: { error: { message: 'rate limited' } } };
    const call = await dial(caller());
    await clock.advanceAsync(200);
    await call.streamEnded;
    await clock.advanceAsync(100);
    expect(call.afterStream?.xml).toContain('<Transfer');
    expect(call.afterStream?.xml).toContain('+19195550177');
    const row = await server.app.store.calls.get(call.callId);
    expect(row?.state).toBe('fallback');
    expect(row?.errorMessage).toMatch(/HTTP 429/);
    await call.hangup();
  });

  it('OpenAI dropping mid-call sends the caller to the fallback', async () => {
    await start();
    const call = await dial(caller());
    await clock.advanceAsync(1000);
    openai.dropAll();
    await clock.advanceAsync(200);
    await call.streamEnded;
    await clock.advanceAsync(100);
    expect(call.afterStream?.xml).toMatch(/<SpeakSentence[^>]*>Sorry/);
    // The fallback apologises and hangs up, so by now the call is over; the trace shows the path.
    const events = await server.app.store.events.list(call.callId);
    const types = events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['bridge.failed', 'redirect', 'disconnect']));
    const streamEnded = events.find((e) => e.type === 'redirect');
    expect((streamEnded!.data as { switchboard: { template: string } }).switchboard.template).toBe('fallback');
    const row = await server.app.store.calls.get(call.callId);
    expect(row?.errorMessage).toMatch(/OpenAI closed the session \(1006/);
    await call.hangup();
  });

  it('with the Pause hold, a failure moves the call on through a Calls API redirect to the fallback', async () => {
    const rest = await startBandwidthRestStandIn();
    try {
      await start({
        AGENT_STREAM_HOLD: 'pause',
        BANDWIDTH_ACCOUNT_ID: '9901234',
        BANDWIDTH_CLIENT_ID: 'client-id',
        BANDWIDTH_CLIENT_SECRET: 'client-secret',
        BANDWIDTH_API_BASE_URL: rest.apiBaseUrl,
        BANDWIDTH_OAUTH_URL: rest.oauthUrl,
      });
      const call = await dial(caller());
      expect(call.initiateBxml?.xml).toContain('<Pause duration="86400"/>');
      await clock.advanceAsync(500);
      openai.dropAll();
      await waitFor(() => rest.redirects.length === 1, 5000, 'the fallback redirect');
      const update = rest.requests.find((r) => r.operation === 'updateCall')!;
      expect(update.callId).toBe(call.callId);
      expect(update.body).toMatchObject({ state: 'active', redirectMethod: 'POST', username: server.app.credentials.credentials.callbackUsername, tag: 'sb:fallback' });
      expect(rest.redirects[0]!.status).toBe(200);
      expect(rest.redirects[0]!.bxml).toMatch(/<SpeakSentence[^>]*>Sorry/);
      expect((await server.app.store.calls.get(call.callId))?.state).toBe('fallback');
      await call.hangup();
    } finally {
      await rest.close();
    }
  });

  describe('the media socket is authenticated before anything is allocated', () => {
    async function upgrade(path: string, auth?: string): Promise<number> {
      return new Promise((resolve) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}`, { headers: auth ? { Authorization: auth } : {} });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(-1));
      });
    }

    it('wrong, reused or expired tokens and wrong credentials get 401, and OpenAI sees no connection', async () => {
      await start();
      const signer = new UrlSigner(server.app.credentials.credentials.urlSigningSecret);
      const callId = 'c-not-initiated';
      // Minted and checked on the clock's wall time (the server's media tokens are), so expiry runs on the ManualClock.
      const good = signer.sign('media', { callId, agentId: 'default' }, 60_000, clock.wallNow());
      const later = signer.sign('media', { callId: 'c-later', agentId: 'default' }, 60_000, clock.wallNow());
      const auth = basicAuth('switchboard-media', signer.mediaPassword(callId));
      expect(await upgrade(`/media/${good}x`, auth)).toBe(401); // wrong token
      expect(await upgrade(`/media/${signer.sign('media', { callId, agentId: 'default' }, -1, clock.wallNow())}`, auth)).toBe(401); // expired
      expect(await upgrade(`/media/${signer.sign('redirect', { callId }, 60_000)}`, auth)).toBe(401); // minted for another purpose
      expect(await upgrade(`/media/${good}`, basicAuth('switchboard-media', signer.mediaPassword('c-other')))).toBe(401); // another call's password
      expect(await upgrade(`/media/${good}`)).toBe(401); // no credentials
      expect(await upgrade(`/media/${good}`, auth)).toBe(101); // the real thing (closed at once: no such call)
      expect(await upgrade(`/media/${good}`, auth)).toBe(401); // reused
      expect(await upgrade('/elsewhere', auth)).toBe(404);
      await clock.advanceAsync(60_001); // a minute later, an unused token has expired
      expect(await upgrade(`/media/${later}`, basicAuth('switchboard-media', signer.mediaPassword('c-later')))).toBe(401);
      expect(openai.connections).toBe(0);
      expect(server.app.media.rejected).toBe(7);
    });
  });
});
