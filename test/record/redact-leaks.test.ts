import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/clock';
import { speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { readScenario } from '../../src/record/scenario';
import { replayWholeCall } from '../../src/sim/whole-call-replay';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { callerFor, standInEnv, startTestServer, type TestServer } from '../helpers/server';

/**
 * `--redact` (RECORD_REDACT) leaves no number or caller content anywhere in RECORD_DIR: not in the scenario
 * file (a transfer's stored summary, key presses) nor in the whole-call index (tool-call arguments, our tool
 * outputs, the transcript). The audio tracks are speech and are kept (README), so they are not searched.
 */
const HUMAN = '+19195550177';

describe('--redact over a whole call with a tool call and a failed transfer', () => {
  let openai: RealtimeStandIn | undefined;
  let rest: BandwidthRestStandIn | undefined;
  let server: TestServer | undefined;
  let recordDir: string | undefined;
  afterEach(async () => {
    await server?.close().catch(() => undefined);
    await openai?.close();
    await rest?.close();
    server = openai = rest = undefined;
    if (recordDir) fs.rmSync(recordDir, { recursive: true, force: true });
  });

  it('leaves no number or caller content in RECORD_DIR (tool-call arguments, the stored transfer summary)', async () => {
    const clock = new ManualClock(0);
    recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-redact-'));
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
    const texts: string[] = [];
    const walk = (d: string) => {
      for (const f of fs.readdirSync(d)) {
        const p2 = path.join(d, f);
        if (fs.statSync(p2).isDirectory()) walk(p2);
        else if (/\.(json|jsonl)$/.test(f)) {
          const text = fs.readFileSync(p2, 'utf8');
          texts.push(text);
          for (const needle of ['Jane', '555-0142', '555 0142', 'refund', 'billing question', '9195550177', '19195550142']) if (text.includes(needle)) leaks.push(`${path.relative(recordDir!, p2)}: ${needle} …${text.slice(Math.max(0, text.indexOf(needle) - 120), text.indexOf(needle) + 40)}`);
        }
      }
    };
    walk(recordDir);
    expect(texts.length).toBeGreaterThanOrEqual(2); // the scenario file and the whole-call index
    expect(leaks).toEqual([]);
    // The tool call is still recognisable (replay needs its name), only what the caller said is gone.
    expect(texts.join('\n')).toContain('transfer_call');
  }, 60_000);

  /** Records one redacted call on a manual clock; returns its scenario file and every text file's content. */
  async function recordRedacted(opts: { script: (n: number) => ResponsePlan; transfer?: () => { outcome: 'answered'; ringMs: number; talkMs: number }; keys?: { atMs: number; keys: string }; untilMs: number }) {
    const clock = new ManualClock(0);
    recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-redact-'));
    openai = await startRealtimeStandIn({ clock, script: (ctx) => opts.script(ctx.n), transcribe: () => 'I am Jane Doe, please put me through' });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer({ ...standInEnv(openai.url, rest, HUMAN), RECORD_DIR: recordDir, RECORD_REDACT: 'true' }, { clock });
    const call = callerFor(server, clock, { audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }), ...(opts.transfer ? { transfer: opts.transfer } : {}) });
    rest.attach(call);
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    let pressed = false;
    while (!call.ended && clock.now() < opts.untilMs) {
      if (opts.keys && !pressed && clock.now() >= opts.keys.atMs) {
        pressed = true;
        await call.pressKeys(opts.keys.keys);
      }
      await clock.advanceAsync(20);
    }
    if (!call.ended) await call.hangup();
    await clock.advanceAsync(2000);
    await rest.idle();
    const file = server.app.recorder!.fileFor(call.callId);
    await server.close();
    server = undefined;
    const texts = [fs.readFileSync(file, 'utf8'), fs.readFileSync(path.join(file.replace(/\.json$/, '.call'), 'index.jsonl'), 'utf8')];
    return { file, texts };
  }

  it('a warm transfer that is answered: the whisper speaks the placeholder, not the summary, and the call replays green', async () => {
    const TRANSFER = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing question', summary: 'Jane Doe wants a refund' } };
    const { file, texts } = await recordRedacted({
      script: (n) => (n === 1 ? { text: 'Hello, Acme billing.', audioMs: 1000 } : n === 2 ? { functionCall: TRANSFER } : { text: 'ok', audioMs: 500 }),
      transfer: () => ({ outcome: 'answered', ringMs: 1000, talkMs: 3000 }),
      untilMs: 16000,
    });
    for (const text of texts) expect(text).not.toMatch(/Jane|refund|billing question/);
    const whisper = readScenario(file).find((s) => s.kind === 'callback-response' && String((s.response as { body?: unknown } | undefined)?.body ?? '').includes('[redacted: 23 chars]'));
    expect(whisper).toBeDefined();
    const result = await replayWholeCall(file);
    expect(result.report).toContain('PASS');
    expect(result.ok).toBe(true);
  }, 60_000);

  it('a key press is recorded as the placeholder key D', async () => {
    const { file, texts } = await recordRedacted({ script: () => ({ text: 'Hello, Acme.', audioMs: 1000 }), keys: { atMs: 4000, keys: '7' }, untilMs: 7000 });
    const dtmf = readScenario(file).filter((s) => s.kind === 'callback' && (s.request as { body?: { eventType?: string } }).body?.eventType === 'dtmf');
    expect(dtmf).toHaveLength(1);
    expect((dtmf[0]!.request as { body: { digit: string } }).body.digit).toBe('D');
    expect(texts[1]).not.toMatch(/pressed[^"]*7/);
  }, 60_000);
});
