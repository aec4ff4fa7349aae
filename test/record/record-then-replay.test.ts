import fs from 'node:fs';
import path from 'node:path';
import { readScenario, scenarioRequires } from '../../src/record/scenario';
import { readWholeCall } from '../../src/record/tape-reader';
import type { ResponsePlan } from '../../src/sim/realtime-script';
import { replayWholeCall } from '../../src/sim/whole-call-replay';
import { CallRecordingBench } from '../helpers/record-call';
import { deliverSipCall } from '../helpers/sip';

/**
 * A call recorded by a server (RECORD_DIR, the recorder's own meta) replays green with `replay --media` however
 * it was made — not only when made like the shipped fixtures: an API-managed agent, a server's own
 * instructions, key presses on either side, a model with production latency and delta sizes. Each test also
 * shows the replay catching a deliberate change, so a green one means the part it covers was compared.
 */
describe('record with RECORD_DIR, then replay --media', () => {
  const bench = new CallRecordingBench();
  afterEach(() => bench.close());

  it('a call answered by an API-managed agent replays with that agent, created from meta.requires.config', async () => {
    const { file } = await bench.record({ env: { DEFAULT_AGENT_ID: 'sales' }, agent: (a) => ({ ...a, id: 'sales', name: 'Sales', voice: 'cedar', greeting: 'Sales, how can I help?' }) });
    const requires = scenarioRequires(readScenario(file))!;
    expect(requires.agent).toBe('sales');
    expect(requires.config?.agent).toMatchObject({ id: 'sales', name: 'Sales', voice: 'cedar', greeting: 'Sales, how can I help?' });
    const result = await replayWholeCall(file);
    expect(result.report).toMatch(/^PASS /m);
    expect(result.ok).toBe(true);
    // The agent's voice reaches the session config: another voice is caught.
    const changed = await replayWholeCall(file, { agent: (a) => ({ ...a, voice: 'marin' }) });
    expect(changed.ok).toBe(false);
    expect(changed.report).toMatch(/session\.update \(client event #\d+\) differs/);
  }, 60_000);

  it("a server's own AGENT_INSTRUCTIONS and AGENT_GREETING reach the replay through the recorded configuration", async () => {
    const { file } = await bench.record({ env: { AGENT_INSTRUCTIONS: 'You answer for Acme Plumbing. Be brief.', AGENT_GREETING: 'Acme Plumbing, how can I help?' } });
    expect(scenarioRequires(readScenario(file))!.config?.agent).toMatchObject({ instructions: 'You answer for Acme Plumbing. Be brief.', greeting: 'Acme Plumbing, how can I help?' });
    const result = await replayWholeCall(file);
    expect(result.report).toMatch(/^PASS /m);
    expect(result.ok).toBe(true);
  }, 60_000);

  it("the caller's key press (a dtmf callback) is pressed again at its recorded time", async () => {
    const { file } = await bench.record({ keys: { atMs: 4000, keys: '1' } });
    expect(readScenario(file).filter((s) => s.kind === 'callback' && /\/dtmf/.test(String((s.request as { url?: string }).url)))).toHaveLength(1);
    const result = await replayWholeCall(file);
    expect(result.report).toMatch(/^PASS /m);
    expect(result.ok).toBe(true);
  }, 60_000);

  it("an openai-sip caller's key press (the sideband's DTMF event) is sent again at its recorded time", async () => {
    const secret = `whsec_${Buffer.from('record-then-replay-signing-key').toString('base64')}`;
    let uui = '';
    const { file } = await bench.record({
      env: { AGENT_MODE: 'openai-sip', AGENT_SIP_TARGET: 'sip:proj_1@sip.api.openai.com', OPENAI_WEBHOOK_SECRET: secret },
      script: () => ({ text: 'Hello from the SIP agent.', audioMs: 400 }),
      transfer: (target) => ((uui = target.uui ?? ''), { outcome: 'answered', ringMs: 500, talkMs: 15000 }),
      untilMs: 6000,
      during: async (_call, { server, openai, clock }) => {
        await clock.advanceAsync(500);
        const session = await deliverSipCall(server, openai, secret, 'rtc_record_dtmf_1', { contact: '<sip:+19195550142@67.231.4.10:5060;transport=udp>', uui });
        for (let i = 0; i < 100 && !session.sent.some((e) => e.type === 'response.done'); i++) await clock.advanceAsync(20);
        await clock.advanceAsync(1000);
        session.pressKey('7');
      },
    });
    const entries = readWholeCall(file).entries;
    const dtmf = entries.findIndex((e) => e.type === 'input_audio_buffer.dtmf_event_received');
    expect(entries[dtmf]?.event?.event).toBe('7');
    // Switchboard gave the key to the model then (a client event after it); the replay, compared event by event, must too.
    expect(entries.slice(dtmf).some((e) => e.dir === 'out' && e.type === 'conversation.item.create' && JSON.stringify(e.event).includes('7'))).toBe(true);
    const result = await replayWholeCall(file);
    expect(result.report).toMatch(/^PASS /m);
    expect(result.ok).toBe(true);
  }, 60_000);

  it("a model that answered with production latency, delta sizes and pace replays at that pace (each response's RecordedTiming)", async () => {
    const { file } = await bench.record({ model: { firstDeltaLatencyMs: 650, chunkMs: 40, speedFactor: 1.5 } });
    const recorded = readWholeCall(file).entries.filter((e) => e.type === 'response.output_audio.delta');
    // 40 ms deltas (320 μ-law bytes), not the stand-in's default 100 ms.
    expect(recorded[0]!.audio!.bytes).toBe(320);
    const result = await replayWholeCall(file);
    expect(result.report).toMatch(/^PASS /m);
    expect(result.ok).toBe(true);
  }, 60_000);

  it("a caller whose turns the recording's VAD placed otherwise than the stand-in's would replays with the recorded turns", async () => {
    // OpenAI's VAD is not the stand-in's energy detector: here it took 100 ms of speech before speech_started.
    const { file } = await bench.record({ model: { vadMinSpeechMs: 100 } });
    const started = readWholeCall(file).entries.filter((e) => e.type === 'input_audio_buffer.speech_started');
    expect(started.length).toBeGreaterThan(0);
    const result = await replayWholeCall(file);
    expect(result.report).toMatch(/^PASS /m);
    expect(result.ok).toBe(true);
  }, 60_000);

  it('a barge-in on a slow model replays with the same truncation', async () => {
    // The caller speaks at 1.5 s, while the 5 s greeting of a model slower than the stand-in is still playing.
    const plans = (n: number): ResponsePlan => (n === 1 ? { text: 'Hello, thanks for calling Acme. Our opening hours are nine to five.', audioMs: 5000 } : { text: 'Sure.', audioMs: 800 });
    const { file } = await bench.record({ script: plans, model: { firstDeltaLatencyMs: 900, chunkMs: 60, speedFactor: 1.2 } });
    expect(readWholeCall(file).entries.some((e) => e.type === 'conversation.item.truncate')).toBe(true);
    const result = await replayWholeCall(file);
    expect(result.report).toMatch(/^PASS /m);
    expect(result.ok).toBe(true);
  }, 60_000);

  it.each([
    ['a plain recording (the recorder\'s own meta)', {}],
    ['a recording made with --redact', { RECORD_REDACT: 'true' }],
  ] as [string, Record<string, string>][])('%s replays green', async (_what, env) => {
    const { file } = await bench.record({ env });
    const result = await replayWholeCall(file);
    if (!result.ok) throw new Error(result.report);
  }, 60_000);

  it('a sip-forward call replays green', async () => {
    const { file } = await bench.record({ env: { AGENT_MODE: 'sip-forward', AGENT_SIP_TARGET: 'sip:agent@ai.example.com' } });
    const result = await replayWholeCall(file);
    if (!result.ok) throw new Error(result.report);
  }, 60_000);

  it('a warm transfer that is answered replays green', async () => {
    const transfer = { name: 'transfer_call', arguments: { destination: 'human', reason: 'billing', summary: 'Wants a refund.' } };
    const { file } = await bench.record({
      script: (n) => (n === 1 ? { text: 'Hello, Acme billing.', audioMs: 1000 } : n === 2 ? { functionCall: transfer } : { text: 'ok', audioMs: 500 }),
      transfer: () => ({ outcome: 'answered', ringMs: 1000, talkMs: 3000 }),
      untilMs: 16000,
    });
    const result = await replayWholeCall(file);
    if (!result.ok) throw new Error(result.report);
  }, 60_000);

  it('the size budget holds, and an over-budget recording says so on replay', async () => {
    const { file } = await bench.record({ env: { RECORD_MAX_CALL_BYTES: '65536' } });
    const dir = file.replace(/\.json$/, '.call');
    const total = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    expect(total).toBeLessThanOrEqual(65536 + 1024); // the header and the budget note may pass it
    await expect(replayWholeCall(file)).rejects.toThrow(/size budget/);
  }, 60_000);
});
