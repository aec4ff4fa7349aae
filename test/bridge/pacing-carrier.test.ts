import { ManualClock } from '../../src/clock';
import { CARRIER_PLAYOUT_DELAY_MS, MULAW_BYTES_PER_MS, PLAYOUT_REFILL_BELOW_MS, PLAYOUT_TICK_MS } from '../../src/constants';
import { SimulatedCall, type HeardSegment, type ReceivedMessage } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * DESIGN §4.4 over real sockets: the carrier delay estimate (DESIGN §4.10, CARRIER_PLAYOUT_DELAY_MS) is
 * for heard accounting only and must not thin the jitter margin. Against a carrier that plays audio the
 * moment it arrives (caller stand-in: no jitter buffer, no playout latency), the audio waiting at the
 * carrier when each refill arrives stays at the refill mark less one tick, as it was before the model.
 */
const GREETING = 'Thanks for calling Acme Plumbing. How can I help?';
const GREETING_MS = 3000;

/** ms of a playAudio's audio (audio/pcmu: base64 μ-law, 8 bytes per ms). */
function playAudioMs(m: ReceivedMessage): number {
  const payload = (m.message as { media?: { payload?: unknown } }).media?.payload;
  if (typeof payload !== 'string') throw new Error('a playAudio without a payload');
  return Buffer.from(payload, 'base64').length / MULAW_BYTES_PER_MS;
}

/** ms the caller had heard by `atMs`. */
function heardByMs(segments: readonly HeardSegment[], atMs: number): number {
  let heardMs = 0;
  for (const s of segments) if (s.startMs < atMs) heardMs += Math.min(s.endMs, atMs) - s.startMs;
  return heardMs;
}

describe('paced playout against a carrier that plays at once', () => {
  let openai: RealtimeStandIn;
  let server: TestServer;

  afterEach(async () => {
    await server?.close();
    await openai?.close();
  });

  it(`keeps ≥ ${PLAYOUT_REFILL_BELOW_MS - PLAYOUT_TICK_MS} ms at the carrier before every refill with the default ${CARRIER_PLAYOUT_DELAY_MS} ms delay estimate`, async () => {
    const clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: () => ({ text: GREETING, audioMs: GREETING_MS }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING }, { clock });
    expect(server.app.config.env.CARRIER_PLAYOUT_DELAY_MS).toBe(CARRIER_PLAYOUT_DELAY_MS);
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    const call = await dialThroughSetup(new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, jitterBufferMs: 0, playoutLatencyMs: 0 }), 0, (ms) => clock.advanceAsync(ms));
    for (let t = 0; t < GREETING_MS + 1000 && call.heard.totalMs < GREETING_MS; t += PLAYOUT_TICK_MS) await clock.advanceAsync(PLAYOUT_TICK_MS);

    const heard = call.heard;
    expect(heard.totalMs).toBe(GREETING_MS);
    expect(heard.segments).toHaveLength(1); // played without a gap
    const sends = call.receivedOf('playAudio');
    expect(sends.length).toBeGreaterThan(10);
    // At each refill's arrival: what had arrived before it, less what the caller had heard by then.
    let arrivedMs = playAudioMs(sends[0]!);
    let minAheadMs = Infinity;
    for (const m of sends.slice(1)) {
      minAheadMs = Math.min(minAheadMs, arrivedMs - heardByMs(heard.segments, m.atMs));
      arrivedMs += playAudioMs(m);
    }
    expect(arrivedMs).toBe(GREETING_MS);
    process.stdout.write(`pacing: least audio at an immediate carrier before a refill: ${minAheadMs} ms (${sends.length} playAudio)\n`);
    expect(minAheadMs).toBeGreaterThanOrEqual(PLAYOUT_REFILL_BELOW_MS - PLAYOUT_TICK_MS);
    await call.hangup();
  });
});
