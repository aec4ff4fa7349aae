import WebSocket from 'ws';
import { ManualClock, settleIo, waitFor } from '../../src/clock';
import { decodeToPcm, rmsDbfs, silence, synthesizeSpeech, voiceFor, PCMU } from '../../src/sim/realtime-audio';
import { MAX_DURATION_REASON, startRealtimeStandIn, type RealtimeStandIn, type RealtimeStandInOptions } from '../../src/sim/realtime-server';

type Json = Record<string, any>;

/** A minimal GA client over a real socket: records every server event and can wait for one. */
class Client {
  readonly events: Json[] = [];
  /** ManualClock time at which each event arrived (parallel to `events`). */
  readonly arrivals: number[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<{ match: (e: Json) => boolean; resolve: (e: Json) => void }> = [];

  private constructor(
    readonly ws: WebSocket,
    clock?: ManualClock,
  ) {
    ws.on('message', (data) => {
      const event = JSON.parse(data.toString()) as Json;
      this.events.push(event);
      this.arrivals.push(clock?.now() ?? 0);
      for (const w of [...this.waiters]) {
        if (w.match(event)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async connect(rt: RealtimeStandIn, clock?: ManualClock, headers: Record<string, string> = {}): Promise<Client> {
    const ws = new WebSocket(`${rt.url}/realtime?model=gpt-realtime-2.1`, { headers: { Authorization: `Bearer ${rt.apiKey}`, ...headers } });
    const client = new Client(ws, clock);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await client.next('session.created');
    return client;
  }

  send(event: Json): void {
    this.ws.send(JSON.stringify(event));
  }

  of(type: string): Json[] {
    return this.events.filter((e) => e.type === type);
  }

  /** The first event of `type` (matching `pred`) already received, or the next to arrive. */
  next(type: string, pred: (e: Json) => boolean = () => true, timeoutMs = 1500): Promise<Json> {
    const match = (e: Json): boolean => e.type === type && pred(e);
    const found = this.events.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${type}; got ${this.events.map((e) => e.type).join(', ')}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Send μ-law audio as 20 ms appends (160 bytes each), as a telephony bridge does. */
  async appendFrames(audio: Buffer): Promise<void> {
    for (let i = 0; i < audio.length; i += 160) this.send({ type: 'input_audio_buffer.append', audio: audio.subarray(i, i + 160).toString('base64') });
    await settleIo(6);
  }

  /** Resolves with the close code and reason once the socket has closed. */
  whenClosed(timeoutMs = 1500): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
      this.ws.once('close', (code, reason) => {
        clearTimeout(timer);
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** An upgrade that is expected to be refused: status and JSON body. */
function refusedUpgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => reject(new Error('upgrade unexpectedly accepted')));
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Json }));
    });
  });
}

/** pcmu in and out, server VAD with the given overrides, input transcription on. */
function telephonySession(turnDetection: Json | null = {}): Json {
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          transcription: { model: 'gpt-4o-mini-transcribe' },
          turn_detection: turnDetection && { type: 'server_vad', silence_duration_ms: 500, create_response: false, interrupt_response: true, ...turnDetection },
        },
        output: { format: { type: 'audio/pcmu' }, voice: 'marin' },
      },
    },
  };
}


/** How a GA response ends, from its audio being complete (OpenAI reference §1.5): the same whatever came before. */
const RESPONSE_END_ORDER = [
  'response.output_audio.done',
  'response.output_audio_transcript.done',
  'response.content_part.done',
  'response.output_item.done',
  'conversation.item.done',
  'response.done',
  'rate_limits.updated',
];

describe('Realtime stand-in', () => {
  let rt: RealtimeStandIn;
  let clock: ManualClock;
  const clients: Client[] = [];

  async function start(options: RealtimeStandInOptions = {}): Promise<void> {
    clock = new ManualClock();
    rt = await startRealtimeStandIn({ clock, firstDeltaLatencyMs: 50, transcriptionDelayMs: 0, ...options });
  }

  async function connect(headers: Record<string, string> = {}): Promise<Client> {
    const c = await Client.connect(rt, clock, headers);
    clients.push(c);
    return c;
  }

  /** Advance the manual clock in small steps, letting socket I/O run, until `done()` or `maxMs`. */
  async function runUntil(done: () => boolean, maxMs = 5000, stepMs = 50): Promise<void> {
    for (let t = 0; t < maxMs && !done(); t += stepMs) await clock.advanceAsync(stepMs, stepMs);
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await rt?.close();
  });

  describe('upgrade', () => {
    beforeEach(() => start());

    it('refuses a missing or wrong API key with 401 and an OpenAI error body, creating no session', async () => {
      const url = `${rt.url}/realtime?model=gpt-realtime-2.1`;
      const missing = await refusedUpgrade(url, {});
      expect(missing.status).toBe(401);
      expect(missing.body.error.message).toMatch(/didn't provide an API key/);
      const wrong = await refusedUpgrade(url, { Authorization: 'Bearer sk-wrong-key-123456' });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
      expect(rt.connections).toBe(0);
      expect(rt.sessions).toHaveLength(0);
      expect(rt.upgrades.map((u) => u.status)).toEqual([401, 401]);
    });

    it('answers 404 off the /realtime path and 400 without a model', async () => {
      const auth = { Authorization: `Bearer ${rt.apiKey}` };
      expect((await refusedUpgrade(`${rt.url}/chat?model=x`, auth)).status).toBe(404);
      const noModel = await refusedUpgrade(`${rt.url}/realtime`, auth);
      expect(noModel).toMatchObject({ status: 400, body: { error: { code: 'missing_required_parameter', param: 'model' } } });
    });

    it('simulates a 429 refusal, then accepts again after `times` refusals', async () => {
      rt.refuse = { status: 429, times: 1 };
      const refused = await refusedUpgrade(`${rt.url}/realtime?model=gpt-realtime-2.1`, { Authorization: `Bearer ${rt.apiKey}` });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('rate_limit_exceeded');
      expect(rt.connections).toBe(0);
      const c = await connect();
      expect(c.of('session.created')[0]?.session).toMatchObject({ type: 'realtime', model: 'gpt-realtime-2.1' });
      expect(rt.connections).toBe(1);
    });

    it('answers upgrades, accepted or refused, only after connectDelayMs of clock time', async () => {
      await rt.close();
      await start({ connectDelayMs: 300 });
      const url = `${rt.url}/realtime?model=gpt-realtime-2.1`;
      const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${rt.apiKey}` } });
      let opened = false;
      ws.once('open', () => (opened = true));
      const firstEvent = new Promise<Json>((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()) as Json)));
      await waitFor(() => rt.pendingUpgrades === 1, 5_000, 'the upgrade request to arrive');
      clock.advance(299);
      await settleIo(8);
      expect(opened).toBe(false);
      expect(rt.connections).toBe(0);
      expect(rt.upgrades).toHaveLength(0);
      clock.advance(1);
      expect(await firstEvent).toMatchObject({ type: 'session.created' });
      expect(opened).toBe(true);
      expect(rt.pendingUpgrades).toBe(0);
      expect(rt.upgrades).toEqual([{ requestedAtMs: 0, atMs: 300, path: '/v1/realtime?model=gpt-realtime-2.1', status: 101 }]);
      ws.terminate();

      const refused = refusedUpgrade(url, {});
      await waitFor(() => rt.pendingUpgrades === 1, 5_000, 'the second upgrade request to arrive');
      clock.advance(300);
      expect((await refused).status).toBe(401);
      expect(rt.upgrades[1]).toMatchObject({ requestedAtMs: 300, atMs: 600, status: 401 });
    });

    it('drops upgrades still waiting out connectDelayMs when it closes', async () => {
      await rt.close();
      await start({ connectDelayMs: 300 });
      const ws = new WebSocket(`${rt.url}/realtime?model=gpt-realtime-2.1`, { headers: { Authorization: `Bearer ${rt.apiKey}` } });
      const failed = new Promise<Error>((resolve) => ws.once('error', resolve));
      await waitFor(() => rt.pendingUpgrades === 1, 5_000, 'the upgrade request to arrive');
      await rt.close();
      expect((await failed).message).toMatch(/socket hang up|ECONNRESET/);
      expect(rt.pendingUpgrades).toBe(0);
      expect(clock.pendingTimers).toBe(0);
      expect(rt.sessions).toHaveLength(0);
    });

    it('answers a beta-shaped connection with beta_api_shape_disabled and close 4000', async () => {
      const c = await connect({ 'OpenAI-Beta': 'realtime=v1' });
      const error = await c.next('error');
      expect(error.error.code).toBe('beta_api_shape_disabled');
      expect((await c.whenClosed()).code).toBe(4000);
    });
  });

  describe('session.update', () => {
    beforeEach(() => start());

    it('requires session.type, refuses beta fields, and merges GA config into session.updated', async () => {
      const c = await connect();
      expect(c.of('session.created')[0]?.session.audio.input.format).toEqual({ type: 'audio/pcm', rate: 24000 });

      c.send({ type: 'session.update', event_id: 'evt_1', session: { instructions: 'Be brief.' } });
      const missing = await c.next('error');
      expect(missing.error).toMatchObject({ type: 'invalid_request_error', message: "Missing required parameter: 'session.type'.", event_id: 'evt_1' });

      c.send({ type: 'session.update', event_id: 'evt_2', session: { type: 'realtime', input_audio_format: 'g711_ulaw' } });
      const beta = await c.next('error', (e) => e.error.event_id === 'evt_2');
      expect(beta.error).toMatchObject({ code: 'unknown_parameter', param: 'session.input_audio_format' });

      c.send({ type: 'session.update', event_id: 'evt_3', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu', rate: 8000 } } } } });
      expect((await c.next('error', (e) => e.error.event_id === 'evt_3')).error.param).toBe('session.audio.input.format.rate');

      c.send(telephonySession({ threshold: 0.6 }));
      const updated = await c.next('session.updated');
      expect(updated.session.audio.input.format).toEqual({ type: 'audio/pcmu' });
      expect(updated.session.audio.output).toMatchObject({ format: { type: 'audio/pcmu' }, voice: 'marin' });
      expect(updated.session.audio.input.turn_detection).toMatchObject({
        type: 'server_vad',
        threshold: 0.6,
        prefix_padding_ms: 300,
        silence_duration_ms: 500,
        create_response: false,
      });
      expect(updated.session.instructions).toBeTruthy(); // untouched fields survive a partial update
      expect(rt.sessions[0]?.config.audio.output.format).toEqual({ type: 'audio/pcmu' });
    });

    it('answers unknown and invalid client events with error events, echoing event_id, and keeps the socket open', async () => {
      const c = await connect();
      c.send({ type: 'response.audio.delta', event_id: 'evt_x' });
      expect((await c.next('error')).error).toMatchObject({ code: 'invalid_value', param: 'type', event_id: 'evt_x' });
      c.ws.send('not json');
      await c.next('error', (e) => e.error.code === 'invalid_json');
      c.send({ type: 'conversation.item.truncate', event_id: 'evt_y', item_id: 'item_1', content_index: 0 });
      expect((await c.next('error', (e) => e.error.event_id === 'evt_y')).error.message).toBe("Missing required parameter: 'audio_end_ms'.");
      c.send({ type: 'session.update', session: { type: 'realtime' } });
      await c.next('session.updated');
      expect(rt.events.map((e) => e.type)).toEqual(['response.audio.delta', '(invalid)', 'conversation.item.truncate', 'session.update']);
    });
  });

  describe('server VAD', () => {
    it('detects μ-law speech followed by silence, commits the user item and transcribes it', async () => {
      await start({ transcribe: () => 'I need help with my bill.' });
      const c = await connect();
      c.send(telephonySession());
      await c.next('session.updated');

      const audio = Buffer.concat([silence(PCMU, 500), synthesizeSpeech(PCMU, 1200), silence(PCMU, 1000)]);
      await c.appendFrames(audio);

      const started = await c.next('input_audio_buffer.speech_started');
      const stopped = await c.next('input_audio_buffer.speech_stopped');
      // Onset at ~500 ms minus 300 ms prefix padding; stop = last speech (~1700 ms) + 500 ms of silence.
      expect(started.audio_start_ms).toBeGreaterThanOrEqual(180);
      expect(started.audio_start_ms).toBeLessThanOrEqual(240);
      expect(stopped.audio_end_ms).toBeGreaterThanOrEqual(2140);
      expect(stopped.audio_end_ms).toBeLessThanOrEqual(2220);
      expect(stopped.item_id).toBe(started.item_id);

      const committed = await c.next('input_audio_buffer.committed');
      expect(committed).toMatchObject({ item_id: started.item_id, previous_item_id: null });
      const added = await c.next('conversation.item.added');
      expect(added.item).toMatchObject({ id: started.item_id, type: 'message', role: 'user', content: [{ type: 'input_audio', transcript: null }] });
      await c.next('conversation.item.done');
      const transcript = await c.next('conversation.item.input_audio_transcription.completed');
      expect(transcript).toMatchObject({ item_id: started.item_id, content_index: 0, transcript: 'I need help with my bill.' });
      expect(c.of('response.created')).toHaveLength(0); // create_response: false

      const session = rt.sessions[0]!;
      expect(session.appendedBytes).toBe(audio.length);
      expect(session.appendedAudio.equals(audio)).toBe(true);
      expect(session.appendedMs).toBe(2700);
      expect(session.received.filter((e) => e.type === 'input_audio_buffer.append')).toHaveLength(audio.length / 160);
    });

    it('ignores line noise below the threshold', async () => {
      await start();
      const c = await connect();
      c.send(telephonySession());
      await c.next('session.updated');
      // Speech-like audio at peak 0.005 ≈ -57 dBFS: below the -35 dBFS that threshold 0.5 maps to.
      await c.appendFrames(synthesizeSpeech(PCMU, 1000, voiceFor('noise', 0.005)));
      await settleIo();
      expect(c.of('input_audio_buffer.speech_started')).toHaveLength(0);
    });
  });

  describe('responses', () => {
    it('streams the planned audio in >20 ms deltas, faster than real time, in the GA event order, with usage', async () => {
      const text = 'Thanks for calling Acme, how can I help?';
      await start({ script: () => ({ text, audioMs: 2000 }), chunkMs: 100, speedFactor: 4 });
      const c = await connect();
      c.send(telephonySession());
      await c.next('session.updated');

      c.send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
      const created = await c.next('response.created');
      const createdAt = clock.now();
      expect(created.response).toMatchObject({ object: 'realtime.response', status: 'in_progress', output: [] });
      await runUntil(() => c.of('response.done').length > 0, 5000, 25);

      const deltas = c.of('response.output_audio.delta');
      const bytes = deltas.map((d) => Buffer.from(d.delta, 'base64'));
      expect(bytes.every((b) => b.length > 160)).toBe(true); // each delta > 20 ms of μ-law
      expect(bytes.reduce((n, b) => n + b.length, 0) / 8).toBe(2000);
      const lastDeltaAt = c.arrivals[c.events.lastIndexOf(deltas[deltas.length - 1]!)]!;
      expect(lastDeltaAt - createdAt).toBeLessThanOrEqual(600); // 2 s of audio in ≤ 0.6 s at 4x
      // Speech-like: voiced windows well above the VAD threshold.
      const pcm = decodeToPcm(PCMU, Buffer.concat(bytes));
      expect(rmsDbfs(pcm, 400, 560)).toBeGreaterThan(-30);

      const ids = { response_id: created.response.id, item_id: deltas[0]!.item_id, output_index: 0, content_index: 0 };
      expect(deltas.every((d) => d.response_id === ids.response_id && d.item_id === ids.item_id && d.content_index === 0)).toBe(true);
      expect(c.of('response.output_audio_transcript.delta').map((d) => d.delta).join('')).toBe(text);
      expect((await c.next('response.output_audio_transcript.done')).transcript).toBe(text);

      const order = c.events.map((e) => e.type).filter((t) => !t.startsWith('session.') && !t.endsWith('.delta'));
      expect(order).toEqual(['response.created', 'response.output_item.added', 'conversation.item.added', 'response.content_part.added', ...RESPONSE_END_ORDER]);
      const done = await c.next('response.done');
      expect(done.response).toMatchObject({ status: 'completed', status_details: null, audio: { output: { format: { type: 'audio/pcmu' } } } });
      expect(done.response.output[0]).toMatchObject({
        id: ids.item_id,
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_audio', transcript: text }],
      });
      const usage = done.response.usage;
      expect(usage.output_token_details).toEqual({ text_tokens: Math.ceil(text.length / 4), audio_tokens: 40 }); // 2000 ms / 50 ms
      expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
      expect(usage.input_token_details.text_tokens).toBeGreaterThan(0);
      const limits = await c.next('rate_limits.updated');
      expect(limits.rate_limits.map((l: Json) => l.name)).toEqual(['requests', 'tokens']);
    });

    it('stalls mid-response and sends the transcript late when planned, keeping the GA event order', async () => {
      const text = 'Let me check that for you.';
      await start({ script: () => ({ text, audioMs: 1000, stall: { afterAudioMs: 300, forMs: 700 }, transcriptDelayMs: 3000 }), chunkMs: 100, speedFactor: 4 });
      const c = await connect();
      c.send(telephonySession());
      await c.next('session.updated');
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0, 8000, 25);

      const at = (e: Json) => c.arrivals[c.events.indexOf(e)]!;
      const deltas = c.of('response.output_audio.delta');
      expect(deltas).toHaveLength(10);
      const gaps = deltas.slice(1).map((d, i) => at(d) - at(deltas[i]!));
      expect(gaps[2]).toBeGreaterThanOrEqual(700); // after the third 100 ms delta (300 ms of audio)
      expect(gaps.filter((g) => g >= 700)).toHaveLength(1);
      const audioDone = await c.next('response.output_audio.done');
      const transcriptDone = await c.next('response.output_audio_transcript.done');
      expect(at(audioDone) - at(deltas[9]!)).toBeLessThanOrEqual(25);
      expect(at(transcriptDone) - at(audioDone)).toBeGreaterThanOrEqual(3000);
      expect(transcriptDone.transcript).toBe(text);
      const order = c.events.map((e) => e.type).filter((t) => !t.startsWith('session.') && !t.endsWith('.delta'));
      expect(order.slice(order.indexOf('response.output_audio.done'))).toEqual(RESPONSE_END_ORDER);
    });

    it('follows a recorded pace (RecordedTiming): first delta, delta sizes and gaps, the transcript lag, and a function call\'s latency', async () => {
      const deltas = [
        { atMs: 650, bytes: 320 },
        { atMs: 676.5, bytes: 960 },
        { atMs: 900, bytes: 160 },
        { atMs: 1400.25, bytes: 560 },
      ];
      const audio = { bytes: Buffer.alloc(2000, 0x55), bytesPerMs: 8 };
      let n = 0;
      await start({ script: () => (++n === 1 ? { text: 'Recorded words.', audioMs: 250, audio, timing: { deltas, transcriptDelayMs: 400 } } : { functionCall: { name: 'hang_up', arguments: {} }, timing: { firstOutputMs: 1234, deltas: [] } }) });
      const c = await connect();
      c.send(telephonySession());
      await c.next('session.updated');
      const sentAt = clock.now();
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0, 3000, 0.5);
      const at = (e: Json) => c.arrivals[c.events.indexOf(e)]! - sentAt;
      const got = c.of('response.output_audio.delta');
      expect(got.map((d) => Buffer.from(String(d.delta), 'base64').length)).toEqual([320, 960, 160, 560]);
      // Within the test's 0.5 ms steps, on the way out and back.
      got.forEach((d, i) => expect(Math.abs(at(d) - deltas[i]!.atMs)).toBeLessThanOrEqual(1));
      expect(Buffer.concat(got.map((d) => Buffer.from(String(d.delta), 'base64'))).equals(audio.bytes)).toBe(true);
      expect(at(c.of('response.output_audio_transcript.done')[0]!) - at(c.of('response.output_audio.done')[0]!)).toBeCloseTo(400, 0);
      const secondAt = clock.now();
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 1, 5000, 1);
      const call = c.of('response.function_call_arguments.done')[0]!;
      expect(Math.abs(c.arrivals[c.events.indexOf(call)]! - secondAt - 1234)).toBeLessThanOrEqual(1);
    });

    it('leaves out response.output_audio.done when planned, and nothing else', async () => {
      await start({ script: () => ({ text: 'Goodbye!', audioMs: 400, omitAudioDone: true }) });
      const c = await connect();
      c.send(telephonySession());
      await c.next('session.updated');
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0, 5000, 25);
      expect(c.of('response.output_audio.done')).toHaveLength(0);
      expect(c.of('response.output_audio_transcript.done')).toHaveLength(1);
      expect((await c.next('response.done')).response.status).toBe('completed');
    });

    it('cancels an in-flight response when the caller barges in (interrupt_response)', async () => {
      await start({ script: () => ({ text: 'This is a long answer that the caller will interrupt.', audioMs: 4000 }) });
      const c = await connect();
      c.send(telephonySession({ create_response: false }));
      await c.next('session.updated');
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.output_audio.delta').length >= 5);

      await c.appendFrames(Buffer.concat([synthesizeSpeech(PCMU, 400), silence(PCMU, 100)]));
      const started = await c.next('input_audio_buffer.speech_started');
      const done = await c.next('response.done');
      expect(c.events.indexOf(started)).toBeLessThan(c.events.indexOf(done));
      expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' } });
      expect(done.response.output[0]).toMatchObject({ status: 'incomplete' });
      expect((await c.next('response.output_item.done')).item.status).toBe('incomplete');

      const deltasAtCancel = c.of('response.output_audio.delta').length;
      await clock.advanceAsync(1000, 50);
      expect(c.of('response.output_audio.delta')).toHaveLength(deltasAtCancel);
      expect(rt.sessions[0]?.responses[0]?.run.status).toBe('cancelled');
      expect(rt.sessions[0]?.activeResponse).toBeUndefined();
    });

    it('refuses a second response.create while one is active, and cancels on response.cancel', async () => {
      await start({ script: () => ({ text: 'One moment please.', audioMs: 3000 }) });
      const c = await connect();
      c.send({ type: 'response.cancel', event_id: 'evt_c0' });
      expect((await c.next('error')).error).toMatchObject({ message: 'Cancellation failed: no active response found', event_id: 'evt_c0' });

      c.send({ type: 'response.create' });
      const created = await c.next('response.created');
      c.send({ type: 'response.create', event_id: 'evt_r2' });
      const error = await c.next('error', (e) => e.error.event_id === 'evt_r2');
      expect(error.error.code).toBe('conversation_already_has_active_response');
      expect(error.error.message).toContain(created.response.id);

      c.send({ type: 'response.cancel' });
      const done = await c.next('response.done');
      expect(done.response).toMatchObject({ id: created.response.id, status: 'cancelled', status_details: { reason: 'client_cancelled' }, output: [] });
    });

    it('runs a function call round trip', async () => {
      const seen: string[] = [];
      await start({
        script: (ctx) => {
          seen.push(ctx.conversation.map((e) => `${e.role ?? e.type}:${e.text ?? e.output ?? e.name ?? ''}`).join(' | '));
          return ctx.n === 1 ? { functionCall: { name: 'transfer_call', arguments: { reason: 'billing' } } } : { text: 'Transferring you now.' };
        },
      });
      const c = await connect();
      c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Give me a human.' }] } });
      await c.next('conversation.item.added');
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0);

      const added = c.of('response.output_item.added')[0]!;
      expect(added.item).toMatchObject({ type: 'function_call', name: 'transfer_call', arguments: '', status: 'in_progress' });
      const argsDone = await c.next('response.function_call_arguments.done');
      expect(argsDone).toMatchObject({
        call_id: added.item.call_id,
        name: 'transfer_call',
        arguments: '{"reason":"billing"}',
        item_id: added.item.id,
        response_id: added.response_id,
      });
      expect(c.of('response.function_call_arguments.delta').map((d) => d.delta).join('')).toBe(argsDone.arguments);
      expect((await c.next('response.output_item.done')).item).toMatchObject({ type: 'function_call', status: 'completed', arguments: argsDone.arguments });
      const done = await c.next('response.done');
      expect(done.response.status).toBe('completed');
      expect(done.response.output).toEqual([expect.objectContaining({ type: 'function_call', call_id: added.item.call_id, arguments: argsDone.arguments })]);
      expect(done.response.usage.output_tokens).toBeGreaterThan(0);

      c.send({ type: 'conversation.item.create', event_id: 'evt_bad', item: { type: 'function_call_output', call_id: 'call_nope', output: '{}' } });
      expect((await c.next('error')).error).toMatchObject({ message: "Tool call ID 'call_nope' not found in conversation.", event_id: 'evt_bad' });
      c.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: added.item.call_id, output: '{"ok":true}' } });
      const outputAdded = await c.next('conversation.item.added', (e) => e.item.type === 'function_call_output');
      expect(outputAdded.previous_item_id).toBe(added.item.id);
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 1);
      expect(seen).toEqual(['user:Give me a human.', 'user:Give me a human. | function_call:transfer_call | function_call_output:{"ok":true}']);
    });
  });

  describe('scripts and conversation', () => {
    it('greets by default, primes history with text items, and refuses injected assistant audio', async () => {
      await start();
      const c = await connect();
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0);
      expect((await c.next('response.output_audio_transcript.done')).transcript).toBe('Hello! Thanks for calling. How can I help you today?');

      c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'Caller is a VIP.' }] } });
      c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Where is my parcel?' }] } });
      const assistantAudio = { type: 'message', role: 'assistant', content: [{ type: 'output_audio', audio: 'AAAA' }] };
      c.send({ type: 'conversation.item.create', event_id: 'evt_a', item: assistantAudio });
      expect((await c.next('error')).error).toMatchObject({ param: 'item.content[0].type', event_id: 'evt_a' });
      expect(rt.sessions[0]?.conversation.map((e) => `${e.role}:${e.text}`)).toEqual([
        'assistant:Hello! Thanks for calling. How can I help you today?',
        'system:Caller is a VIP.',
        'user:Where is my parcel?',
      ]);
    });

    it('speaks, then calls a function, in one response (output_index 0 and 1)', async () => {
      await start({ script: () => ({ text: 'Let me transfer you.', audioMs: 600, functionCall: { name: 'transfer_call', arguments: { reason: 'asked' } } }) });
      const c = await connect();
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0);
      const done = await c.next('response.done');
      expect(done.response.output.map((o: Json) => o.type)).toEqual(['message', 'function_call']);
      expect((await c.next('response.function_call_arguments.done')).output_index).toBe(1);
      expect(c.of('conversation.item.added').map((e) => e.item.type)).toEqual(['message', 'function_call']);
    });

    it('answers in text when output_modalities is ["text"]', async () => {
      await start({ script: () => ({ text: 'Text only.' }) });
      const c = await connect();
      c.send({ type: 'response.create', response: { output_modalities: ['text'] } });
      await runUntil(() => c.of('response.done').length > 0);
      expect(c.of('response.output_audio.delta')).toHaveLength(0);
      expect((await c.next('response.output_text.done')).text).toBe('Text only.');
      expect((await c.next('response.content_part.added')).part).toEqual({ type: 'text', text: '' });
    });

    it('fires idle_timeout_ms after the response audio has played, with a response of its own', async () => {
      const triggers: string[] = [];
      await start({
        script: (ctx) => {
          triggers.push(ctx.trigger);
          return { text: ctx.trigger === 'idle_timeout' ? 'Are you still there?' : 'Hi.', audioMs: 1000 };
        },
      });
      const c = await connect();
      c.send(telephonySession({ idle_timeout_ms: 2000 }));
      await c.next('session.updated');
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0);
      await clock.advanceAsync(2900, 100); // done + 1000 ms playback + 2000 ms idle, minus 100
      expect(c.of('input_audio_buffer.timeout_triggered')).toHaveLength(0);
      await runUntil(() => c.of('response.done').length > 1);
      const timeout = await c.next('input_audio_buffer.timeout_triggered');
      expect(await c.next('input_audio_buffer.committed')).toMatchObject({ item_id: timeout.item_id });
      expect(triggers).toEqual(['response.create', 'idle_timeout']);
    });

    it('reports a throwing script as a server_error and records it', async () => {
      await start({
        script: () => {
          throw new Error('script bug');
        },
      });
      const c = await connect();
      c.send({ type: 'response.create' });
      expect((await c.next('error')).error.type).toBe('server_error');
      expect(rt.sessions[0]?.internalErrors).toHaveLength(1);
    });
  });

  describe('truncation', () => {
    it('rejects audio_end_ms beyond the audio produced with the real message, and truncates otherwise', async () => {
      await start({ script: () => ({ text: 'Your balance is forty two dollars.', audioMs: 3700 }) });
      const c = await connect();
      c.send(telephonySession(null));
      await c.next('session.updated');
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.done').length > 0);
      const itemId = c.of('response.output_item.added')[0]!.item.id as string;

      c.send({ type: 'conversation.item.truncate', event_id: 'evt_t1', item_id: itemId, content_index: 0, audio_end_ms: 3760 });
      const error = await c.next('error');
      expect(error.error).toMatchObject({ type: 'invalid_request_error', message: 'Audio content of 3700ms is already shorter than 3760ms', event_id: 'evt_t1' });

      c.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: 1200 });
      expect(await c.next('conversation.item.truncated')).toMatchObject({ item_id: itemId, content_index: 0, audio_end_ms: 1200 });

      c.send({ type: 'conversation.item.truncate', event_id: 'evt_t3', item_id: 'item_unknown', content_index: 0, audio_end_ms: 0 });
      expect((await c.next('error', (e) => e.error.event_id === 'evt_t3')).error.param).toBe('item_id');

      const session = rt.sessions[0]!;
      expect(session.truncates.map((t) => [t.audio_end_ms, t.ok])).toEqual([
        [3760, false],
        [1200, true],
        [0, false],
      ]);
      expect(session.truncates[0]?.producedMs).toBe(3700);
      // RT §1.4: the truncated item's transcript is gone from the model's context.
      expect(session.conversation.find((e) => e.id === itemId)).toMatchObject({ text: '', audioMs: 1200, truncatedAtMs: 1200 });
    });

    it('bounds truncation by the audio produced so far for a cancelled item', async () => {
      await start({ script: () => ({ text: 'A reply that gets cut short.', audioMs: 3000 }), chunkMs: 100, speedFactor: 4 });
      const c = await connect();
      c.send(telephonySession(null));
      await c.next('session.updated');
      c.send({ type: 'response.create' });
      await runUntil(() => c.of('response.output_audio.delta').length >= 6);
      c.send({ type: 'response.cancel' });
      await c.next('response.done');
      const deltas = c.of('response.output_audio.delta');
      const producedMs = deltas.reduce((n, d) => n + Buffer.from(d.delta, 'base64').length / 8, 0);
      const itemId = deltas[0]!.item_id as string;

      c.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: producedMs + 20 });
      expect((await c.next('error')).error.message).toBe(`Audio content of ${producedMs}ms is already shorter than ${producedMs + 20}ms`);
      c.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: producedMs });
      await c.next('conversation.item.truncated');
    });
  });

  describe('connection failures', () => {
    beforeEach(() => start());

    it('drops sockets abnormally (1006) and closes a session with 1001 at the duration cap', async () => {
      const a = await connect();
      const b = await connect();
      rt.closeSession(rt.sessions[0]!.id, 1001, MAX_DURATION_REASON);
      expect(await a.whenClosed()).toEqual({ code: 1001, reason: MAX_DURATION_REASON });
      rt.dropAll();
      expect((await b.whenClosed()).code).toBe(1006);
      await settleIo();
      expect(rt.sessions.map((s) => s.open)).toEqual([false, false]);
    });

    it('expires a session after maxSessionMs of clock time', async () => {
      await rt.close();
      await start({ maxSessionMs: 60 * 60 * 1000 });
      const c = await connect();
      await clock.advanceAsync(60 * 60 * 1000 - 1, 60 * 60 * 1000);
      expect(c.closed).toBeUndefined();
      clock.advance(1);
      expect(await c.whenClosed()).toEqual({ code: 1001, reason: MAX_DURATION_REASON });
    });
  });
});
