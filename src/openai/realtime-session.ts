import { systemClock, type Clock, type TimerHandle } from '../clock';
import WebSocket from 'ws';
import type { ConversationItemCreateEvent, RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { AgentWithDestinations } from '../agents/agent';
import { chunkOf, type AudioChunk, type McpActivity, type ModelSession, type ModelSessionHandlers } from '../bridge/transports';
import { SwitchboardError } from '../errors';
import type { Logger } from '../log';
import { flattenUsage, mcpItemSchemas, serverEventSchemas, type ServerEvent, type ServerEventType } from './events';
import type { McpServerConfig, ToolDefinition } from '../bridge/tools';
import { sessionUpdate } from './session-config';
import type { RealtimeTap } from './realtime-tap';

/**
 * One OpenAI Realtime session over WebSocket, GA protocol only (OpenAI reference §1): no
 * `OpenAI-Beta` header, `session.type: "realtime"`, GA event names. Implements the bridge's
 * ModelSession. The endpoint comes from OPENAI_BASE_URL, so a ws:// stand-in can take its place.
 */
export interface RealtimeConnectOptions {
  baseUrl: string;
  apiKey: string | undefined;
  agent: AgentWithDestinations;
  tools: ToolDefinition[];
  /** The agent's MCP servers, secrets filled in (sent in the session only; a SIP call got them at accept). */
  mcpServers?: readonly McpServerConfig[];
  logger: Logger;
  /** Connect + configure must finish within this long. */
  connectTimeoutMs?: number;
  /** The configure deadline and the heartbeat run on it (the socket's own handshake timeout does not). */
  clock?: Clock;
  /**
   * Attach to an accepted SIP call's sideband (OpenAI reference §4.5: `?call_id=`, no model). The call
   * was configured at accept, so the opening update only names the session type; audio flows over SIP.
   */
  sipCallId?: string;
  /** Whole-call recording (RECORD_DIR): sees every event both ways. */
  tap?: RealtimeTap;
}

/**
 * Requests kept while the socket connects (the greeting, a few priming items). Caller audio is not among
 * them: the bridge holds that itself until `ready`, bounded by MAX_PENDING_CALLER_AUDIO_MS.
 */
const MAX_OUTBOX_MESSAGES = 64;

/** `input_audio_buffer.append` around its base64 audio (reference §1.4), as text and as bytes. */
const APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"';
const APPEND_TAIL = '"}';
const APPEND_HEAD_BYTES = Buffer.from(APPEND_HEAD, 'latin1');
const APPEND_TAIL_BYTES = Buffer.from(APPEND_TAIL, 'latin1');

/** Ping interval on the OpenAI socket; a socket that misses a whole interval is dead. */
const MODEL_HEARTBEAT_MS = 15_000;

export type ModelFailureCode = 'openai_not_configured' | 'openai_refused' | 'openai_unreachable' | 'openai_rejected_session' | 'openai_closed';

export class ModelSessionError extends SwitchboardError {
  constructor(
    readonly failure: ModelFailureCode,
    message: string,
    readonly status?: number,
  ) {
    super('model_failed', message, { failure, status });
    this.name = 'ModelSessionError';
  }
}

/** `https://api.openai.com/v1` → `wss://api.openai.com/v1/realtime?model=…` (reference §1.1). */
export function realtimeUrl(baseUrl: string, model: string): string {
  const ws = baseUrl.replace(/^http(s?):/i, 'ws$1:');
  return `${ws}/realtime?model=${encodeURIComponent(model)}`;
}

/** `…/realtime?call_id=rtc_…` (reference §4.5): the sideband of an accepted SIP call. */
export function sidebandUrl(baseUrl: string, callId: string): string {
  return `${baseUrl.replace(/^http(s?):/i, 'ws$1:')}/realtime?call_id=${encodeURIComponent(callId)}`;
}

export class RealtimeSession implements ModelSession {
  readonly ready: Promise<void>;
  private handlers: ModelSessionHandlers | undefined;
  private readonly ws: WebSocket | undefined;
  private closedByUs = false;
  private isReady = false;
  private eventSeq = 0;
  private heartbeat: TimerHandle | undefined;
  private readonly clock: Clock;
  /** Requests made while the socket connects; sent right after session.update (OpenAI reference §1.6: "after session.update, send response.create"). */
  private readonly outbox: string[] = [];
  /** Until the session is configured, every event is also shown to this (session.updated / error). */
  private onReadiness: ((type: string, event: Record<string, unknown>) => void) | undefined;
  /** `mcp_list_tools` items by id → their server: `mcp_list_tools.failed` names only the item. */
  private readonly mcpListItems = new Map<string, string>();

  constructor(private readonly options: RealtimeConnectOptions) {
    this.clock = options.clock ?? systemClock;
    if (!options.apiKey) {
      this.ready = Promise.reject(new ModelSessionError('openai_not_configured', 'OPENAI_API_KEY is not set'));
      this.ready.catch(() => undefined);
      return;
    }
    const url = options.sipCallId ? sidebandUrl(options.baseUrl, options.sipCallId) : realtimeUrl(options.baseUrl, options.agent.model);
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${options.apiKey}` },
      handshakeTimeout: options.connectTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    this.ws = ws;
    this.ready = new Promise<void>((resolve, reject) => {
      // The handshake timeout covers only the HTTP upgrade; a socket that opens and never configures
      // the session must not leave the caller in silence.
      const readyDeadline = this.clock.setTimeout(() => fail(new ModelSessionError('openai_unreachable', 'OpenAI did not configure the session in time')), options.connectTimeoutMs ?? 10_000);
      const fail = (err: ModelSessionError) => {
        this.clock.clear(readyDeadline);
        if (this.isReady) return;
        reject(err);
        this.closedByUs = true;
        ws.terminate();
      };
      this.onReadiness = (type, event) => {
        if (type === 'session.updated') {
          this.clock.clear(readyDeadline);
          this.isReady = true;
          resolve();
        } else if (type === 'error') {
          const message = (event.error as { message?: string } | undefined)?.message ?? 'unknown error';
          fail(new ModelSessionError('openai_rejected_session', `OpenAI rejected the session: ${message}`));
        }
      };
      ws.once('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        options.tap?.refused(status);
        fail(new ModelSessionError('openai_refused', `OpenAI refused the Realtime connection (HTTP ${status}${status === 429 ? ': rate limited' : ''})`, status));
      });
      ws.once('open', () => {
        const queued = this.outbox.splice(0);
        this.sendJson(options.sipCallId ? { type: 'session.update', session: { type: 'realtime' } } : sessionUpdate(options.agent, options.tools, options.mcpServers));
        for (const text of queued) this.sendRaw(text);
        this.startHeartbeat(ws);
      });
      ws.on('message', (data) => this.onMessage(data));
      ws.on('error', (err) => fail(new ModelSessionError('openai_unreachable', `cannot reach OpenAI Realtime: ${err.message}`)));
      ws.on('close', (code, reason) => {
        this.clock.clear(this.heartbeat);
        options.tap?.closed(code, reason.toString());
        fail(new ModelSessionError('openai_closed', `OpenAI closed the session before it was ready (${code} ${reason.toString()})`));
        this.handlers?.closed({ code, reason: reason.toString(), expected: this.closedByUs });
      });
    });
    this.ready.catch(() => undefined); // observed by the CallSession; never an unhandled rejection
  }

  setHandlers(handlers: ModelSessionHandlers): void {
    this.handlers = handlers;
  }

  /**
   * The hot path, 50 times a second per call: built by hand, base64 needs no escaping (reference §1.4).
   * Assembled as one Buffer and sent as a text frame: ws then masks it straight into the frame it writes
   * (one write per append instead of header and payload corked into a writev, and no string to encode),
   * measured ~7 % less send CPU per append over plain and TLS sockets (BENCHMARKS.md, capacity section).
   */
  appendAudio(chunk: AudioChunk): void {
    if (this.ws?.readyState !== WebSocket.OPEN || this.options.tap) {
      this.sendRaw(`${APPEND_HEAD}${chunk.base64}${APPEND_TAIL}`);
      return;
    }
    const frame = Buffer.allocUnsafe(APPEND_HEAD_BYTES.length + chunk.base64.length + APPEND_TAIL_BYTES.length);
    APPEND_HEAD_BYTES.copy(frame, 0);
    frame.write(chunk.base64, APPEND_HEAD_BYTES.length, 'latin1');
    APPEND_TAIL_BYTES.copy(frame, APPEND_HEAD_BYTES.length + chunk.base64.length);
    this.ws.send(frame, { binary: false });
  }

  createResponse(options: { instructions?: string } = {}): void {
    this.sendJson({ type: 'response.create', ...(options.instructions ? { response: { instructions: options.instructions } } : {}) });
  }

  cancelResponse(): void {
    this.sendJson({ type: 'response.cancel' });
  }

  clearOutputAudio(): void {
    this.sendJson({ type: 'output_audio_buffer.clear' });
  }

  truncate(itemId: string, contentIndex: number, audioEndMs: number): void {
    this.sendJson({ type: 'conversation.item.truncate', item_id: itemId, content_index: contentIndex, audio_end_ms: Math.max(0, Math.floor(audioEndMs)) });
  }

  sendFunctionOutput(callId: string, output: string): void {
    this.sendJson({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output } });
  }

  addItem(role: 'user' | 'assistant' | 'system', text: string): void {
    const item: ConversationItemCreateEvent['item'] =
      role === 'assistant' ? { type: 'message', role, content: [{ type: 'output_text', text }] } : { type: 'message', role, content: [{ type: 'input_text', text }] };
    this.sendJson({ type: 'conversation.item.create', item });
  }

  /** openai package: RealtimeMcpApprovalResponse, a conversation item answering the request. */
  answerMcpApproval(requestId: string, approve: boolean, reason: string): void {
    this.sendJson({ type: 'conversation.item.create', item: { type: 'mcp_approval_response', id: `sb_apr_${++this.eventSeq}`, approval_request_id: requestId, approve, reason } });
  }

  /** A partial GA `session.update` (OpenAI reference §1.3: fields left out keep their values; `type` is required). */
  updateInstructions(instructions: string): void {
    this.sendJson({ type: 'session.update', session: { type: 'realtime', instructions } });
  }

  /** A half-open TCP connection sends no close: ping, and end a socket that stops answering. */
  private startHeartbeat(ws: WebSocket): void {
    let alive = true;
    ws.on('pong', () => {
      alive = true;
    });
    this.heartbeat = this.clock.setInterval(() => {
      if (!alive) {
        this.options.logger.warn('OpenAI Realtime socket stopped answering pings: terminating it');
        ws.terminate(); // emits close (1006): the call goes to its fallback
        return;
      }
      alive = false;
      ws.ping();
    }, MODEL_HEARTBEAT_MS);
  }

  close(): void {
    this.clock.clear(this.heartbeat);
    this.closedByUs = true;
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) this.ws.close(1000, 'call ended');
  }

  /** Typed as the `openai` SDK's client event union, so a field or event the service does not take fails to compile. */
  private sendJson(event: RealtimeClientEvent): void {
    this.sendRaw(JSON.stringify({ event_id: `sb_${++this.eventSeq}`, ...event }));
  }

  private sendRaw(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(text);
      this.options.tap?.sent(text);
    } else if (this.ws?.readyState === WebSocket.CONNECTING && this.outbox.length < MAX_OUTBOX_MESSAGES) this.outbox.push(text);
  }

  private onMessage(data: WebSocket.RawData): void {
    const h = this.handlers;
    let event: Record<string, unknown>;
    const text = data.toString();
    this.options.tap?.received(text);
    try {
      event = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.options.logger.warn('OpenAI sent a frame that is not JSON');
      return;
    }
    const type = event.type;
    if (typeof type !== 'string') return;
    if (!this.isReady) this.onReadiness?.(type, event);
    if (!h) return;
    // Hot events first, checked by hand.
    if (type === 'response.output_audio.delta') {
      const { delta, response_id, item_id, content_index } = event;
      if (typeof delta === 'string' && typeof response_id === 'string' && typeof item_id === 'string') {
        h.audioDelta({ responseId: response_id, itemId: item_id, contentIndex: typeof content_index === 'number' ? content_index : 0, chunk: chunkOf(delta) });
      }
      return;
    }
    if (type === 'response.output_audio_transcript.delta') {
      const { delta, response_id, item_id } = event;
      if (typeof delta === 'string' && typeof response_id === 'string' && typeof item_id === 'string') h.transcriptDelta({ responseId: response_id, itemId: item_id, delta });
      return;
    }
    if (!(type in serverEventSchemas)) return;
    const parsed = serverEventSchemas[type as ServerEventType].safeParse(event);
    if (!parsed.success) {
      this.options.logger.warn({ type, problems: parsed.error.issues.map((i) => i.path.join('.')) }, 'OpenAI event did not match its schema; ignored');
      return;
    }
    this.dispatch(type as ServerEventType, parsed.data, h);
  }

  private dispatch(type: ServerEventType, e: unknown, h: ModelSessionHandlers): void {
    switch (type) {
      case 'input_audio_buffer.speech_started': {
        const ev = e as ServerEvent<typeof type>;
        return h.speechStarted({ itemId: ev.item_id, audioStartMs: ev.audio_start_ms });
      }
      case 'input_audio_buffer.speech_stopped': {
        const ev = e as ServerEvent<typeof type>;
        return h.speechStopped({ itemId: ev.item_id, audioEndMs: ev.audio_end_ms });
      }
      case 'input_audio_buffer.committed':
        return h.callerItem({ itemId: (e as ServerEvent<typeof type>).item_id });
      case 'conversation.item.input_audio_transcription.completed': {
        const ev = e as ServerEvent<typeof type>;
        return h.callerTranscript({ itemId: ev.item_id, transcript: ev.transcript });
      }
      case 'conversation.item.truncated': {
        const ev = e as ServerEvent<typeof type>;
        return h.truncated({ itemId: ev.item_id, audioEndMs: ev.audio_end_ms });
      }
      case 'response.created':
        return h.responseCreated({ responseId: (e as ServerEvent<typeof type>).response.id });
      case 'response.output_audio.done': {
        const ev = e as ServerEvent<typeof type>;
        return h.audioDone({ responseId: ev.response_id, itemId: ev.item_id, contentIndex: ev.content_index });
      }
      case 'response.output_audio_transcript.done': {
        const ev = e as ServerEvent<typeof type>;
        return h.transcriptDone({ responseId: ev.response_id, itemId: ev.item_id, transcript: ev.transcript });
      }
      case 'response.function_call_arguments.done': {
        const ev = e as ServerEvent<typeof type>;
        return h.functionCall({ responseId: ev.response_id, itemId: ev.item_id, callId: ev.call_id, name: ev.name, arguments: ev.arguments });
      }
      case 'response.done': {
        const r = (e as ServerEvent<typeof type>).response;
        return h.responseDone({ responseId: r.id, status: r.status, reason: r.status_details?.reason, usage: r.usage ? flattenUsage(r.usage) : undefined });
      }
      case 'error': {
        const err = (e as ServerEvent<typeof type>).error;
        return h.error({ code: err.code ?? undefined, message: err.message, type: err.type, eventId: err.event_id ?? undefined });
      }
      case 'conversation.item.added':
      case 'conversation.item.done':
        return this.mcpListItem(type, (e as ServerEvent<typeof type>).item, h);
      case 'response.output_item.done': {
        const ev = e as ServerEvent<typeof type>;
        return this.mcpResponseItem(ev.response_id, ev.item, h);
      }
      case 'mcp_list_tools.failed': {
        const itemId = (e as ServerEvent<typeof type>).item_id;
        return h.mcp({ kind: 'list-failed', itemId, serverLabel: this.mcpListItems.get(itemId) });
      }
      case 'input_audio_buffer.dtmf_event_received':
        return h.keyPress({ digit: (e as ServerEvent<typeof type>).event });
      case 'conversation.item.input_audio_transcription.failed':
      case 'output_audio_buffer.started':
      case 'output_audio_buffer.stopped':
      case 'output_audio_buffer.cleared':
      case 'session.created':
      case 'session.updated':
      case 'rate_limits.updated':
        return h.trace(type, e);
    }
  }

  /** An `mcp_list_tools` item: its server when added, its tools once done. Other items are not ours to read here. */
  private mcpListItem(type: 'conversation.item.added' | 'conversation.item.done', item: { type: string }, h: ModelSessionHandlers): void {
    if (item.type !== 'mcp_list_tools') return;
    const parsed = mcpItemSchemas.mcp_list_tools.safeParse(item);
    if (!parsed.success) return this.mcpMismatch(item.type, parsed.error);
    const { id: itemId, server_label: serverLabel, tools } = parsed.data;
    if (itemId) this.mcpListItems.set(itemId, serverLabel);
    if (type === 'conversation.item.done') h.mcp({ kind: 'tools-listed', itemId: itemId ?? '', serverLabel, tools: tools.map((t) => t.name) });
  }

  /** A response's finished `mcp_call` (with its output or error) or `mcp_approval_request`. */
  private mcpResponseItem(responseId: string, item: { type: string }, h: ModelSessionHandlers): void {
    let activity: McpActivity;
    if (item.type === 'mcp_call') {
      const parsed = mcpItemSchemas.mcp_call.safeParse(item);
      if (!parsed.success) return this.mcpMismatch(item.type, parsed.error);
      const c = parsed.data;
      const error = c.error ? (c.error.message ?? c.error.type ?? 'the MCP call failed') : undefined;
      activity = {
        kind: 'call',
        itemId: c.id,
        responseId,
        serverLabel: c.server_label,
        name: c.name,
        arguments: c.arguments,
        ok: !c.error,
        ...(c.output != null ? { output: c.output } : {}),
        ...(error ? { error } : {}),
        ...(c.approval_request_id ? { approvalRequestId: c.approval_request_id } : {}),
      };
    } else if (item.type === 'mcp_approval_request') {
      const parsed = mcpItemSchemas.mcp_approval_request.safeParse(item);
      if (!parsed.success) return this.mcpMismatch(item.type, parsed.error);
      const r = parsed.data;
      activity = { kind: 'approval-request', requestId: r.id, responseId, serverLabel: r.server_label, name: r.name, arguments: r.arguments };
    } else return;
    h.mcp(activity);
  }

  private mcpMismatch(itemType: string, error: { issues: { path: PropertyKey[] }[] }): void {
    this.options.logger.warn({ itemType, problems: error.issues.map((i) => i.path.join('.')) }, 'OpenAI MCP item did not match its schema; ignored');
  }
}
