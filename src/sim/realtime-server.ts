/**
 * A local stand-in for the OpenAI Realtime WebSocket API (GA protocol), for Switchboard's tests, demo and
 * benchmarks. It listens on 127.0.0.1, authenticates like api.openai.com (RT §1.1), speaks the GA events of
 * RT §1.4–§1.6, runs an energy VAD on appended audio (RT §1.3), streams scripted speech-like audio faster than
 * real time (RT §3.1), enforces truncation limits (RT §3, P2) and overlapping-response errors (P7), and can
 * refuse, drop or expire connections (RT §6.1, DESIGN §4.9). References are to
 * ../shared/reference/openai-realtime.md ("RT §n").
 *
 *   const rt = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hi there!' }) });
 *   // OPENAI_BASE_URL = rt.url  →  client connects to `${rt.url}/realtime?model=gpt-realtime-2.1`
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../clock';
import { IdGenerator } from './realtime-ids';
import type { BetaFieldPolicy } from './realtime-protocol';
import { defaultScript, defaultTranscriber, type Script, type Transcriber } from './realtime-script';
import { RealtimeSimSession, type RecordedClientEvent, type RecordMode, type SessionEnvironment } from './realtime-session';
import { RateLimitMeter, type RateLimitConfig } from './realtime-usage';
import type { SimMcpServers } from './realtime-mcp';
import type { RecordedVadEvent } from './realtime-recorded-vad';

export { MAX_DURATION_REASON, RealtimeSimSession } from './realtime-session';
export type { RecordedClientEvent, RecordedServerEvent, RecordMode, ResponseSummary, TruncateRecord } from './realtime-session';
export type { ConversationEntry, FunctionCallPlan, McpCallPlan, ResponsePlan, ResponseTrigger, Script, ScriptContext, SpeechPlan, Transcriber } from './realtime-script';
export { defaultScript, defaultTranscriber, speechMsFor, DEFAULT_GREETING } from './realtime-script';
export type { EffectiveSession, TurnDetectionConfig } from './realtime-protocol';
export type { SimMcpServer, SimMcpServers, SimMcpTool } from './realtime-mcp';
export type { AudioFormat } from './realtime-audio';

/** Answer WebSocket upgrades with this HTTP status instead (e.g. 429 rate limit, 500, 503). */
export interface RefuseSpec {
  status: number;
  /** JSON body; defaults to an OpenAI-style `{error:{…}}` for the status. */
  body?: object;
  headers?: Record<string, string>;
  /** Refuse only this many upgrades, then accept again (default: until cleared). */
  times?: number;
}

/**
 * A model that never answers (DESIGN §4.9), for the bridge's readiness deadline:
 * - `upgrade`: the TCP connection is accepted and the upgrade request read, but never answered;
 * - `session-created`: the upgrade is answered (101) and then nothing is ever sent, not even
 *   `session.created` (RT §1.5), and no client event is acted on (they are still recorded);
 * - `audio`: a normal session (session.created, session.updated, errors) whose `response.create`s are
 *   recorded and never answered, so no audio ever comes.
 */
export type StallMode = 'upgrade' | 'session-created' | 'audio';

/**
 * A carrier that refuses SIP REFER (OpenAI reference §4.4, §7 P11). OpenAI answers `/refer` with 200
 * "once the REFER is relayed to your SIP provider"; how, and whether, a provider's refusal comes back
 * on `/refer` is undocumented. The stand-in assumes it does, as an error answer (default HTTP 500, the
 * status seen in the community report of P11) naming the SIP response (default 403 Forbidden).
 */
export interface ReferRefusalSpec {
  status?: number;
  sipStatus?: number;
  sipReason?: string;
}

export interface RealtimeStandInOptions {
  /** Expected `Authorization: Bearer …` key (default 'sk-test'). */
  apiKey?: string;
  /** Time source for pacing, latencies, timestamps and timers (default: the system clock). */
  clock?: Clock;
  /** Decides each response (default: greet, then answer the caller). */
  script?: Script<RealtimeSimSession>;
  /** Names what the caller said in each committed user item. */
  transcribe?: Transcriber;
  refuse?: RefuseSpec;
  /** Refuse every SIP REFER (settable at run time through `referRefusal`). */
  referRefusal?: ReferRefusalSpec;
  /** Stall new connections (settable at run time through `stall`). */
  stall?: StallMode;
  /** Audio per `response.output_audio.delta`, ms (default 100). */
  chunkMs?: number;
  /** Audio ms generated per clock ms (default 4: four times real time). */
  speedFactor?: number;
  /** Clock ms from `response.created` to the first output (default 300). */
  firstDeltaLatencyMs?: number;
  /** Clock ms from a commit to its input transcription (default 100; 0 = immediately). */
  transcriptionDelayMs?: number;
  /** Consecutive loud audio before the VAD calls it speech, ms (default 40). */
  vadMinSpeechMs?: number;
  /**
   * Playback: asked once per session, on its first append, for the turns a recording's VAD found (the
   * sessions that appended audio then, in order); undefined → the stand-in's own energy VAD.
   */
  recordedVad?: () => RecordedVadEvent[] | undefined;
  /** Flat beta session fields: refuse with an error (default, like the GA service) or drop silently (RT §7 P1). */
  betaFields?: BetaFieldPolicy;
  /** `control` keeps audio appends and audio deltas out of the recorded logs (long benchmarks). */
  record?: RecordMode;
  rateLimits?: Partial<RateLimitConfig>;
  /** RT §6.1: close with 1001 after this long (default 60 minutes). */
  maxSessionMs?: number;
  /**
   * Clock ms before any WebSocket upgrade is answered, accepted or refused (default 0: at once). Stands
   * for the TLS handshake and OpenAI's own session setup, which a real connection pays before `101`.
   */
  connectDelayMs?: number;
  /** MCP servers the stand-in can reach, by URL (realtime-mcp.ts); others cannot be reached. */
  mcpServers?: SimMcpServers;
  /**
   * Serve HTTPS and `wss://` with this certificate (PEM), as api.openai.com does (RT §1.1); default plain
   * HTTP and `ws://`. The client must trust the certificate's issuer (e.g. NODE_EXTRA_CA_CERTS).
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface UpgradeRecord {
  /** Clock time the upgrade was answered. */
  atMs: number;
  /** Clock time the upgrade request arrived (earlier than `atMs` by `connectDelayMs`). */
  requestedAtMs: number;
  path: string;
  /** 101 when accepted, 0 while held unanswered (`stall: 'upgrade'`), else the HTTP status answered. */
  status: number;
}

export interface RealtimeStandIn {
  /** `ws://127.0.0.1:PORT/v1` (`wss://` with `tls`): clients connect to `${url}/realtime?model=…`. */
  readonly url: string;
  readonly port: number;
  readonly apiKey: string;
  /** Sockets accepted so far. */
  readonly connections: number;
  /** Every session ever accepted, in order (closed ones have `open === false`). */
  readonly sessions: readonly RealtimeSimSession[];
  /** Every client event of every session, in arrival order. */
  readonly events: readonly RecordedClientEvent[];
  /** Every upgrade attempt, accepted or not. */
  readonly upgrades: readonly UpgradeRecord[];
  /** Upgrade requests still waiting out `connectDelayMs`. */
  readonly pendingUpgrades: number;
  /** Current refusal (settable at run time; cleared after `times` refusals). */
  refuse: RefuseSpec | undefined;
  /** Current REFER refusal (settable at run time; undefined: REFERs are relayed). */
  referRefusal: ReferRefusalSpec | undefined;
  /** How new connections stall (settable at run time; undefined: they do not). Applies to connections made after it is set. */
  stall: StallMode | undefined;
  /** Upgrade requests held unanswered (`stall: 'upgrade'`) whose TCP connection is still open. */
  readonly heldUpgrades: number;
  /** SIP calls (OpenAI reference §4): register one with `incomingSipCall`, then the client accepts it. */
  readonly sipCalls: Map<string, SipCallRecord>;
  incomingSipCall(callId: string): SipCallRecord;
  session(id: string): RealtimeSimSession | undefined;
  /** Resolves when session number `index` (0-based) has connected. */
  waitForSession(index?: number): Promise<RealtimeSimSession>;
  /** Drop every open socket: without a close frame (client sees 1006) or, with `code`, closing with it. */
  dropAll(code?: number, reason?: string): void;
  /** Close one session's socket, e.g. `closeSession(id, 1001, MAX_DURATION_REASON)`. */
  closeSession(id: string, code: number, reason?: string): void;
  close(): Promise<void>;
}

export const DEFAULT_API_KEY = 'sk-test';

/** What happened to a SIP call through the call-control REST endpoints (OpenAI reference §4.4). */
export interface SipCallRecord {
  callId: string;
  state: 'incoming' | 'accepted' | 'rejected' | 'ended';
  accept?: Record<string, unknown>;
  rejectStatus?: number;
  /** REFER targets relayed (200). */
  refers: string[];
  /** REFERs the modelled carrier refused (`referRefusal`), with the HTTP status answered. */
  refusedRefers: { target: string; status: number; sipStatus: number }[];
  /** Sideband sessions attached with `?call_id=` (OpenAI reference §4.5). */
  sessions: RealtimeSimSession[];
}

export async function startRealtimeStandIn(options: RealtimeStandInOptions = {}): Promise<RealtimeStandIn> {
  const standIn = new RealtimeStandInServer(options);
  await standIn.listen();
  return standIn;
}

class RealtimeStandInServer implements RealtimeStandIn {
  readonly apiKey: string;
  refuse: RefuseSpec | undefined;
  stall: StallMode | undefined;
  referRefusal: ReferRefusalSpec | undefined;
  readonly sessions: RealtimeSimSession[] = [];
  readonly events: RecordedClientEvent[] = [];
  readonly upgrades: UpgradeRecord[] = [];
  private readonly clock: Clock;
  private readonly env: SessionEnvironment;
  private readonly http: http.Server | https.Server;
  private readonly secure: boolean;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('realtime') ? 'realtime' : false) });
  private readonly sessionWaiters: Array<{ index: number; resolve: (s: RealtimeSimSession) => void }> = [];
  private address: AddressInfo | undefined;
  private readonly connectDelayMs: number;
  /** Upgrades waiting out the connect delay, so close() can drop them instead of answering later. */
  private readonly delayedUpgrades = new Map<TimerHandle, Duplex>();
  /** Upgrades held unanswered (`stall: 'upgrade'`), until the client gives up or close(). */
  private readonly held = new Set<Duplex>();

  constructor(options: RealtimeStandInOptions) {
    this.apiKey = options.apiKey ?? DEFAULT_API_KEY;
    this.refuse = options.refuse;
    this.stall = options.stall;
    this.referRefusal = options.referRefusal;
    this.clock = options.clock ?? systemClock;
    this.connectDelayMs = Math.max(0, options.connectDelayMs ?? 0);
    this.env = {
      clock: this.clock,
      ids: new IdGenerator(),
      pacing: { chunkMs: options.chunkMs ?? 100, speedFactor: options.speedFactor ?? 4, firstDeltaLatencyMs: options.firstDeltaLatencyMs ?? 300 },
      script: options.script ?? defaultScript,
      transcribe: options.transcribe ?? defaultTranscriber,
      betaFields: options.betaFields ?? 'reject',
      record: options.record ?? 'all',
      transcriptionDelayMs: options.transcriptionDelayMs ?? 100,
      vadMinSpeechMs: options.vadMinSpeechMs ?? 40,
      ...(options.recordedVad ? { recordedVad: options.recordedVad } : {}),
      rateLimits: new RateLimitMeter({ requestsPerMinute: 5000, tokensPerMinute: 400_000, ...options.rateLimits }),
      maxSessionMs: options.maxSessionMs ?? 60 * 60 * 1000,
      mcpServers: options.mcpServers ?? {},
      onClientEvent: (e) => this.events.push(e),
    };
    const onRequest = (req: IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res);
    this.secure = options.tls !== undefined;
    this.http = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : http.createServer(onRequest);
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => {
        this.address = this.http.address() as AddressInfo;
        resolve();
      });
    });
  }

  get port(): number {
    return this.address?.port ?? 0;
  }

  get url(): string {
    return `${this.secure ? 'wss' : 'ws'}://127.0.0.1:${this.port}/v1`;
  }

  get connections(): number {
    return this.sessions.length;
  }

  get pendingUpgrades(): number {
    return this.delayedUpgrades.size;
  }

  get heldUpgrades(): number {
    return this.held.size;
  }

  session(id: string): RealtimeSimSession | undefined {
    return this.sessions.find((s) => s.id === id);
  }

  waitForSession(index = 0): Promise<RealtimeSimSession> {
    const existing = this.sessions[index];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve) => this.sessionWaiters.push({ index, resolve }));
  }

  dropAll(code?: number, reason = ''): void {
    for (const s of this.sessions) {
      if (!s.open) continue;
      if (code === undefined) s.terminate();
      else s.close(code, reason);
    }
  }

  closeSession(id: string, code: number, reason = ''): void {
    this.session(id)?.close(code, reason);
  }

  async close(): Promise<void> {
    for (const [timer, socket] of this.delayedUpgrades) {
      this.clock.clear(timer);
      socket.destroy();
    }
    this.delayedUpgrades.clear();
    for (const socket of this.held) socket.destroy();
    this.held.clear();
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  readonly sipCalls = new Map<string, SipCallRecord>();

  incomingSipCall(callId: string): SipCallRecord {
    const call: SipCallRecord = { callId, state: 'incoming', refers: [], refusedRefers: [], sessions: [] };
    this.sipCalls.set(callId, call);
    return call;
  }

  private onRequest(req: IncomingMessage, res: http.ServerResponse): void {
    const reply = (status: number, body?: object) => {
      if (body) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      else res.writeHead(status).end();
    };
    // RT §4.4: POST /v1/realtime/calls/{call_id}/{accept|reject|refer|hangup}, Bearer auth, 200 with no body.
    const m = /\/realtime\/calls\/([^/]+)\/(accept|reject|refer|hangup)$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (req.method !== 'POST' || !m) return reply(404, openAiError(`Invalid URL (${req.method ?? 'GET'} ${req.url ?? '/'})`, 'invalid_request_error'));
    const auth = checkAuth(req, this.apiKey);
    if (auth) return reply(401, auth);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [, callId, verb] = m as unknown as [string, string, string];
      const call = this.sipCalls.get(decodeURIComponent(callId));
      if (!call || call.state === 'ended' || call.state === 'rejected') return reply(404, openAiError('Call not found.', 'invalid_request_error', 'call_id', 'call_id_not_found'));
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        return reply(400, openAiError('We could not parse the JSON body of your request.', 'invalid_request_error'));
      }
      switch (verb) {
        case 'accept':
          if (body.type !== 'realtime') return reply(400, openAiError("Missing required parameter: 'type'.", 'invalid_request_error', 'type', 'missing_required_parameter'));
          call.state = 'accepted';
          call.accept = body;
          return reply(200);
        case 'reject':
          call.state = 'rejected';
          call.rejectStatus = typeof body.status_code === 'number' ? body.status_code : 603;
          return reply(200);
        case 'refer':
          if (typeof body.target_uri !== 'string') return reply(400, openAiError("Missing required parameter: 'target_uri'.", 'invalid_request_error', 'target_uri', 'missing_required_parameter'));
          if (this.referRefusal) {
            const { status = 500, sipStatus = 403, sipReason = 'Forbidden' } = this.referRefusal;
            call.refusedRefers.push({ target: body.target_uri, status, sipStatus });
            return reply(status, openAiError(`The SIP provider refused the REFER to ${body.target_uri} (SIP ${sipStatus} ${sipReason}).`, 'server_error', 'target_uri', 'refer_failed'));
          }
          call.refers.push(body.target_uri);
          return reply(200);
        default:
          call.state = 'ended';
          for (const s of call.sessions) s.close(1000, 'call ended');
          return reply(200);
      }
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const requestedAtMs = this.clock.now();
    if (this.connectDelayMs === 0) return this.respondToUpgrade(req, socket, head, requestedAtMs);
    // Node removes its own error listener before 'upgrade': a client that resets the connection while
    // it waits must not crash the stand-in.
    const onError = (): void => {
      socket.destroy();
    };
    socket.on('error', onError);
    const timer = this.clock.setTimeout(() => {
      this.delayedUpgrades.delete(timer);
      socket.off('error', onError);
      if (!socket.destroyed) this.respondToUpgrade(req, socket, head, requestedAtMs);
    }, this.connectDelayMs);
    this.delayedUpgrades.set(timer, socket);
  }

  /** RT §1.1: path `…/realtime`, `Authorization: Bearer <key>` (or the `openai-insecure-api-key.` subprotocol), `?model=`. */
  private respondToUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, requestedAtMs: number): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const refuse = (status: number, body: object, headers: Record<string, string> = {}): void => {
      this.upgrades.push({ atMs: this.clock.now(), requestedAtMs, path: url.pathname + url.search, status });
      answerUpgrade(socket, status, body, headers);
    };
    if (!url.pathname.endsWith('/realtime')) return refuse(404, openAiError(`Invalid URL (GET ${url.pathname})`, 'invalid_request_error'));
    const auth = checkAuth(req, this.apiKey);
    if (auth) return refuse(401, auth);
    const refusal = this.takeRefusal();
    if (refusal) return refuse(refusal.status, refusal.body ?? defaultRefusalBody(refusal.status), refusal.headers);
    if (this.stall === 'upgrade') {
      // Never answered: the client's own deadline must end it. The socket is forgotten once closed.
      this.upgrades.push({ atMs: this.clock.now(), requestedAtMs, path: url.pathname + url.search, status: 0 });
      this.held.add(socket);
      socket.on('error', () => socket.destroy());
      // node:http servers allow half-open sockets: the client's FIN alone would not close this one.
      socket.once('end', () => socket.destroy());
      socket.once('close', () => this.held.delete(socket));
      return;
    }
    const model = url.searchParams.get('model');
    // RT §4.5 / P10: a sideband attaches only to an accepted SIP call; anything else is "call not found".
    const sipCallId = url.searchParams.get('call_id');
    if (sipCallId !== null) {
      const call = this.sipCalls.get(sipCallId);
      if (!call || call.state !== 'accepted') return refuse(404, openAiError('Call not found.', 'invalid_request_error', 'call_id', 'call_id_not_found'));
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.upgrades.push({ atMs: this.clock.now(), requestedAtMs, path: url.pathname + url.search, status: 101 });
        this.accept(ws, req, String(call.accept?.model ?? 'gpt-realtime'), url.pathname + url.search);
        const session = this.sessions[this.sessions.length - 1]!;
        call.sessions.push(session);
        // The call was configured at accept (RT §4.4): its MCP servers are listed on the sideband.
        if (Array.isArray(call.accept?.tools)) session.adoptAcceptedTools(call.accept.tools);
      });
      return;
    }
    if (!model) return refuse(400, openAiError("Missing required parameter: 'model'.", 'invalid_request_error', 'model', 'missing_required_parameter'));
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.upgrades.push({ atMs: this.clock.now(), requestedAtMs, path: url.pathname + url.search, status: 101 });
      this.accept(ws, req, model, url.pathname + url.search);
    });
  }

  private takeRefusal(): RefuseSpec | undefined {
    const r = this.refuse;
    if (!r) return undefined;
    if (r.times !== undefined) {
      if (r.times <= 1) this.refuse = undefined;
      else this.refuse = { ...r, times: r.times - 1 };
    }
    return r;
  }

  private accept(ws: WebSocket, req: IncomingMessage, model: string, path: string): void {
    const session = new RealtimeSimSession(this.env, ws, model, path, req.headers, this.stall === 'upgrade' ? undefined : this.stall);
    this.sessions.push(session);
    // RT §1.7 / P9: beta-shaped connections get `beta_api_shape_disabled`, then close 4000.
    if (req.headers['openai-beta']) {
      session.send({
        type: 'error',
        error: {
          type: 'invalid_request_error',
          code: 'beta_api_shape_disabled',
          message: 'The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.',
          param: null,
          event_id: null,
        },
      });
      session.close(4000, 'beta_api_shape_disabled');
    }
    const index = this.sessions.length - 1;
    for (let i = this.sessionWaiters.length - 1; i >= 0; i--) {
      const w = this.sessionWaiters[i];
      if (w && w.index === index) {
        this.sessionWaiters.splice(i, 1);
        w.resolve(session);
      }
    }
  }
}

function openAiError(message: string, type: string, param: string | null = null, code: string | null = null): object {
  return { error: { message, type, param, code } };
}

/** RT §1.1: api.openai.com's answers to a missing or wrong key. */
function checkAuth(req: IncomingMessage, apiKey: string): object | undefined {
  const header = req.headers.authorization;
  const fromHeader = header && /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  const fromProtocol = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith('openai-insecure-api-key.'))
    ?.slice('openai-insecure-api-key.'.length);
  const key = fromHeader || fromProtocol;
  if (!key)
    return openAiError(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
        '(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.',
      'invalid_request_error',
    );
  if (key !== apiKey)
    return openAiError(
      `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      'invalid_request_error',
      null,
      'invalid_api_key',
    );
  return undefined;
}

function maskKey(key: string): string {
  return key.length <= 8 ? key : `${key.slice(0, 3)}${'*'.repeat(Math.min(20, key.length - 7))}${key.slice(-4)}`;
}

function defaultRefusalBody(status: number): object {
  if (status === 429) return openAiError('Rate limit reached for requests. Please try again later.', 'requests', null, 'rate_limit_exceeded');
  if (status === 503) return openAiError('The engine is currently overloaded, please try again later.', 'server_error');
  if (status >= 500) return openAiError('The server had an error while processing your request. Sorry about that!', 'server_error');
  return openAiError(http.STATUS_CODES[status] ?? 'Request refused.', 'invalid_request_error');
}

/** Answer an upgrade request with a plain HTTP response and close the socket. */
function answerUpgrade(socket: Duplex, status: number, body: object, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      extra +
      'Connection: close\r\n\r\n' +
      text,
  );
}
