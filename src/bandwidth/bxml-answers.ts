import type { RouteVia } from '../agents/routing';
import { encodeUui } from '../sip-uui';
import { fallbackDestination, type AgentWithDestinations, type TransferDestination } from '../agents/agent';
import type { CallLifecycleListener } from '../bridge/transports';
import { MEDIA_USERNAME, STREAM_NAME, UUI_MAX_CHARS, VERB_TAG_MAX_CHARS } from '../constants';
import type { Credentials } from '../credentials';
import type { Logger } from '../log';
import type { CallOutcome } from '../outcomes';
import type { UrlSigner } from '../security/signing';
import type { CallState, CallUpdate, Store } from '../store/types';
import type { CommonView, TemplateCatalog } from './bxml/catalog';
import type { Callback } from './callbacks';
import type { CallbackContexts, TransferContext } from './callback-contexts';
import type { CallbackResult } from './callback-result';
import type { CallCapacity } from '../capacity';
import type { MetricsSink } from '../metrics/sink';
import { baseUpdate, callUpdate, type CallbackWrites } from './callback-writes';
import { VOICE_ROUTES, type CallbackUrls } from './urls';

/**
 * The BXML Switchboard answers with (DESIGN §2–§4, BW §1.3, §2): a stream to the bridge, a hand-off to an AI
 * SIP endpoint, a transfer, the fallback, a hang-up or a rejection. Each renders its template and records
 * the callback with the call's new state, committed before the BXML goes out (the durability rule).
 */
export interface BxmlAnswersDeps {
  store: Store;
  templates: TemplateCatalog;
  signer: UrlSigner;
  urls: CallbackUrls;
  contexts: CallbackContexts;
  credentials: Credentials;
  logger: Logger;
  writes: CallbackWrites;
  listener?: CallLifecycleListener;
  metrics: MetricsSink;
  /** MAX_CONCURRENT_CALLS of this instance; absent: no cap. */
  capacity?: CallCapacity;
}

export class BxmlAnswers {
  constructor(private readonly deps: BxmlAnswersDeps) {}

  async stream(
    cb: Callback,
    agent: AgentWithDestinations,
    why: 'answer' | 'transfer-failed',
    eventData: Record<string, unknown>,
    resumeNote?: string,
    outcome?: CallOutcome,
  ): Promise<CallbackResult> {
    // Draining for shutdown: no new stream (a first answer or a caller back from a failed transfer) starts on a dying instance.
    if (this.deps.listener?.accepting?.() === false) {
      this.deps.metrics.fallback('shutting-down');
      return this.fallback(cb, agent, 'the server is shutting down', eventData);
    }
    // A new call beyond the cap is refused before anything is allocated for it (src/capacity.ts). A caller
    // back from a failed transfer is a live call, and a retried initiate's session is held already.
    const capacity = this.deps.capacity;
    if (why === 'answer' && capacity && !capacity.admits(cb.callId)) return this.busy(cb, agent, capacity, eventData);
    const template = agent.streamHold === 'pause' ? 'stream-pause' : 'stream';
    const context = { callId: cb.callId, agentId: agent.id };
    const xml = this.deps.templates.render(template, {
      ...this.commonView(cb, agent),
      streamName: STREAM_NAME,
      tracks: 'inbound',
      mediaUrl: this.deps.urls.media(context),
      mediaUsername: MEDIA_USERNAME,
      mediaPassword: this.deps.signer.mediaPassword(cb.callId),
      streamEventsUrl: this.deps.urls.voice(VOICE_ROUTES.streamEvents),
      streamEndedUrl: this.deps.urls.signedVoice(VOICE_ROUTES.streamEnded, 'stream-ended', context),
      dtmfUrl: agent.telephony.keyPresses.enabled ? this.deps.urls.voice(VOICE_ROUTES.dtmf) : undefined,
    });
    // Pre-warm first: the OpenAI connect starts now and overlaps the store's commit (the greeting bench
    // measured ~9 ms more to the first word the other way round). A retried initiate keeps this session.
    this.deps.listener?.streamAnswered?.({ callId: cb.callId, agent, from: cb.from, to: cb.to, direction: cb.direction, resumeNote });
    try {
      await this.deps.writes.durable(
        // A new stream: nothing an earlier stream of this call left for /stream-ended applies to it.
        this.deps.store.handOffs.clear(cb.callId),
        this.deps.writes.record([{ ...callUpdate(cb, agent), state: 'streaming', errorMessage: why === 'answer' ? undefined : String(eventData.reason ?? ''), outcome }], cb, { template, ...eventData }),
      );
    } catch (err) {
      // The answer becomes a 5xx, so no stream follows it: do not leave the pre-warmed (billed) session behind.
      this.deps.listener?.streamRejected?.(cb.callId);
      throw err;
    }
    return { kind: 'bxml', xml, template };
  }

  /**
   * DESIGN §2: the SIP modes hand the call to an AI SIP endpoint with Forward or Transfer. `<Forward>`
   * only forwards an unanswered inbound call (BW §2.4), so an outbound call's `answer` always gets
   * `<Transfer><SipUri>`, and without diversion, which must not be used on an outbound call (BW §2.5).
   */
  async sipHandoff(cb: Callback, agent: AgentWithDestinations, via: RouteVia): Promise<CallbackResult> {
    const sip = agent.sip!; // agentSchema guarantees sip for the SIP modes
    const uui = encodeUui({ sb: cb.callId, agent: agent.id }, UUI_MAX_CHARS);
    if (sip.verb === 'forward' && !isOutbound(cb)) {
      const xml = this.deps.templates.render('forward-sip', {
        ...this.commonView(cb, agent),
        sipTarget: sip.target,
        forwardFrom: sip.from ?? cb.to,
        callTimeout: sip.callTimeoutS,
        diversionTreatment: sip.diversionTreatment,
        diversionReason: sip.diversionReason,
        uui,
      });
      await this.deps.writes.record([{ ...callUpdate(cb, agent), state: 'forwarded' }], cb, { template: 'forward-sip', routedVia: via });
      return { kind: 'bxml', xml, template: 'forward-sip' };
    }
    const destination: TransferDestination = { id: `${agent.id}-ai`, name: 'ai', kind: 'sip', value: sip.target, warm: false, callTimeoutS: sip.callTimeoutS };
    return this.transfer(cb, agent, { callId: cb.callId, agentId: agent.id, destination, origin: 'ai-sip' }, { uui, state: 'sip-connecting', routedVia: via, sip });
  }

  async transfer(
    cb: Callback,
    agent: AgentWithDestinations | undefined,
    ctx: TransferContext,
    extra: { uui?: string; state?: CallState; routedVia?: RouteVia; sip?: AgentWithDestinations['sip'] } = {},
  ): Promise<CallbackResult> {
    const d = ctx.destination;
    const outbound = isOutbound(cb);
    if (d.kind === 'hangup' || !d.value) {
      return this.finish(cb, 'hangup', {}, { state: 'completed', outcome: { outcome: 'completed-by-agent', reason: `destination ${d.name} ends the call` } }, { destination: d.name });
    }
    const template = d.kind === 'sip' ? 'transfer-sip' : 'transfer-phone';
    const { urls, saved } = this.deps.contexts.transferUrls(ctx);
    const xml = this.deps.templates.render(template, {
      ...this.commonView(cb, agent),
      streamName: STREAM_NAME,
      target: d.value,
      uui: d.kind === 'sip' ? (extra.uui ?? encodeUui({ sb: cb.callId, agent: ctx.agentId, reason: ctx.reason ?? '' }, UUI_MAX_CHARS)) : undefined,
      transferCallerId: callerIdFor(cb),
      callTimeout: d.callTimeoutS,
      holdMessage: agent?.holdMessage || undefined,
      tag: `sb:transfer:${d.name}`.slice(0, VERB_TAG_MAX_CHARS),
      // BW §2.5: diversion must not be used when transferring an outbound API call.
      diversionTreatment: outbound ? undefined : extra.sip?.diversionTreatment,
      diversionReason: outbound ? undefined : extra.sip?.diversionReason,
      ...urls,
    });
    // The context commits with the callback's record, before the BXML naming it goes out.
    await this.deps.writes.durable(
      saved,
      this.deps.writes.record([{ ...callUpdate(cb, agent), state: extra.state ?? 'transferring' }], cb, {
        template,
        destination: d.name,
        reason: ctx.reason,
        ...(extra.routedVia ? { routedVia: extra.routedVia } : {}),
      }),
    );
    return { kind: 'bxml', xml, template };
  }

  /**
   * MAX_CONCURRENT_CALLS calls are live here: the agent's busy handling (agent.ts, fallback.whenBusy). Its
   * fallback answers the caller (outcome `fallback`), or the call is rejected (outcome `rejected`: unanswered,
   * an inbound call is not charged, BW §1.3). Counted either way.
   */
  async busy(cb: Callback, agent: AgentWithDestinations, capacity: CallCapacity, eventData: Record<string, unknown>): Promise<CallbackResult> {
    const reason = `busy: ${capacity.live} calls live on this instance (MAX_CONCURRENT_CALLS ${capacity.maxCalls})`;
    const handling = agent.fallback.whenBusy;
    this.deps.metrics.callRefused(agent.mode, handling);
    this.deps.logger.warn({ callId: cb.callId, agentId: agent.id, liveCalls: capacity.live, maxCalls: capacity.maxCalls, handling }, 'at capacity: new call refused');
    if (handling === 'reject') {
      return this.finish(cb, 'reject', {}, { ...callUpdate(cb, agent), state: 'rejected', cause: 'at-capacity', outcome: { outcome: 'rejected', reason } }, { busy: true, ...eventData });
    }
    this.deps.metrics.fallback('at-capacity');
    return this.fallback(cb, agent, reason, { busy: true, ...eventData });
  }

  /** DESIGN §4.9: apologise, then the agent's fallback destination or hang up. */
  async fallback(cb: Callback, agent: AgentWithDestinations | undefined, reason: string, eventData: Record<string, unknown> = {}): Promise<CallbackResult> {
    const message = agent?.fallback.message ?? 'Sorry, we cannot take your call right now. Please call again later.';
    const destination = agent ? fallbackDestination(agent) : undefined;
    let view: Parameters<TemplateCatalog['render']>[1] & object = { ...this.commonView(cb, agent), message };
    let saved: Promise<void> | undefined;
    if (destination) {
      const transferTo = destination.value;
      const ctx: TransferContext = { callId: cb.callId, agentId: agent?.id ?? '', destination, reason, origin: 'fallback' };
      const transfer = this.deps.contexts.transferUrls(ctx);
      saved = transfer.saved;
      view = {
        ...view,
        hasTransfer: true,
        transferPhone: destination.kind === 'phone' ? transferTo : undefined,
        transferSip: destination.kind === 'sip' ? transferTo : undefined,
        transferCallerId: callerIdFor(cb),
        callTimeout: destination.callTimeoutS,
        ...transfer.urls,
      };
    }
    const xml = this.deps.templates.render('fallback', view);
    await this.deps.writes.durable(saved, this.deps.writes.record([{ ...callUpdate(cb, agent), state: 'fallback', errorMessage: reason, outcome: { outcome: 'fallback', reason } }], cb, { template: 'fallback', reason, ...eventData }));
    this.deps.logger.warn({ callId: cb.callId, agentId: agent?.id, reason }, 'call sent to fallback');
    return { kind: 'bxml', xml, template: 'fallback' };
  }

  /** Answer with a template that ends (or rejects) the call. */
  async finish(
    cb: Callback,
    template: 'hangup' | 'reject',
    view: { message?: string },
    update: Partial<CallUpdate>,
    eventData: Record<string, unknown> = {},
  ): Promise<CallbackResult> {
    const xml = this.deps.templates.render(template, { ...this.commonView(cb, undefined), ...view });
    await this.deps.writes.record([{ ...baseUpdate(cb), ...update }], cb, { template, ...eventData });
    return { kind: 'bxml', xml, template };
  }

  commonView(cb: Callback, agent: AgentWithDestinations | undefined): CommonView {
    return {
      callId: cb.callId,
      agentId: agent?.id ?? '',
      agentName: agent?.name ?? '',
      from: cb.from,
      to: cb.to,
      callbackBaseUrl: this.deps.urls.voiceBase,
      callbackUsername: this.deps.credentials.callbackUsername,
      callbackPassword: this.deps.credentials.callbackPassword,
      speakVoice: agent?.speakVoice ?? 'julie',
    };
  }
}

/** An outbound (API-created) call: `answer` only ever comes for one (BW §1.3), later callbacks say so. */
function isOutbound(cb: Callback): boolean {
  return cb.eventType === 'answer' || cb.direction === 'outbound';
}

/** BW §2.5 transferCallerId: the caller's number when it is one, else let Bandwidth pass it through. */
function callerIdFor(cb: Callback): string | undefined {
  return cb.from && /^\+\d{7,15}$/.test(cb.from) ? cb.from : cb.to;
}
