import WebSocket from 'ws';
import { ManualClock, waitFor } from '../../src/clock';
import { speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import type { RecordedServerEvent } from '../../src/sim/realtime-session';
import { callerFor, standInEnv, startTestServer, type TestServer } from '../helpers/server';
import { checkEvent, unparsedTypes } from './openai-events';

/**
 * Runtime half of the OpenAI conformance (the send sites are typed against the `openai` package, so tsc
 * catches most drift): every client event Switchboard sent and every server event the Realtime stand-in
 * sent in scripted sessions is a member of the SDK's RealtimeClientEvent / RealtimeServerEvent union,
 * with its required fields and no field its interface lacks. This also covers what tsc cannot see: the
 * hand-built `input_audio_buffer.append` and the session object of `session.created`/`updated`.
 */
describe('Realtime events conform to the openai package', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let rest: BandwidthRestStandIn;
  let server: TestServer;
  const clientEvents: unknown[] = [];
  const serverEvents: RecordedServerEvent[] = [];

  beforeAll(async () => {
    clock = new ManualClock(0);
    // A greeting long enough to be interrupted, then a transfer the caller asked for.
    openai = await startRealtimeStandIn({
      clock,
      transcribe: () => 'Stop, I want a person.',
      script: ({ n }) =>
        n === 1
          ? { text: 'Hello, thanks for calling Acme, how can I help you today with your account?', audioMs: 4000 }
          : n === 2
            ? { functionCall: { name: 'transfer_call', arguments: { destination: 'human', reason: 'asked for a person', summary: 'Wants a person.' } } }
            : { text: 'Transferring you now.', audioMs: 600 },
    });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer(
      { ...standInEnv(openai.url, rest, '+19195550177') },
      { clock },
    );
    const call = callerFor(server, clock, {
      audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }), // barges in on the greeting
      transfer: () => ({ outcome: 'busy', ringMs: 500 }), // back to the agent: a second session, primed
    });
    rest.attach(call);
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(7000);
    await waitFor(() => call.transfers.length === 1, 5000, 'the transfer');
    await clock.advanceAsync(3000);
    await waitFor(() => openai.sessions.length === 2, 5000, 'the second session');
    await clock.advanceAsync(2000);
    await call.hangup();
    await rest.idle();

    // A direct client for the server events a bridge never provokes (retrieve, delete, clear, commit, an error).
    const ws = new WebSocket(`${openai.url}/realtime?model=gpt-realtime`, { headers: { Authorization: `Bearer ${openai.apiKey}` } });
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const direct = openai.sessions[openai.sessions.length - 1]!;
    const send = (e: object) => ws.send(JSON.stringify(e));
    send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi.' }] } });
    await direct.waitForClientEvent('conversation.item.create');
    await waitFor(() => direct.items.length === 1, 5000, 'the item');
    const itemId = direct.items[0]!.id;
    send({ type: 'conversation.item.retrieve', item_id: itemId });
    send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    send({ type: 'input_audio_buffer.clear' });
    send({ type: 'input_audio_buffer.commit' }); // empty buffer: an error event
    send({ type: 'conversation.item.delete', item_id: itemId });
    await direct.waitForClientEvent('conversation.item.delete');
    await waitFor(() => direct.sent.some((e) => e.type === 'conversation.item.deleted'), 5000, 'the delete');
    ws.close();

    for (const s of openai.sessions) {
      if (s !== direct) clientEvents.push(...s.received.map((r) => r.event));
      serverEvents.push(...s.sent);
    }
  });

  afterAll(async () => {
    await server?.close();
    await rest?.close();
    await openai?.close();
  });

  it('the sessions exercised the bridge: barge-in, a tool call, a resumed session', () => {
    const types = new Set(clientEvents.map((e) => (e as { type: string }).type));
    for (const t of ['session.update', 'input_audio_buffer.append', 'conversation.item.truncate', 'conversation.item.create', 'response.create']) expect(types).toContain(t);
    const sent = new Set(serverEvents.map((e) => e.type));
    for (const t of ['session.created', 'session.updated', 'response.output_audio.delta', 'input_audio_buffer.speech_started', 'conversation.item.truncated', 'response.function_call_arguments.done', 'response.done', 'rate_limits.updated', 'conversation.item.retrieved', 'conversation.item.deleted', 'input_audio_buffer.cleared', 'error'])
      expect(sent).toContain(t);
  });

  it('every client event Switchboard sent is a RealtimeClientEvent', () => {
    expect(clientEvents.flatMap((e) => checkEvent('client', e))).toEqual([]);
  });

  it('every server event the stand-in sent is a RealtimeServerEvent', () => {
    expect([...new Set(serverEvents.flatMap((e) => checkEvent('server', e.event)))]).toEqual([]);
  });

  it('found the interface of every event type of both unions in realtime.d.ts', () => {
    expect(unparsedTypes()).toEqual([]);
  });

  it('the checker refuses an unknown type, a missing required field, and a field the SDK does not have', () => {
    expect(checkEvent('server', { type: 'response.audio.delta', event_id: 'e' })).toEqual(["response.audio.delta: not a type of the SDK's RealtimeServerEvent"]);
    expect(checkEvent('client', { type: 'conversation.item.truncate', item_id: 'i', content_index: 0 })).toEqual(['conversation.item.truncate: required field audio_end_ms is missing']);
    expect(checkEvent('server', { type: 'input_audio_buffer.speech_started', event_id: 'e', item_id: 'i', audio_start_ms: 1, speech_probability: 0.9 })).toEqual([
      "input_audio_buffer.speech_started: speech_probability is not a field of the SDK's interface",
    ]);
  });
});
