import fs from 'node:fs';
import path from 'node:path';
import { ManualClock, settleIo } from '../../src/clock';
import { basicAuthHeader, fromMulaw, SimulatedCall, type SimulatedCallOptions, type TransferScript, type TransferTarget } from '../../src/sim/bandwidth-caller';
import { bxmlFixture, callbackFixture, FIXTURES_DIR } from '../helpers/fixtures';
import { CALL_ID, CALLBACK, EPOCH_MS, FakeSwitchboard, joinedPayloads, pattern, until } from './fake-switchboard';

/**
 * `<Transfer>` in the Bandwidth caller stand-in, against a small fake Switchboard (BW §1.3–§1.6, §2.3,
 * §2.5; fixtures/bandwidth/scenarios/b-inbound-ai-transfer-to-human.json). The clock is a ManualClock
 * moved exactly to each scripted moment; loopback I/O then completes without the clock moving.
 */
const HUMAN = '+19195550177';
const iso = (ms: number) => new Date(EPOCH_MS + ms).toISOString();

/** The scenario's redirect answer (StopStream + SpeakSentence + Transfer), pointed at the fake. */
function scenarioTransferXml(fake: FakeSwitchboard): string {
  const steps = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, 'scenarios/b-inbound-ai-transfer-to-human.json'), 'utf8')) as { seq: number; response?: { body?: string } }[];
  const body = steps.find((s) => s.seq === 12)!.response!.body!;
  return body.replaceAll('https://voice-bridge.example.com', fake.url);
}

function transferXml(fake: FakeSwitchboard, opts: { attrs?: string; targets?: string[]; after?: string; complete?: boolean } = {}): string {
  const u = fake.url;
  const creds = `username="${CALLBACK.username}" password="${CALLBACK.password}"`;
  const complete = opts.complete === false ? '' : ` transferCompleteUrl="${u}/bandwidth/voice/transfer-complete" ${creds}`;
  const targets = (opts.targets ?? [HUMAN]).map(
    (t) => `<PhoneNumber transferAnswerUrl="${u}/bandwidth/voice/transfer-answer" transferDisconnectUrl="${u}/bandwidth/voice/transfer-disconnect" ${creds}>${t}</PhoneNumber>`,
  );
  return `<Response><StopStream name="ai-agent"/><Transfer transferCallerId="+19195550142"${complete} ${opts.attrs ?? ''}>${targets.join('')}</Transfer>${opts.after ?? ''}</Response>`;
}

describe('SimulatedCall: <Transfer>', () => {
  let fake: FakeSwitchboard;
  let clock: ManualClock;
  let call: SimulatedCall | undefined;
  let targets: TransferTarget[];

  async function dialed(script: (t: TransferTarget) => TransferScript, options: Partial<SimulatedCallOptions> = {}): Promise<SimulatedCall> {
    clock = new ManualClock(0);
    targets = [];
    call = new SimulatedCall({
      baseUrl: fake.url,
      callbackAuth: CALLBACK,
      clock,
      callId: CALL_ID,
      epochMs: EPOCH_MS,
      transfer: (t) => {
        targets.push(t);
        return script(t);
      },
      ...options,
    });
    await call.dial();
    await until(() => fake.connections.length === 1 && fake.streamEvents('mediaStreamStarted').length === 1, 'the first stream');
    return call;
  }

  /** Redirect the call (as updateCall would) to `route` at clock 100 ms. */
  async function redirectTo(c: SimulatedCall, route: string): Promise<void> {
    clock.advance(100);
    await c.updateCall({ redirectUrl: `${fake.url}/bandwidth/voice/${route}`, username: CALLBACK.username, password: CALLBACK.password, tag: 'ai:transfer-requested' });
  }

  beforeEach(async () => {
    fake = await new FakeSwitchboard().start();
    fake.on('transfer-answer', bxmlFixture('transferAnswer-whisper-response'));
    fake.on('transfer-complete', bxmlFixture('transferComplete-hangup-response'));
  });

  afterEach(async () => {
    call?.destroy();
    call = undefined;
    await fake.close();
  });

  it('answered: stream stopped, transferAnswer → whisper, bridge, transferDisconnect then transferComplete, whose Hangup ends the call', async () => {
    fake.on('transfer', (_h, f) => scenarioTransferXml(f));
    const c = await dialed(() => ({ outcome: 'answered', ringMs: 3000, talkMs: 60_000 }));
    await redirectTo(c, 'transfer');

    // StopStream without wait stopped the stream the way Bandwidth does, before the Transfer rang.
    await until(() => fake.connections[0]!.closeCode !== undefined && fake.streamEvents('mediaStreamStopped').length === 1, 'the stream to stop');
    expect(fake.connections[0]!.frames.at(-1)!.eventType).toBe('stop');
    expect(fake.connections[0]!.closeCode).toBe(1000);
    expect(fake.streamEvents('mediaStreamStopped')[0]!.body).toMatchObject({ cause: 'closed', tag: 'ai:transfer-requested' });
    expect(c.spoken.map((s) => s.text)).toEqual(['Please hold while I connect you to an agent.']);
    expect(targets).toEqual([
      {
        kind: 'phone',
        address: HUMAN,
        attributes: {
          transferAnswerUrl: `${fake.url}/bandwidth/voice/transfer-answer`,
          transferDisconnectUrl: `${fake.url}/bandwidth/voice/transfer-disconnect`,
          username: CALLBACK.username,
          password: CALLBACK.password,
        },
      },
    ]);
    expect(c.transferInProgress).toMatchObject({ state: 'ringing', callTimeoutMs: 30_000, transferCallerId: '+19195550142' });
    expect(c.heldAt).toEqual({ verb: 'Transfer', atMs: 100 });
    expect(fake.hitsTo('transfer-answer')).toHaveLength(0);

    // The human answers after 3 s of ringing.
    clock.advance(2999);
    await settleIo(10);
    expect(fake.hitsTo('transfer-answer')).toHaveLength(0);
    clock.advance(1);
    await until(() => c.transferInProgress?.state === 'bridged', 'the bridge');
    const [answer] = fake.hitsTo('transfer-answer');
    const record = c.transfers[0]!;
    expect(record.bLegCallId).toMatch(/^c-6f2a91d4-[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(record.bLegCallId).not.toBe(CALL_ID);
    expect(answer!.authorization).toBe(basicAuthHeader(CALLBACK));
    expect(Object.keys(answer!.body)).toEqual(Object.keys(callbackFixture('transferAnswer')));
    expect(answer!.body).toEqual({
      eventType: 'transferAnswer',
      eventTime: iso(3100),
      accountId: '9901234',
      applicationId: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47',
      from: '+19195550142',
      to: '+19195550100',
      direction: 'outbound',
      callId: record.bLegCallId,
      parentCallId: CALL_ID,
      callUrl: `https://voice.bandwidth.com/api/v2/accounts/9901234/calls/${record.bLegCallId}`,
      startTime: iso(100),
      answerTime: iso(3100),
      tag: 'ai:transfer-requested',
      transferCallerId: '+19195550142',
      transferTo: HUMAN,
    });
    expect(record.whisper).toMatchObject({
      texts: ['Incoming transfer from the AI assistant. The caller asked about a billing question.'],
      xml: bxmlFixture('transferAnswer-whisper-response'),
      violations: [],
    });
    expect(record.timings).toMatchObject({ startedAtMs: 100, answeredAtMs: 3100, bridgedAtMs: 3100 });
    expect(fake.hitsTo('transfer-disconnect')).toHaveLength(0);

    // 60 s of talk, then the human hangs up.
    clock.advance(60_000);
    const end = await c.closed;
    expect(end).toMatchObject({ reason: 'bxml-hangup', cause: 'hangup', atMs: 63_100 });
    const routes = fake.hits.map((h) => h.route);
    expect(routes.slice(routes.indexOf('transfer'))).toEqual(['transfer', 'stream-events', 'transfer-answer', 'transfer-disconnect', 'transfer-complete', 'status']);

    const [disconnect] = fake.hitsTo('transfer-disconnect');
    expect(disconnect!.authorization).toBe(basicAuthHeader(CALLBACK));
    expect(Object.keys(disconnect!.body)).toEqual(Object.keys(callbackFixture('transferDisconnect')));
    expect(disconnect!.body).toMatchObject({
      eventType: 'transferDisconnect',
      callId: record.bLegCallId,
      parentCallId: CALL_ID,
      direction: 'outbound',
      startTime: iso(100),
      answerTime: iso(3100),
      endTime: iso(63_100),
      cause: 'hangup',
      transferCallerId: '+19195550142',
      transferTo: HUMAN,
    });

    const [complete] = fake.hitsTo('transfer-complete');
    expect(complete!.authorization).toBe(basicAuthHeader(CALLBACK));
    expect(Object.keys(complete!.body)).toEqual(Object.keys(callbackFixture('transferComplete')));
    expect(complete!.body).toEqual({
      eventType: 'transferComplete',
      eventTime: iso(63_100),
      accountId: '9901234',
      applicationId: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47',
      from: '+19195550142',
      to: '+19195550100',
      direction: 'inbound',
      callId: CALL_ID,
      callUrl: `https://voice.bandwidth.com/api/v2/accounts/9901234/calls/${CALL_ID}`,
      startTime: iso(0),
      answerTime: iso(0),
      tag: 'ai:transfer-requested',
      transferCallerId: '+19195550142',
      transferTo: HUMAN,
      cause: 'hangup',
    });
    expect(fake.hitsTo('status')[0]!.body).toMatchObject({ eventType: 'disconnect', cause: 'hangup', tag: 'ai:transfer-requested', endTime: iso(63_100) });

    expect(record).toMatchObject({
      state: 'ended',
      outcome: 'answered',
      cause: 'hangup',
      endedBy: 'human',
      transferCompleteSent: true,
      transferCompleteBxml: bxmlFixture('transferComplete-hangup-response'),
      violations: [],
      timings: { startedAtMs: 100, answeredAtMs: 3100, bridgedAtMs: 3100, bLegEndedAtMs: 63_100, completedAtMs: 63_100, endedAtMs: 63_100 },
    });
    expect(record.legs).toHaveLength(1);
    expect(c.callbacksOf('transferAnswer')[0]!.status).toBe(200);
    expect(c.callbacksOf('transferDisconnect')).toHaveLength(1);
    expect(c.callbacksOf('transferComplete')[0]!.responseText).toBe(bxmlFixture('transferComplete-hangup-response'));
    expect(fake.hitsTo('stream-ended')).toHaveLength(0);
    expect(c.heldAt).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('busy: transferDisconnect/transferComplete say busy; the returned StartStream opens a second stream that gets frames and playout', async () => {
    fake.on('transfer', (_h, f) => transferXml(f));
    fake.on('transfer-complete', (_h, f) => f.streamBxml('ai-agent', 'tok-2'));
    // The caller says something at 1.5 s on the call's audio timeline, i.e. during the second stream.
    const words = pattern(1600, 3);
    const c = await dialed(() => ({ outcome: 'busy', ringMs: 1000 }), { audio: fromMulaw(words, { startMs: 1500 }), playoutLatencyMs: 0 });
    const first = fake.connections[0]!;
    first.socket.send(JSON.stringify({ eventType: 'playAudio', media: { contentType: 'audio/pcmu', payload: pattern(160, 1).toString('base64') } }));
    await until(() => c.stats.playAudioMessages === 1);
    clock.advance(20);
    await until(() => fake.media(first).length === 1);
    clock.advance(80);
    await redirectTo(c, 'transfer'); // (clock 200)
    await until(() => first.closeCode !== undefined && fake.streamEvents('mediaStreamStopped').length === 1);
    const firstStreamId = c.streams[0]!.id;

    clock.advance(1000); // busy after 1 s of ringing
    await until(() => fake.connections.length === 2 && fake.streamEvents('mediaStreamStarted').length === 2, 'the second stream');
    const [disconnect] = fake.hitsTo('transfer-disconnect');
    expect(disconnect!.body).toMatchObject({ eventType: 'transferDisconnect', cause: 'busy', errorMessage: 'Callee is busy', endTime: iso(1200), parentCallId: CALL_ID });
    expect(disconnect!.body).not.toHaveProperty('answerTime');
    const [complete] = fake.hitsTo('transfer-complete');
    expect(Object.keys(complete!.body).sort()).toEqual(Object.keys(callbackFixture('transferComplete-busy')).sort());
    expect(complete!.body).toMatchObject({ callId: CALL_ID, cause: 'busy', errorMessage: 'Callee is busy', errorId: disconnect!.body.errorId, transferTo: HUMAN });
    expect(fake.hitsTo('transfer-answer')).toHaveLength(0);
    expect(c.transfers[0]).toMatchObject({ outcome: 'busy', cause: 'busy', endedBy: 'not-answered', transferCompleteSent: true });

    // A second stream: new id, start frame first, mediaStreamStarted, the same name is fine now.
    const second = fake.connections[1]!;
    await until(() => second.frames.length === 1);
    expect(second.url).toBe('/media/tok-2');
    expect(second.frames[0]).toMatchObject({ eventType: 'start', metadata: { callId: CALL_ID, streamName: 'ai-agent' } });
    expect(c.streams.map((s) => s.id)).toEqual([firstStreamId, c.stream!.id]);
    expect(c.stream!.id).not.toBe(firstStreamId);
    expect(second.frames[0]!.metadata.streamId).toBe(c.stream!.id);
    expect(fake.streamEvents('mediaStreamStarted')[1]!.body.mediaStream).toMatchObject({ id: c.stream!.id, name: 'ai-agent', startTime: iso(1200) });
    expect(c.connected).toBe(true);
    expect(c.streamStartedAtMs).toBe(0); // the audio timeline still starts with the first stream

    // Frames on the second stream: sequence from "1", the caller's audio continuing on the call's timeline.
    second.socket.send(JSON.stringify({ eventType: 'playAudio', media: { contentType: 'audio/pcmu', payload: pattern(320, 2).toString('base64') } }));
    await until(() => c.stats.playAudioMessages === 2);
    for (let i = 0; i < 25; i++) clock.advance(20);
    await until(() => fake.media(second).length === 25, '25 frames on the second stream');
    const media = fake.media(second);
    expect(media.map((f) => f.sequenceNumber)).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));
    const arrived = joinedPayloads(media); // audio time [1200, 1700)
    expect(arrived.subarray(0, 300 * 8).every((b) => b === 0xff)).toBe(true);
    expect(arrived.subarray(300 * 8, 500 * 8).equals(words.subarray(0, 1600))).toBe(true);
    // The heard record continues across streams.
    expect(c.heard.segments).toEqual([
      { startMs: 20, endMs: 40, bytes: 160 },
      { startMs: 1220, endMs: 1260, bytes: 320 },
    ]);
    expect(c.heard.audio.equals(Buffer.concat([pattern(160, 1), pattern(320, 2)]))).toBe(true);

    // Hanging up ends the second stream like the first.
    await c.hangup();
    expect(fake.streamEvents('mediaStreamStopped')).toHaveLength(2);
    expect(fake.streamEvents('mediaStreamStopped')[1]!.body.mediaStream).toMatchObject({ id: c.stream!.id, duration: 'PT0.5S' });
    expect(fake.hitsTo('status')).toHaveLength(1);
  });

  it('no answer: after the Transfer callTimeout (not the default 30 s) the legs time out; simultaneous targets each get transferDisconnect', async () => {
    fake.on('transfer', (_h, f) => transferXml(f, { attrs: 'callTimeout="12"', targets: [HUMAN, '+19195550188'] }));
    const c = await dialed((t) => (t.address === HUMAN ? { outcome: 'no-answer' } : { outcome: 'answered', ringMs: 20_000 }));
    await redirectTo(c, 'transfer');
    expect(c.transferInProgress?.legs.map((l) => l.state)).toEqual(['ringing', 'ringing']);
    clock.advance(11_999);
    await settleIo(10);
    expect(fake.hitsTo('transfer-disconnect')).toHaveLength(0);
    clock.advance(1);
    await c.closed;
    const causes = fake.hitsTo('transfer-disconnect').map((h) => [h.body.transferTo, h.body.cause, h.body.endTime]);
    expect(causes).toEqual([
      [HUMAN, 'timeout', iso(12_100)],
      ['+19195550188', 'timeout', iso(12_100)], // an answer after callTimeout is a timeout too
    ]);
    const record = c.transfers[0]!;
    expect(new Set(record.legs.map((l) => l.bLegCallId)).size).toBe(2);
    expect(fake.hitsTo('transfer-complete')[0]!.body).toMatchObject({ cause: 'timeout', errorMessage: expect.stringMatching(/12 seconds/), transferTo: '+19195550188' });
    expect(fake.hitsTo('transfer-answer')).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'no-answer', cause: 'timeout', callTimeoutMs: 12_000 });
  });

  it('simultaneous ringing: the first to answer wins, legs still ringing are cancelled, earlier failures reported as they happen', async () => {
    const others = ['+19195550181', '+19195550182'];
    fake.on('transfer', (_h, f) => transferXml(f, { targets: [others[0]!, HUMAN, others[1]!] }));
    const c = await dialed((t) =>
      t.address === others[0] ? { outcome: 'rejected', ringMs: 500 } : t.address === HUMAN ? { outcome: 'answered', ringMs: 2000, talkMs: 1000 } : { outcome: 'no-answer' },
    );
    await redirectTo(c, 'transfer');
    clock.advance(500);
    await until(() => fake.hitsTo('transfer-disconnect').length === 1);
    clock.advance(1500);
    await until(() => c.transferInProgress?.state === 'bridged');
    clock.advance(1000);
    await c.closed;
    expect(fake.hitsTo('transfer-disconnect').map((h) => [h.body.transferTo, h.body.cause, h.body.endTime])).toEqual([
      [others[0], 'rejected', iso(600)],
      [others[1], 'cancel', iso(2100)],
      [HUMAN, 'hangup', iso(3100)],
    ]);
    expect(fake.hitsTo('transfer-answer').map((h) => h.body.transferTo)).toEqual([HUMAN]);
    const record = c.transfers[0]!;
    expect(record.legs.map((l) => l.outcome)).toEqual(['rejected', 'answered', 'cancelled']);
    expect(record.target.address).toBe(HUMAN);
    expect(record.bLegCallId).toBe(record.legs[1]!.bLegCallId);
    expect(fake.hitsTo('transfer-complete')[0]!.body).toMatchObject({ transferTo: HUMAN, cause: 'hangup' });
  });

  it('without transferCompleteUrl the verbs after <Transfer> run when it ends', async () => {
    fake.on('transfer', (_h, f) => transferXml(f, { complete: false, after: '<SpeakSentence>Back to you.</SpeakSentence><Hangup/>' }));
    const c = await dialed(() => ({ outcome: 'error', ringMs: 300 }));
    await redirectTo(c, 'transfer');
    clock.advance(300);
    expect(await c.closed).toMatchObject({ reason: 'bxml-hangup', atMs: 400 });
    expect(c.spoken.map((s) => s.text)).toEqual(['Back to you.']);
    expect(fake.hitsTo('transfer-disconnect')[0]!.body).toMatchObject({ cause: 'error' });
    expect(fake.hitsTo('transfer-complete')).toHaveLength(0);
    expect(c.transfers[0]).toMatchObject({ outcome: 'error', cause: 'error', transferCompleteSent: false });
  });

  it('the caller hangs up on the human: transferDisconnect (hangup) for the B-leg, then disconnect; no transferComplete', async () => {
    fake.on('transfer', (_h, f) => transferXml(f));
    const c = await dialed(() => ({ outcome: 'answered', ringMs: 1000, talkMs: 4000, hangsUp: 'caller' }));
    await redirectTo(c, 'transfer');
    clock.advance(1000);
    await until(() => c.transferInProgress?.state === 'bridged');
    clock.advance(4000);
    expect(await c.closed).toMatchObject({ reason: 'caller-hangup', cause: 'hangup', atMs: 5100 });
    expect(fake.eventTypes.slice(-2)).toEqual(['transferDisconnect', 'disconnect']);
    expect(fake.hitsTo('transfer-disconnect')[0]!.body).toMatchObject({ cause: 'hangup', answerTime: iso(1100), endTime: iso(5100) });
    expect(fake.hitsTo('transfer-complete')).toHaveLength(0);
    expect(c.transfers[0]).toMatchObject({ outcome: 'answered', endedBy: 'caller', transferCompleteSent: false, state: 'ended' });
  });

  it('hangup() during the bridge: the B-leg gets transferDisconnect (hangup); a leg cancelled at the answer got cancel; a forbidden whisper verb is flagged', async () => {
    fake.on('transfer', (_h, f) => transferXml(f, { targets: [HUMAN, '+19195550188'] }));
    fake.on('transfer-answer', '<Response><SpeakSentence>Hi</SpeakSentence><Transfer><PhoneNumber>+19195550199</PhoneNumber></Transfer></Response>');
    const c = await dialed((t) => (t.address === HUMAN ? { outcome: 'answered', ringMs: 1000, talkMs: 10_000 } : { outcome: 'no-answer' }));
    await redirectTo(c, 'transfer');
    clock.advance(1000);
    await until(() => c.transferInProgress?.state === 'bridged');
    expect(c.transfers[0]!.whisper?.texts).toEqual(['Hi']);
    expect(c.transfers[0]!.violations).toEqual([expect.stringMatching(/<Transfer> is not allowed in a transferAnswer response/)]);
    await c.hangup();
    expect(fake.hitsTo('transfer-disconnect').map((h) => [h.body.transferTo, h.body.cause])).toEqual([
      ['+19195550188', 'cancel'],
      [HUMAN, 'hangup'],
    ]);
    expect(fake.eventTypes.at(-1)).toBe('disconnect');
    expect(clock.pendingTimers).toBe(0);
  });

  it('updateCallBxml during a ringing transfer cancels its legs (SipUri too), then the new BXML runs; no transferComplete', async () => {
    const u = fake.url;
    const creds = `username="${CALLBACK.username}" password="${CALLBACK.password}"`;
    fake.on(
      'transfer',
      `<Response><StopStream name="ai-agent"/><Transfer transferCompleteUrl="${u}/bandwidth/voice/transfer-complete" ${creds} tag="xfer">` +
        `<SipUri uui="YWJj;encoding=base64" transferDisconnectUrl="${u}/bandwidth/voice/transfer-disconnect" ${creds} tag="sip-leg">sip:agent@example.com</SipUri>` +
        `</Transfer></Response>`,
    );
    const c = await dialed(() => ({ outcome: 'answered', ringMs: 5000 }));
    await redirectTo(c, 'transfer');
    expect(targets[0]).toMatchObject({ kind: 'sip', address: 'sip:agent@example.com', uui: 'YWJj;encoding=base64' });
    expect(c.tag).toBe('xfer'); // the Transfer's tag applies to the A-leg
    clock.advance(1000);
    await c.updateCallBxml('<Bxml><SpeakSentence>Never mind.</SpeakSentence><Hangup/></Bxml>');
    await c.closed;
    expect(fake.hitsTo('transfer-disconnect').map((h) => [h.body.transferTo, h.body.cause, h.body.tag, h.body.endTime])).toEqual([['sip:agent@example.com', 'cancel', 'sip-leg', iso(1100)]]);
    expect(fake.eventTypes.slice(-2)).toEqual(['transferDisconnect', 'disconnect']);
    expect(c.spoken.map((x) => x.text)).toEqual(['Never mind.']);
    expect(c.transfers[0]).toMatchObject({ state: 'ended', outcome: 'cancelled', endedBy: 'interrupted', transferCompleteSent: false });
    clock.advance(10_000);
    await settleIo(10);
    expect(fake.hitsTo('transfer-answer')).toHaveLength(0);
    expect(fake.hitsTo('transfer-complete')).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a StartStream named like the running stream is rejected as duplicate, and execution moves on', async () => {
    fake.on('initiate', (_h, f) => f.streamBxml().replace('<StopStream', `${f.streamBxml().match(/<StartStream[\s\S]*?<\/StartStream>/)![0]}<StopStream`));
    const c = await dialed(() => ({ outcome: 'busy' }));
    await until(() => fake.streamEvents('mediaStreamRejected').length === 1);
    const [rejected] = fake.streamEvents('mediaStreamRejected');
    expect(Object.keys(rejected!.body).sort()).toEqual(Object.keys(callbackFixture('mediaStreamRejected-duplicate')).filter((k) => k !== 'tag').sort());
    expect(rejected!.body).toMatchObject({ cause: 'duplicate', errorMessage: 'A stream with the name ai-agent already exists', originalMediaStream: { id: c.streams[0]!.id, name: 'ai-agent' } });
    expect(c.streams.map((s) => s.endedBy)).toEqual([undefined, 'duplicate']);
    expect(c.stream).toBe(c.streams[0]);
    expect(c.connected).toBe(true);
    expect(fake.connections).toHaveLength(1);
  });
});
