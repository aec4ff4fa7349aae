import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/clock';
import type { WebhookExchange } from '../../src/bandwidth/webhooks';
import { CallRecorder } from '../../src/record/call-recorder';
import { PhoneRedactor } from '../../src/record/redact';
import { ScenarioRecorder } from '../../src/record/recorder';
import { readScenario } from '../../src/record/scenario';

const CALL = 'c-11111111-22222222-3333-4444-5555-666666666666';

function exchange(body: Record<string, unknown>, extra: Partial<WebhookExchange> = {}): WebhookExchange {
  return { route: 'status', method: 'POST', url: '/bandwidth/voice/status', contentType: 'application/json', body: { callId: CALL, ...body }, token: undefined, status: 204, responseContentType: undefined, responseBody: undefined, durationMs: 1, ...extra };
}

describe('ScenarioRecorder', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-scenario-rec-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("times steps on the server's clock and dates the file by its wall time", () => {
    const clock = new ManualClock(50_000, Date.parse('2026-12-07T20:00:00.000Z'));
    const rec = new ScenarioRecorder({ dir, publicBaseUrl: 'https://sb.example.com', secrets: [], clock });
    rec.record(exchange({ eventType: 'initiate', from: '+19195550142' }, { route: 'answer', url: '/bandwidth/voice/answer', status: 200 }));
    clock.advance(1234);
    rec.record(exchange({ eventType: 'disconnect' }));
    const steps = readScenario(rec.fileFor(CALL));
    expect(steps[0]!.meta).toMatchObject({ callId: CALL, recordedAt: '2026-12-07T20:00:00.000Z' });
    expect(steps.filter((s) => s.kind === 'callback').map((s) => (s.request as { atMs: number }).atMs)).toEqual([0, 1234]);
  });

  it('a recorder that meets a call again (a restart) carries on its file: steps kept, times from its start, no placeholder reused', () => {
    const wall = Date.parse('2026-12-07T20:00:00.000Z');
    const first = new ScenarioRecorder({ dir, publicBaseUrl: 'https://sb.example.com', secrets: [], redact: true, clock: new ManualClock(0, wall) });
    first.record(exchange({ eventType: 'initiate', from: '+19195550142', to: '+19195550100' }, { route: 'answer', url: '/bandwidth/voice/answer', status: 200 }));
    // Another process, on its own clock, 5 s later: the first one is gone.
    const second = new ScenarioRecorder({ dir, publicBaseUrl: 'https://sb.example.com', secrets: [], redact: true, clock: new ManualClock(900, wall + 5000) });
    second.record(exchange({ eventType: 'disconnect', from: '+19195550177', to: '+19195550100' }));
    const steps = readScenario(second.fileFor(CALL));
    expect(steps.map((s) => s.kind)).toEqual(['meta', 'callback', 'callback-response', 'callback', 'callback-response']);
    expect(steps[0]!.meta).toMatchObject({ recordedAt: '2026-12-07T20:00:00.000Z' });
    expect((steps[3]!.request as { atMs: number }).atMs).toBe(5000);
    const [a, b] = [steps[1]!, steps[3]!].map((s) => (s.request as { body: { from: string } }).body.from);
    expect(a).toBe('+15550000001');
    expect(b).toMatch(/^\+1555\d{7}$/);
    expect(b).not.toBe(a);
    expect(b).not.toBe('+15550000002'); // the first file's `to`: taken
  });

  it("a file of another call under the same name is replaced, not carried on", () => {
    const rec = new ScenarioRecorder({ dir, publicBaseUrl: 'https://sb.example.com', secrets: [] });
    fs.writeFileSync(rec.fileFor(CALL), JSON.stringify([{ seq: 0, from: 'switchboard', to: 'recorder', transport: 'none', kind: 'meta', meta: { callId: 'c-other' } }]));
    rec.record(exchange({ eventType: 'disconnect' }));
    const steps = readScenario(rec.fileFor(CALL));
    expect(steps[0]!.meta).toMatchObject({ callId: CALL });
    expect(steps).toHaveLength(3);
  });

  it('with redact, a key press becomes D and a stored summary a placeholder, also in the BXML that speaks it', () => {
    const rec = new ScenarioRecorder({ dir, publicBaseUrl: 'https://sb.example.com', secrets: [], redact: true, unseal: () => ({ callId: CALL }) });
    rec.record(exchange({ eventType: 'dtmf', digit: '4' }, { route: 'dtmf', url: '/bandwidth/voice/dtmf' }));
    const summary = 'Jane <Doe> & co want a refund';
    rec.record(
      exchange(
        { eventType: 'transferAnswer' },
        { route: 'transfer-answer', url: '/bandwidth/voice/transfer-answer?t=abc', token: 'abc', status: 200, responseContentType: 'application/xml', responseBody: `<Response><SpeakSentence>Jane &lt;Doe&gt; &amp; co want a refund</SpeakSentence></Response>`, context: { destination: { name: 'human' }, reason: 'refund', summary } },
      ),
    );
    const text = fs.readFileSync(rec.fileFor(CALL), 'utf8');
    expect(text).not.toMatch(/Jane|refund|"4"/);
    const steps = readScenario(rec.fileFor(CALL));
    expect((steps[1]!.request as { body: { digit: string } }).body.digit).toBe('D');
    expect((steps[3]!.request as { sealed: { context: unknown } }).sealed.context).toEqual({ destination: { name: 'human' }, reason: '[redacted: 6 chars]', summary: `[redacted: ${summary.length} chars]` });
    expect((steps[4]!.response as { body: string }).body).toBe(`<Response><SpeakSentence>[redacted: ${summary.length} chars]</SpeakSentence></Response>`);
  });
});

describe('CallRecorder and OpenAI SIP calls', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-sip-rec-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const webhook = (sipCallId: string, parent: string) =>
    JSON.stringify({ type: 'realtime.call.incoming', data: { call_id: sipCallId, sip_headers: [{ name: 'User-to-User', value: `${Buffer.from(`sb=${parent}`).toString('base64')};encoding=base64` }] } });

  it('files a sideband under its Bandwidth call, and forgets the pairing once it lets go of that call', () => {
    const rec = new CallRecorder({ dir, clock: new ManualClock(0), secrets: [], redact: false, budgetBytes: 1 << 20, phoneRedactorFor: () => new PhoneRedactor(), maxOpenCalls: 2 });
    const parent = 'c-aaaaaaaa-bbbbbbbb-cccc-dddd-eeee-ffffffffffff';
    rec.openaiWebhook.received(webhook('rtc_1', parent));
    rec.openaiWebhook.answered({ rawBody: webhook('rtc_1', parent), headers: {}, status: 200, body: {} });
    rec.openaiRest({ method: 'POST', path: '/v1/realtime/calls/rtc_1/accept', body: '{}', status: 200 });
    rec.close();
    expect(fs.readFileSync(path.join(rec.dirFor(parent), 'index.jsonl'), 'utf8')).toContain('/calls/rtc_1/accept');
    // Two other calls push the parent out (maxOpenCalls 2): the pairing goes with it.
    rec.mediaTap('c-other-1').received('{"eventType":"stop"}');
    rec.mediaTap('c-other-2').received('{"eventType":"stop"}');
    rec.openaiRest({ method: 'POST', path: '/v1/realtime/calls/rtc_1/hangup', body: '{}', status: 200 });
    rec.close();
    expect(fs.readFileSync(path.join(rec.dirFor(parent), 'index.jsonl'), 'utf8')).not.toContain('/hangup');
    expect(fs.readFileSync(path.join(rec.dirFor('rtc_1'), 'index.jsonl'), 'utf8')).toContain('/calls/rtc_1/hangup');
  });
});
