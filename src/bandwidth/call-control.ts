import type { TransferDestination } from '../agents/agent';
import type { CallControl, HandOffCall, HandOffOutcome } from '../bridge/transports';
import type { Logger } from '../log';
import type { BasicCredentials } from '../security/basic-auth';
import type { HandOffIntent, Store } from '../store/types';
import type { CallbackContexts, RedirectAction } from './callback-contexts';
import type { BandwidthCalls } from './rest/calls-client';
import { VOICE_ROUTES, type CallbackUrls } from './urls';

/**
 * How a stream call leaves the agent on Bandwidth (docs/architecture.md#hand-off-how-a-call-leaves-the-agent).
 *
 * - With the Calls API (REST credentials): a transfer is a redirect (BW §5) to a signed `redirect` URL whose
 *   stored context says where to; Bandwidth then fetches the transfer BXML, whose `<StopStream>` ends the
 *   stream. A hang-up is `state: completed`. Every redirect names `/stream-ended` as its fallback URL, so a
 *   refused redirect still lands on the agent's fallback instead of dropping the caller (BW §1.7).
 * - Without it, or when the Calls API refuses: the intent is stored and the session ends its stream;
 *   `<StopStream wait>` then runs the template's `<Redirect>` to `/stream-ended`, which carries it out.
 * - Fallback: ending the stream is enough with the StopStream-wait template (`/stream-ended` answers the
 *   fallback from the stored reason). A `<Pause>`-held stream outlives its socket, so the call is redirected
 *   to its fallback first (DESIGN §4.1).
 */
export interface BandwidthCallControlDeps {
  store: Store;
  logger: Logger;
  /** The Calls API and what a redirect needs; undefined without REST credentials. */
  rest?: {
    calls: BandwidthCalls;
    contexts: CallbackContexts;
    urls: CallbackUrls;
    credentials: BasicCredentials;
  };
}

export class BandwidthCallControl implements CallControl {
  constructor(private readonly deps: BandwidthCallControlDeps) {}

  async transfer(call: HandOffCall, destination: TransferDestination, reason: string, summary: string): Promise<HandOffOutcome> {
    const viaApi = await this.redirect(call, { type: 'transfer', destination, reason, summary }, `sb:transfer:${destination.name}`);
    return viaApi ?? this.atStreamEnd(call, { kind: 'transfer', destination, reason, summary });
  }

  async hangUp(call: HandOffCall, reason: string): Promise<HandOffOutcome> {
    const rest = this.deps.rest;
    if (rest) {
      try {
        return (await rest.calls.hangUp(call.callId)).ok ? 'done' : 'gone';
      } catch (err) {
        await this.apiFailed(call, 'hangup', err);
      }
    }
    return this.atStreamEnd(call, { kind: 'hangup', reason });
  }

  async fallback(call: HandOffCall, reason: string): Promise<HandOffOutcome> {
    if (call.agent.streamHold !== 'pause') return 'on-stream-end';
    if (!this.deps.rest) {
      this.deps.logger.error({ callId: call.callId }, 'a Pause-held stream failed but no Bandwidth REST credentials are configured to redirect it');
      return 'on-stream-end';
    }
    return (await this.redirect(call, { type: 'fallback', reason }, 'sb:fallback')) ?? 'on-stream-end';
  }

  /** A redirect through the Calls API; undefined when there is none or it failed (then the stream's end must do it). */
  private async redirect(call: HandOffCall, action: RedirectAction, tag: string): Promise<HandOffOutcome | undefined> {
    const rest = this.deps.rest;
    if (!rest) return undefined;
    try {
      // The action (a transfer's summary included) is stored before the redirect names it (docs/architecture.md, signed URLs).
      const url = await rest.contexts.redirectUrl(call.callId, call.agent.id, action);
      const outcome = await rest.calls.redirect(call.callId, url, rest.credentials, { tag, fallbackUrl: rest.urls.voice(VOICE_ROUTES.streamEnded) });
      return outcome.ok ? 'done' : 'gone';
    } catch (err) {
      await this.apiFailed(call, action.type, err);
      return undefined;
    }
  }

  /**
   * Store what the stream's end must do, without waiting for the commit: the store reads it back at once on
   * this instance even while it cannot write (a stall must not keep the caller in silence), and in order
   * before the stream-ended callback that reads it.
   */
  private async atStreamEnd(call: HandOffCall, intent: HandOffIntent): Promise<HandOffOutcome> {
    // Nothing follows a <Pause> but a Calls API redirect (DESIGN §4.1): without one, ending the stream would
    // leave the caller in silence for the Pause's length. The agent keeps the caller and is told.
    if (call.agent.streamHold === 'pause') return { refused: 'the call could not be moved on (the Calls API is not configured or refused)' };
    this.deps.store.handOffs.set(call.callId, intent).catch((err: Error) => {
      this.deps.logger.error({ callId: call.callId, err: err.message }, 'could not store the hand-off for the end of the stream; the stream end will answer the fallback');
    });
    return 'on-stream-end';
  }

  private async apiFailed(call: HandOffCall, action: string, err: unknown): Promise<void> {
    const reason = (err as Error).message;
    this.deps.logger.error({ callId: call.callId, action, err: reason }, 'the Calls API refused the hand-off; using the stream end instead');
    await this.deps.store.events.append({ callId: call.callId, source: 'switchboard', type: 'bridge.control-failed', data: { action, reason } }).catch(() => undefined);
  }
}
