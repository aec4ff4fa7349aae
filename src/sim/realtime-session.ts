/**
 * One Realtime session on one socket: config (RT §1.3), the input audio buffer and server VAD (RT §1.3, §1.5),
 * the conversation (RT §1.4), responses (RT §1.6), truncation (RT §1.4, §3, P2) and the errors of RT §7 P7.
 * Everything is recorded for tests. Time comes from the injected Clock; VAD positions are audio time.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WebSocket } from 'ws';
import type { Clock, TimerHandle } from '../clock';
import { bytesToMs, encodeFromPcm, sampleRateOf, speechSamples, voiceFor, type AudioFormat } from './realtime-audio';
import type { IdGenerator } from './realtime-ids';
import { InputAudioBuffer } from './realtime-input';
import { itemJson, toEntry, type ServerEventBody, type SimItem } from './realtime-items';
import {
  defaultSession,
  invalidRequest,
  mergeSession,
  normalizeFormat,
  parseClientEvent,
  validateSessionUpdate,
  type BetaFieldPolicy,
  type ClientEvent,
  type EffectiveSession,
  type ItemInput,
  type RealtimeErrorBody,
  type ResponseParams,
} from './realtime-protocol';
import { ResponseRun, type Pacing, type ResponseHost } from './realtime-response';
import type { ConversationEntry, ResponsePlan, ResponseTrigger, Script, Transcriber } from './realtime-script';
import { inputUsage, RateLimitMeter, textTokens, USER_AUDIO_MS_PER_TOKEN } from './realtime-usage';
import { EnergyVad, type VadParams } from './realtime-vad';

/** Recording of client events: `all`, or `control` (drops `input_audio_buffer.append` and audio deltas from the logs; for long benchmarks). */
export type RecordMode = 'all' | 'control';

export interface RecordedClientEvent {
  sessionId: string;
  /** Clock time the frame arrived. */
  atMs: number;
  type: string;
  /** The parsed JSON (or the raw text when it was not JSON); `type` is '(invalid)' when the frame had no string type. */
  event: unknown;
}

export interface RecordedServerEvent {
  atMs: number;
  type: string;
  event: Record<string, unknown>;
}

export interface TruncateRecord {
  atMs: number;
  item_id: string;
  content_index: number;
  audio_end_ms: number;
  /** Audio the item had produced when the truncate arrived, ms (undefined for an unknown item). */
  producedMs: number | undefined;
  ok: boolean;
  error?: string;
}

export interface ResponseSummary {
  id: string;
  n: number;
  trigger: ResponseTrigger;
  plan: ResponsePlan;
  run: ResponseRun;
}

/** What every session shares with its stand-in. */
export interface SessionEnvironment {
  clock: Clock;
  ids: IdGenerator;
  pacing: Pacing;
  script: Script<RealtimeSimSession>;
  transcribe: Transcriber;
  betaFields: BetaFieldPolicy;
  record: RecordMode;
  /** Clock ms from commit to `conversation.item.input_audio_transcription.completed`; 0 = immediately. */
  transcriptionDelayMs: number;
  /** Stand-in knob for the VAD: loud audio needed before speech counts. */
  vadMinSpeechMs: number;
  rateLimits: RateLimitMeter;
  /** RT §6.1: the socket is closed with 1001 after this long. */
  maxSessionMs: number;
  onClientEvent(event: RecordedClientEvent): void;
}

/** RT §6.1: the close reason the real service gives at the 60-minute cap. */
export const MAX_DURATION_REASON = 'Your session hit the maximum duration of 60 minutes.';

type Waiter = { match: (e: RecordedClientEvent) => boolean; resolve: (e: RecordedClientEvent) => void };

export class RealtimeSimSession {
  readonly id: string;
  readonly conversationId: string;
  readonly connectedAtMs: number;
  closedAtMs: number | undefined;
  closeCode: number | undefined;
  closeReason: string | undefined;
  config: EffectiveSession;
  /** Client events in arrival order. */
  readonly received: RecordedClientEvent[] = [];
  /** Server events in send order. */
  readonly sent: RecordedServerEvent[] = [];
  readonly truncates: TruncateRecord[] = [];
  readonly responses: ResponseSummary[] = [];
  /** The default conversation, in order. */
  readonly items: SimItem[] = [];
  activeResponse: ResponseRun | undefined;
  /** Exceptions thrown by the script or transcriber (the client got a `server_error`). Tests should expect it empty. */
  readonly internalErrors: unknown[] = [];

  private readonly input = new InputAudioBuffer();
  private readonly vad: EnergyVad;
  private speech: { itemId: string; startMs: number } | undefined;
  private userTurns = 0;
  private previousInput: { text: number; audio: number; instructions: string } | undefined;
  private idleTimer: TimerHandle | undefined;
  private readonly maxTimer: TimerHandle;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly env: SessionEnvironment,
    private readonly ws: WebSocket,
    readonly model: string,
    readonly path: string,
    readonly headers: IncomingHttpHeaders,
    /** realtime-server.ts StallMode: `session-created` sends nothing and acts on nothing; `audio` never answers response.create. */
    private readonly stall?: 'session-created' | 'audio',
  ) {
    this.id = env.ids.next('sess');
    this.conversationId = env.ids.next('conv');
    this.connectedAtMs = env.clock.now();
    this.config = defaultConfig(this.id, model);
    this.vad = new EnergyVad(this.vadParams());
    ws.on('message', (data, isBinary) => this.onFrame(isBinary ? null : data.toString('utf8')));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
    this.maxTimer = env.clock.setTimeout(() => this.close(1001, MAX_DURATION_REASON), env.maxSessionMs);
    // RT §1.5: `session.created` is the first server event on a new connection.
    if (stall !== 'session-created') this.send({ type: 'session.created', session: this.config });
  }

  get open(): boolean {
    return this.closedAtMs === undefined;
  }

  /** Total bytes of `input_audio_buffer.append` (decoded from base64), in whatever input format was current. */
  get appendedBytes(): number {
    return this.input.appendedBytes;
  }

  /** Audio time appended so far, ms (the timeline of `audio_start_ms`/`audio_end_ms`). */
  get appendedMs(): number {
    return this.input.appendedMs;
  }

  /** Every appended byte, concatenated (a copy). */
  get appendedAudio(): Buffer {
    return this.input.audio;
  }

  get inputFormat(): AudioFormat {
    return this.config.audio.input.format;
  }

  get outputFormat(): AudioFormat {
    return this.config.audio.output.format;
  }

  /** The script's view of the conversation. */
  get conversation(): ConversationEntry[] {
    return this.items.map(toEntry);
  }

  /** Send any server event (stamps `event_id`); tests use it to inject events the script cannot produce. */
  send(body: ServerEventBody): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const { type, ...fields } = body;
    const event = { type, event_id: this.env.ids.next('event'), ...fields };
    this.ws.send(JSON.stringify(event));
    if (this.env.record === 'control' && event.type === 'response.output_audio.delta') return;
    this.sent.push({ atMs: this.env.clock.now(), type: event.type, event });
  }

  /** Close the socket cleanly with a code and reason (e.g. 1001 and MAX_DURATION_REASON). */
  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  /** Drop the TCP connection without a close frame: the client sees 1006. */
  terminate(): void {
    this.ws.terminate();
  }

  /** Resolve with the first received client event (from index `from`) that matches. */
  waitForClientEvent(type: string, predicate: (event: RecordedClientEvent) => boolean = () => true, from = 0): Promise<RecordedClientEvent> {
    const match = (e: RecordedClientEvent): boolean => e.type === type && predicate(e);
    const found = this.received.slice(from).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  // -------------------------------------------------------------------------------------------------------
  // Frames
  // -------------------------------------------------------------------------------------------------------

  private onFrame(text: string | null): void {
    const atMs = this.env.clock.now();
    if (text === null) {
      this.sendError(invalidRequest('invalid_json', 'Binary frames are not supported; send JSON text frames.'), null);
      return;
    }
    const parsed = parseClientEvent(text);
    const rawType = (parsed.raw as { type?: unknown } | null)?.type;
    const type = parsed.ok ? parsed.event.type : typeof rawType === 'string' ? rawType : '(invalid)';
    this.recordClient({ sessionId: this.id, atMs, type, event: parsed.raw });
    if (this.stall === 'session-created' || (this.stall === 'audio' && type === 'response.create')) return; // a model that never answers
    if (!parsed.ok) {
      this.sendError(parsed.error, parsed.eventId);
      return;
    }
    this.dispatch(parsed.event);
  }

  private recordClient(record: RecordedClientEvent): void {
    if (!(this.env.record === 'control' && record.type === 'input_audio_buffer.append')) {
      this.received.push(record);
      this.env.onClientEvent(record);
    }
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w && w.match(record)) {
        this.waiters.splice(i, 1);
        w.resolve(record);
      }
    }
  }

  /** RT §1.4: one handler per client event. */
  private dispatch(event: ClientEvent): void {
    const id = event.event_id ?? null;
    switch (event.type) {
      case 'session.update':
        return this.onSessionUpdate(event.session, id);
      case 'input_audio_buffer.append':
        return this.onAppend(event.audio, id);
      case 'input_audio_buffer.commit':
        return this.onCommit(id);
      case 'input_audio_buffer.clear':
        return this.onClear();
      case 'output_audio_buffer.clear':
        // RT §1.4: "WebRTC/SIP only"; over a WebSocket the client owns playout.
        return this.sendError(invalidRequest('invalid_value', 'output_audio_buffer.clear is only supported for WebRTC and SIP sessions.', 'type'), id);
      case 'conversation.item.create':
        return this.onItemCreate(event.item, event.previous_item_id, id);
      case 'conversation.item.truncate':
        return this.onTruncate(event.item_id, event.content_index, event.audio_end_ms, id);
      case 'conversation.item.delete':
        return this.onItemDelete(event.item_id, id);
      case 'conversation.item.retrieve':
        return this.onItemRetrieve(event.item_id, id);
      case 'response.create':
        return this.onResponseCreate(event.response, id);
      case 'response.cancel':
        return this.onResponseCancel(event.response_id, id);
    }
  }

  private sendError(error: RealtimeErrorBody, eventId: string | null): void {
    // RT §1.1: errors echo the client's event_id in error.event_id.
    this.send({ type: 'error', error: { ...error, event_id: eventId } });
  }

  // -------------------------------------------------------------------------------------------------------
  // session.update (RT §1.3)
  // -------------------------------------------------------------------------------------------------------

  private onSessionUpdate(session: unknown, eventId: string | null): void {
    const result = validateSessionUpdate(session, this.env.betaFields);
    if (!result.ok) return this.sendError(result.error, eventId);
    const voice = result.update.audio?.output?.voice;
    // RT §1.2: "Voice cannot change once the model has produced audio in the session."
    if (voice !== undefined && JSON.stringify(voice) !== JSON.stringify(this.config.audio.output.voice) && this.responses.some((r) => r.run.audioMs > 0))
      return this.sendError(
        invalidRequest('cannot_update_voice', "Cannot update a conversation's voice if assistant audio is present.", 'session.audio.output.voice'),
        eventId,
      );
    const before = this.config;
    this.config = mergeSession(before, result.update);
    const formatChanged = JSON.stringify(before.audio.input.format) !== JSON.stringify(this.config.audio.input.format);
    if (formatChanged) this.input.formatChanged();
    // The VAD only sees audio while turn detection is on: restart it on the current timeline when that flips.
    if (formatChanged || !before.audio.input.turn_detection !== !this.config.audio.input.turn_detection) this.vad.reset(this.appendedMs);
    this.vad.setParams(this.vadParams());
    if (!this.config.audio.input.turn_detection) this.speech = undefined;
    if (this.config.audio.input.turn_detection?.type !== 'server_vad') this.env.clock.clear(this.idleTimer);
    this.send({ type: 'session.updated', session: this.config });
  }

  /** Server VAD parameters; semantic VAD is approximated by energy VAD with an eagerness-dependent silence. */
  private vadParams(): VadParams {
    const td = this.config.audio.input.turn_detection;
    const base = { minSpeechMs: this.env.vadMinSpeechMs };
    if (td?.type === 'server_vad')
      return { ...base, threshold: td.threshold, prefixPaddingMs: td.prefix_padding_ms, silenceDurationMs: td.silence_duration_ms };
    const eagerSilence = { low: 1200, medium: 700, auto: 700, high: 400 } as const;
    return { ...base, threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: td ? eagerSilence[td.eagerness] : 500 };
  }

  // -------------------------------------------------------------------------------------------------------
  // Input audio buffer (RT §1.4, §1.5, §2)
  // -------------------------------------------------------------------------------------------------------

  private onAppend(audio: string, eventId: string | null): void {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(audio) || audio.length % 4 === 1)
      return this.sendError(invalidRequest('invalid_value', "Invalid 'audio'. Expected base64-encoded audio bytes.", 'audio'), eventId);
    const format = this.inputFormat;
    const samples = this.input.append(format, Buffer.from(audio, 'base64'));
    if (!this.config.audio.input.turn_detection) return;
    for (const vadEvent of this.vad.push(samples, sampleRateOf(format))) {
      if (vadEvent.kind === 'start') this.onSpeechStarted(vadEvent.onsetMs);
      else this.onSpeechStopped(vadEvent.endMs);
    }
  }

  /** RT §1.5 `speech_started` (audio_start_ms includes prefix padding); RT §3.1 interrupt_response. */
  private onSpeechStarted(onsetMs: number): void {
    const td = this.config.audio.input.turn_detection;
    if (!td) return;
    const startMs = Math.max(this.input.startMs, onsetMs - this.vadParams().prefixPaddingMs);
    this.speech = { itemId: this.env.ids.next('item'), startMs };
    this.env.clock.clear(this.idleTimer);
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.floor(startMs), item_id: this.speech.itemId });
    if (td.interrupt_response && this.activeResponse?.setup.inConversation) this.activeResponse.cancel('turn_detected');
  }

  /** RT §1.6 VAD turn: `speech_stopped` → `committed` → user item → (create_response) response. */
  private onSpeechStopped(endMs: number): void {
    const td = this.config.audio.input.turn_detection;
    const speech = this.speech;
    if (!td || !speech) return;
    this.speech = undefined;
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.floor(endMs), item_id: speech.itemId });
    this.commitAudio(speech.itemId, speech.startMs, endMs);
    // SDK doc on create_response: with interrupt_response false this "may fail to create a response if the
    // model is already responding" — we skip it silently.
    if (td.create_response && !this.activeResponse) this.startResponse('vad');
  }

  /** RT §1.4 `input_audio_buffer.commit`: error if the buffer holds less than 100 ms. */
  private onCommit(eventId: string | null): void {
    const bufferedMs = this.input.uncommittedMs;
    if (bufferedMs < 100)
      return this.sendError(
        invalidRequest(
          'input_audio_buffer_commit_empty',
          `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${bufferedMs.toFixed(2)}ms of audio.`,
        ),
        eventId,
      );
    const itemId = this.speech?.itemId ?? this.env.ids.next('item');
    this.speech = undefined;
    this.commitAudio(itemId, this.input.startMs, this.appendedMs);
    this.vad.reset(this.appendedMs);
  }

  private onClear(): void {
    this.input.clear();
    this.speech = undefined;
    this.vad.reset(this.appendedMs);
    this.send({ type: 'input_audio_buffer.cleared' });
  }

  /** `committed` + the user audio item (`conversation.item.added`/`done`) + its transcription, if configured. */
  private commitAudio(itemId: string, startMs: number, endMs: number, transcript?: string): void {
    const previous = this.lastItemId();
    this.input.consumeTo(endMs);
    this.send({ type: 'input_audio_buffer.committed', previous_item_id: previous, item_id: itemId });
    const audioMs = endMs - startMs;
    const item: SimItem = {
      id: itemId,
      type: 'message',
      role: 'user',
      status: 'completed',
      content: [{ type: 'input_audio', transcript: null }],
      audioMs,
    };
    const audio = this.input.slice(startMs, endMs);
    if (audio) item.audio = audio;
    item.text = transcript ?? this.transcribe(audioMs);
    this.insertItem(item, undefined);
    this.transcribeLater(item);
  }

  /** The transcriber names the caller's words; a throwing transcriber is recorded and yields ''. */
  private transcribe(audioMs: number): string {
    try {
      return this.env.transcribe(audioMs, ++this.userTurns);
    } catch (err) {
      this.internalErrors.push(err);
      return '';
    }
  }

  /** RT §1.3 input transcription: asynchronous, after the commit; matched by item_id. */
  private transcribeLater(item: SimItem): void {
    const transcription = this.config.audio.input.transcription;
    if (!transcription) return;
    const emit = (): void => {
      const transcript = item.text ?? '';
      const ref = { item_id: item.id, content_index: 0 };
      this.send({ type: 'conversation.item.input_audio_transcription.delta', ...ref, delta: transcript });
      const audioTokens = Math.ceil((item.audioMs ?? 0) / USER_AUDIO_MS_PER_TOKEN);
      const outputTokens = textTokens(transcript);
      this.send({
        type: 'conversation.item.input_audio_transcription.completed',
        ...ref,
        transcript,
        usage: {
          type: 'tokens',
          total_tokens: audioTokens + outputTokens,
          input_tokens: audioTokens,
          input_token_details: { text_tokens: 0, audio_tokens: audioTokens },
          output_tokens: outputTokens,
        },
      });
      const part = item.content?.[0];
      if (part?.type === 'input_audio') part.transcript = transcript;
    };
    if (this.env.transcriptionDelayMs <= 0) emit();
    else this.env.clock.setTimeout(emit, this.env.transcriptionDelayMs);
  }

  // -------------------------------------------------------------------------------------------------------
  // Conversation items (RT §1.4)
  // -------------------------------------------------------------------------------------------------------

  private lastItemId(): string | null {
    return this.items[this.items.length - 1]?.id ?? null;
  }

  /** Insert after `previousItemId` (undefined = at the end, 'root' = at the start) and announce it. */
  private insertItem(item: SimItem, previousItemId: string | null | undefined): void {
    let index = this.items.length;
    if (previousItemId === 'root') index = 0;
    else if (previousItemId) index = this.items.findIndex((i) => i.id === previousItemId) + 1;
    this.items.splice(index, 0, item);
    const previous = this.items[index - 1]?.id ?? null;
    this.send({ type: 'conversation.item.added', previous_item_id: previous, item: itemJson(item) });
    this.send({ type: 'conversation.item.done', previous_item_id: previous, item: itemJson(item) });
  }

  private onItemCreate(input: ItemInput, previousItemId: string | null | undefined, eventId: string | null): void {
    const problem = this.checkNewItem(input, previousItemId);
    if (problem) return this.sendError(problem, eventId);
    const item: SimItem = { id: input.id ?? this.env.ids.next('item'), type: input.type, status: 'completed' };
    if (input.type === 'function_call_output') Object.assign(item, { call_id: input.call_id, output: input.output });
    else if (input.type === 'function_call')
      Object.assign(item, { name: input.name, arguments: input.arguments, call_id: input.call_id ?? this.env.ids.next('call') });
    else {
      item.role = input.role;
      item.content = input.content.map((part) => (part.type === 'input_audio' ? { type: 'input_audio', transcript: part.transcript ?? null } : { ...part }));
      item.text = input.content.flatMap((p) => ('text' in p ? [p.text] : [])).join(' ');
      const audioPart = input.content.find((p) => p.type === 'input_audio');
      if (audioPart?.type === 'input_audio') {
        const bytes = Buffer.from(audioPart.audio, 'base64');
        item.audio = { bytes, format: this.inputFormat };
        item.audioMs = bytesToMs(this.inputFormat, bytes.length);
        item.text = audioPart.transcript ?? this.transcribe(item.audioMs);
      }
    }
    this.insertItem(item, previousItemId ?? undefined);
    if (item.audio) this.transcribeLater(item);
  }

  /** Validation the schema cannot do: ids, roles vs content types, tool call ids. */
  private checkNewItem(input: ItemInput, previousItemId: string | null | undefined): RealtimeErrorBody | undefined {
    if (input.id && this.items.some((i) => i.id === input.id))
      return invalidRequest('item_id_already_exists', `Item with id '${input.id}' already exists.`, 'item.id');
    if (previousItemId && previousItemId !== 'root' && !this.items.some((i) => i.id === previousItemId))
      return invalidRequest('item_not_found', `Previous item with id '${previousItemId}' not found.`, 'previous_item_id');
    if (input.type === 'function_call_output' && !this.items.some((i) => i.type === 'function_call' && i.call_id === input.call_id))
      return invalidRequest('invalid_value', `Tool call ID '${input.call_id}' not found in conversation.`, 'item.call_id');
    if (input.type !== 'message') return undefined;
    const allowed: Record<string, readonly string[]> = {
      system: ['input_text'],
      user: ['input_text', 'input_audio', 'input_image'],
      // RT §1.4: "Assistant *audio* messages cannot be injected".
      assistant: ['output_text'],
    };
    const index = input.content.findIndex((p) => !(allowed[input.role] ?? []).includes(p.type));
    const bad = input.content[index];
    if (bad)
      return invalidRequest(
        'invalid_value',
        `Invalid value: '${bad.type}'. Supported values for ${input.role} messages are: ${(allowed[input.role] ?? []).map((t) => `'${t}'`).join(', ')}.`,
        `item.content[${index}].type`,
      );
    return undefined;
  }

  private onItemDelete(itemId: string, eventId: string | null): void {
    const index = this.items.findIndex((i) => i.id === itemId);
    if (index < 0)
      return this.sendError(invalidRequest('item_not_found', `Error deleting item: the item with id '${itemId}' does not exist.`, 'item_id'), eventId);
    this.items.splice(index, 1);
    this.send({ type: 'conversation.item.deleted', item_id: itemId });
  }

  /** RT §1.4: `conversation.item.retrieved` includes audio. */
  private onItemRetrieve(itemId: string, eventId: string | null): void {
    const item = this.items.find((i) => i.id === itemId);
    if (!item)
      return this.sendError(invalidRequest('item_not_found', `Error retrieving item: the item with id '${itemId}' does not exist.`, 'item_id'), eventId);
    const json = itemJson(item);
    const audio = item.audio?.bytes ?? this.assistantAudio(item);
    if (audio && json.type === 'message' && json.content[0]) json.content[0] = { ...json.content[0], audio: audio.toString('base64') };
    this.send({ type: 'conversation.item.retrieved', item: json });
  }

  /** Re-synthesise an assistant item's audio (deterministic), cut at its truncation point. */
  private assistantAudio(item: SimItem): Buffer | undefined {
    const run = this.responses.find((r) => r.id === item.responseId)?.run;
    if (!run || item.role !== 'assistant' || !item.audioMs) return undefined;
    const rate = sampleRateOf(run.setup.format);
    const produced = Math.round((item.audioMs * rate) / 1000);
    const total = Math.round((run.audioMs * rate) / 1000);
    return encodeFromPcm(run.setup.format, speechSamples(run.setup.speechVoice, rate, 0, produced, Math.max(total, produced)));
  }

  /**
   * RT §1.4 / §3.1 / P2: `audio_end_ms` beyond the audio the item has → `invalid_request_error` "Audio content of
   * Xms is already shorter than Yms"; otherwise `conversation.item.truncated` and the transcript is dropped.
   */
  private onTruncate(itemId: string, contentIndex: number, audioEndMs: number, eventId: string | null): void {
    const item = this.items.find((i) => i.id === itemId);
    const record: TruncateRecord = {
      atMs: this.env.clock.now(),
      item_id: itemId,
      content_index: contentIndex,
      audio_end_ms: audioEndMs,
      producedMs: item?.audioMs,
      ok: false,
    };
    this.truncates.push(record);
    const fail = (error: RealtimeErrorBody): void => {
      record.error = error.message;
      this.sendError(error, eventId);
    };
    if (!item) return fail(invalidRequest('item_not_found', `Item with id '${itemId}' not found.`, 'item_id'));
    if (item.type !== 'message' || item.role !== 'assistant' || item.audioMs === undefined)
      return fail(invalidRequest('invalid_value', 'Only assistant messages with audio content can be truncated.', 'item_id'));
    if (contentIndex !== 0)
      return fail(invalidRequest('invalid_value', `Invalid 'content_index': the item has no content part at index ${contentIndex}.`, 'content_index'));
    if (audioEndMs > item.audioMs)
      return fail(invalidRequest('invalid_value', `Audio content of ${Math.floor(item.audioMs)}ms is already shorter than ${audioEndMs}ms`, 'audio_end_ms'));
    item.audioMs = audioEndMs;
    item.truncatedAtMs = audioEndMs;
    item.text = '';
    if (item.content?.[0]) item.content[0] = { ...item.content[0], transcript: '' };
    record.ok = true;
    this.send({ type: 'conversation.item.truncated', item_id: itemId, content_index: contentIndex, audio_end_ms: audioEndMs });
  }

  // -------------------------------------------------------------------------------------------------------
  // Responses (RT §1.6, §7 P7)
  // -------------------------------------------------------------------------------------------------------

  private onResponseCreate(params: ResponseParams | undefined, eventId: string | null): void {
    if (this.activeResponse)
      return this.sendError(
        invalidRequest(
          'conversation_already_has_active_response',
          `Conversation already has an active response in progress: ${this.activeResponse.id}. Wait until the response is finished before creating a new one.`,
        ),
        eventId,
      );
    this.startResponse('response.create', params);
  }

  private onResponseCancel(responseId: string | undefined, eventId: string | null): void {
    const active = this.activeResponse;
    if (!active || (responseId !== undefined && responseId !== active.id))
      return this.sendError(invalidRequest('response_cancel_not_active', 'Cancellation failed: no active response found'), eventId);
    active.cancel('client_cancelled');
  }

  private startResponse(trigger: ResponseTrigger, params?: ResponseParams): void {
    this.env.clock.clear(this.idleTimer);
    const n = this.responses.length + 1;
    const instructions = params?.instructions ?? this.config.instructions;
    const conversation = this.conversation;
    let plan: ResponsePlan;
    try {
      plan = this.env.script({ session: this, trigger, instructions, conversation, n, ...(params ? { response: params } : {}) });
    } catch (err) {
      this.internalErrors.push(err);
      const message = 'The server had an error while processing your request. Sorry about that!';
      return this.sendError({ type: 'server_error', code: null, message, param: null }, null);
    }
    const format = params?.audio?.output?.format ? normalizeFormat(params.audio.output.format) : this.outputFormat;
    const voice = params?.audio?.output?.voice ?? this.config.audio.output.voice;
    const input = inputUsage(conversation, instructions, this.config.tools, this.previousInput);
    this.previousInput = { text: input.text_tokens, audio: input.audio_tokens, instructions };
    const inConversation = (params?.conversation ?? 'auto') !== 'none';
    const run = new ResponseRun(this.responseHost(), {
      id: this.env.ids.next('resp'),
      n,
      trigger,
      plan,
      format,
      voice,
      speechVoice: voiceFor(typeof voice === 'string' ? voice : voice.id),
      speed: this.config.audio.output.speed,
      modalities: params?.output_modalities ?? this.config.output_modalities,
      inConversation,
      conversationId: inConversation ? this.conversationId : null,
      maxOutputTokens: params?.max_output_tokens ?? this.config.max_output_tokens,
      metadata: params?.metadata ?? null,
      input,
    });
    this.activeResponse = run;
    this.responses.push({ id: run.id, n, trigger, plan, run });
    run.start();
  }

  private responseHost(): ResponseHost {
    return {
      clock: this.env.clock,
      ids: this.env.ids,
      pacing: this.env.pacing,
      send: (event) => this.send(event),
      addItem: (item) => {
        const previous = this.lastItemId();
        this.items.push(item);
        this.send({ type: 'conversation.item.added', previous_item_id: previous, item: itemJson(item) });
        return previous;
      },
      rateLimitsAfter: (usage) => {
        this.env.rateLimits.record(usage.total_tokens);
        return this.env.rateLimits.snapshot();
      },
      finished: (run) => this.onResponseFinished(run),
    };
  }

  private onResponseFinished(run: ResponseRun): void {
    if (this.activeResponse === run) this.activeResponse = undefined;
    this.armIdleTimeout(run);
  }

  /**
   * RT §1.3 `idle_timeout_ms` (server_vad only): fires `idle_timeout_ms` after "the response.done time plus audio
   * playback duration" with no speech → `timeout_triggered`, commit of the (silent) buffer, and a response.
   */
  private armIdleTimeout(run: ResponseRun): void {
    const td = this.config.audio.input.turn_detection;
    if (run.status !== 'completed' || td?.type !== 'server_vad' || td.idle_timeout_ms === null) return;
    const idleMs = td.idle_timeout_ms;
    this.env.clock.clear(this.idleTimer);
    this.idleTimer = this.env.clock.setTimeout(() => this.onIdleTimeout(idleMs), run.audioMs + idleMs);
  }

  private onIdleTimeout(idleMs: number): void {
    if (this.activeResponse || this.speech || !this.open) return;
    const itemId = this.env.ids.next('item');
    const endMs = this.appendedMs;
    const startMs = Math.max(this.input.startMs, endMs - idleMs);
    this.send({ type: 'input_audio_buffer.timeout_triggered', audio_start_ms: Math.floor(startMs), audio_end_ms: Math.floor(endMs), item_id: itemId });
    this.commitAudio(itemId, this.input.startMs, endMs, ''); // the silence that timed out says nothing
    this.vad.reset(this.appendedMs);
    this.startResponse('idle_timeout');
  }

  // -------------------------------------------------------------------------------------------------------
  // Close
  // -------------------------------------------------------------------------------------------------------

  private onClose(code: number, reason: string): void {
    this.closedAtMs = this.env.clock.now();
    this.closeCode = code;
    this.closeReason = reason;
    this.activeResponse?.abandon();
    this.activeResponse = undefined;
    this.env.clock.clear(this.idleTimer);
    this.env.clock.clear(this.maxTimer);
  }
}

function defaultConfig(id: string, model: string): EffectiveSession {
  // RT §6.1: sessions last at most 60 minutes; expires_at is in unix seconds like the real service's.
  return defaultSession(id, model, Math.floor(Date.now() / 1000) + 3600);
}
