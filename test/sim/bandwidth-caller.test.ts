import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { mulawToPcm16, pcm16FromBytes, pcm16ToBytes, pcm16ToMulaw, Resampler } from '../../src/bridge/codec';
import { buildWav, parseRawWav } from '../../src/bridge/wav';
import { ManualClock, settleIo } from '../../src/clock';
import {
  FRAME_BYTES,
  CallNotModifiableError,
  InitiateFailedError,
  SimulatedCall,
  audioSource,
  basicAuthHeader,
  fromMulaw,
  fromWavFile,
  isoDuration,
  mulawFromWav,
  mulawRmsDbfs,
  pcmContentType,
  playedPerItem,
  speechLikeAudio,
  type SimulatedCallOptions,
} from '../../src/sim/bandwidth-caller';
import { callbackFixture, FIXTURES_DIR } from '../helpers/fixtures';

const CALLBACK = { username: 'bw-callbacks', password: 's3cr3t-Callback-Pass' };
const MEDIA = { username: 'bw-media', password: 'Med1a-WS-Pass' };
const CALL_ID = 'c-6f2a91d4-8b3c17e0-4a5d-4c1e-9f7b-2d6e8a0c4b13';
const FALLBACK_XML = fs.readFileSync(path.join(FIXTURES_DIR, 'bxml/stream-ended-fallback-response.xml'), 'utf8');
const TRANSFER_XML = `<?xml version="1.0" encoding="UTF-8"?>
<Response><StopStream name="ai-agent"/><Transfer transferCallerId="+19195550100"><PhoneNumber>+19195550177</PhoneNumber></Transfer></Response>`;
const wsFixture = (name: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, 'ws', `${name}.json`), 'utf8')) as Record<string, any>;

// ---------------------------------------------------------------------------------------------------
// A small fake Switchboard: express callbacks + a ws media endpoint with Basic auth on the upgrade.

interface HttpHit {
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, any>;
}

interface FakeOptions {
  /** What the initiate BXML puts in destinationUsername/destinationPassword. */
  bxmlMedia?: { username: string; password: string };
  tracks?: string;
  /** The verb after StartStream (default StopStream wait + Redirect). */
  hold?: 'stopstream-redirect' | 'pause';
  /** Override the initiate response completely. */
  initiate?: (url: string) => { status: number; type: string; body: string };
}

class FakeSwitchboard {
  url = '';
  readonly hits: HttpHit[] = [];
  /** Requests answered 401 (not in `hits`). */
  readonly refused: HttpHit[] = [];
  readonly upgrades: { url: string; authorization: string | undefined; accepted: boolean }[] = [];
  readonly frames: Record<string, any>[] = [];
  readonly frameTexts: string[] = [];
  socket: WebSocket | undefined;
  closeCode: number | undefined;
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(private readonly options: FakeOptions = {}) {
    const app = express();
    app.use(express.json());
    const expected = basicAuthHeader(CALLBACK);
    app.post('/bandwidth/voice/:route', (req, res) => {
      const hit = { path: req.path, authorization: req.headers.authorization, contentType: req.headers['content-type'], body: req.body as Record<string, any> };
      // Refused requests (the stand-in's challenge-first attempts, BW §1.8) are kept apart from the callbacks served.
      if (req.headers.authorization !== expected) {
        this.refused.push(hit);
        res.status(401).set('www-authenticate', 'Basic realm="x"').json({ error: 'auth' });
        return;
      }
      this.hits.push(hit);
      const route = req.params.route;
      if (route === 'initiate') {
        if (this.options.initiate) {
          const r = this.options.initiate(this.url);
          res.status(r.status).type(r.type).send(r.body);
          return;
        }
        res.type('application/xml; charset=utf-8').send(this.initiateXml());
      } else if (route === 'stream-ended') {
        res.type('application/xml; charset=utf-8').send(FALLBACK_XML);
      } else if (route === 'redirect') {
        res.type('application/xml; charset=utf-8').send(TRANSFER_XML);
      } else {
        res.status(204).end();
      }
    });
    this.server = http.createServer(app);
    this.server.on('upgrade', (req, sock, head) => {
      const ok = req.url?.startsWith('/media/tok-123') && req.headers.authorization === basicAuthHeader(MEDIA);
      this.upgrades.push({ url: req.url ?? '', authorization: req.headers.authorization, accepted: !!ok });
      if (!ok) {
        sock.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, sock, head, (ws) => {
        this.socket = ws;
        ws.on('message', (data) => {
          const text = data.toString();
          this.frameTexts.push(text);
          this.frames.push(JSON.parse(text) as Record<string, any>);
        });
        ws.on('close', (code) => (this.closeCode = code));
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  initiateXml(): string {
    const media = this.options.bxmlMedia ?? MEDIA;
    const wsUrl = `${this.url.replace(/^http/, 'ws')}/media/tok-123`;
    const hold =
      this.options.hold === 'pause'
        ? '<Pause duration="86400"/>'
        : `<StopStream name="ai-agent" wait="true"/>
  <Redirect redirectUrl="${this.url}/bandwidth/voice/stream-ended" redirectMethod="POST" username="${CALLBACK.username}" password="${CALLBACK.password}"/>`;
    return `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <StartStream name="ai-agent" mode="bidirectional" tracks="${this.options.tracks ?? 'inbound'}" destination="${wsUrl}" destinationUsername="${media.username}" destinationPassword="${media.password}" streamEventUrl="${this.url}/bandwidth/voice/stream-events" streamEventMethod="POST" username="${CALLBACK.username}" password="${CALLBACK.password}">
    <StreamParam name="callId" value="${CALL_ID}"/>
    <StreamParam name="session" value="k7QpZ2xN4r"/>
  </StartStream>
  ${hold}
</Response>`;
  }

  hitsTo(route: string): HttpHit[] {
    return this.hits.filter((h) => h.path === `/bandwidth/voice/${route}`);
  }

  streamEvents(eventType: string): HttpHit[] {
    return this.hitsTo('stream-events').filter((h) => h.body.eventType === eventType);
  }

  media(track = 'inbound'): Record<string, any>[] {
    return this.frames.filter((f) => f.eventType === 'media' && f.track === track);
  }

  send(message: unknown): void {
    if (!this.socket) throw new Error('no media socket');
    this.socket.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  playPcmu(bytes: Buffer): void {
    this.send({ eventType: 'playAudio', media: { contentType: 'audio/pcmu', payload: bytes.toString('base64') } });
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Let loopback I/O run until `cond` holds (real time, bounded). */
async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await settleIo(2);
    if (i > 50) await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Bytes with a recognisable pattern (never 0xFF), for playout checks. */
function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) % 200;
  return b;
}

function joinedPayloads(frames: Record<string, any>[]): Buffer {
  return Buffer.concat(frames.map((f) => Buffer.from(f.payload as string, 'base64')));
}

describe('SimulatedCall (Bandwidth caller stand-in)', () => {
  let fake: FakeSwitchboard;
  let clock: ManualClock;
  let call: SimulatedCall | undefined;

  async function setup(fakeOptions: FakeOptions = {}, callOptions: Partial<SimulatedCallOptions> = {}): Promise<SimulatedCall> {
    fake = await new FakeSwitchboard(fakeOptions).start();
    clock = new ManualClock(0);
    call = new SimulatedCall({ baseUrl: fake.url, callbackAuth: CALLBACK, clock, callId: CALL_ID, epochMs: Date.parse('2026-11-20T15:04:05.141Z'), ...callOptions });
    return call;
  }

  async function dialed(fakeOptions: FakeOptions = {}, callOptions: Partial<SimulatedCallOptions> = {}): Promise<SimulatedCall> {
    const c = await setup(fakeOptions, callOptions);
    await c.dial();
    await until(() => fake.frames.length >= 1 && fake.streamEvents('mediaStreamStarted').length === 1, 'start frame and mediaStreamStarted');
    return c;
  }

  afterEach(async () => {
    call?.destroy();
    call = undefined;
    await fake?.close();
  });

  describe('dialling and the start of the stream', () => {
    it('POSTs initiate shaped like the fixture, with the CallbackCreds as Basic auth', async () => {
      await dialed();
      const [hit] = fake.hitsTo('initiate');
      expect(hit!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(hit!.contentType).toMatch(/^application\/json/);
      expect(Object.keys(hit!.body)).toEqual(Object.keys(callbackFixture('initiate')));
      expect(hit!.body).toMatchObject({
        eventType: 'initiate',
        direction: 'inbound',
        callId: CALL_ID,
        from: '+19195550142',
        to: '+19195550100',
        accountId: '9901234',
        startTime: '2026-11-20T15:04:05.141Z',
        callUrl: `https://voice.bandwidth.com/api/v2/accounts/9901234/calls/${CALL_ID}`,
      });
      expect(call!.initiateBxml?.root.name).toBe('Response');
    });

    it('generates callIds in the c-xxxxxxxx-uuid format and streamIds sharing the prefix', async () => {
      const c = await setup({}, { callId: undefined });
      await c.dial();
      expect(c.callId).toMatch(/^c-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(c.stream?.id).toMatch(new RegExp(`^s-${c.callId.slice(2, 10)}-[0-9a-f]{8}-`));
    });

    it('upgrades with Basic destinationUsername:destinationPassword and sends start first, eventType last', async () => {
      const c = await dialed();
      expect(fake.upgrades).toEqual([{ url: '/media/tok-123', authorization: basicAuthHeader(MEDIA), accepted: true }]);
      const start = fake.frames[0]!;
      expect(Object.keys(start)).toEqual(['metadata', 'streamParams', 'eventType']);
      expect(start.eventType).toBe('start');
      expect(start.metadata).toEqual({
        accountId: '9901234',
        callId: CALL_ID,
        streamId: c.stream!.id,
        streamName: 'ai-agent',
        tracks: [{ name: 'inbound', mediaFormat: { encoding: 'PCMU', sampleRate: 8000 } }],
      });
      expect(Object.keys(start.metadata)).toEqual(Object.keys(wsFixture('start').metadata));
      expect(start.streamParams).toEqual({ callId: CALL_ID, session: 'k7QpZ2xN4r' });
      expect(c.streamStartedAtMs).toBe(0);
      expect(c.connected).toBe(true);
    });

    it('POSTs mediaStreamStarted to streamEventUrl with the StartStream credentials', async () => {
      const c = await dialed();
      const [started] = fake.streamEvents('mediaStreamStarted');
      expect(started!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(Object.keys(started!.body).sort()).toEqual(Object.keys(callbackFixture('mediaStreamStarted')).sort());
      expect(started!.body.mediaStream).toEqual({
        destination: `${fake.url.replace('http', 'ws')}/media/tok-123`,
        id: c.stream!.id,
        name: 'ai-agent',
        startTime: '2026-11-20T15:04:05.141Z',
        tracks: ['inbound'],
        type: 'WebSocket',
      });
      expect(started!.body).not.toHaveProperty('cause');
    });

    it('rejects dial() when initiate fails, after sending disconnect with cause callback-error', async () => {
      const c = await setup({ initiate: () => ({ status: 500, type: 'text/plain', body: 'boom' }) });
      await expect(c.dial()).rejects.toBeInstanceOf(InitiateFailedError);
      expect(fake.hitsTo('status')[0]!.body).toMatchObject({ eventType: 'disconnect', cause: 'callback-error' });
      expect((await c.closed).reason).toBe('callback-error');
    });

    it('rejects dial() on a 200 that is not XML', async () => {
      const c = await setup({ initiate: () => ({ status: 200, type: 'application/json', body: '{}' }) });
      await expect(c.dial()).rejects.toThrow(/not XML/);
    });
  });

  describe('media cadence', () => {
    it('sends exactly 50 media frames per 1000 ms of clock time, sequence "1", "2", …, silence while nobody talks', async () => {
      const c = await dialed();
      await clock.advanceAsync(1000);
      await until(() => fake.media().length === 50, '50 frames');
      const media = fake.media();
      expect(media.map((f) => f.sequenceNumber)).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
      for (const f of media) {
        expect(Object.keys(f)).toEqual(['track', 'payload', 'sequenceNumber', 'eventType']);
        expect(f.track).toBe('inbound');
        const bytes = Buffer.from(f.payload as string, 'base64');
        expect(bytes.length).toBe(FRAME_BYTES);
        expect(bytes.every((b) => b === 0xff)).toBe(true);
      }
      // No frame before 20 ms, then one per 20 ms.
      expect(c.sent.filter((s) => s.eventType === 'media').map((s) => s.atMs)).toEqual(Array.from({ length: 50 }, (_, i) => (i + 1) * 20));
      await clock.advanceAsync(1000, 100);
      await until(() => fake.media().length === 100, '100 frames');
      expect(c.stats.inboundFramesSent).toBe(100);
      expect(fake.media()[99]!.sequenceNumber).toBe('100');
    });

    it('sends what the caller says, byte for byte, at the right times; sentInbound matches what arrived', async () => {
      const speech = speechLikeAudio({ startMs: 100, durationMs: 300, seed: 7 });
      const c = await dialed({}, { audio: speech });
      await clock.advanceAsync(600);
      await until(() => fake.media().length === 30, '30 frames');
      const arrived = joinedPayloads(fake.media());
      expect(arrived.equals(c.sentInbound)).toBe(true);
      expect(arrived.length).toBe(600 * 8);
      expect(arrived.subarray(0, 800).every((b) => b === 0xff)).toBe(true);
      expect(arrived.subarray(800, 3200).equals(Buffer.from(speech.segments[0]!.mulaw))).toBe(true);
      expect(arrived.subarray(3200).every((b) => b === 0xff)).toBe(true);
    });

    it('say() schedules speech from the next frame boundary', async () => {
      const c = await dialed();
      await clock.advanceAsync(200);
      const words = pattern(1600, 3);
      expect(c.say(words, { delayMs: 40 })).toEqual({ streamMs: 240, atMs: 240 });
      await clock.advanceAsync(600);
      await until(() => fake.media().length === 40, '40 frames');
      const arrived = joinedPayloads(fake.media());
      expect(arrived.subarray(240 * 8, 240 * 8 + 1600).equals(words)).toBe(true);
      expect(arrived.subarray(0, 240 * 8).every((b) => b === 0xff)).toBe(true);
      expect(arrived.subarray(240 * 8 + 1600).every((b) => b === 0xff)).toBe(true);
    });

    it('with tracks="both", sends an outbound-track frame per tick carrying what the caller hears', async () => {
      const c = await dialed({ tracks: 'both' });
      expect(fake.frames[0]!.metadata.tracks.map((t: { name: string }) => t.name)).toEqual(['inbound', 'outbound']);
      const audio = pattern(800, 9);
      fake.playPcmu(audio);
      await until(() => c.stats.playAudioMessages === 1);
      await clock.advanceAsync(200);
      await until(() => fake.media('outbound').length === 10, '10 outbound frames');
      expect(fake.media('inbound').map((f) => f.sequenceNumber)).toEqual(fake.media('outbound').map((f) => f.sequenceNumber));
      const out = joinedPayloads(fake.media('outbound'));
      expect(out.subarray(0, 800).equals(audio)).toBe(true);
      expect(out.subarray(800).every((b) => b === 0xff)).toBe(true);
    });
  });

  describe('carrier playout', () => {
    it('plays one 500 ms playAudio over 500 ms of clock time, 20 ms per tick, and records it exactly', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0 });
      const audio = pattern(4000);
      fake.playPcmu(audio);
      await until(() => c.stats.playAudioMessages === 1, 'playAudio');
      expect(c.received[0]).toMatchObject({ atMs: 0, kind: 'playAudio', queuedBytes: 4000 });
      expect(c.queuedMs).toBe(500);
      for (let t = 1; t <= 25; t++) {
        await clock.advanceAsync(20);
        expect(c.heard.totalMs).toBe(20 * t);
        expect(c.queuedMs).toBe(500 - 20 * t);
      }
      await clock.advanceAsync(200);
      const heard = c.heard;
      expect(heard.totalMs).toBe(500);
      expect(heard.audio.equals(audio)).toBe(true);
      expect(heard.segments).toEqual([{ startMs: 20, endMs: 520, bytes: 4000 }]);
      expect(heard.firstHeardMs).toBe(20);
      expect(heard.firstHeardAtMs).toBe(20);
      expect(c.stats).toMatchObject({ heardBytes: 4000, queuedBytes: 4000, clearedBytes: 0, maxQueueBytes: 4000, invalidMessages: 0 });
    });

    it('holds audio for playoutLatencyMs before it can be heard', async () => {
      const c = await dialed({}, { playoutLatencyMs: 40 });
      await clock.advanceAsync(100);
      fake.playPcmu(pattern(320));
      await until(() => c.stats.playAudioMessages === 1);
      await clock.advanceAsync(200);
      expect(c.heard.segments).toEqual([{ startMs: 140, endMs: 180, bytes: 320 }]);
      expect(c.heard.firstHeardMs).toBe(140);
    });

    it('clear stops playout within one frame; what was not yet heard is never heard', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0 });
      const audio = pattern(8000);
      fake.playPcmu(audio);
      await until(() => c.stats.playAudioMessages === 1);
      await clock.advanceAsync(300);
      fake.send({ eventType: 'clear' });
      await until(() => c.stats.clearMessages === 1, 'clear');
      const clear = c.receivedOf('clear')[0]!;
      expect(clear.atMs).toBe(300);
      await clock.advanceAsync(500);
      const heard = c.heard;
      expect(heard.segments).toHaveLength(1);
      expect(heard.segments[0]!.endMs).toBeLessThanOrEqual(clear.atMs + 20);
      expect(heard.audio.equals(audio.subarray(0, heard.audio.length))).toBe(true);
      expect(heard.audio.length).toBe(2400);
      expect(clear.clearedBytes).toBe(8000 - 2400);
      expect(c.stats.clearedBytes).toBe(5600);
      expect(c.queuedMs).toBe(0);
      // Audio after the clear plays again.
      fake.playPcmu(pattern(160, 1));
      await until(() => c.stats.playAudioMessages === 2);
      await clock.advanceAsync(40);
      expect(c.heard.segments).toHaveLength(2);
      expect(c.heard.segments[1]).toEqual({ startMs: 820, endMs: 840, bytes: 160 });
    });

    it('with a jitter buffer, audio reaching an empty carrier waits jitterBufferMs; audio behind playing audio does not', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0, jitterBufferMs: 60 });
      fake.playPcmu(pattern(800)); // 100 ms into an empty carrier at 0: plays from 60
      await until(() => c.stats.playAudioMessages === 1);
      await clock.advanceAsync(140);
      fake.playPcmu(pattern(800, 1)); // at 140, while the first still plays (until 160): no wait
      await until(() => c.stats.playAudioMessages === 2);
      await clock.advanceAsync(360);
      fake.playPcmu(pattern(400, 2)); // at 500, the carrier ran dry at 260: waits again, plays from 560
      await until(() => c.stats.playAudioMessages === 3);
      await clock.advanceAsync(200);
      expect(c.heard.segments).toEqual([
        { startMs: 60, endMs: 260, bytes: 1600 },
        { startMs: 560, endMs: 610, bytes: 400 },
      ]);
    });

    it('reports each run of playAudio between clears with what of it was played (the ground truth for truncation)', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0 });
      fake.playPcmu(pattern(2400)); // 300 ms
      await until(() => c.stats.playAudioMessages === 1);
      await clock.advanceAsync(110); // frames taken at 20, 40, …, 100; the one at 100 is heard in full
      fake.send({ eventType: 'clear' });
      await until(() => c.stats.clearMessages === 1);
      fake.playPcmu(pattern(800, 1));
      fake.playPcmu(pattern(1600, 2));
      await until(() => c.stats.playAudioMessages === 3);
      await clock.advanceAsync(100);
      const runs = c.playoutRuns;
      expect(runs).toEqual([
        { startedAtMs: 0, receivedBytes: 2400, playedBytes: 800, endedAtMs: 110, endedBy: 'clear' },
        { startedAtMs: 110, receivedBytes: 2400, playedBytes: 800 },
      ]);
      // Two items in the second run, 100 ms and 200 ms long, sent in that order.
      expect(playedPerItem(runs[1]!, [100, 200])).toEqual([100, 0]);
      expect(playedPerItem(runs[0]!, [300])).toEqual([100]);
    });

    it('queues chunked playAudio in order, gapless', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0 });
      const audio = pattern(1000, 5);
      for (const [a, b] of [[0, 100], [100, 417], [417, 1000]] as const) fake.playPcmu(audio.subarray(a, b));
      await until(() => c.stats.playAudioMessages === 3);
      await clock.advanceAsync(200);
      expect(c.heard.audio.equals(audio)).toBe(true);
      expect(c.heard.segments).toEqual([{ startMs: 20, endMs: 145, bytes: 1000 }]);
    });

    it('accepts playAudio in 24 kHz PCM (the fixture), resampled to 8 kHz μ-law through the anti-alias filter', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0 });
      const fixture = wsFixture('playAudio-pcm24k');
      expect(fixture.media.contentType).toBe(pcmContentType(24000));
      fake.send(fixture);
      await until(() => c.stats.playAudioMessages === 1);
      await clock.advanceAsync(60);
      const pcm = Buffer.from(fixture.media.payload as string, 'base64');
      const filter = new Resampler('24k->8k');
      const expected = filter.process(pcm16FromBytes(pcm));
      expect(expected.length).toBe(160);
      expect(c.heard.audio.equals(Buffer.from(pcm16ToMulaw(expected)))).toBe(true);
      expect(c.heard.totalMs).toBe(20);
      let sum = 0;
      for (let k = 0; k < pcm.length / 2; k++) sum += pcm.readInt16LE(2 * k) ** 2;
      const sourceDbfs = 20 * Math.log10(Math.sqrt(sum / (pcm.length / 2)) / 32768);
      // The 440 Hz tone survived at its level once the filter's 1.625 ms group delay has passed.
      expect(Math.abs(mulawRmsDbfs(c.heard.audio.subarray(filter.delaySamples)) - sourceDbfs)).toBeLessThan(0.5);
    });

    it('carries a partial PCM sample group across playAudio messages', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0 });
      const pcm = Buffer.from(wsFixture('playAudio-pcm24k').media.payload as string, 'base64');
      for (const part of [pcm.subarray(0, 481), pcm.subarray(481)]) {
        fake.send({ eventType: 'playAudio', media: { contentType: pcmContentType(24000), payload: part.toString('base64') } });
      }
      await until(() => c.stats.playAudioMessages === 2);
      await clock.advanceAsync(60);
      // The same as the whole payload in one piece: the half sample is carried, the filter history kept.
      const whole = new Resampler('24k->8k').process(pcm16FromBytes(pcm));
      expect(c.heard.audio.equals(Buffer.from(pcm16ToMulaw(whole)))).toBe(true);
    });

    it('counts invalid and unknown messages, keeps going, and plays nothing for them', async () => {
      const c = await dialed({}, { playoutLatencyMs: 0 });
      fake.send('not json');
      fake.send(Buffer.from([1, 2, 3]));
      fake.send('[1,2]');
      fake.send({ media: {} });
      fake.send({ eventType: 'mark', mark: { name: 'x' } });
      fake.send({ eventType: 'playAudio', media: { contentType: 'audio/PCMU', payload: pattern(160).toString('base64') } });
      fake.send({ eventType: 'playAudio', media: { contentType: 'audio/pcm;rate=24000', payload: 'AAAA' } });
      fake.send({ eventType: 'playAudio', media: { contentType: 'audio/pcmu', payload: '***' } });
      fake.send({ eventType: 'playAudio' });
      await until(() => c.received.length === 9, '9 messages');
      expect(c.stats).toMatchObject({ invalidMessages: 8, unknownMessages: 1, binaryMessages: 1, playAudioMessages: 0 });
      expect(c.receivedOf('unknown')[0]).toMatchObject({ eventType: 'mark' });
      expect(c.receivedOf('invalid').map((m) => m.error)).toEqual([
        'not JSON',
        'binary frame (Bandwidth takes JSON text frames)',
        'not a JSON object',
        'no string eventType',
        'unsupported playAudio contentType "audio/PCMU"',
        'unsupported playAudio contentType "audio/pcm;rate=24000"',
        'playAudio payload is not valid base64',
        'playAudio without media.contentType',
      ]);
      await clock.advanceAsync(200);
      await until(() => fake.media().length === 10);
      expect(c.heard.totalMs).toBe(0);
      expect(c.connected).toBe(true);
    });
  });

  describe('ending the call', () => {
    it('hangup(): stop frame (start metadata, no streamParams), close, mediaStreamStopped, disconnect', async () => {
      const c = await dialed();
      await clock.advanceAsync(200);
      const end = await c.hangup();
      expect(end).toMatchObject({ reason: 'caller-hangup', cause: 'hangup', atMs: 200 });
      await until(() => fake.closeCode !== undefined, 'socket close');
      const stop = fake.frames[fake.frames.length - 1]!;
      expect(Object.keys(stop)).toEqual(['metadata', 'eventType']);
      expect(stop).toEqual({ metadata: fake.frames[0]!.metadata, eventType: 'stop' });
      expect(fake.closeCode).toBe(1000);
      expect(fake.media()).toHaveLength(10);

      const [stopped] = fake.streamEvents('mediaStreamStopped');
      expect(stopped!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(stopped!.body).toMatchObject({ cause: 'closed', mediaStream: { id: c.stream!.id, name: 'ai-agent', duration: 'PT0.2S', type: 'WebSocket' } });
      expect(stopped!.body).not.toHaveProperty('errorMessage');
      expect(Object.keys(stopped!.body).sort()).toEqual(Object.keys(callbackFixture('mediaStreamStopped')).sort());

      const [disconnect] = fake.hitsTo('status');
      expect(disconnect!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(disconnect!.body).toMatchObject({ eventType: 'disconnect', cause: 'hangup', callId: CALL_ID, endTime: '2026-11-20T15:04:05.341Z' });
      expect(Object.keys(disconnect!.body).sort()).toEqual(Object.keys(callbackFixture('disconnect')).sort());
      expect(fake.hitsTo('stream-ended')).toHaveLength(0); // the call is gone: no Redirect
      expect(await c.closed).toBe(end);
      expect(c.stream).toMatchObject({ endedBy: 'caller', cause: 'closed', endedAtMs: 200 });

      await clock.advanceAsync(200);
      expect(c.stats.inboundFramesSent).toBe(10);
      expect(clock.pendingTimers).toBe(0);
      expect(await c.hangup()).toBe(end); // idempotent
      expect(fake.hitsTo('status')).toHaveLength(1);
    });

    it('server closes first (StopStream wait): mediaStreamStopped, then the Redirect, whose BXML is afterStream', async () => {
      const c = await dialed();
      await clock.advanceAsync(100);
      fake.socket!.close(1000);
      const end = await c.closed;
      expect(fake.streamEvents('mediaStreamStopped')[0]!.body).toMatchObject({ cause: 'closed', mediaStream: { duration: 'PT0.1S' } });
      const [redirect] = fake.hitsTo('stream-ended');
      expect(redirect!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(Object.keys(redirect!.body)).toEqual(Object.keys(callbackFixture('redirect')).filter((k) => k !== 'tag'));
      expect(redirect!.body).toMatchObject({ eventType: 'redirect', callId: CALL_ID });
      expect(c.afterStream?.xml).toBe(FALLBACK_XML);
      expect(c.spoken).toEqual([expect.objectContaining({ verb: 'SpeakSentence', text: expect.stringMatching(/^Sorry/) })]);
      expect(end).toMatchObject({ reason: 'bxml-hangup', cause: 'hangup' });
      expect(fake.hitsTo('status')[0]!.body).toMatchObject({ eventType: 'disconnect', cause: 'hangup' });
      expect(c.stream).toMatchObject({ endedBy: 'server', closeCode: 1000, cause: 'closed' });
      expect(fake.frames.some((f) => f.eventType === 'stop')).toBe(false);
      expect(clock.pendingTimers).toBe(0);
    });

    it('an abnormal close (1006) is reported as connection-error', async () => {
      const c = await dialed();
      fake.socket!.terminate();
      await c.closed;
      expect(fake.streamEvents('mediaStreamStopped')[0]!.body).toMatchObject({
        cause: 'connection-error',
        errorMessage: 'WebSocket connection to destination closed abnormally (code 1006)',
      });
      expect(fake.hitsTo('stream-ended')).toHaveLength(1);
    });

    it('with a Pause hold, the call stays up after the socket closes, until the Pause ends', async () => {
      const c = await dialed({ hold: 'pause' });
      fake.socket!.close(1000);
      await until(() => fake.streamEvents('mediaStreamStopped').length === 1);
      await settleIo();
      expect(c.ended).toBeUndefined();
      expect(fake.hitsTo('status')).toHaveLength(0);
      clock.advance(86_400_000);
      expect(await c.closed).toMatchObject({ reason: 'end-of-bxml', cause: 'hangup' });
      expect(fake.hitsTo('status')).toHaveLength(1);
    });
  });

  describe('Calls API updates and verbs the stand-in does not model', () => {
    it('updateCall redirect interrupts StopStream wait; StopStream stops the stream; the call is held at the ringing Transfer', async () => {
      const c = await dialed();
      await clock.advanceAsync(100);
      await c.updateCall({ redirectUrl: `${fake.url}/bandwidth/voice/redirect`, username: CALLBACK.username, password: CALLBACK.password, tag: 'ai:transfer' });
      const [redirect] = fake.hitsTo('redirect');
      expect(redirect!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(redirect!.body).toMatchObject({ eventType: 'redirect', tag: 'ai:transfer' });
      await until(() => fake.closeCode !== undefined);
      expect(fake.frames[fake.frames.length - 1]!.eventType).toBe('stop');
      expect(fake.streamEvents('mediaStreamStopped')[0]!.body).toMatchObject({ cause: 'closed', tag: 'ai:transfer' });
      expect(c.stream).toMatchObject({ endedBy: 'bxml' });
      expect(c.heldAt).toEqual({ verb: 'Transfer', atMs: 100 });
      expect(c.ended).toBeUndefined();
      expect(fake.hitsTo('stream-ended')).toHaveLength(0); // the interrupted document's Redirect never runs
      expect(clock.pendingTimers).toBe(1); // the transfer target ringing (default: answers after 2 s)
      expect(c.transferInProgress).toMatchObject({ state: 'ringing', target: { kind: 'phone', address: '+19195550177' } });
      const end = await c.hangup();
      expect(end.reason).toBe('caller-hangup');
      expect(fake.hitsTo('status')[0]!.body).toMatchObject({ cause: 'hangup', tag: 'ai:transfer' });
      expect(c.transfers[0]).toMatchObject({ state: 'ended', outcome: 'cancelled', cause: 'cancel', endedBy: 'caller', transferCompleteSent: false });
      expect(c.heldAt).toBeUndefined();
      expect(clock.pendingTimers).toBe(0);
    });

    it("updateCall({ state: 'completed' }) hangs up like the caller would, and a finished call answers 409", async () => {
      const c = await dialed();
      await c.updateCall({ state: 'completed' });
      expect(await c.closed).toMatchObject({ reason: 'api-hangup', cause: 'hangup' });
      expect(fake.streamEvents('mediaStreamStopped')).toHaveLength(1);
      await expect(c.updateCall({ redirectUrl: `${fake.url}/x` })).rejects.toBeInstanceOf(CallNotModifiableError);
    });

    it('updateCallBxml replaces the running BXML', async () => {
      const c = await dialed();
      await c.updateCallBxml('<Bxml><StopStream name="ai-agent"/><SpeakSentence>Goodbye</SpeakSentence><Hangup/></Bxml>');
      expect(await c.closed).toMatchObject({ reason: 'bxml-hangup' });
      expect(c.spoken.map((x) => x.text)).toEqual(['Goodbye']);
      expect(c.stream).toMatchObject({ endedBy: 'bxml', cause: 'closed' });
      expect(fake.hitsTo('stream-ended')).toHaveLength(0);
    });

    it('an initiate that answers with Forward leaves the call held at Forward, unanswered', async () => {
      const c = await setup({ initiate: () => ({ status: 200, type: 'application/xml', body: '<Response><Forward to="sip:agent@example.com"/></Response>' }) });
      await c.dial();
      expect(c.heldAt?.verb).toBe('Forward');
      await expect(c.updateCall({ redirectUrl: `${fake.url}/x` })).rejects.toThrow(/cannot be modified/);
      await c.hangup();
      expect(fake.hitsTo('status')[0]!.body).not.toHaveProperty('answerTime');
    });

    it('BXML with an unknown verb ends the call with invalid-bxml', async () => {
      const c = await setup({ initiate: () => ({ status: 200, type: 'application/xml', body: '<Response><Speak>hi</Speak></Response>' }) });
      await c.dial();
      expect(await c.closed).toMatchObject({ reason: 'invalid-bxml', cause: 'invalid-bxml' });
      expect(fake.hitsTo('status')[0]!.body).toMatchObject({ cause: 'invalid-bxml', errorMessage: expect.stringMatching(/Speak/), errorId: expect.any(String) });
    });
  });

  describe('a rejected upgrade', () => {
    it('POSTs mediaStreamRejected (connection-error), falls through StopStream wait to the Redirect, and follows its BXML', async () => {
      const c = await setup({ bxmlMedia: { username: MEDIA.username, password: 'wrong' } });
      await c.dial();
      expect(fake.upgrades).toEqual([{ url: '/media/tok-123', authorization: basicAuthHeader({ ...MEDIA, password: 'wrong' }), accepted: false }]);
      expect(fake.frames).toEqual([]);
      const [rejected] = fake.streamEvents('mediaStreamRejected');
      expect(rejected!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(rejected!.body).toMatchObject({ eventType: 'mediaStreamRejected', cause: 'connection-error', mediaStream: { name: 'ai-agent', tracks: ['inbound'], type: 'WebSocket' } });
      expect(rejected!.body.errorMessage).toMatch(new RegExp(`^Unable to connect to ws://127\\.0\\.0\\.1:\\d+/media/tok-123: .*401`));
      expect(Object.keys(rejected!.body).sort()).toEqual(Object.keys(callbackFixture('mediaStreamRejected-connection-error')).sort());
      expect(fake.streamEvents('mediaStreamStarted')).toHaveLength(0);

      const [redirect] = fake.hitsTo('stream-ended');
      expect(redirect!.authorization).toBe(basicAuthHeader(CALLBACK));
      expect(redirect!.body).toMatchObject({ eventType: 'redirect', callId: CALL_ID, answerTime: expect.any(String) });
      expect(c.afterStream?.xml).toBe(FALLBACK_XML);
      expect(await c.closed).toMatchObject({ reason: 'bxml-hangup' });
      expect(fake.hitsTo('status')[0]!.body).toMatchObject({ eventType: 'disconnect', cause: 'hangup' });
      expect(c.streamStartedAtMs).toBeUndefined();
      expect(c.stream).toMatchObject({ endedBy: 'connect-failed', cause: 'connection-error' });
      // Order of the HTTP side, as in scenarios/c-stream-rejected.json.
      expect(fake.hits.map((h) => h.body.eventType)).toEqual(['initiate', 'mediaStreamRejected', 'redirect', 'disconnect']);
    });

    it('a refused connection is rejected the same way', async () => {
      const c = await setup({
        initiate: (url) => ({
          status: 200,
          type: 'application/xml',
          body: `<Response><StartStream name="s" mode="bidirectional" destination="ws://127.0.0.1:1/media/x" streamEventUrl="${url}/bandwidth/voice/stream-events" username="${CALLBACK.username}" password="${CALLBACK.password}"/><StopStream name="s" wait="true"/><Hangup/></Response>`,
        }),
      });
      await c.dial();
      expect(fake.streamEvents('mediaStreamRejected')[0]!.body.errorMessage).toMatch(/ECONNREFUSED/);
      expect((await c.closed).reason).toBe('bxml-hangup');
    });
  });

  describe('audio sources', () => {
    it('speechLikeAudio is deterministic per seed, about -20 dBFS, and loud through the utterance', () => {
      const a = speechLikeAudio({ durationMs: 2000, seed: 3 });
      const b = speechLikeAudio({ durationMs: 2000, seed: 3 });
      const other = speechLikeAudio({ durationMs: 2000, seed: 4 });
      const bytes = a.segments[0]!.mulaw;
      expect(bytes.length).toBe(16000);
      expect(Buffer.from(bytes).equals(Buffer.from(b.segments[0]!.mulaw))).toBe(true);
      expect(Buffer.from(bytes).equals(Buffer.from(other.segments[0]!.mulaw))).toBe(false);
      expect(mulawRmsDbfs(bytes)).toBeGreaterThan(-21.5);
      expect(mulawRmsDbfs(bytes)).toBeLessThan(-18.5);
      const frames = Array.from({ length: 100 }, (_, i) => mulawRmsDbfs(bytes.subarray(i * 160, (i + 1) * 160)));
      expect(frames.filter((db) => db > -35).length).toBeGreaterThanOrEqual(70); // syllables dominate
      expect(frames.some((db) => db < -40)).toBe(true); // with dips between syllables
      expect(mulawRmsDbfs(speechLikeAudio({ durationMs: 1000, levelDbfs: -30 }).segments[0]!.mulaw)).toBeCloseTo(-30, 0);
    });

    it('fromWavFile reads PCM16 (8 kHz, or a multiple, downsampled) and μ-law WAVs', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-caller-'));
      const pcmWav = (samples: Int16Array, sampleRate: number): Buffer => buildWav({ encoding: 'pcm16', sampleRate, channels: 1, data: pcm16ToBytes(samples) });
      try {
        const tone = new Int16Array(800);
        for (let i = 0; i < tone.length; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 8000));
        fs.writeFileSync(path.join(dir, 'pcm8.wav'), pcmWav(tone, 8000));
        const pcm8 = fromWavFile(path.join(dir, 'pcm8.wav'), { startMs: 40 });
        expect(pcm8.segments[0]!.startMs).toBe(40);
        expect(Buffer.from(pcm8.segments[0]!.mulaw).equals(Buffer.from(pcm16ToMulaw(tone)))).toBe(true);

        const tone16 = new Int16Array(1600);
        for (let i = 0; i < tone16.length; i++) tone16[i] = tone[i >> 1]!;
        fs.writeFileSync(path.join(dir, 'pcm16k.wav'), pcmWav(tone16, 16000));
        expect(Buffer.from(fromWavFile(path.join(dir, 'pcm16k.wav')).segments[0]!.mulaw).equals(Buffer.from(pcm16ToMulaw(tone)))).toBe(true);

        // 24 kHz goes through the anti-alias resampler with its delay removed: the same tone, in step.
        const tone24 = new Int16Array(2400);
        for (let i = 0; i < tone24.length; i++) tone24[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 24000));
        fs.writeFileSync(path.join(dir, 'pcm24k.wav'), pcmWav(tone24, 24000));
        const from24 = fromWavFile(path.join(dir, 'pcm24k.wav')).segments[0]!.mulaw;
        expect(from24.length).toBe(800);
        expect(mulawRmsDbfs(from24)).toBeCloseTo(mulawRmsDbfs(pcm16ToMulaw(tone)), 1);
        const decoded = mulawToPcm16(from24);
        let worst = 0;
        for (let i = 40; i < 760; i++) worst = Math.max(worst, Math.abs(decoded[i]! - tone[i]!));
        expect(worst).toBeLessThanOrEqual(300); // away from the edges: the tone within μ-law quantisation

        const ulaw = pattern(333);
        fs.writeFileSync(path.join(dir, 'ulaw.wav'), buildWav({ encoding: 'mulaw', sampleRate: 8000, channels: 1, data: ulaw }));
        expect(parseRawWav(fs.readFileSync(path.join(dir, 'ulaw.wav')))).toMatchObject({ encoding: 'mulaw', sampleRate: 8000, channels: 1 });
        expect(Buffer.from(fromWavFile(path.join(dir, 'ulaw.wav')).segments[0]!.mulaw).equals(ulaw)).toBe(true); // byte for byte

        fs.writeFileSync(path.join(dir, 'nope.wav'), 'nope');
        expect(() => fromWavFile(path.join(dir, 'nope.wav'))).toThrow(/RIFF/);
        expect(() => mulawFromWav({ encoding: 'pcm16', sampleRate: 8000, channels: 2, data: pcm16ToBytes(tone) })).toThrow(/2 channels/);
        expect(() => mulawFromWav(parseRawWav(pcmWav(tone, 11025)))).toThrow(/11025 Hz/);
        expect(() => mulawFromWav({ encoding: 'mulaw', sampleRate: 16000, channels: 1, data: ulaw })).toThrow(/16000 Hz/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('fromMulaw and audioSource place segments on the stream timeline', async () => {
      const c = await dialed({}, { audio: audioSource(fromMulaw(pattern(160, 1), { startMs: 20 }), fromMulaw(pattern(80, 2), { startMs: 60 })) });
      await clock.advanceAsync(100);
      await until(() => fake.media().length === 5);
      const arrived = joinedPayloads(fake.media());
      expect(arrived.subarray(160, 320).equals(pattern(160, 1))).toBe(true);
      expect(arrived.subarray(480, 560).equals(pattern(80, 2))).toBe(true);
      expect(arrived.subarray(560).every((b) => b === 0xff)).toBe(true);
      expect(c.sentInbound.equals(arrived)).toBe(true);
    });
  });

  it('isoDuration formats like mediaStreamStopped', () => {
    expect(isoDuration(0)).toBe('PT0S');
    expect(isoDuration(200)).toBe('PT0.2S');
    expect(isoDuration(113_274)).toBe('PT1M53.274S');
    expect(isoDuration(3_600_000 + 5_000)).toBe('PT1H5S');
    expect(isoDuration(120_000)).toBe('PT2M');
  });
});
