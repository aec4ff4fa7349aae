import type OpenAI from 'openai';
import { greetingInstructions, renderReferTarget, type AgentWithDestinations, type TransferDestination } from '../agents/agent';
import type { ToolRegistry } from '../bridge/tools';
import { DEFAULT_SIP_REFER_TARGET } from '../constants';
import type { ModelSession } from '../bridge/transports';
import type { Logger } from '../log';
import { eventSource, type Store } from '../store/types';

/**
 * `openai-sip` mode, second half: control of an accepted SIP call over the sideband
 * socket. OpenAI owns the audio (RTP) and its playout and truncation (OpenAI reference §3.3), so
 * this session keeps only the conversation: the greeting, transcripts, usage, tools. `transfer_call`
 * becomes a SIP REFER (reference §4.4); `hang_up` becomes hangup. Failures are recorded and the agent
 * is told, so it can say so.
 */
export interface SipCallSessionDeps {
  callId: string;
  agent: AgentWithDestinations;
  store: Store;
  logger: Logger;
  openai: OpenAI;
  tools: ToolRegistry;
  model: ModelSession;
  /** host[:port] of the carrier trunk from the incoming INVITE (Contact, else From): `{contactHost}` in the agent's REFER target. */
  trunkHost: string | undefined;
  onEnded: (session: SipCallSession) => void;
  /** How long after the agent's last words a transfer or hang-up waits for `output_audio_buffer.stopped`. */
  actionMaxWaitMs?: number;
}

type PendingAction = { kind: 'refer'; target: string; destination: string } | { kind: 'hangup' };

export class SipCallSession {
  private ended = false;
  private position = 0;
  private readonly agentText = new Map<string, { text: string; responseId: string; position: number }>();
  private readonly toolCalls = new Map<string, { callId: string; name: string; arguments: string }[]>();
  private pending: PendingAction | undefined;
  private pendingTimer: NodeJS.Timeout | undefined;
  private responsesSinceAction = 0;
  private deadline: NodeJS.Timeout | undefined;

  constructor(private readonly d: SipCallSessionDeps) {
    const model = d.model;
    model.setHandlers({
      speechStarted: () => undefined,
      speechStopped: () => undefined,
      callerItem: () => undefined,
      callerTranscript: (e) => this.store({ role: 'caller', text: e.transcript, itemId: e.itemId }),
      responseCreated: () => {
        if (this.pending) this.responsesSinceAction++;
      },
      audioDelta: () => undefined, // SIP: audio travels over RTP, never on the sideband
      audioDone: () => undefined, // SIP: OpenAI owns playout; output_audio_buffer.stopped says when it ends
      transcriptDelta: (e) => {
        const item = this.agentText.get(e.itemId) ?? { text: '', responseId: e.responseId, position: this.position++ };
        item.text += e.delta;
        this.agentText.set(e.itemId, item);
      },
      transcriptDone: (e) => {
        const item = this.agentText.get(e.itemId) ?? { text: '', responseId: e.responseId, position: this.position++ };
        item.text = e.transcript;
        this.agentText.set(e.itemId, item);
      },
      functionCall: (e) => {
        const calls = this.toolCalls.get(e.responseId) ?? [];
        calls.push({ callId: e.callId, name: e.name, arguments: e.arguments });
        this.toolCalls.set(e.responseId, calls);
      },
      responseDone: (e) => void this.onResponseDone(e.responseId, e.status, e.usage),
      truncated: () => undefined,
      error: (e) => this.event('model.error', e),
      closed: (e) => this.end(e.expected ? 'sideband closed' : `sideband closed (${e.code})`),
      trace: (type) => {
        if (type === 'output_audio_buffer.stopped') this.maybeRunAction();
      },
    });
    model.ready.then(
      () => {
        this.event('model.ready', { sideband: true });
        if (d.agent.greeting.trim()) model.createResponse({ instructions: greetingInstructions(d.agent.greeting) });
      },
      (err: Error) => {
        this.event('model.failed', { reason: err.message });
        this.end(`sideband failed: ${err.message}`);
      },
    );
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.pendingTimer);
    clearTimeout(this.deadline);
    for (const item of this.agentText.values()) void this.storeAgent(item);
    this.agentText.clear();
    this.d.model.close();
    this.event('bridge.ended', { reason });
    this.d.onEnded(this);
  }

  private async onResponseDone(responseId: string, status: string, usage: Record<string, number> | undefined): Promise<void> {
    if (this.ended) return;
    if (usage) await this.d.store.calls.addUsage(this.d.callId, usage).catch(() => undefined);
    for (const [itemId, item] of [...this.agentText]) {
      if (item.responseId !== responseId) continue;
      this.agentText.delete(itemId);
      await this.storeAgent(item);
    }
    const calls = this.toolCalls.get(responseId);
    this.toolCalls.delete(responseId);
    if (calls?.length && status === 'completed') await this.runTools(calls);
    // After the response that carries the goodbye / "transferring you": wait for OpenAI's playout to stop.
    if (this.pending && this.responsesSinceAction > 0 && !this.pendingTimer) {
      this.pendingTimer = setTimeout(() => this.maybeRunAction(), this.d.actionMaxWaitMs ?? 8_000);
      this.pendingTimer.unref();
    }
  }

  private async runTools(calls: { callId: string; name: string; arguments: string }[]): Promise<void> {
    const ctx = {
      callId: this.d.callId,
      agent: this.d.agent,
      signal: new AbortController().signal,
      actions: {
        transfer: (destination: TransferDestination) => {
          let target: string;
          try {
            target = this.referTarget(destination);
          } catch (err) {
            // Nothing safe to REFER to (no carrier host, or one that is not a plain host): OpenAI is not asked.
            this.event('sip.refer-failed', { destination: destination.name, reason: (err as Error).message });
            throw err;
          }
          this.request({ kind: 'refer', target, destination: destination.name });
        },
        hangUp: () => this.request({ kind: 'hangup' }),
      },
    };
    for (const c of calls) {
      const outcome = await this.d.tools.dispatch(c.name, c.arguments, ctx);
      this.d.model.sendFunctionOutput(c.callId, outcome.output);
      this.event('tool.call', { name: c.name, callId: c.callId, ok: outcome.ok, output: outcome.output, durationMs: outcome.durationMs });
    }
    if (!this.ended) this.d.model.createResponse();
  }

  /**
   * OpenAI reference §4.4: a SIP destination is REFERred as it is; a phone number goes through the
   * agent's `sip.referTarget` template (default `sip:{number}@{contactHost}`, the carrier trunk the call
   * came from). Bandwidth documents REFER only for its OpenAI SIP Connector and no `tel:` REFER, so the
   * template always yields a SIP URI (validated on the agent).
   */
  private referTarget(destination: TransferDestination): string {
    if (destination.kind === 'sip' && destination.value) return destination.value;
    return renderReferTarget(this.d.agent.sip?.referTarget ?? DEFAULT_SIP_REFER_TARGET, { number: destination.value, contactHost: this.d.trunkHost });
  }

  private request(action: PendingAction): void {
    if (this.pending) return;
    this.pending = action;
    this.responsesSinceAction = 0;
    // Bounded: if the model never says its last words, the hand-off happens anyway.
    this.deadline = setTimeout(() => this.maybeRunAction(true), 2 * (this.d.actionMaxWaitMs ?? 8_000));
    this.deadline.unref();
  }

  private maybeRunAction(force = false): void {
    const action = this.pending;
    if (!action || this.ended || (this.responsesSinceAction === 0 && !force)) return;
    clearTimeout(this.deadline);
    this.pending = undefined;
    clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    void this.run(action);
  }

  private async run(action: PendingAction): Promise<void> {
    const calls = this.d.openai.realtime.calls;
    try {
      // Never resent: after an error answer the REFER may have reached the carrier all the same (OpenAI reference §7 P11).
      if (action.kind === 'refer') await calls.refer(this.d.callId, { target_uri: action.target }, { maxRetries: 0 });
      else await calls.hangup(this.d.callId);
      this.event(action.kind === 'refer' ? 'sip.refer' : 'sip.hangup', action);
      if (action.kind === 'hangup') await this.d.store.calls.record({ id: this.d.callId, state: 'completed', cause: 'agent-hangup' });
      else await this.d.store.calls.record({ id: this.d.callId, state: 'transferring' });
    } catch (err) {
      const reason = (err as Error).message;
      const status = (err as { status?: unknown }).status;
      this.d.logger.warn({ callId: this.d.callId, action: action.kind, reason, status }, 'OpenAI call control failed');
      // The call stays with the agent (state unchanged): a refused REFER leaves the caller on the AI leg.
      this.event(action.kind === 'refer' ? 'sip.refer-failed' : 'sip.hangup-failed', { ...action, reason, ...(typeof status === 'number' ? { status } : {}) });
      // Tell the agent, so it can tell the caller and offer something else.
      this.d.model.addItem('system', action.kind === 'refer' ? `The transfer to ${action.destination} failed (${reason}). Tell the caller and offer another way to help.` : `Hanging up failed (${reason}).`);
      this.d.model.createResponse();
    }
  }

  private async storeAgent(item: { text: string; position: number }): Promise<void> {
    if (item.text.trim()) await this.store({ role: 'agent', text: item.text, position: item.position });
  }

  private async store(item: { role: 'caller' | 'agent'; text: string; itemId?: string; position?: number }): Promise<void> {
    await this.d.store.transcripts.append({ callId: this.d.callId, ...item, position: item.position ?? this.position++ }).catch((err: Error) => this.d.logger.error({ err: err.message }, 'transcript not stored'));
  }

  private event(type: string, data: unknown): void {
    void this.d.store.events.append({ callId: this.d.callId, source: eventSource(type), type, data }).catch(() => undefined);
  }
}
