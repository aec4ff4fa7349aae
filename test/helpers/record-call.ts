import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentSchema } from '../../src/agents/agent';
import { ManualClock, waitFor } from '../../src/clock';
import { readScenario } from '../../src/record/scenario';
import { speechLikeAudio, type SimulatedCall, type TransferScriptFn } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { startRealtimeStandIn, type RealtimeStandIn, type RealtimeStandInOptions } from '../../src/sim/realtime-server';
import { callerFor, standInEnv, startTestServer, type TestServer } from './server';

export const RECORDING_HUMAN = '+19195550177';

export interface RecordCallOptions {
  /** Server variables on top of the stand-ins' (AGENT_*, RECORD_REDACT, …). */
  env?: Record<string, string>;
  /** How the recording's "OpenAI" answered and heard: a production model's latency, delta sizes and VAD differ from the stand-in's defaults. */
  model?: Pick<RealtimeStandInOptions, 'firstDeltaLatencyMs' | 'chunkMs' | 'speedFactor' | 'vadMinSpeechMs'>;
  /** The answering agent, changed from the env agent and stored as the admin API would (an API-managed agent). */
  agent?: (agent: Record<string, unknown>) => Record<string, unknown>;
  script?: (n: number) => ResponsePlan;
  transfer?: TransferScriptFn;
  /** How long the call runs after its set-up, clock ms (default 7000). */
  untilMs?: number;
  /** A key press on the Bandwidth side at this clock ms after the set-up. */
  keys?: { atMs: number; keys: string };
  /** Runs once the call is set up (e.g. an openai-sip hand-off); gets the advance function. */
  during?: (call: SimulatedCall, ctx: { server: TestServer; openai: RealtimeStandIn; clock: ManualClock }) => Promise<void>;
}

/**
 * Record a call the way a user would: a server with RECORD_DIR, stand-ins on loopback, one simulated caller,
 * on a ManualClock. Returns the scenario file the recorder wrote (its meta is the recorder's own).
 */
export class CallRecordingBench {
  private openai: RealtimeStandIn | undefined;
  private rest: BandwidthRestStandIn | undefined;
  private server: TestServer | undefined;
  private readonly dirs: string[] = [];

  /** One call per test: the bench holds one set of stand-ins, closed by `close()` (afterEach). */
  async record(opts: RecordCallOptions = {}): Promise<{ file: string; callId: string }> {
    if (this.openai || this.rest) throw new Error('CallRecordingBench: one recording per test (close() between them)');
    const clock = new ManualClock(0);
    const recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-rec-'));
    this.dirs.push(recordDir);
    const plans = opts.script ?? ((n: number): ResponsePlan => (n === 1 ? { text: 'Hello, thanks for calling Acme. Our opening hours are nine to five.', audioMs: 5000 } : { text: 'Of course, one moment.', audioMs: 1200 }));
    const openai = (this.openai = await startRealtimeStandIn({ clock, script: (ctx) => plans(ctx.n), transcribe: () => 'I want to talk to a person.', ...opts.model }));
    const rest = (this.rest = await startBandwidthRestStandIn());
    const server = (this.server = await startTestServer({ ...standInEnv(openai.url, rest, RECORDING_HUMAN), RECORD_DIR: recordDir, ...opts.env }, { clock }));
    if (opts.agent) {
      const { agent, destinations } = server.app.config.envAgent;
      await server.app.store.agents.upsert(agentSchema.parse(opts.agent({ ...agent })), 'api', destinations.map((d) => d.id));
    }
    const call = callerFor(server, clock, { audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }), ...(opts.transfer ? { transfer: opts.transfer } : {}) });
    rest.attach(call);
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    const t0 = clock.now();
    if (opts.during) await opts.during(call, { server, openai, clock });
    let pressed = false;
    while (!call.ended && clock.now() - t0 < (opts.untilMs ?? 7000)) {
      if (opts.keys && !pressed && clock.now() - t0 >= opts.keys.atMs) {
        pressed = true;
        await call.pressKeys(opts.keys.keys);
      }
      await clock.advanceAsync(20);
    }
    if (!call.ended) await call.hangup();
    await clock.advanceAsync(2000);
    await rest.idle();
    const file = server.app.recorder!.fileFor(call.callId);
    await waitFor(() => fs.existsSync(file) && JSON.stringify(readScenario(file)).includes('"disconnect"'), 5000, 'disconnect');
    await server.close();
    this.server = undefined;
    return { file, callId: call.callId };
  }

  async close(): Promise<void> {
    await this.server?.close().catch(() => undefined);
    await this.openai?.close();
    await this.rest?.close();
    this.server = this.openai = this.rest = undefined;
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }
}
