import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/clock';
import { CallRecorder } from '../../src/record/call-recorder';
import { CallTape } from '../../src/record/call-tape';
import { PhoneRedactor } from '../../src/record/redact';
import { tapeDirFor } from '../../src/record/tape-format';
import { readWholeCall } from '../../src/record/tape-reader';

const FIXTURE = path.join(__dirname, '../../fixtures/whole-call/barge-in.json');
const CALL = 'c-11111111-22222222-3333-4444-5555-666666666666';

describe('whole-call recording (CallRecorder)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tape-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function recorder(options: { redact?: boolean; budgetBytes?: number; warn?: jest.Mock } = {}) {
    const clock = new ManualClock(0);
    const phones = new PhoneRedactor();
    const warn = options.warn ?? jest.fn();
    const logger = { warn, info: jest.fn(), error: jest.fn(), debug: jest.fn() } as unknown as ConstructorParameters<typeof CallRecorder>[0]['logger'];
    const rec = new CallRecorder({ dir, clock, secrets: ['sk-very-secret-key'], redact: options.redact ?? false, budgetBytes: options.budgetBytes ?? 1 << 20, phoneRedactorFor: () => phones, logger });
    return { rec, clock, warn };
  }
  // A tape writes once per event-loop turn: closing it (as the server does at a hang-up or on stopping) writes the rest.
  const index = (rec: CallRecorder) => (rec.close(), fs.readFileSync(path.join(rec.dirFor(CALL), 'index.jsonl'), 'utf8'));

  it('keeps audio by reference in raw tracks, with relative times on the server clock', async () => {
    const { rec, clock } = recorder();
    const media = rec.mediaTap(CALL);
    const rt = rec.realtimeTap(CALL);
    media.received(JSON.stringify({ eventType: 'media', track: 'inbound', payload: Buffer.alloc(160, 0x7f).toString('base64') }));
    clock.advance(20);
    media.sent(`{"eventType":"playAudio","media":{"contentType":"audio/pcmu","payload":"${Buffer.alloc(320, 0x11).toString('base64')}"}}`);
    rt.received(JSON.stringify({ type: 'response.output_audio.delta', delta: Buffer.alloc(800, 1).toString('base64'), item_id: 'item_1' }));
    const lines = index(rec).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ format: 'switchboard-call/1', callId: CALL });
    expect(lines.find((l) => l.type === 'media')).toMatchObject({ t: 0, dir: 'in', audio: { track: 'caller-in', offset: 0, bytes: 160 } });
    expect(lines.find((l) => l.type === 'playAudio')).toMatchObject({ t: 20, dir: 'out', audio: { track: 'caller-out', offset: 0, bytes: 320 } });
    expect(lines.find((l) => l.type === 'response.output_audio.delta')).toMatchObject({ audio: { track: 'model-out', bytes: 800 }, event: { item_id: 'item_1' } });
    expect(index(rec)).not.toContain('payload":"');
    expect(fs.statSync(path.join(rec.dirFor(CALL), 'caller-out.ulaw')).size).toBe(320);
  });

  it('strips secrets always, and with redact phone numbers and transcript text', () => {
    const { rec } = recorder({ redact: true });
    const rt = rec.realtimeTap(CALL);
    rt.sent(JSON.stringify({ type: 'session.update', session: { instructions: 'key sk-very-secret-key', tools: [] } }));
    rt.received(JSON.stringify({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'i', transcript: 'my number is +19195550142' }));
    rt.received(JSON.stringify({ type: 'response.output_audio_transcript.delta', delta: 'Sure, calling you back' }));
    rec.mediaTap(CALL).received(JSON.stringify({ eventType: 'start', metadata: { callId: CALL, tracks: [] }, streamParams: { from: '+19195550142' } }));
    const text = index(rec);
    expect(text).not.toContain('sk-very-secret-key');
    expect(text).not.toContain('9195550142');
    expect(text).not.toContain('calling you back');
    expect(text).toContain('[redacted: 25 chars]');
    expect(text).toContain('+15550000001');
  });

  it('a tape met again (the recorder let go of the call) carries on where its files end, at its own times', () => {
    const header = { format: 'switchboard-call/1' as const, callId: CALL, startedAt: new Date(1_000_000).toISOString(), redacted: false, budgetBytes: 1 << 20 };
    const first = new CallTape(path.join(dir, 'x.call'), header, undefined);
    first.append({ t: 0, src: 'media', dir: 'in', type: 'media' }, { track: 'caller-in', bytes: Buffer.alloc(160, 1) });
    first.close();
    const again = new CallTape(path.join(dir, 'x.call'), { ...header, startedAt: new Date(2_000_000).toISOString() }, undefined);
    expect(again.startedWallMs).toBe(1_000_000);
    again.append({ t: 20, src: 'media', dir: 'in', type: 'media' }, { track: 'caller-in', bytes: Buffer.alloc(160, 2) });
    again.close();
    const lines = fs.readFileSync(path.join(dir, 'x.call', 'index.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { audio?: { offset: number } });
    expect(lines).toHaveLength(3);
    expect(lines[2]!.audio!.offset).toBe(160);
    expect(fs.statSync(path.join(dir, 'x.call', 'caller-in.ulaw')).size).toBe(320);
  });

  it('stops at the size budget with a note in the index and one warning', () => {
    const warn = jest.fn();
    const { rec } = recorder({ budgetBytes: 64 * 1024, warn });
    const media = rec.mediaTap(CALL);
    const frame = JSON.stringify({ eventType: 'media', track: 'inbound', payload: Buffer.alloc(160).toString('base64') });
    for (let i = 0; i < 1000; i++) media.received(frame);
    const lines = index(rec).trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ type: 'budget-exceeded', event: { budgetBytes: 65536 } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(fs.statSync(path.join(rec.dirFor(CALL), 'caller-in.ulaw')).size).toBeLessThan(64 * 1024);
  });

  it('a tape over its budget stays over it when met again: no second note, no second warning', () => {
    const warn = jest.fn();
    const logger = { warn, info: jest.fn(), error: jest.fn(), debug: jest.fn() } as unknown as ConstructorParameters<typeof CallTape>[2];
    const header = { format: 'switchboard-call/1' as const, callId: CALL, startedAt: new Date(1_000_000).toISOString(), redacted: false, budgetBytes: 64 * 1024 };
    const first = new CallTape(path.join(dir, 'x.call'), header, logger);
    for (let i = 0; i < 1000 && !first.exceeded; i++) first.append({ t: i, src: 'media', dir: 'in', type: 'media' }, { track: 'caller-in', bytes: Buffer.alloc(160, 1) });
    first.close();
    const again = new CallTape(path.join(dir, 'x.call'), header, logger);
    expect(again.exceeded).toBe(true);
    for (let i = 0; i < 10; i++) again.append({ t: 5000 + i, src: 'media', dir: 'in', type: 'media' }, { track: 'caller-in', bytes: Buffer.alloc(160, 2) });
    again.close();
    const text = fs.readFileSync(path.join(dir, 'x.call', 'index.jsonl'), 'utf8');
    expect(text.match(/budget-exceeded/g)).toHaveLength(1);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('writes once per event-loop turn, and the turn after the frames the files hold them', async () => {
    const { rec } = recorder();
    const media = rec.mediaTap(CALL);
    const frame = JSON.stringify({ eventType: 'media', track: 'inbound', payload: Buffer.alloc(160, 3).toString('base64'), sequenceNumber: '1' });
    for (let i = 0; i < 10; i++) media.received(frame);
    const track = path.join(rec.dirFor(CALL), 'caller-in.ulaw');
    expect(fs.existsSync(track) ? fs.statSync(track).size : 0).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fs.statSync(track).size).toBe(1600);
    const lines = fs.readFileSync(path.join(rec.dirFor(CALL), 'index.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(11);
    rec.close();
  });

  it('a redacted tape carried on after a restart hands out no placeholder it already holds', () => {
    const first = recorder({ redact: true });
    first.rec.mediaTap(CALL).received(JSON.stringify({ eventType: 'start', streamParams: { from: '+19195550142' } }));
    first.rec.close();
    const second = recorder({ redact: true }); // a new process: a new recorder and a new number map
    second.rec.mediaTap(CALL).received(JSON.stringify({ eventType: 'start', streamParams: { from: '+19195550177' } }));
    const text = index(second.rec);
    expect(text.match(/\+15550000001/g)).toHaveLength(1);
    expect(text).toContain('+15550000002');
  });

  it('holds its files open while recording and none once closed, also after a late entry', async () => {
    const openFds = () => fs.readdirSync('/proc/self/fd').length;
    const header = { format: 'switchboard-call/1' as const, callId: CALL, startedAt: new Date(1_000_000).toISOString(), redacted: false, budgetBytes: 1 << 20 };
    const before = openFds();
    const tape = new CallTape(path.join(dir, 'x.call'), header, undefined);
    tape.append({ t: 0, src: 'media', dir: 'in', type: 'media' }, { track: 'caller-in', bytes: Buffer.alloc(160, 1) });
    tape.flush();
    expect(openFds()).toBe(before + 2); // the index and caller-in.ulaw
    tape.close();
    expect(openFds()).toBe(before);
    tape.append({ t: 40, src: 'realtime', dir: 'in', type: 'closed', event: { code: 1000 } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(openFds()).toBe(before);
    expect(fs.readFileSync(path.join(dir, 'x.call', 'index.jsonl'), 'utf8')).toContain('"type":"closed"');
  });

  it('an audio frame skips the scrubbing only when it holds nothing to scrub', () => {
    const { rec } = recorder();
    const media = rec.mediaTap(CALL);
    const payload = Buffer.alloc(160).toString('base64');
    media.received(JSON.stringify({ eventType: 'media', track: 'inbound', payload, sequenceNumber: '7' }));
    media.received(JSON.stringify({ eventType: 'media', track: 'inbound', payload, sequenceNumber: 'x-sk-very-secret-key' }));
    const text = index(rec);
    expect(text).toContain('"sequenceNumber":"7"');
    expect(text).not.toContain('sk-very-secret-key');
  });

  it('with redact, tool-call arguments and outputs and key presses are replaced; tool names and enum values stay', () => {
    const { rec } = recorder({ redact: true });
    const rt = rec.realtimeTap(CALL);
    const tools = [{ type: 'function', name: 'transfer_call', parameters: { type: 'object', properties: { destination: { type: 'string', enum: ['human', 'billing'] }, summary: { type: 'string' } } } }];
    rt.sent(JSON.stringify({ type: 'session.update', session: { tools } }));
    const args = JSON.stringify({ destination: 'human', summary: 'Jane wants a refund', urgent: true });
    rt.received(JSON.stringify({ type: 'response.function_call_arguments.delta', call_id: 'call_1', delta: args.slice(0, 30) }));
    rt.received(JSON.stringify({ type: 'response.function_call_arguments.done', call_id: 'call_1', name: 'transfer_call', arguments: args }));
    rt.received(JSON.stringify({ type: 'response.done', response: { output: [{ type: 'function_call', name: 'transfer_call', arguments: args }] } }));
    rt.sent(JSON.stringify({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_1', output: JSON.stringify({ ok: false, message: 'Jane could not be transferred' }) } }));
    rt.received(JSON.stringify({ type: 'input_audio_buffer.dtmf_event_received', event: '7', received_at: 1 }));
    const entries = index(rec).trim().split('\n').map((l) => JSON.parse(l) as { type: string; event?: Record<string, unknown> });
    const text = JSON.stringify(entries);
    expect(text).not.toMatch(/Jane|refund/);
    const done = entries.find((e) => e.type === 'response.function_call_arguments.done')!.event!;
    expect(done.name).toBe('transfer_call');
    expect(JSON.parse(String(done.arguments))).toEqual({ destination: 'human', summary: '[redacted: 19 chars]', urgent: true });
    expect(entries.find((e) => e.type === 'response.function_call_arguments.delta')!.event!.delta).toBe('[redacted: 30 chars]');
    const output = (entries.find((e) => e.type === 'conversation.item.create')!.event!.item as { output: string }).output;
    expect(JSON.parse(output)).toEqual({ ok: false, message: '[redacted: 29 chars]' });
    expect(entries.find((e) => e.type === 'input_audio_buffer.dtmf_event_received')!.event!.event).toBe('D');
  });
});

describe('PhoneRedactor', () => {
  it('replaces a known number in its national forms too, and continues after the placeholders of a file it carries on', () => {
    const phones = new PhoneRedactor();
    expect(phones.redact('from +19195550142')).toBe('from +15550000001');
    expect(phones.redact('call 919-555-0142, (919) 555 0142, 1.919.555.0142 or 9195550142; not 919-555-0143')).toBe('call 5550000001, 5550000001, 5550000001 or 5550000001; not 919-555-0143');
    const carried = new PhoneRedactor();
    carried.reservePlaceholdersIn('{"from":"+15550000001","to":"+15550000002"}');
    expect(carried.redact('+19195550177 and +15550000001')).toBe('+15550000003 and +15550000001');
  });
});

describe('whole-call recordings that are truncated, edited or foreign', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bad-tape-'));
    file = path.join(dir, 'call.json');
    fs.copyFileSync(FIXTURE, file);
    fs.cpSync(tapeDirFor(FIXTURE), tapeDirFor(file), { recursive: true });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const indexFile = () => path.join(tapeDirFor(file), 'index.jsonl');
  const lines = () => fs.readFileSync(indexFile(), 'utf8').split('\n');
  const writeLines = (l: string[]) => fs.writeFileSync(indexFile(), l.join('\n'));

  it('the fixture itself reads', () => {
    expect(readWholeCall(file).entries.length).toBeGreaterThan(100);
  });

  it('truncated mid-line: names the line', () => {
    const text = fs.readFileSync(indexFile(), 'utf8');
    fs.writeFileSync(indexFile(), text.slice(0, Math.floor(text.length / 2)));
    expect(() => readWholeCall(file)).toThrow(/index\.jsonl line \d+: the file ends mid-line \(truncated\)/);
  });

  it('an edited field: names the line, the step type and the field', () => {
    const l = lines();
    const entry = JSON.parse(l[4]!) as Record<string, unknown>;
    l[4] = JSON.stringify({ ...entry, t: 'soon' });
    writeLines(l);
    expect(() => readWholeCall(file)).toThrow(`call.call/index.jsonl line 5 (${String(entry.type)}): field t: Invalid input: expected number, received string`);
  });

  it('an unknown field or source is refused, not ignored', () => {
    const l = lines();
    l[6] = JSON.stringify({ ...(JSON.parse(l[6]!) as object), src: 'telegraph' });
    writeLines(l);
    expect(() => readWholeCall(file)).toThrow(/line 7 \(.+\): field src: /);
  });

  it('a foreign file: the header names the format field', () => {
    const l = lines();
    l[0] = JSON.stringify({ hello: 'world' });
    writeLines(l);
    expect(() => readWholeCall(file)).toThrow(/line 1: field format: .*not a switchboard whole-call recording/);
  });

  it('a truncated audio track: names the entry and the audio field', () => {
    const track = path.join(tapeDirFor(file), 'caller-in.ulaw');
    fs.truncateSync(track, 1000);
    expect(() => readWholeCall(file)).toThrow(/line \d+ \(media\): field audio: bytes \d+\.\.\d+ are past the end of caller-in\.ulaw \(1000 bytes\)/);
  });

  it('a callback scenario without its recording says what is missing', () => {
    fs.rmSync(tapeDirFor(file), { recursive: true });
    expect(() => readWholeCall(file)).toThrow(/call\.json has no whole-call recording: .*index\.jsonl is missing/);
  });
});
