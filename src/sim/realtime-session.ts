/**
 * One Realtime session on one socket: config (RT §1.3), the input audio buffer and server VAD (RT §1.3, §1.5),
 * the conversation (RT §1.4), responses (RT §1.6), truncation (RT §1.4, §3, P2) and the errors of RT §7 P7.
 * Everything is recorded for tests. Time comes from the injected Clock; VAD positions are audio time.
 *
 * This file holds the session's state, its socket (frames in, server events out), the client-event dispatch
 * and `session.update`; the parts it dispatches to act on it through a SessionHost (realtime-session-host.ts):
 * realtime-turns.ts (input audio, VAD, commits), realtime-conversation.ts (items, truncation),
 * realtime-response-control.ts (responses, idle timeout), realtime-transcription.ts (the caller's words).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WebSocket } from 'ws';
import type { TimerHandle } from '../clock';
import type { AudioFormat } from './realtime-audio';
import { Conversation } from './realtime-conversation';
import { toEntry, type ServerEventBody, type SimItem } from './realtime-items';
import {
  defaultSession,
  invalidRequest,
  mergeSession,
  parseClientEvent,
  validateSessionUpdate,
  type ClientEvent,
  type EffectiveSession,
  type RealtimeErrorBody,
} from './realtime-protocol';
import type { ResponseRun } from './realtime-response';
import { ResponseControl } from './realtime-response-control';
import type { ConversationEntry } from './realtime-script';
import type { SessionHost } from './realtime-session-host';
import {
  MAX_DURATION_REASON,
  type RecordedClientEvent,
  type RecordedServerEvent,
  type ResponseSummary,
  type SessionEnvironment,
  type TruncateRecord,
} from './realtime-session-types';
import { UserTranscription } from './realtime-transcription';
import { InputTurns } from './realtime-turns';
import { SessionMcp } from './realtime-mcp';

export { MAX_DURATION_REASON } from './realtime-session-types';
export type {
  RecordedClientEvent,
  RecordedServerEvent,
  RecordMode,
  ResponseSummary,
  SessionEnvironment,
  TruncateRecord,
} from './realtime-session-types';

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

  /** The session's MCP servers (realtime-mcp.ts). */
  readonly mcp: SessionMcp;
  private readonly conversationState: Conversation;
  private readonly responseControl: ResponseControl;
  private readonly turns: InputTurns;
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
    const host = this.host();
    this.mcp = new SessionMcp(host, env.mcpServers);
    const transcription = new UserTranscription(host);
    this.conversationState = new Conversation(host, transcription);
    this.responseControl = new ResponseControl(host, this.conversationState, (idleMs) => this.turns.onIdleTimeout(idleMs));
    this.turns = new InputTurns(host, this.conversationState, transcription, this.responseControl);
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
    return this.turns.input.appendedBytes;
  }

  /** Audio time appended so far, ms (the timeline of `audio_start_ms`/`audio_end_ms`). */
  get appendedMs(): number {
    return this.turns.input.appendedMs;
  }

  /** Every appended byte, concatenated (a copy). */
  get appendedAudio(): Buffer {
    return this.turns.input.audio;
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

  /** A SIP call's sideband (`?call_id=`, RT §4.5) rather than a WebSocket session of its own. */
  get isSideband(): boolean {
    return new URL(this.path, 'ws://stand-in').searchParams.has('call_id');
  }

  /**
   * The SIP caller pressed a key: `input_audio_buffer.dtmf_event_received` (RT §1.5, SIP only), with the
   * server's receive time in Unix seconds as the openai package types it.
   */
  pressKey(digit: string): void {
    if (!this.isSideband) throw new Error('pressKey(): DTMF events come only on a SIP call\'s sideband (RT §1.5)');
    this.send({ type: 'input_audio_buffer.dtmf_event_received', event: digit, received_at: Math.floor(this.env.clock.wallNow() / 1000) });
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
        return this.turns.onAppend(event.audio, id);
      case 'input_audio_buffer.commit':
        return this.turns.onCommit(id);
      case 'input_audio_buffer.clear':
        return this.turns.onClear();
      case 'output_audio_buffer.clear': {
        // RT §1.4: "WebRTC/SIP only"; over a WebSocket the client owns playout.
        if (!this.isSideband) return this.sendError(invalidRequest('invalid_value', 'output_audio_buffer.clear is only supported for WebRTC and SIP sessions.', 'type'), id);
        // A SIP call's audio is OpenAI's to play (not modelled here): the buffer of the latest response is cut off.
        const last = this.responses[this.responses.length - 1];
        if (last) this.send({ type: 'output_audio_buffer.cleared', response_id: last.id });
        return;
      }
      case 'conversation.item.create':
        return this.conversationState.onItemCreate(event.item, event.previous_item_id, id);
      case 'conversation.item.truncate':
        return this.conversationState.onTruncate(event.item_id, event.content_index, event.audio_end_ms, id);
      case 'conversation.item.delete':
        return this.conversationState.onItemDelete(event.item_id, id);
      case 'conversation.item.retrieve':
        return this.conversationState.onItemRetrieve(event.item_id, id);
      case 'response.create':
        return this.responseControl.onResponseCreate(event.response, id);
      case 'response.cancel':
        return this.responseControl.onResponseCancel(event.response_id, id);
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
    this.turns.onConfigChanged(before);
    if (this.config.audio.input.turn_detection?.type !== 'server_vad') this.responseControl.clearIdleTimeout();
    this.send({ type: 'session.updated', session: this.config });
    this.mcp.listNewServers();
  }

  /** A SIP call's sideband: the tools given at accept (RT §4.4) are the session's, and its MCP servers are listed. */
  adoptAcceptedTools(tools: unknown[]): void {
    this.config = { ...this.config, tools };
    this.mcp.listNewServers();
  }

  /** The view of this session its parts act on (realtime-session-host.ts). */
  private host(): SessionHost {
    // Getters, not copies: the parts must see the live config, open state and active response.
    const session = this;
    return {
      env: this.env,
      session,
      get config() {
        return session.config;
      },
      get open() {
        return session.open;
      },
      items: this.items,
      responses: this.responses,
      truncates: this.truncates,
      internalErrors: this.internalErrors,
      get mcp() {
        return session.mcp;
      },
      get activeResponse() {
        return session.activeResponse;
      },
      set activeResponse(run) {
        session.activeResponse = run;
      },
      send: (body) => this.send(body),
      sendError: (error, eventId) => this.sendError(error, eventId),
    };
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
    this.responseControl.clearIdleTimeout();
    this.env.clock.clear(this.maxTimer);
  }
}

function defaultConfig(id: string, model: string): EffectiveSession {
  // RT §6.1: sessions last at most 60 minutes; expires_at is in unix seconds like the real service's.
  return defaultSession(id, model, Math.floor(Date.now() / 1000) + 3600);
}
