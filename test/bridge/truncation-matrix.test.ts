import { ManualClock, waitFor } from '../../src/clock';
import { playedPerItem, SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { RealtimeSimSession } from '../../src/sim/realtime-session';
import type { SpeechPlan } from '../../src/sim/realtime-script';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * DESIGN §4.10 over real sockets: the truncate's `audio_end_ms` against what the caller stand-in truly
 * played of the item before its `clear`, when the model stalls mid-response (stall lengths × where in the
 * response), the carrier holds a jitter buffer after an underrun (carrier delays), and the caller barges
 * in before, during or after the stall. The bridge runs with its default carrier delay estimate, so the
 * carrier delays the estimate does not match are measured too. One ManualClock drives everything; each
 * stall shape runs as one batch of concurrent calls (one per carrier delay × barge-in moment).
 */
const GREETING = 'Thanks for calling Acme Plumbing, this is the assistant. How can I help you today?';
const GREETING_MS = 4000;
const CHUNK_MS = 100;
const SPEED = 2;
const CARRIER_DELAYS_MS = [0, 60, 120];
const STALLS: { afterAudioMs: number; forMs: number }[] = [
  { afterAudioMs: 0, forMs: 0 },
  ...[300, 900, 1500].flatMap((forMs) => [200, 700, 1200].map((afterAudioMs) => ({ afterAudioMs, forMs }))),
];
type Moment = 'before' | 'during' | 'after';

interface Case {
  call: SimulatedCall;
  session: RealtimeSimSession;
  carrierDelayMs: number;
  moment: Moment;
  saidAtMs?: number;
}

describe('truncation matches what the caller heard (stalls × carrier delays × barge-in moments)', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  let stall = STALLS[0]!;

  beforeAll(async () => {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({
      clock,
      chunkMs: CHUNK_MS,
      speedFactor: SPEED,
      firstDeltaLatencyMs: 300,
      script: (ctx): SpeechPlan => (ctx.n === 1 ? { text: GREETING, audioMs: GREETING_MS, stall: stall.forMs > 0 ? stall : undefined } : { text: 'Sure.', audioMs: 400 }),
      transcribe: () => 'Wait, one question.',
    });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING }, { clock });
  });
  afterAll(async () => {
    await server?.close();
    await openai?.close();
  });

  /** Clock time of the greeting's delta number `n` (1-based), once sent. */
  const deltaAt = (session: RealtimeSimSession, n: number) => session.sent.filter((e) => e.type === 'response.output_audio.delta')[n - 1]?.atMs;

  /** Whether the caller should start speaking now, so that the barge-in lands at its moment. */
  function due(c: Case): boolean {
    const heardMs = c.call.heard.totalMs;
    const stallAfterDelta = Math.max(1, Math.ceil(stall.afterAudioMs / CHUNK_MS));
    switch (c.moment) {
      case 'before':
        return heardMs >= Math.max(100, stall.afterAudioMs / 2);
      case 'during': {
        // Speech is detected ~40–60 ms after it starts: aim at the middle of the model's stall.
        const stalledAt = deltaAt(c.session, stallAfterDelta);
        return stalledAt !== undefined && clock.now() >= stalledAt + stall.forMs / 2 - 40;
      }
      case 'after':
        return deltaAt(c.session, stallAfterDelta + 1) !== undefined && heardMs >= stall.afterAudioMs + 300;
    }
  }

  const results: { label: string; carrierDelayMs: number; errorMs: number; underran: boolean }[] = [];

  afterAll(() => {
    const worst = results.reduce((a, r) => (Math.abs(r.errorMs) > Math.abs(a.errorMs) ? r : a), results[0]!);
    const byDelay = CARRIER_DELAYS_MS.map((d) => {
      const errors = results.filter((r) => r.carrierDelayMs === d).map((r) => r.errorMs);
      return `carrier ${d} ms: ${Math.min(...errors)}..${Math.max(...errors)} ms`;
    });
    const underruns = results.filter((r) => r.underran).length;
    process.stdout.write(
      `truncation matrix: ${results.length} barge-ins (${underruns} after the carrier ran dry mid-greeting), audio_end_ms − played: ${byDelay.join('; ')}; worst ${Math.abs(worst.errorMs)} ms (${worst.label})\n`,
    );
  });

  it.each(STALLS.map((s) => [`${s.forMs} ms stall after ${s.afterAudioMs} ms`, s] as const))('%s', async (_label, shape) => {
    stall = shape;
    const moments: Moment[] = shape.forMs > 0 ? ['before', 'during', 'after'] : ['before', 'after'];
    const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
    const cases: Case[] = [];
    // Dialled one after another at the same clock time, so session i belongs to call i.
    for (const carrierDelayMs of CARRIER_DELAYS_MS) {
      for (const moment of moments) {
        const index = openai.sessions.length;
        const call = new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, jitterBufferMs: carrierDelayMs });
        await dialThroughSetup(call, 0, (ms) => clock.advanceAsync(ms));
        cases.push({ call, session: await openai.waitForSession(index), carrierDelayMs, moment });
      }
    }
    for (let stepMs = 0; stepMs < 6000 && cases.some((c) => c.session.truncates.length === 0); stepMs += 20) {
      for (const c of cases) {
        if (c.saidAtMs === undefined && due(c)) c.saidAtMs = c.call.say(speechLikeAudio({ durationMs: 600, seed: 3 })).atMs;
      }
      await clock.advanceAsync(20);
    }
    for (const c of cases) {
      const label = `${shape.forMs} ms stall after ${shape.afterAudioMs} ms, carrier delay ${c.carrierDelayMs} ms, barge-in ${c.moment}`;
      expect({ label, truncates: c.session.truncates.length }).toEqual({ label, truncates: 1 });
      const truncate = c.session.truncates[0]!;
      expect(truncate.ok).toBe(true);
      const [run] = c.call.playoutRuns; // the greeting alone, up to its clear
      expect(run?.endedBy).toBe('clear');
      const [playedMs] = playedPerItem(run!, [GREETING_MS]);
      const errorMs = truncate.audio_end_ms - playedMs!;
      // Did the caller hear a gap inside the greeting before the clear (the carrier ran dry)?
      const underran = c.call.heard.segments.filter((s) => s.startMs < run!.endedAtMs!).length > 1;
      results.push({ label, carrierDelayMs: c.carrierDelayMs, errorMs, underran });
      expect({ label, errorMs: Math.abs(errorMs) <= 100 ? 'within 100 ms' : errorMs }).toEqual({ label, errorMs: 'within 100 ms' });
      c.call.destroy();
    }
    await waitFor(() => server.app.bridge.size === 0, 5000, 'the calls to end');
  });

  it('exercised what it claims: most stalled barge-ins met a carrier that had run dry', () => {
    expect(results).toHaveLength(3 * 2 + 9 * 3 * 3);
    expect(results.filter((r) => r.underran).length).toBeGreaterThanOrEqual(15);
  });
});
