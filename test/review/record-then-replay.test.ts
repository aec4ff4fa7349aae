import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, systemClock, waitFor, type Clock } from '../../src/clock';
import { speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { readScenario } from '../../src/record/scenario';
import { agentSchema } from '../../src/agents/agent';
import { replayWholeCall } from '../../src/sim/whole-call-replay';
import { callerFor, standInEnv, startTestServer, type TestServer } from '../helpers/server';

/**
 * Review: a call recorded by a server with RECORD_DIR (the recorder's own meta, not the fixtures' rewritten
 * one) replays green with replayWholeCall, as the README says.
 */
const HUMAN = '+19195550177';
const say = (text: string) => (process.env.REVIEW_VERBOSE ? process.stdout.write(text) : undefined);
/** Defects found in review: `it.failing` until fixed (then flip to `it`). */
const defect = it.failing;
const plans = (n: number): ResponsePlan => (n === 1 ? { text: 'Hello, thanks for calling Acme. Our opening hours are nine to five.', audioMs: 5000 } : { text: 'Of course, one moment.', audioMs: 1200 });

describe('review: record with RECORD_DIR, then replay --media', () => {
  let openai: RealtimeStandIn | undefined;
  let rest: BandwidthRestStandIn | undefined;
  let server: TestServer | undefined;
  let dirs: string[] = [];
  afterEach(async () => {
    await server?.close().catch(() => undefined);
    await openai?.close();
    await rest?.close();
    server = openai = rest = undefined;
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  async function record(opts: { env?: Record<string, string>; clock?: Clock; pacing?: { firstDeltaLatencyMs?: number; chunkMs?: number; speedFactor?: number }; agent?: (a: Record<string, unknown>) => Record<string, unknown>; script?: (n: number) => ResponsePlan; transfer?: () => { outcome: 'answered'; ringMs: number; talkMs: number }; untilMs?: number; keys?: { atMs: number; keys: string } }) {
    const clock = opts.clock ?? new ManualClock(0);
    const recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'review15-rec-'));
    dirs.push(recordDir);
    openai = await startRealtimeStandIn({ clock, script: (ctx) => (opts.script ?? plans)(ctx.n), transcribe: () => 'I want to talk to a person.', ...opts.pacing });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer({ ...standInEnv(openai.url, rest, HUMAN), RECORD_DIR: recordDir, ...opts.env }, { clock });
    if (opts.agent) {
      const { agent, destinations } = server.app.config.envAgent;
      await server.app.store.agents.upsert(agentSchema.parse(opts.agent({ ...agent })), 'api', destinations.map((d) => d.id));
    }
    const call = callerFor(server, clock, { audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }), ...(opts.transfer ? { transfer: opts.transfer } : {}) });
    rest.attach(call);
    const advance = clock instanceof ManualClock ? (ms: number) => clock.advanceAsync(ms) : (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    await dialThroughSetup(call, 400, advance);
    const t0 = clock.now();
    let pressed = false;
    while (!call.ended && clock.now() - t0 < (opts.untilMs ?? 7000)) {
      if (opts.keys && !pressed && clock.now() - t0 >= opts.keys.atMs) {
        pressed = true;
        await call.pressKeys(opts.keys.keys);
      }
      await advance(20);
    }
    if (!call.ended) await call.hangup();
    await advance(2000);
    await rest.idle();
    const file = server.app.recorder!.fileFor(call.callId);
    await waitFor(() => fs.existsSync(file) && JSON.stringify(readScenario(file)).includes('"disconnect"'), 5000, 'disconnect');
    await server.close();
    server = undefined;
    return { file, recordDir, callId: call.callId };
  }

  it('manual clock, the stand-in pacing the replay uses, recorder-written meta: green', async () => {
    const { file } = await record({});
    const meta = readScenario(file)[0]!;
    say(`meta: ${JSON.stringify(meta)}\n`);
    const result = await replayWholeCall(file);
    say(result.report);
    expect(result.ok).toBe(true);
  }, 60_000);

  it('--redact recording replays green', async () => {
    const { file } = await record({ env: { RECORD_REDACT: 'true' } });
    const result = await replayWholeCall(file);
    say(result.report);
    expect(result.ok).toBe(true);
  }, 60_000);

  (process.env.REVIEW_REALTIME ? defect : it.skip)('DEFECT: a recording made on the system clock (serve --record; real time, so REVIEW_REALTIME=1) replays green', async () => {
    const { file } = await record({ clock: systemClock });
    const result = await replayWholeCall(file);
    say(result.report);
    expect(result.ok).toBe(true);
  }, 60_000);

  defect('DEFECT: --redact leaves no number or caller content in RECORD_DIR (tool-call arguments, the stored transfer summary)', async () => {
    const clock = new ManualClock(0);
    const recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'review15-redact-'));
    dirs.push(recordDir);
    const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: 'Jane Doe wants a refund, call back on 919-555-0142' } };
    openai = await startRealtimeStandIn({ clock, script: (ctx) => (ctx.n === 1 ? { text: 'Hello, Acme billing.', audioMs: 1000 } : ctx.n === 2 ? { functionCall: TRANSFER } : { text: 'Sorry Jane, nobody is free.', audioMs: 1500 }), transcribe: () => 'I am Jane Doe, my number is 919 555 0142' });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer({ ...standInEnv(openai.url, rest, HUMAN), RECORD_DIR: recordDir, RECORD_REDACT: 'true' }, { clock });
    const call = callerFor(server, clock, { audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }), transfer: () => ({ outcome: 'busy', ringMs: 1000 }) });
    rest.attach(call);
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    while (!call.ended && clock.now() < 16000) await clock.advanceAsync(20);
    if (!call.ended) await call.hangup();
    await clock.advanceAsync(2000);
    await rest.idle();
    await server.close();
    server = undefined;
    const leaks: string[] = [];
    const modes: string[] = [];
    const walk = (d: string) => {
      for (const f of fs.readdirSync(d)) {
        const p2 = path.join(d, f);
        const st = fs.statSync(p2);
        modes.push(`${path.relative(recordDir, p2)} ${(st.mode & 0o777).toString(8)}`);
        if (st.isDirectory()) walk(p2);
        else {
          const text = fs.readFileSync(p2, 'latin1');
          for (const needle of ['Jane', '555-0142', '555 0142', 'refund', '9195550177', '19195550142']) if (text.includes(needle)) leaks.push(`${path.relative(recordDir, p2)}: ${needle} …${text.slice(Math.max(0, text.indexOf(needle) - 120), text.indexOf(needle) + 40)}`);
        }
      }
    };
    walk(recordDir);
    say(`modes:\n${modes.join('\n')}\nleaks:\n${leaks.join('\n')}\n`);
    expect(leaks).toEqual([]);
  }, 60_000);

  it('a sip-forward call replays green', async () => {
    const { file } = await record({ env: { AGENT_MODE: 'sip-forward', AGENT_SIP_TARGET: 'sip:agent@ai.example.com' } });
    const result = await replayWholeCall(file);
    say(result.report);
    expect(result.ok).toBe(true);
  }, 60_000);

  it('a warm transfer that is answered replays green', async () => {
    const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing', summary: 'Wants a refund.' } };
    const { file } = await record({ script: (n) => (n === 1 ? { text: 'Hello, Acme billing.', audioMs: 1000 } : n === 2 ? { functionCall: TRANSFER } : { text: 'ok', audioMs: 500 }), transfer: () => ({ outcome: 'answered', ringMs: 1000, talkMs: 3000 }), untilMs: 16000 });
    const result = await replayWholeCall(file);
    say(result.report);
    expect(result.ok).toBe(true);
  }, 60_000);

  it('the size budget holds, and an over-budget recording says so on replay', async () => {
    const { file } = await record({ env: { RECORD_MAX_CALL_BYTES: '65536' } });
    const dir = file.replace(/\.json$/, '.call');
    const total = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    say(`total ${total} bytes: ${fs.readdirSync(dir).map((f) => `${f}=${fs.statSync(path.join(dir, f)).size}`).join(' ')}\n`);
    expect(total).toBeLessThanOrEqual(65536 + 1024);
    await expect(replayWholeCall(file)).rejects.toThrow(/size budget/);
  }, 60_000);

});
