import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ManualClock } from '../../src/clock';
import { CONSOLE_LIVE_HEARTBEAT_MS, CONSOLE_SESSION_TTL_MS } from '../../src/constants';
import { LiveStreams, type LiveCallView, type LiveTranscriptLine } from '../../src/console/live';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';
import { startTestServer, type TestServer } from '../helpers/server';
import { signIn } from './sign-in';
import { SseReader } from './sse-reader';

type CallEvent = { call: LiveCallView };
type TranscriptEvent = { callId: string; legId: string; lines: LiveTranscriptLine[] };

/** The live view's stream (docs/console.md, "Live calls"): fed by the store's change feed, over a real server. */
describe('the live stream /api/live', () => {
  let clock: ManualClock;
  let server: TestServer;
  let streams: SseReader[] = [];

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
    server = await startTestServer({}, { clock });
  });
  afterEach(async () => {
    for (const s of streams) s.close();
    streams = [];
    await server.close();
  });

  const open = async (headers: Record<string, string>) => {
    const s = await SseReader.open(`${server.url}/api/live`, headers);
    streams.push(s);
    return s;
  };

  it('sends the live calls, then each call and transcript line as it is stored, and the call leaving when it ends', async () => {
    const store = server.app.store;
    await store.calls.record({ id: 'c-before', leg: 'caller', state: 'streaming', agentId: 'front-desk', mode: 'stream', from: '+19195550100', to: '+19195550199', startedAt: new Date(clock.wallNow()).toISOString() });
    await store.transcripts.append({ callId: 'c-before', role: 'agent', text: 'Hello there.' });
    await store.calls.record({ id: 'c-over', leg: 'caller', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });

    const { cookie } = await signIn(server.url, server.app.credentials.credentials.adminToken);
    const live = await open({ cookie });
    expect(live.status).toBe(200);
    expect(live.contentType).toMatch(/^text\/event-stream/);
    await live.until(() => live.of('transcript').length === 1, 'the snapshot and its transcript');
    const [snapshot] = live.of('snapshot') as { calls: LiveCallView[] }[];
    expect(snapshot!.calls.map((c) => [c.id, c.state, c.agentId, c.mode])).toEqual([['c-before', 'streaming', 'front-desk', 'stream']]);
    expect(live.of('transcript')).toEqual([{ callId: 'c-before', legId: 'c-before', lines: [expect.objectContaining({ role: 'agent', text: 'Hello there.', truncated: false, heardMs: null })] }]);

    // A new call starts, talks, and ends.
    await store.calls.record({ id: 'c-new', leg: 'caller', state: 'initiated', agentId: 'front-desk', mode: 'stream' }, { callId: 'c-new', source: 'bandwidth', type: 'initiate' });
    await live.until(() => (live.of('call') as CallEvent[]).some((e) => e.call.id === 'c-new'), 'the new call');
    await store.calls.record({ id: 'c-new', state: 'streaming' });
    await store.transcripts.append({ callId: 'c-new', role: 'agent', text: 'Thanks for calling.', heardMs: 900, truncated: true });
    await live.until(() => (live.of('transcript') as TranscriptEvent[]).some((e) => e.callId === 'c-new'), 'the first line');
    await store.transcripts.append({ callId: 'c-new', role: 'caller', text: 'My sink is leaking.' });
    await live.until(() => (live.of('transcript') as TranscriptEvent[]).some((e) => e.callId === 'c-new' && e.lines.length === 2), 'two transcript lines');
    const growing = (live.of('transcript') as TranscriptEvent[]).filter((e) => e.callId === 'c-new').map((e) => e.lines.map((l) => l.text));
    expect(growing).toEqual([['Thanks for calling.'], ['Thanks for calling.', 'My sink is leaking.']]);
    expect((live.of('transcript') as TranscriptEvent[]).at(-1)!.lines[0]).toMatchObject({ heardMs: 900, truncated: true });
    await store.calls.record({ id: 'c-new', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });
    await live.until(() => (live.of('call') as CallEvent[]).some((e) => e.call.id === 'c-new' && e.call.state === 'completed'), 'the call to end');
    expect((live.of('call') as CallEvent[]).filter((e) => e.call.id === 'c-new').map((e) => e.call.state)).toEqual(['initiated', 'streaming', 'completed']);

    // An AI SIP leg's transcript belongs to its caller's row; the leg's own changes do not make a row.
    await store.calls.record({ id: 'c-sip', leg: 'caller', state: 'sip-connected', mode: 'openai-sip' });
    await store.calls.record({ id: 'rtc_1', leg: 'ai-sip', parentCallId: 'c-sip', state: 'sip-connected', mode: 'openai-sip' });
    await store.transcripts.append({ callId: 'rtc_1', role: 'caller', text: 'Hi.' });
    await live.until(() => (live.of('transcript') as TranscriptEvent[]).some((e) => e.legId === 'rtc_1'), 'the AI leg’s transcript');
    expect((live.of('transcript') as TranscriptEvent[]).find((e) => e.legId === 'rtc_1')!.callId).toBe('c-sip');
    expect((live.of('call') as CallEvent[]).some((e) => e.call.id === 'rtc_1')).toBe(false);
    await store.calls.record({ id: 'c-before', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });
    await store.calls.record({ id: 'c-sip', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });
  });

  it('lists in a new page’s snapshot a browser test call and an openai-sip call that came without our Bandwidth leg, not the legs under a call', async () => {
    const store = server.app.store;
    const at = new Date(clock.wallNow()).toISOString();
    await store.calls.record({ id: 'c-browser', leg: 'caller', direction: 'browser', state: 'streaming', agentId: 'default', mode: 'stream', startedAt: at, tag: 'sb:test-call' });
    await store.transcripts.append({ callId: 'c-browser', role: 'caller', text: 'Testing from the browser.' });
    // Straight to OpenAI's SIP address: the AI SIP leg is the only leg, with no parent.
    await store.calls.record({ id: 'rtc_direct', leg: 'ai-sip', direction: 'inbound', state: 'sip-connected', agentId: 'default', mode: 'openai-sip', startedAt: at });
    await store.transcripts.append({ callId: 'rtc_direct', role: 'agent', text: 'Hello from SIP.' });
    // Legs under a caller leg stay part of their caller's row.
    await store.calls.record({ id: 'c-bw', leg: 'caller', state: 'sip-connected', mode: 'openai-sip', startedAt: at });
    await store.calls.record({ id: 'rtc_under', leg: 'ai-sip', parentCallId: 'c-bw', state: 'sip-connected', mode: 'openai-sip' });
    await store.calls.record({ id: 'c-transfer', leg: 'transfer', parentCallId: 'c-bw', state: 'initiated' });

    const { cookie } = await signIn(server.url, server.app.credentials.credentials.adminToken);
    const live = await open({ cookie });
    await live.until(() => live.of('transcript').length === 2, 'the snapshot and its transcripts');
    const [snapshot] = live.of('snapshot') as { calls: LiveCallView[] }[];
    expect(snapshot!.calls.map((c) => [c.id, c.direction, c.mode]).sort()).toEqual([
      ['c-browser', 'browser', 'stream'],
      ['c-bw', null, 'openai-sip'],
      ['rtc_direct', 'inbound', 'openai-sip'],
    ]);
    expect((live.of('transcript') as TranscriptEvent[]).map((e) => [e.callId, e.legId, e.lines[0]!.text]).sort()).toEqual([
      ['c-browser', 'c-browser', 'Testing from the browser.'],
      ['rtc_direct', 'rtc_direct', 'Hello from SIP.'],
    ]);
    for (const id of ['c-browser', 'rtc_direct', 'c-bw']) await store.calls.record({ id, state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });
    await store.calls.record({ id: 'c-transfer', state: 'completed' });
  });

  it('sends a heartbeat comment on the clock', async () => {
    const live = await open({ authorization: `Bearer ${server.app.credentials.credentials.adminToken}` });
    await live.until(() => live.of('snapshot').length === 1, 'the snapshot');
    expect(live.comments).toEqual([]);
    await clock.advanceAsync(CONSOLE_LIVE_HEARTBEAT_MS);
    await live.until(() => live.comments.length === 1, 'a heartbeat');
    expect(live.comments).toEqual(['heartbeat']);
  });

  it('ends a stream opened with a session once the session has ended, sending nothing more', async () => {
    const signed = await signIn(server.url, server.app.credentials.credentials.adminToken);
    const live = await open({ cookie: signed.cookie });
    await live.until(() => live.of('snapshot').length === 1, 'the snapshot');
    const out = await fetch(`${server.url}/console/sign-out`, { method: 'POST', headers: { cookie: signed.cookie, 'x-csrf-token': signed.csrf } });
    expect(out.status).toBe(204);
    await server.app.store.calls.record({ id: 'c-after', leg: 'caller', state: 'initiated' });
    await live.until(() => live.ended, 'the stream to end');
    expect(live.events.map((e) => e.event)).toEqual(['snapshot', 'signed-out']);

    // An expired session's stream ends at the next heartbeat.
    const again = await signIn(server.url, server.app.credentials.credentials.adminToken);
    const second = await open({ cookie: again.cookie });
    await second.until(() => second.of('snapshot').length === 1, 'the snapshot');
    // Synchronously: the heartbeats up to the expiry fire in order, the last one at the very moment it expires.
    clock.advance(CONSOLE_SESSION_TTL_MS);
    await second.until(() => second.ended, 'the stream to end');
    expect(second.events.map((e) => e.event)).toEqual(['snapshot', 'signed-out']);
    await server.app.store.calls.record({ id: 'c-after', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });
  });

  it('is refused without a session or the bearer token', async () => {
    const live = await open({ cookie: 'sb_session=forged' });
    expect(live.status).toBe(401);
    expect(JSON.parse(live.text).error.message).toMatch(/session unknown or expired/);
  });
});

describe('live streams: cap and cleanup', () => {
  it('refuses a stream past the cap with a 503 that says why, and frees its place when the client goes', async () => {
    const clock = new ManualClock(0);
    const store = SqliteStore.open(':memory:');
    const live = new LiveStreams({ store, clock, logger: createLogger('silent'), maxStreams: 2 });
    const app = express();
    app.use('/api', live.router());
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/live`;
    try {
      const a = await SseReader.open(url, {});
      const b = await SseReader.open(url, {});
      await a.until(() => a.of('snapshot').length === 1 && b.of('snapshot').length === 1, 'both snapshots');
      expect(live.size).toBe(2);
      const c = await SseReader.open(url, {});
      expect(c.status).toBe(503);
      expect(JSON.parse(c.text).error.message).toMatch(/too many live streams open \(at most 2\)/);
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(503);

      a.close();
      await a.until(() => live.size === 1, 'the closed stream to be let go');
      const d = await SseReader.open(url, {});
      expect(d.status).toBe(200);
      await d.until(() => d.of('snapshot').length === 1, 'its snapshot');
      // Closing the server's side ends every stream (shutdown).
      live.closeAll();
      await d.until(() => d.ended && b.ended, 'the streams to end');
      expect(live.size).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    }
  });
});
