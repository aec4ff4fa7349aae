import { z } from 'zod';
import { transferDestinationSchema, type AgentWithDestinations } from '../agents/agent';
import type { CallLifecycleListener } from '../bridge/transports';
import { RETURNED_CALLER_ADVICE } from '../bridge/call-prompts';
import type { AgentRouter } from '../agents/routing';
import { outcomeAtEnd, whyNotAnswered } from '../outcomes';
import { readUui } from '../sip-uui';
import type { Credentials } from '../credentials';
import { isSwitchboardError } from '../errors';
import { maskPhone, type Logger } from '../log';
import type { UrlSigner } from '../security/signing';
import { FINAL_CALL_STATES, type CallRecord, type CallUpdate, type Store } from '../store/types';
import type { TemplateCatalog } from './bxml/catalog';
import { voicemailPlan } from '../agents/telephony';
import { DTMF_DIGIT_PATTERN } from '../constants';
import { CallbackValidationError, MACHINE_DETECTION_RESULTS, parseCallback, transferFailed, type Callback } from './callbacks';
import { baseUpdate, CallbackWrites } from './callback-writes';
import { ContextRefused, type CallbackContexts, type RedirectAction, type ResolvedTransfer, type TransferContext } from './callback-contexts';
import type { CallbackUrls } from './urls';
import type { CallbackResult } from './callback-result';
import { OneShotCallbacks } from './one-shot-callbacks';
import { BxmlAnswers } from './bxml-answers';
import type { CallCapacity } from '../capacity';
import { NO_METRICS, type MetricsSink } from '../metrics/sink';

export type { CallbackResult, RedirectAction, TransferContext };

/** BW §1.3: an empty document for a transferAnswer with nothing to whisper; the legs are then bridged. */
const EMPTY_RESPONSE = '<?xml version="1.0" encoding="UTF-8"?>\n<Response/>\n';



const streamContextSchema = z.object({ callId: z.string(), agentId: z.string() });
const answerContextSchema = z.object({ agentId: z.string() });


export interface CallFlowsDeps {
  store: Store;
  templates: TemplateCatalog;
  router: AgentRouter;
  signer: UrlSigner;
  urls: CallbackUrls;
  contexts: CallbackContexts;
  credentials: Credentials;
  logger: Logger;
  listener?: CallLifecycleListener;
  /** How long a callback waits for its own commit before it is answered anyway (default CALLBACK_COMMIT_WAIT_MS). */
  commitWaitMs?: number;
  /** Where fallbacks and refused calls are counted (default: nowhere). */
  metrics?: MetricsSink;
  /** MAX_CONCURRENT_CALLS of this instance (src/capacity.ts); absent: no cap. */
  capacity?: CallCapacity;
}

/**
 * What Switchboard answers to each Bandwidth callback (DESIGN §2–§4, BW §1.3). Knows Bandwidth's
 * callbacks and our templates; knows nothing of HTTP (webhooks.ts) or of the media bridge, which
 * listens through CallLifecycleListener.
 */
export class CallFlows {
  private readonly oneShot: OneShotCallbacks;
  private readonly answers: BxmlAnswers;

  private readonly writes: CallbackWrites;

  constructor(private readonly deps: CallFlowsDeps) {
    this.writes = new CallbackWrites(deps.store, deps.logger, deps.commitWaitMs);
    this.answers = new BxmlAnswers({ ...deps, writes: this.writes, metrics: deps.metrics ?? NO_METRICS });
    this.oneShot = new OneShotCallbacks({
      store: deps.store,
      contexts: deps.contexts,
      writes: this.writes,
      logger: deps.logger,
      hangUp: (cb) => ({ kind: 'bxml', xml: deps.templates.render('hangup', this.answers.commonView(cb, undefined)), template: 'hangup' }),
    });
  }

  // ---- BXML callbacks ---------------------------------------------------------------------------

  /** BW §1.3 initiate: the first BXML of an inbound call. */
  async initiate(body: unknown): Promise<CallbackResult> {
    const cb = parseCallback(body, ['from', 'to']);
    return this.answerWithAgent(cb, undefined);
  }

  /** BW §1.3 answer: the first BXML of an outbound call; the signed `t` names the agent. */
  async answer(body: unknown, token: string | undefined): Promise<CallbackResult> {
    const cb = parseCallback(body);
    const ctx = this.verify(token, 'answer', answerContextSchema, cb.callId);
    return this.answerWithAgent(cb, ctx?.agentId);
  }

  /**
   * The Redirect after `<StopStream wait="true">`: the media socket ended while the call is up. The
   * bridge may have ended it on purpose (the agent transferred or hung up without a Calls API): the
   * hand-off intent it stored says what to do. Otherwise the AI side failed: the fallback. This route also
   * serves as the `redirectFallbackUrl` of Calls API redirects, so it needs no token.
   */
  async streamEnded(body: unknown, token: string | undefined): Promise<CallbackResult> {
    const cb = parseCallback(body);
    const ctx = this.verify(token, 'stream-ended', streamContextSchema, cb.callId);
    // The stream is over, so no instance holds the call's media any more: whoever answers this (the owner may
    // have died, DESIGN §4.12) releases it, so the owner's restart does not close out a call that went on.
    await this.durable(this.deps.store.calls.record({ id: cb.callId, mediaOwner: null }));
    const call = await this.deps.store.calls.get(cb.callId);
    const agent = await this.agentFor(ctx?.agentId ?? call?.agentId ?? undefined);
    // What the agent asked for when there was no Calls API to do it at once (BandwidthCallControl).
    const parsed = handOffIntentSchema.safeParse(await this.deps.store.handOffs.get(cb.callId));
    const intent = parsed.success ? parsed.data : undefined;
    if (intent?.kind === 'hangup') return this.answers.finish(cb, 'hangup', {}, { state: 'completed', cause: 'agent-hangup' }, { intent: 'hangup' });
    if (intent?.kind === 'transfer' && agent) {
      const { destination, reason, summary } = intent;
      return this.answers.transfer(cb, agent, { callId: cb.callId, agentId: agent.id, destination, reason, summary, origin: 'agent' });
    }
    const reason = call?.errorMessage ?? 'the media stream ended while the call was up';
    return this.answers.fallback(cb, agent, reason);
  }


  /** BW §1.3 redirect: do what the signed action says; anything unsigned goes to the fallback. */
  async redirect(body: unknown, token: string | undefined): Promise<CallbackResult> {
    const cb = parseCallback(body);
    let ctx: Awaited<ReturnType<CallbackContexts['resolveRedirect']>>;
    try {
      ctx = await this.deps.contexts.resolveRedirect(token);
      if (ctx.callId !== cb.callId) throw new ContextRefused(`token is for call ${ctx.callId}`);
    } catch (err) {
      // A forged or expired transfer URL is refused and logged; the call is transferred nowhere
      // it names. Our redirects carry redirectFallbackUrl → /stream-ended, the agent's fallback.
      return this.refuse(cb, 'redirect', err, 'this redirect URL is not valid (signature, expiry or call)');
    }
    // A redirect's action is one-shot: a replayed URL must not transfer (or hang up) the call again.
    return { ...(await this.oneShot.once(cb, cb.callId, ctx.contextId, () => this.redirectAction(cb, ctx.agentId, ctx.action))), context: ctx.action };
  }

  private async redirectAction(cb: Callback, agentId: string, action: RedirectAction): Promise<CallbackResult> {
    const call = await this.deps.store.calls.get(cb.callId);
    const agent = await this.agentFor(agentId ?? call?.agentId ?? undefined);
    switch (action.type) {
      case 'transfer':
        return this.answers.transfer(cb, agent, { callId: cb.callId, agentId, destination: action.destination, reason: action.reason, summary: action.summary, origin: 'agent' });
      case 'hangup':
        return this.answers.finish(cb, 'hangup', { message: action.message }, { state: 'completed' });
      case 'fallback':
        return this.answers.fallback(cb, agent, action.reason);
    }
  }

  /**
   * BW §1.3 transferAnswer: runs on the human's leg before bridging; warm transfers whisper. The token
   * is bound to its A-leg: the body's parentCallId (BW §1.5) must name that call, or the callback is
   * refused, stored, and neither leg changes state — a token copied from another call's BXML must not
   * whisper that call's summary or mark it transferred. A null parentCallId counts as missing (BW §1.5).
   */
  async transferAnswer(body: unknown, token: string | undefined): Promise<CallbackResult> {
    const cb = parseCallback(body);
    let ctx: ResolvedTransfer;
    try {
      ctx = await this.resolveTransferLeg(token, cb);
    } catch (err) {
      return this.refuse(cb, 'transferAnswer', err, 'this transfer-answer URL does not belong to this call');
    }
    const parentId = ctx.callId;
    // The caller's leg is over (a replay after the transfer ended): nothing to bridge, no whisper, and
    // no state written over the A-leg's final one. Hang up this leg.
    const parentCall = await this.deps.store.calls.get(parentId);
    if (parentCall && FINAL_CALL_STATES.includes(parentCall.state)) {
      return this.oneShot.spent(cb, parentId, 'transferAnswer', `call ${parentId} is already ${parentCall.state}`);
    }
    // The first leg to answer is this transfer's (BW §2.5: the first answer wins); decided atomically,
    // so of two legs answering at once only one is whispered to and bridged.
    const boundLeg = await this.writes.within(this.deps.contexts.bindLeg(ctx.contextId, cb.callId), cb.callId);
    if (boundLeg !== cb.callId) {
      return this.refuse(cb, 'transferAnswer', new ContextRefused(`this transfer's leg is ${boundLeg}, not ${cb.callId}`), 'this transfer-answer URL does not belong to this call');
    }
    const aiLeg = ctx.origin === 'ai-sip';
    const legUpdate: CallUpdate = {
      ...baseUpdate(cb),
      leg: aiLeg ? 'ai-sip' : 'transfer',
      parentCallId: parentId,
      agentId: ctx.agentId,
      direction: 'outbound',
      from: cb.transferCallerId,
      to: cb.transferTo,
      state: aiLeg ? 'sip-connected' : 'transferred',
      answeredAt: cb.answerTime ?? undefined,
    };
    const updates: CallUpdate[] = [
      legUpdate,
      aiLeg ? { id: parentId, state: 'sip-connected' } : { id: parentId, state: 'transferred', outcome: { outcome: 'transferred', reason: `answered at ${ctx.destination.name}` } },
    ];
    if (!ctx.destination.warm) {
      await this.durable(this.record(updates, cb, { whisper: false, destination: ctx.destination.name }));
      return { kind: 'bxml', xml: EMPTY_RESPONSE, template: 'empty', context: storedPart(ctx) };
    }
    const agent = await this.agentFor(ctx.agentId);
    const xml = this.deps.templates.render('whisper', {
      ...this.answers.commonView(cb, agent),
      caller: /\d/.test(cb.from ?? '') ? cb.from : undefined,
      reason: ctx.reason,
      summary: ctx.summary,
    });
    await this.durable(this.record(updates, cb, { whisper: true, destination: ctx.destination.name }));
    return { kind: 'bxml', xml, template: 'whisper', context: storedPart(ctx) };
  }

  /**
   * BW §1.3 transferComplete (A-leg): a failed transfer comes back; a finished one ends the call.
   * Bandwidth's docs do not settle whether this callback's callId is the A-leg's or the B-leg's (BW §1.5,
   * §9 item 12), so both are accepted: the A-leg the token is bound to, the B-leg bound by this
   * transfer's transferAnswer, or a leg of this A-leg recorded by a transferDisconnect (a busy or
   * unanswered leg never sends transferAnswer). Any other callId is refused. The transfer's end is
   * one-shot: the context is consumed by the first transferComplete.
   */
  async transferComplete(body: unknown, token: string | undefined): Promise<CallbackResult> {
    const reported = parseCallback(body);
    let ctx: ResolvedTransfer;
    try {
      ctx = await this.deps.contexts.resolveTransfer(token);
      if (reported.callId !== ctx.callId && reported.callId !== ctx.legCallId && (await this.deps.store.calls.get(reported.callId))?.parentCallId !== ctx.callId) {
        throw new ContextRefused(`token is for call ${ctx.callId}, not ${reported.callId}`);
      }
    } catch (err) {
      return this.refuse(reported, 'transferComplete', err, 'this transfer-complete URL does not belong to this call');
    }
    // The BXML answered here runs on the A-leg: everything below speaks of it, with the A-leg's identity.
    const cb: Callback = reported.callId === ctx.callId ? reported : aLegCallback(reported, await this.deps.store.calls.get(ctx.callId), ctx.callId);
    return { ...(await this.oneShot.once(reported, ctx.callId, ctx.contextId, () => this.completeTransfer(cb, ctx))), context: storedPart(ctx) };
  }

  private async completeTransfer(cb: Callback, ctx: ResolvedTransfer): Promise<CallbackResult> {
    const call = await this.deps.store.calls.get(cb.callId);
    const agent = await this.agentFor(ctx.agentId ?? call?.agentId ?? undefined);
    const outcome = { cause: cb.cause, errorMessage: cb.errorMessage, destination: ctx.destination.name, origin: ctx.origin };
    if (!transferFailed(cb)) {
      // A human's transfer was normally decided by its transferAnswer already (a decision stands); one that
      // completed without it reaching us still connected. An AI SIP leg that ended is no decision of ours:
      // its session decided (openai-sip), or the carrier's end fills an empty outcome (sip-forward).
      const ended = ctx.origin === 'ai-sip' ? outcomeAtEnd(cb.cause, cb.errorMessage) : ({ outcome: 'transferred', reason: `transfer to ${ctx.destination.name} completed` } as const);
      return this.answers.finish(cb, 'hangup', {}, { state: 'completed', outcome: ended }, { transfer: 'completed', ...outcome });
    }
    const reason = `transfer to ${ctx.destination.name} failed (${cb.cause ?? 'unknown'}${cb.errorMessage ? `: ${cb.errorMessage}` : ''})`;
    // The fallback's own transfer failed, or the agent is gone: apologise and end, never loop.
    if (ctx.origin === 'fallback' || !agent) {
      // A fallback's own transfer was counted when the fallback was decided.
      if (ctx.origin !== 'fallback') this.deps.metrics?.fallback('transfer-failed');
      // The caller hears the fallback's apology: that is how the call ends (a fallback already decided stands).
      return this.answers.finish(cb, 'hangup', { message: agent?.fallback.message }, { state: 'completed', errorMessage: reason, outcome: { outcome: 'fallback', reason } }, { transfer: 'failed', ...outcome });
    }
    if (ctx.origin === 'ai-sip') {
      this.deps.metrics?.fallback('transfer-failed');
      return this.answers.fallback(cb, agent, reason, { aiLeg: 'failed', ...outcome });
    }
    if (agent.mode === 'stream') {
      // Back to the agent on a new stream; the bridge primes it with the conversation and the reason.
      return this.answers.stream(cb, agent, 'transfer-failed', { transfer: 'failed', reason, ...outcome }, resumeNote(ctx, cb), { outcome: 'transfer-failed-returned', reason });
    }
    this.deps.metrics?.fallback('transfer-failed');
    return this.answers.fallback(cb, agent, reason, { transfer: 'failed', ...outcome });
  }

  // ---- asynchronous callbacks (204) ---------------------------------------------------------------

  /** BW §1.2 status URL: `disconnect` (and anything else the application's status URL receives). */
  async status(body: unknown): Promise<CallbackResult> {
    const cb = parseCallback(body);
    if (cb.eventType === 'disconnect') {
      // Keep "agent-hangup" when the agent ended the call: Bandwidth's cause is then just "hangup".
      const existing = await this.deps.store.calls.get(cb.callId);
      const cause = existing?.cause === 'agent-hangup' ? undefined : cb.cause;
      const ended = outcomeAtEnd(cb.cause, cb.errorMessage);
      await this.record([{ ...baseUpdate(cb), state: 'completed', cause, errorMessage: cb.errorMessage ?? undefined, endedAt: cb.endTime ?? cb.eventTime, outcome: ended }], cb);
      this.deps.listener?.callEnded?.(cb.callId, cb.cause);
    } else {
      await this.record([{ ...baseUpdate(cb) }], cb);
    }
    return { kind: 'empty' };
  }

  /** BW §3: mediaStreamStarted / Rejected / Stopped. No BXML accepted. */
  async streamEvent(body: unknown): Promise<CallbackResult> {
    const cb = parseCallback(body);
    const update: CallUpdate = { ...baseUpdate(cb) };
    if (cb.eventType === 'mediaStreamRejected' || (cb.eventType === 'mediaStreamStopped' && cb.cause && cb.cause !== 'closed')) {
      update.errorMessage = `media stream ${cb.eventType === 'mediaStreamRejected' ? 'rejected' : 'stopped'}: ${cb.cause ?? 'unknown'}${cb.errorMessage ? ` (${cb.errorMessage})` : ''}`;
    }
    await this.record([update], cb);
    // A rejected stream never reaches us: stop paying for its pre-warmed OpenAI session now.
    if (cb.eventType === 'mediaStreamRejected') this.deps.listener?.streamRejected?.(cb.callId);
    return { kind: 'empty' };
  }

  /**
   * A key the caller pressed (bandwidth.yml dtmfCallback: one per digit after `<StartGather>`; answered 204,
   * it takes no BXML, BW §1.3). It goes to the live session first, then is kept in the call's trace. A body
   * without a `digit`, or with something other than one key, is a 400 naming the field.
   */
  async dtmf(body: unknown): Promise<CallbackResult> {
    const cb = parseCallback(body, ['digit']);
    if (!DTMF_DIGIT_PATTERN.test(cb.digit)) throw new CallbackValidationError(['digit: expected one key (0-9, *, #, A-D)']);
    const heard = (await this.deps.listener?.callerKeyPress?.(cb.callId, cb.digit)) ?? false;
    if (!heard) this.deps.logger.warn({ callId: cb.callId }, 'a key press for a call with no live session here: recorded without its digit');
    // <StartGather> outlives the agent's part of the call: keys pressed for a human after a transfer (a card
    // number, a PIN) are none of ours, so a key no session took is stored without its digit.
    await this.record([baseUpdate(cb)], heard ? cb : { ...cb, digit: '' }, { delivered: heard });
    return { kind: 'empty' };
  }

  /**
   * Machine detection's verdict on an outbound call (bandwidth.yml machineDetectionCompleteCallback, async mode;
   * answered 204). `answering-machine` hands the call's live session the agent's voicemail plan; `human` and the
   * undecided results (`silence`, `timeout`, `error`, or a result Bandwidth left null) let the call go on as it
   * is (src/agents/telephony.ts says why). A malformed result is a 400 naming the field.
   */
  async machineDetectionComplete(body: unknown): Promise<CallbackResult> {
    const cb = parseCallback(body);
    const result = cb.machineDetectionResult?.value ?? null;
    const call = await this.deps.store.calls.get(cb.callId);
    const agent = await this.agentFor(call?.agentId ?? undefined);
    let decision: string;
    if (result === 'answering-machine' && agent) {
      const plan = voicemailPlan(agent.telephony.voicemail);
      const taken = (await this.deps.listener?.answeredByMachine?.(cb.callId, plan)) ?? false;
      decision = taken ? plan.kind : 'no live session here';
      if (!taken) this.deps.logger.warn({ callId: cb.callId }, 'an answering machine answered a call with no live session here: recorded only');
    } else if (result !== null && !(MACHINE_DETECTION_RESULTS as readonly string[]).includes(result)) {
      // A value bandwidth.yml does not list: nothing is decided on it, and the operator hears of it.
      this.deps.logger.warn({ callId: cb.callId, result }, 'machine detection sent a result Switchboard does not know: the call goes on');
      decision = 'proceed (unknown result)';
    } else {
      decision = result === 'human' ? 'proceed' : 'proceed (undecided)';
    }
    await this.record([baseUpdate(cb)], cb, { machineDetection: result, decision });
    return { kind: 'empty' };
  }

  /**
   * BW §1.5 transferDisconnect: the human's (or AI SIP) leg ended, for any reason. Closes that leg's
   * record. Bound to its A-leg like transferAnswer: a parentCallId naming another call is refused and
   * stored, and no leg changes. It binds no leg: every ringing leg sends one (BW §1.5), a losing leg's
   * too, so it must neither claim the transfer nor be refused for not being the winner.
   */
  async transferDisconnect(body: unknown, token: string | undefined): Promise<CallbackResult> {
    const cb = parseCallback(body);
    let ctx: ResolvedTransfer;
    try {
      ctx = await this.resolveTransferLeg(token, cb, { anyLeg: true });
    } catch (err) {
      return this.refuse(cb, 'transferDisconnect', err, 'this transfer-disconnect URL does not belong to this call');
    }
    const recorded = this.record(
      [
        {
          ...baseUpdate(cb),
          leg: ctx.origin === 'ai-sip' ? 'ai-sip' : 'transfer',
          parentCallId: ctx.callId,
          direction: 'outbound',
          from: cb.transferCallerId,
          to: cb.transferTo,
          state: 'completed',
          cause: cb.cause,
          errorMessage: cb.errorMessage ?? undefined,
          answeredAt: cb.answerTime ?? undefined,
          endedAt: cb.endTime ?? cb.eventTime,
        },
      ],
      cb,
    );
    await this.durable(recorded);
    return { kind: 'empty', context: storedPart(ctx) };
  }

  // ---- flows ------------------------------------------------------------------------------------

  private async answerWithAgent(cb: Callback, explicitAgentId: string | undefined): Promise<CallbackResult> {
    const route = await this.deps.router.resolve({ direction: cb.direction, from: cb.from, to: cb.to, uuiAgentId: readUui(cb.uui).agentId, agentId: explicitAgentId });
    if (!route) {
      this.deps.logger.warn({ callId: cb.callId, to: maskPhone(cb.to) }, 'no agent for this number and no default agent: rejecting');
      return this.answers.finish(cb, 'reject', {}, { state: 'rejected', cause: 'no-agent', outcome: { outcome: 'rejected', reason: 'no agent for this number' } }, { routedVia: null });
    }
    const { agent, via } = route;
    if (agent.mode === 'stream') return this.answers.stream(cb, agent, 'answer', { routedVia: via });
    return this.answers.sipHandoff(cb, agent, via);
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * A B-leg callback's token, checked against the body's parentCallId (the A-leg, BW §1.5) when it has
   * one. bandwidth.yml (which outranks our notes) has no parentCallId on transferAnswerCallback, so an
   * absent (or null) one is accepted: the token is sealed and unguessable, and the first leg to answer
   * is bound to it (transferAnswer). A parentCallId naming another call is refused. `anyLeg` skips the
   * bound-leg check (transferDisconnect: losing legs end too).
   */
  private async resolveTransferLeg(token: string | undefined, cb: Callback, options: { anyLeg?: boolean } = {}): Promise<ResolvedTransfer> {
    const ctx = await this.deps.contexts.resolveTransfer(token);
    const parent = cb.parentCallId ?? undefined; // null = absent (BW §1.5)
    if (parent !== undefined && parent !== ctx.callId) throw new ContextRefused(`the token is bound to call ${ctx.callId}, not to parentCallId ${parent}`);
    if (!options.anyLeg && ctx.legCallId && ctx.legCallId !== cb.callId) throw new ContextRefused(`this transfer's leg is ${ctx.legCallId}, not ${cb.callId}`);
    return ctx;
  }

  /** Refuse a callback whose signed URL does not hold for it: 403, stored, nothing done (CallbackWrites.refused). */
  private async refuse(cb: Callback, eventType: string, err: unknown, message: string): Promise<CallbackResult> {
    return { kind: 'refused', message: `${message}: ${await this.writes.refused(cb, eventType, err)}` };
  }

  /** A callback that failed validation, kept raw in its call's timeline (CallbackWrites.invalid). */
  invalid(route: string, body: unknown, problems: readonly string[]): Promise<void> {
    return this.writes.invalid(route, body, problems);
  }

  private record(updates: CallUpdate[], cb: Callback, extra?: Record<string, unknown>): Promise<void> {
    return this.writes.record(updates, cb, extra);
  }

  private durable(...writes: (Promise<unknown> | undefined)[]): Promise<void> {
    return this.writes.durable(...writes);
  }

  private async agentFor(id: string | undefined): Promise<AgentWithDestinations | undefined> {
    return id ? (await this.deps.store.agents.get(id))?.agent : undefined;
  }

  /**
   * Verify a signed context token. A missing, tampered, expired or mismatched token yields undefined
   * (and a warning): callers then take the safe path, never the one the URL names (DESIGN §4.6).
   */
  private verify<T extends object>(
    token: string | undefined,
    purpose: Parameters<UrlSigner['verify']>[1],
    schema: z.ZodType<T>,
    expectedCallId: string | undefined,
  ): T | undefined {
    if (!token) return undefined;
    try {
      const parsed = schema.safeParse(this.deps.signer.verify(token, purpose));
      if (!parsed.success) throw new Error('token data has the wrong shape');
      const boundTo = 'callId' in parsed.data ? parsed.data.callId : undefined;
      if (boundTo && expectedCallId && boundTo !== expectedCallId) throw new Error(`token is for call ${String(boundTo)}`);
      return parsed.data;
    } catch (err) {
      const code = isSwitchboardError(err) ? err.code : 'signature_invalid';
      this.deps.logger.warn({ callId: expectedCallId, purpose, code, reason: (err as Error).message }, 'refused a signed callback token');
      return undefined;
    }
  }
}

/**
 * A transferComplete that named the B-leg, restated for the A-leg its BXML runs on: the A-leg's
 * identity (direction, numbers, times, tag) comes from its stored row, and only what the report says
 * about the transfer's end (cause, errorMessage, errorId, eventTime) is taken from it. The raw report
 * is kept beside it for the timeline.
 */
function aLegCallback(reported: Callback, aLeg: CallRecord | undefined, aLegId: string): Callback {
  const cb: Callback = { eventType: reported.eventType, callId: aLegId, reportedCallId: reported.callId, reported };
  const from = {
    eventTime: reported.eventTime,
    cause: reported.cause,
    errorMessage: reported.errorMessage,
    errorId: reported.errorId,
    accountId: aLeg?.accountId,
    applicationId: aLeg?.applicationId,
    direction: aLeg?.direction,
    from: aLeg?.from,
    to: aLeg?.to,
    startTime: aLeg?.startedAt,
    answerTime: aLeg?.answeredAt,
    tag: aLeg?.tag,
  };
  for (const [key, value] of Object.entries(from)) if (value !== undefined && value !== null) (cb as Record<string, unknown>)[key] = value;
  return cb;
}

const handOffIntentSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('transfer'), destination: transferDestinationSchema, reason: z.string(), summary: z.string() }),
  z.object({ kind: z.literal('hangup'), reason: z.string() }),
]);

/** What the resumed agent is told when a transfer did not go through (docs/architecture.md#hand-off-how-a-call-leaves-the-agent). */
function resumeNote(ctx: TransferContext, cb: Callback): string {
  const what = whyNotAnswered(cb.cause) ?? `it failed (${cb.cause ?? 'unknown error'})`;
  return `The transfer to ${ctx.destination.name} did not go through: ${what}. ${RETURNED_CALLER_ADVICE}`;
}

/** The part of a resolved transfer that lives in the store (what a replay must store again). */
function storedPart(ctx: ResolvedTransfer): Omit<TransferContext, 'callId'> {
  const { callId: _c, contextId: _i, legCallId: _l, ...stored } = ctx;
  return stored;
}

export type { CallRecord };
