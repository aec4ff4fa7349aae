import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { ManualClock, waitFor } from '../../../src/clock';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../../src/sim/realtime-server';
import { bxml } from '../../helpers/bxml';
import { callbackFixture, FIXTURES_DIR } from '../../helpers/fixtures';
import { basicAuth, startTestServer, type TestServer } from '../../helpers/server';

const frame = (name: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, 'ws', `${name}.json`), 'utf8')) as Record<string, unknown>;
const media = (payload: string, track = 'inbound', seq = 1) => JSON.stringify({ eventType: 'media', track, payload, sequenceNumber: String(seq) });
const SILENCE_20MS = Buffer.alloc(160, 0xff).toString('base64');
const TONE_20MS = Buffer.alloc(160, 0x10).toString('base64');

/** The media socket as Bandwidth uses it, driven frame by frame (BW §4). */
describe('media stream socket', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer | undefined;

  beforeEach(async () => {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 400 }) });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await openai.close();
  });

  async function openStream(callId: string, env: Record<string, string> = {}): Promise<{ ws: WebSocket; closed: Promise<number>; messages: string[] }> {
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', ...env }, { clock });
    const res = await server.post('initiate', { ...callbackFixture('initiate'), callId });
    const start = bxml(await res.text()).one('StartStream').attributes;
    const ws = new WebSocket(start.destination!, { headers: { Authorization: basicAuth(start.destinationUsername!, start.destinationPassword!) } });
    const messages: string[] = [];
    ws.on('message', (d) => messages.push(d.toString()));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return { ws, closed, messages };
  }

  const startFrame = (callId: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ...frame('start'), metadata: { ...(frame('start').metadata as object), callId }, ...extra });

  it('closes a socket that never sends its start frame', async () => {
    const { closed } = await openStream('c-no-start');
    await clock.advanceAsync(5100, 100);
    expect(await closed).toBe(1000);
    await waitFor(() => server!.app.bridge.size === 0, 5000, 'the session to end');
  });

  it('counts and skips garbage frames; the call continues and its audio still flows', async () => {
    const { ws } = await openStream('c-garbage');
    await waitFor(() => openai.sessions.length === 1 && openai.sessions[0]!.open, 5000, 'pre-warm');
    ws.send(startFrame('c-garbage'));
    ws.send('not json at all');
    ws.send('{"eventType":"dtmf","digit":"5"}');
    ws.send(Buffer.from([1, 2, 3])); // binary: Bandwidth never sends it
    ws.send(media('%%%bad'));
    ws.send(media('AAAAA')); // not whole base64 quanta
    for (let i = 0; i < 10; i++) ws.send(media(SILENCE_20MS, 'inbound', i + 1));
    await waitFor(() => openai.sessions[0]!.appendedBytes >= 1600, 5000, 'audio to reach OpenAI');
    const session = server!.app.bridge.get('c-garbage')!;
    expect(session.stats.callerFrames).toBe(10);
    ws.close(); // closing without a stop frame is a stop (BW §4.2)
    await waitFor(() => server!.app.bridge.size === 0, 5000, 'the session to end');
    const events = await server!.app.store.events.list('c-garbage');
    const ended = events.find((e) => e.type === 'bridge.ended')!.data as { garbageFrames: number };
    expect(ended.garbageFrames).toBe(5);
    expect((events.find((e) => e.type === 'media.stop')!.data as { reason: string }).reason).toBe('socket-closed');
  });

  it('with tracks="both" only the caller (inbound) track feeds the model', async () => {
    const { ws } = await openStream('c-both');
    await waitFor(() => openai.sessions.length === 1 && openai.sessions[0]!.open, 5000, 'pre-warm');
    ws.send(JSON.stringify({ ...frame('start-tracks-both'), metadata: { ...(frame('start-tracks-both').metadata as object), callId: 'c-both' } }));
    for (let i = 0; i < 5; i++) {
      ws.send(media(TONE_20MS, 'inbound', i + 1));
      ws.send(media(SILENCE_20MS, 'outbound', i + 1));
    }
    await waitFor(() => openai.sessions[0]!.appendedBytes >= 800, 5000, 'inbound audio');
    expect(openai.sessions[0]!.appendedAudio.equals(Buffer.alloc(800, 0x10))).toBe(true);
    ws.send(JSON.stringify(frame('stop')));
    await waitFor(() => server!.app.bridge.size === 0, 5000, 'stop');
  });

  it('pcm24k: caller audio is resampled to 24 kHz PCM for the model, agent audio comes back as μ-law', async () => {
    const { ws, messages } = await openStream('c-pcm24k', { AGENT_AUDIO: 'pcm24k' });
    await waitFor(() => openai.sessions.length === 1 && openai.sessions[0]!.open, 5000, 'pre-warm');
    expect(openai.sessions[0]!.config).toMatchObject({ audio: { input: { format: { type: 'audio/pcm', rate: 24000 } }, output: { format: { type: 'audio/pcm', rate: 24000 } } } });
    ws.send(startFrame('c-pcm24k'));
    for (let i = 0; i < 10; i++) ws.send(media(SILENCE_20MS, 'inbound', i + 1)); // silence: no barge-in on the greeting
    await waitFor(() => openai.sessions[0]!.appendedBytes >= 10 * 960, 5000, 'resampled audio');
    expect(openai.sessions[0]!.appendedBytes).toBe(10 * 960); // 20 ms at 24 kHz PCM16 = 960 bytes per frame
    await clock.advanceAsync(1200);
    const plays = messages.map((m) => JSON.parse(m) as { eventType: string; media?: { contentType: string; payload: string } }).filter((m) => m.eventType === 'playAudio');
    expect(plays.length).toBeGreaterThan(0);
    expect(new Set(plays.map((p) => p.media!.contentType))).toEqual(new Set(['audio/pcmu']));
    const playedBytes = plays.reduce((a, p) => a + Buffer.from(p.media!.payload, 'base64').length, 0);
    expect(Math.abs(playedBytes / 8 - 400)).toBeLessThanOrEqual(20); // the 400 ms greeting, as 8 kHz μ-law
    ws.send(JSON.stringify(frame('stop')));
    await waitFor(() => server!.app.bridge.size === 0, 5000, 'stop');
  });

  it('lets a burst of backlog through, drops audio faster than real time beyond it, and closes a socket that keeps it up', async () => {
    const { ws, closed } = await openStream('c-flood');
    await waitFor(() => openai.sessions.length === 1 && openai.sessions[0]!.open, 5000, 'pre-warm');
    ws.send(startFrame('c-flood'));
    // One second of backlog at once (a network stall's catch-up) passes whole.
    for (let i = 0; i < 50; i++) ws.send(media(SILENCE_20MS, 'inbound', i + 1));
    await waitFor(() => openai.sessions[0]!.appendedBytes >= 8000, 5000, 'the backlog');
    // Then real time: 20 ms of audio per 20 ms passes.
    for (let i = 0; i < 10; i++) {
      await clock.advanceAsync(20);
      ws.send(media(SILENCE_20MS, 'inbound', 51 + i));
    }
    await waitFor(() => openai.sessions[0]!.appendedBytes >= 9600, 5000, 'real-time audio');
    // Then a flood with the clock standing still: nothing more reaches OpenAI, and the socket is closed.
    for (let i = 0; i < 200; i++) ws.send(media(SILENCE_20MS, 'inbound', 61 + i));
    expect(await closed).toBe(1000);
    await waitFor(() => server!.app.bridge.size === 0, 5000, 'the session to end');
    expect(openai.sessions[0]!.appendedBytes).toBe(9600);
    const events = await server!.app.store.events.list('c-flood');
    expect((events.find((e) => e.type === 'media.stop')!.data as { reason: string }).reason).toBe('audio-flood');
    expect((events.find((e) => e.type === 'bridge.ended')!.data as { droppedAudioMs: number }).droppedAudioMs).toBeGreaterThanOrEqual(2000);
  });
});
