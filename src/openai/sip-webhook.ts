import { realtimeTools } from './session-config';
import express, { type Router } from 'express';
import OpenAI, { InvalidWebhookSignatureError } from 'openai';
import type { AgentWithDestinations } from '../agents/agent';
import { CallContexts, withPrompts } from '../context/call-contexts';
import { numberCandidates, type AgentRouter, type RouteVia } from '../agents/routing';
import { readUui } from '../sip-uui';
import type { ToolRegistry } from '../bridge/tools';
import type { Clock } from '../clock';
import type { ModelSession } from '../bridge/transports';
import { SipCallControl } from './sip-call-control';
import type { VoicemailPlan } from '../agents/telephony';
import { SipCallSession } from './sip-session';
import { checkWebhookHeaders } from './webhook-headers';
import type { OpenAIRestTap, OpenAIWebhookTap } from './realtime-tap';
import type { SecurityEvents } from '../security/security-events';
import { OPENAI_WEBHOOK_BODY_MAX_BYTES, OPENAI_WEBHOOK_SEEN_TTL_MS, OPENAI_WEBHOOK_TOLERANCE_S } from '../constants';
import { maskPhone, type Logger } from '../log';
import type { CallState, Store } from '../store/types';
import type { CallCapacity } from '../capacity';
import type { MetricsSink } from '../metrics/sink';

/**
 * `openai-sip` mode, first half: OpenAI's `realtime.call.incoming` webhook.
 * Security before allocation: the Standard Webhooks signature is checked on the raw body (OpenAI
 * reference §4.3) before anything else. Deliveries are deduplicated by webhook id and by call id
 * (OpenAI retries). The call is matched to its agent — our `uui` (set on the Bandwidth leg), then the
 * dialled number, then the default agent — and accepted with the agent's configuration, or rejected
 * with a SIP status that says why. (The sideband socket comes next.)
 */

export interface SipWebhookDeps {
  store: Store;
  router: AgentRouter;
  logger: Logger;
  /** The OpenAI client: webhooks.unwrap and realtime.calls.accept/reject. */
  openai: OpenAI;
  webhookSecret: string | undefined;
  security: SecurityEvents;
  toolsFor: (agent: AgentWithDestinations) => ToolRegistry;
  /** Time for the sessions' hand-off bound (tests pass a ManualClock). */
  clock: Clock;
  /**
   * This instance, as the owner of the calls whose sideband it holds (DESIGN §4.12): an accepted call is
   * marked with it until its session ends, so a crash in between is closed out at the next start.
   */
  instanceId: string;
  /** Open the sideband socket of an accepted call (reference §4.5). */
  openSideband: (agent: AgentWithDestinations, tools: ToolRegistry, callId: string) => ModelSession;
  /** Whole-call recording (RECORD_DIR): every webhook delivery with the answer it got. */
  tap?: OpenAIWebhookTap;
  /** Renders each call's prompts and asks the agent's context hook (default: no hook secrets, the real fetch). */
  contexts?: CallContexts;
  /** MAX_CONCURRENT_CALLS of this instance (src/capacity.ts); absent: no cap. */
  capacity?: CallCapacity;
  /** Where refused calls and the sessions' failures are counted (default: nowhere). */
  metrics?: MetricsSink;
}

interface SipHeader {
  name: string;
  value: string;
}

/** OpenAI reference §4.4: SIP accept rejects threshold/prefix/silence; only these turn-detection fields. */
export function sipAcceptParams(agent: AgentWithDestinations, tools: ToolRegistry): OpenAI.Realtime.Calls.CallAcceptParams {
  const td = agent.turnDetection;
  return {
    type: 'realtime',
    model: agent.model,
    instructions: agent.instructions,
    audio: {
      input: {
        transcription: { model: agent.transcriptionModel as 'gpt-4o-mini-transcribe', language: agent.language.slice(0, 2) },
        turn_detection:
          td.type === 'semantic_vad'
            ? { type: 'semantic_vad', eagerness: td.eagerness ?? 'auto', create_response: true, interrupt_response: true }
            : { type: 'server_vad', create_response: true, interrupt_response: true },
      },
      output: { voice: agent.voice },
    },
    tools: realtimeTools(tools.definitions(), tools.mcpServers),
    tool_choice: 'auto',
  } as OpenAI.Realtime.Calls.CallAcceptParams;
}

export function header(headers: readonly SipHeader[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
}

/** `"Name" <sip:+1919…@host>;tag=…` → `sip:+1919…@host` */
function sipAddress(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const angle = /<([^>]+)>/.exec(value);
  return (angle ? angle[1]! : value.split(';')[0]!).trim();
}

/**
 * `sip:+1919…@host:5060;transport=udp` → `host:5060`. Only a host name or [IPv6] literal and a port: the
 * header comes from the carrier's INVITE and becomes part of a REFER target, so anything else is no host.
 */
function sipHost(uri: string | undefined): string | undefined {
  const m = uri ? /^sips?:[^@]*@((?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?)(?:[;>?]|$)/i.exec(uri) : null;
  return m?.[1];
}

/** RFC 3261 §21.4.24 486 Busy Here: the callee is reachable but cannot take another call now. */
const SIP_BUSY_HERE = 486;

/** A caller leg in these states is ringing (or forwarded to) an AI SIP endpoint (call-flows, the SIP modes). */
const AI_HAND_OFF_STATES: readonly CallState[] = ['sip-connecting', 'forwarded'];

export class OpenAISipWebhook {
  private readonly seenWebhooks = new Map<string, number>();
  /** Live sideband sessions by OpenAI call id. */
  readonly sessions = new Map<string, SipCallSession>();
  private readonly contexts: CallContexts;
  private draining = false;
  private drained: (() => void) | undefined;

  constructor(private readonly deps: SipWebhookDeps) {
    this.contexts = deps.contexts ?? new CallContexts({ clock: deps.clock, env: {}, logger: deps.logger });
  }

  router(): Router {
    const router = express.Router();
    // The headers are checked before the body is read: a forged flood is refused without reading or hashing it.
    router.post(
      '/webhook',
      (req, res, next) => {
        const checked = checkWebhookHeaders(req.headers, Date.now());
        if (checked.ok || !this.deps.webhookSecret) return next(); // without a secret, handle() says so
        this.deps.security.refused('openai-webhook', checked.message);
        res.status(401).set('connection', 'close').json({ error: { code: 'signature_invalid', message: checked.message } });
      },
      express.text({ type: () => true, limit: OPENAI_WEBHOOK_BODY_MAX_BYTES }),
      async (req, res) => {
        const rawBody = typeof req.body === 'string' ? req.body : '';
        this.deps.tap?.received(rawBody);
        const result = await this.handle(rawBody, req.headers as Record<string, string>);
        res.status(result.status).json(result.body);
        this.deps.tap?.answered({ rawBody, headers: req.headers, ...result });
      },
    );
    // Body errors (too large, unreadable) are the sender's: a 4xx that says which, never the app's 500.
    router.use((err: { type?: string; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const tooLarge = err?.type === 'entity.too.large';
      res.status(tooLarge ? 413 : 400).json({
        error: { code: 'invalid_request', message: tooLarge ? `webhook body is larger than ${OPENAI_WEBHOOK_BODY_MAX_BYTES} bytes` : `webhook body unreadable: ${err?.message ?? 'unknown'}` },
      });
    });
    return router;
  }

  async handle(rawBody: string, headers: Record<string, string | string[] | undefined>): Promise<{ status: number; body: Record<string, unknown> }> {
    const d = this.deps;
    if (!d.webhookSecret) return { status: 503, body: { error: { code: 'not_configured', message: 'OPENAI_WEBHOOK_SECRET is not set: OpenAI webhooks cannot be verified' } } };
    const checked = checkWebhookHeaders(headers, Date.now());
    if (!checked.ok) {
      d.security.refused('openai-webhook', checked.message);
      return { status: 401, body: { error: { code: 'signature_invalid', message: checked.message } } };
    }
    let event: Awaited<ReturnType<OpenAI['webhooks']['unwrap']>>;
    try {
      event = await d.openai.webhooks.unwrap(rawBody, checked.headers, d.webhookSecret, OPENAI_WEBHOOK_TOLERANCE_S);
    } catch (err) {
      const bad = err instanceof InvalidWebhookSignatureError;
      if (bad) d.security.refused('openai-webhook', (err as Error).message);
      else d.logger.warn({ reason: (err as Error).message }, 'refused an OpenAI webhook body');
      return bad
        ? { status: 401, body: { error: { code: 'signature_invalid', message: `webhook signature refused: ${(err as Error).message}` } } }
        : { status: 400, body: { error: { code: 'invalid_request', message: `webhook body is not a valid event: ${(err as Error).message}` } } };
    }
    const webhookId = String(headers['webhook-id'] ?? event.id);
    this.sweep();
    if (this.seenWebhooks.has(webhookId)) return { status: 200, body: { status: 'duplicate', webhookId } };
    if (event.type !== 'realtime.call.incoming') return { status: 200, body: { status: 'ignored', type: event.type } };

    const callId = event.data.call_id;
    if (await d.store.calls.get(callId)) {
      this.seenWebhooks.set(webhookId, Date.now() + OPENAI_WEBHOOK_SEEN_TTL_MS);
      return { status: 200, body: { status: 'duplicate', callId } };
    }
    const sipHeaders = (event.data.sip_headers ?? []) as SipHeader[];
    const to = sipAddress(header(sipHeaders, 'To'));
    const from = sipAddress(header(sipHeaders, 'From'));
    const uui = header(sipHeaders, 'User-to-User') ?? header(sipHeaders, 'X-UUI');
    // Our own uui on the Bandwidth leg: "sb=<bandwidth call id>;agent=<id>" (untrusted input: ids only choose among configured agents).
    const context = readUui(uui);
    const parentCallId = await this.parentOf(context.fields.sb);
    const route = await d.router.resolve({ direction: 'inbound', to, from, uuiAgentId: context.agentId });
    const base = { id: callId, leg: 'ai-sip' as const, direction: 'inbound' as const, from: numberCandidates(from)[1] ?? from ?? null, to: numberCandidates(to)[1] ?? to ?? null, parentCallId: parentCallId ?? null };
    if (!route) {
      await d.openai.realtime.calls.reject(callId, { status_code: 404 }).catch((err: Error) => d.logger.warn({ callId, err: err.message }, 'reject failed'));
      await d.store.calls.record({ ...base, state: 'rejected', cause: 'no-agent', outcome: { outcome: 'rejected', reason: 'no agent for this number' } }, { callId, source: 'openai', type: 'realtime.call.incoming', data: { event, outcome: 'rejected 404: no agent' } });
      this.seenWebhooks.set(webhookId, Date.now() + OPENAI_WEBHOOK_SEEN_TTL_MS);
      d.logger.warn({ callId, to: maskPhone(to) }, 'OpenAI SIP call for no agent: rejected (404)');
      return { status: 200, body: { status: 'rejected', callId } };
    }
    const { agent, via } = route;
    // Beyond the cap the call is refused before it is accepted (a session and its sideband are what the cap
    // protects) with OpenAI's reject (OpenAI reference §4.4) and 486 Busy Here (RFC 3261 §21.4.24), so a Bandwidth leg's transfer fails and the caller gets the
    // agent's fallback there. A place is held from here until the session exists (src/capacity.ts).
    const place = d.capacity?.reserve();
    if (d.capacity && !place) {
      const reason = `busy: ${d.capacity.live} calls live on this instance (MAX_CONCURRENT_CALLS ${d.capacity.maxCalls})`;
      await d.openai.realtime.calls.reject(callId, { status_code: SIP_BUSY_HERE }).catch((err: Error) => d.logger.warn({ callId, err: err.message }, 'reject failed'));
      await d.store.calls.record(
        { ...base, agentId: agent.id, mode: 'openai-sip', state: 'rejected', cause: 'at-capacity', outcome: { outcome: 'rejected', reason } },
        { callId, source: 'openai', type: 'realtime.call.incoming', data: { event, outcome: `rejected ${SIP_BUSY_HERE}: ${reason}`, routedVia: via } },
      );
      this.seenWebhooks.set(webhookId, Date.now() + OPENAI_WEBHOOK_SEEN_TTL_MS);
      d.metrics?.callRefused('openai-sip', 'sip-reject');
      d.logger.warn({ callId, agentId: agent.id, liveCalls: d.capacity.live, maxCalls: d.capacity.maxCalls }, `at capacity: OpenAI SIP call rejected (${SIP_BUSY_HERE})`);
      return { status: 200, body: { status: 'rejected', callId, reason: 'busy' } };
    }
    try {
      return await this.accept(callId, webhookId, event, agent, via, base, sipHeaders, from, parentCallId);
    } finally {
      place?.release();
    }
  }

  /** Accept the call with the agent's configuration and open its sideband session (OpenAI reference §4.4–§4.6). */
  private async accept(
    callId: string,
    webhookId: string,
    event: unknown,
    agent: AgentWithDestinations,
    via: RouteVia,
    base: { id: string; leg: 'ai-sip'; direction: 'inbound'; from: string | null; to: string | null; parentCallId: string | null },
    sipHeaders: SipHeader[],
    from: string | undefined,
    parentCallId: string | undefined,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const d = this.deps;
    const tools = d.toolsFor(agent);
    // Asked before the accept, so the hook overlaps the accept and the sideband's connect; the accept carries
    // the defaults, and the session takes the hook's answer before it greets (README "Context hook").
    const prompts = this.contexts.forCall(agent, { callId, direction: 'inbound', caller: base.from, called: base.to });
    try {
      await d.openai.realtime.calls.accept(callId, sipAcceptParams(withPrompts(agent, prompts.initial), tools));
    } catch (err) {
      const status = err instanceof OpenAI.APIError ? err.status : undefined;
      if (status === 404) {
        // OpenAI reference §4.6: the caller hung up before we accepted.
        await d.store.calls.record({ ...base, agentId: agent.id, mode: 'openai-sip', state: 'completed', cause: 'gone-before-accept', outcome: { outcome: 'caller-hung-up', reason: 'the call ended before it was accepted' } }, { callId, source: 'openai', type: 'realtime.call.incoming', data: { event, outcome: 'call already gone (404 on accept)' } });
        this.seenWebhooks.set(webhookId, Date.now() + OPENAI_WEBHOOK_SEEN_TTL_MS);
        return { status: 200, body: { status: 'gone', callId } };
      }
      d.logger.error({ callId, status, err: (err as Error).message }, 'OpenAI refused to accept the SIP call');
      // Not recorded as seen: a non-2xx makes OpenAI deliver again, and the next try may succeed.
      return { status: 502, body: { error: { code: 'accept_failed', message: `accept failed${status ? ` (HTTP ${status})` : ''}` } } };
    }
    // Owned from the accept: the sideband opens next, and a crash from here on leaves the leg live (DESIGN §4.12).
    await d.store.calls.record(
      { ...base, agentId: agent.id, mode: 'openai-sip', state: 'sip-connected', mediaOwner: d.instanceId },
      { callId, source: 'openai', type: 'realtime.call.incoming', data: { event, outcome: 'accepted', routedVia: via } },
    );
    if (parentCallId) await d.store.calls.record({ id: parentCallId, state: 'sip-connected' }).catch(() => undefined);
    this.seenWebhooks.set(webhookId, Date.now() + OPENAI_WEBHOOK_SEEN_TTL_MS);
    d.logger.info({ callId, agentId: agent.id, parentCallId }, 'OpenAI SIP call accepted');
    // Reference §4.6: accept, then open the sideband without holding the webhook response.
    const session = new SipCallSession({
      callId,
      agent,
      store: d.store,
      logger: d.logger,
      clock: d.clock,
      tools,
      model: d.openSideband(agent, tools, callId),
      prompts,
      control: new SipCallControl({ openai: d.openai, store: d.store, logger: d.logger, trunkHost: sipHost(sipAddress(header(sipHeaders, 'Contact'))) ?? sipHost(from) }),
      parentCallId,
      metrics: d.metrics,
      onEnded: (s) => {
        if (this.sessions.get(callId) === s) this.sessions.delete(callId);
        if (this.sessions.size === 0) this.drained?.();
      },
    });
    this.sessions.set(callId, session);
    // Accepted while the server stops: nobody will stay to run it, so its agent's fallback takes it now.
    if (this.draining) void session.handOver('server shutting down');
    return { status: 200, body: { status: 'accepted', callId, agentId: agent.id } };
  }

  /**
   * Shutdown (docs/reliability.md, draining): the live openai-sip calls get up to `timeoutMs` to end, as
   * stream calls do (CallRegistry.drain); each one left is then handed to its agent's fallback
   * (SipCallSession.handOver). Returns the sessions handed over.
   */
  async drain(timeoutMs: number): Promise<SipCallSession[]> {
    this.draining = true;
    if (this.sessions.size > 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.deps.clock.setTimeout(resolve, timeoutMs);
      });
    }
    const cut = [...this.sessions.values()];
    await Promise.all(cut.map((session) => session.handOver('server shutting down')));
    return cut;
  }

  /**
   * A machine answered the Bandwidth call whose AI leg is one of this instance's sideband sessions (an outbound
   * openai-sip call): that session's agent acts on it. False when no session here belongs to the call.
   */
  answeredByMachine(bandwidthCallId: string, plan: VoicemailPlan): boolean {
    const session = [...this.sessions.values()].find((s) => s.parentCallId === bandwidthCallId);
    session?.answeredByMachine(plan);
    return session !== undefined;
  }

  /**
   * The Bandwidth call this OpenAI call is the AI leg of, from our UUI (`sb=`). The header comes from whoever
   * dialled OpenAI's SIP endpoint, so it is believed only for a call of ours that is being handed to an AI SIP
   * endpoint right now (sip-connecting after <Transfer>, forwarded after <Forward>): a forged or stale `sb=`
   * must not mark another call connected, nor send this call's outcome or key presses to it.
   */
  private async parentOf(claimed: string | undefined): Promise<string | undefined> {
    if (!claimed || !/^c-[\w-]+$/.test(claimed)) return undefined;
    const parent = await this.deps.store.calls.get(claimed);
    return parent && parent.leg === 'caller' && AI_HAND_OFF_STATES.includes(parent.state) ? claimed : undefined;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, until] of this.seenWebhooks) if (until <= now) this.seenWebhooks.delete(id);
  }
}

/** OPENAI_BASE_URL may be ws:// for the Realtime stand-in; the REST client needs http(s). */
export function openaiClient(baseUrl: string, apiKey: string | undefined, webhookSecret: string | undefined, tap?: OpenAIRestTap): OpenAI {
  const baseURL = baseUrl.replace(/^ws(s?):/i, 'http$1:');
  // Whole-call recording sees each request through the client's own fetch hook (the SDK's documented `fetch` option).
  const tapped: typeof fetch | undefined = tap
    ? async (input, init) => {
        const res = await fetch(input, init);
        const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
        tap({ method: init?.method ?? 'GET', path: url.pathname.slice(new URL(baseURL).pathname.replace(/\/$/, '').length), body: typeof init?.body === 'string' ? init.body : undefined, status: res.status });
        return res;
      }
    : undefined;
  return new OpenAI({ apiKey: apiKey ?? 'not-configured', baseURL, webhookSecret: webhookSecret ?? null, maxRetries: 1, timeout: 10_000, ...(tapped ? { fetch: tapped } : {}) });
}
