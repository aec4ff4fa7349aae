import OpenAI from 'openai';
import { renderReferTarget, type TransferDestination } from '../agents/agent';
import type { CallControl, HandOffCall, HandOffOutcome } from '../bridge/transports';
import { DEFAULT_SIP_REFER_TARGET } from '../constants';
import type { Logger } from '../log';
import { eventSource, type CallUpdate, type Store } from '../store/types';

/**
 * How an openai-sip call leaves the agent (docs/architecture.md#hand-off-how-a-call-leaves-the-agent).
 * OpenAI holds the caller's SIP leg, so both hand-offs go through its call API:
 *
 * - Transfer: a SIP REFER (OpenAI reference §4.4) to the destination. A SIP destination is REFERred as it
 *   is; a phone number goes through the agent's `sip.referTarget` template (default
 *   `sip:{number}@{contactHost}`, the carrier trunk the call came from). A refused REFER leaves the caller
 *   on the AI leg, and the conversation tells the agent. Never resent: after an error answer the REFER may
 *   have reached the carrier all the same (OpenAI reference §7 P11).
 * - Hang-up: OpenAI's hangup.
 * - Fallback: OpenAI, not us, talks to the caller; when our sideband fails the call stays with OpenAI's
 *   model, configured at accept with the agent's instructions. Ending the session (the sideband) is all
 *   there is to do.
 */
export interface SipCallControlDeps {
  openai: OpenAI;
  store: Store;
  logger: Logger;
  /** host[:port] of the carrier trunk from the incoming INVITE (Contact, else From): `{contactHost}` in the agent's REFER target. */
  trunkHost: string | undefined;
}

export class SipCallControl implements CallControl {
  constructor(private readonly deps: SipCallControlDeps) {}

  /** Nothing safe to REFER to (no carrier host, or one that is not a plain host): OpenAI is never asked, and the tool says why. */
  checkTransfer(call: HandOffCall, destination: TransferDestination): void {
    try {
      this.referTarget(call, destination);
    } catch (err) {
      this.event(call.callId, 'sip.refer-failed', { destination: destination.name, reason: (err as Error).message });
      throw err;
    }
  }

  async transfer(call: HandOffCall, destination: TransferDestination): Promise<HandOffOutcome> {
    let target: string;
    try {
      target = this.referTarget(call, destination);
    } catch (err) {
      return { refused: (err as Error).message }; // checked when asked for; the agent cannot have changed since
    }
    const action = { kind: 'refer', target, destination: destination.name };
    try {
      await this.deps.openai.realtime.calls.refer(call.callId, { target_uri: target }, { maxRetries: 0 });
    } catch (err) {
      return this.refused(call, 'sip.refer-failed', action, err);
    }
    this.event(call.callId, 'sip.refer', action);
    // OpenAI hands the REFER to the trunk: whether a human answers is the trunk's to know, not ours.
    await this.recordCall({ id: call.callId, state: 'transferring', outcome: { outcome: 'transferred', reason: `REFER to ${destination.name} accepted` } });
    return 'done';
  }

  async hangUp(call: HandOffCall): Promise<HandOffOutcome> {
    try {
      await this.deps.openai.realtime.calls.hangup(call.callId);
    } catch (err) {
      return this.refused(call, 'sip.hangup-failed', { kind: 'hangup' }, err);
    }
    this.event(call.callId, 'sip.hangup', { kind: 'hangup' });
    await this.recordCall({ id: call.callId, state: 'completed' });
    return 'done';
  }

  async fallback(): Promise<HandOffOutcome> {
    return 'on-stream-end';
  }

  private referTarget(call: HandOffCall, destination: TransferDestination): string {
    // Bandwidth documents REFER only for its OpenAI SIP Connector and no `tel:` REFER, so the template always yields a SIP URI (validated on the agent).
    if (destination.kind === 'sip' && destination.value) return destination.value;
    return renderReferTarget(call.agent.sip?.referTarget ?? DEFAULT_SIP_REFER_TARGET, { number: destination.value, contactHost: this.deps.trunkHost });
  }

  /** The call stays with the agent (its state unchanged); the outcome is an event on the call. */
  private refused(call: HandOffCall, type: string, action: Record<string, string>, err: unknown): HandOffOutcome {
    const reason = (err as Error).message;
    const status = err instanceof OpenAI.APIError ? err.status : undefined;
    this.deps.logger.warn({ callId: call.callId, action: action.kind, reason, status }, 'OpenAI call control failed');
    this.event(call.callId, type, { ...action, reason, ...(typeof status === 'number' ? { status } : {}) });
    return { refused: reason };
  }

  private async recordCall(call: CallUpdate): Promise<void> {
    await this.deps.store.calls.record(call).catch((err: Error) => this.storeFailed(call.id, err));
  }

  private event(callId: string, type: string, data: unknown): void {
    this.deps.store.events.append({ callId, source: eventSource(type), type, data }).catch((err: Error) => this.storeFailed(callId, err));
  }

  private storeFailed(callId: string, err: Error): void {
    this.deps.logger.error({ callId, err: err.message }, 'could not write to the store');
  }
}
