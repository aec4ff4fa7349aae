import { outcomeAtEnd } from '../outcomes';
import { WS_NORMAL_CLOSURE } from '../constants';
import { fallbackDestination } from '../agents/agent';
import type { VoicemailPlan } from '../agents/telephony';
import { greetWith } from '../bridge/call-prompts';
import type { PromptsForCall } from '../context/call-contexts';
import { Conversation, type ConversationDeps } from '../bridge/conversation';
import type { CallControl, HandOffOutcome, ModelSession } from '../bridge/transports';

/**
 * `openai-sip` mode, second half: control of an accepted SIP call over the sideband socket. OpenAI owns
 * the audio (RTP) and its playout and truncation (OpenAI reference §3.3), so this session feeds the
 * shared `Conversation` (greeting aside: transcripts, usage, tools, the speak-then-act hand-off) and
 * tells it when OpenAI's playout has stopped. `transfer_call` and `hang_up` go through the call's
 * `CallControl` (`SipCallControl`: a SIP REFER, OpenAI's hangup).
 */
/** What the shared conversation needs (`control` is SipCallControl), plus the sideband and the session's own. */
export interface SipCallSessionDeps extends Omit<ConversationDeps, 'model' | 'voice'> {
  model: ModelSession;
  onEnded: (session: SipCallSession) => void;
  /** The call's prompts (README "Per-call context"): the accept carried `initial`; `final` follows a context hook. */
  prompts?: PromptsForCall;
  /** The Bandwidth call whose AI leg this is (from our UUI on the INVITE). */
  parentCallId?: string;
}

export class SipCallSession {
  private ended = false;
  /**
   * Agent audio OpenAI may still be playing to the caller. Audio travels over RTP, never on the sideband,
   * so a response counts as audible from its creation, and `output_audio_buffer.started` too, until
   * OpenAI's buffer has drained (`output_audio_buffer.stopped`, which the openai package documents as
   * coming after `response.done`) or was cut off by the caller (`.cleared`); OpenAI reference §1.5, §4.5.
   * A response that never speaks leaves it set: the hand-off then waits its bound (HANDOFF_MAX_WAIT_MS)
   * rather than cut the agent's last words.
   */
  private agentAudible = false;
  /** The server is handing the call to its fallback (handOver): once is enough. */
  private handingOver = false;
  /** The agent's own hand-off went through (an accepted REFER, a hang-up): the call is leaving the agent already. */
  private leftAgent = false;
  private readonly conversation: Conversation;

  constructor(private readonly d: SipCallSessionDeps) {
    const model = d.model;
    const control = d.control;
    // The conversation's hand-offs, watched: once a REFER or a hang-up went through, the call has left the agent.
    const watched: CallControl = {
      transfer: async (call, destination, reason, summary) => this.leaving(await control.transfer(call, destination, reason, summary)),
      hangUp: async (call, reason) => this.leaving(await control.hangUp(call, reason)),
      fallback: (call, reason) => control.fallback(call, reason),
      ...(control.checkTransfer ? { checkTransfer: (call, destination) => control.checkTransfer!(call, destination) } : {}),
    };
    const talk = (this.conversation = new Conversation({
      callId: d.callId,
      agent: d.agent,
      store: d.store,
      logger: d.logger,
      clock: d.clock,
      tools: d.tools,
      control: watched,
      model: () => model,
      metrics: d.metrics,
      voice: {
        isPlaying: () => this.agentAudible,
        holds: () => false, // OpenAI truncates what the caller did not hear; a done response's text is final
        silence: () => undefined, // OpenAI stops the agent itself when the carrier takes the call
        resume: () => undefined,
        end: (reason) => this.end(reason),
        // OpenAI plays the audio: its output buffer is cleared as its own VAD would (OpenAI reference §1.5).
        interrupt: () => model.clearOutputAudio?.(),
      },
    }));
    model.setHandlers({
      speechStarted: (e) => talk.callerSpeechStarted(e.itemId),
      speechStopped: () => talk.callerSpeechStopped(),
      callerItem: (e) => talk.callerItem(e.itemId),
      callerTranscript: (e) => talk.callerTranscript(e.itemId, e.transcript),
      responseCreated: (e) => {
        this.agentAudible = true;
        talk.responseCreated(e.responseId);
      },
      audioDelta: () => undefined, // SIP: audio travels over RTP, never on the sideband
      audioDone: () => undefined, // SIP: OpenAI owns playout; output_audio_buffer.stopped says when it ends
      transcriptDelta: (e) => talk.transcriptDelta(e.itemId, e.responseId, e.delta),
      transcriptDone: (e) => talk.transcriptDone(e.itemId, e.responseId, e.transcript),
      functionCall: (e) => talk.functionCall(e),
      responseDone: (e) => talk.responseDone(e),
      keyPress: (e) => talk.callerKeyPress(e.digit),
      truncated: (e) => talk.record('model.truncated', { itemId: e.itemId, audioEndMs: e.audioEndMs }),
      error: (e) => talk.modelError(e),
      mcp: (e) => talk.mcp(e),
      // OpenAI closes the sideband normally (1000) when the call is over: the caller hung up, unless something
      // decided otherwise before. Any other close of OpenAI's is a failure.
      closed: (e) => {
        const failed = !e.expected && e.code !== WS_NORMAL_CLOSURE;
        if (failed && !this.ended) this.d.metrics?.modelError('session-closed');
        this.end(e.expected ? 'sideband closed' : `sideband closed (${e.code})`, failed);
      },
      trace: (type) => {
        if (type === 'output_audio_buffer.started') {
          this.agentAudible = true;
          talk.agentSpeaking();
        }
        if (type !== 'output_audio_buffer.stopped' && type !== 'output_audio_buffer.cleared') return;
        this.agentAudible = false;
        talk.maybeHandOff();
      },
    });
    // The call is accepted and the caller connected: the watchdogs run from here.
    talk.start();
    // The hook was asked at the webhook, before the accept: it runs while OpenAI accepts and the sideband
    // connects, and the greeting waits for it at most its timeout (README "Context hook").
    const opened = d.prompts?.initial ?? { instructions: d.agent.instructions, greeting: d.agent.greeting };
    const settled = d.prompts?.final
      ? d.prompts.final.then(({ prompts, hook }) => {
          talk.record('context.hook', hook);
          return prompts;
        })
      : Promise.resolve(opened);
    model.ready.then(
      async () => {
        if (this.ended) return;
        talk.record('model.ready', { sideband: true });
        const prompts = await settled;
        if (!this.ended) greetWith(model, opened, prompts, true);
      },
      (err: Error) => void this.fail(`sideband failed: ${err.message}`),
    );
  }

  /** The caller showed they are there other than by speech (a key press): the silence watchdog starts over. */
  callerActivity(): void {
    if (!this.ended) this.conversation.callerActivity();
  }

  /** The Bandwidth call this OpenAI call is the AI leg of (openai-sip's Transfer to OpenAI), if any. */
  get parentCallId(): string | undefined {
    return this.d.parentCallId;
  }

  /** The outbound call reached an answering machine (reported on the Bandwidth leg). */
  answeredByMachine(plan: VoicemailPlan): void {
    if (!this.ended) this.conversation.answeredByMachine(plan);
  }

  /**
   * The server is stopping with this call still live (shutdown drain). OpenAI carries the call, so only
   * ending the sideband would leave the caller talking to the model with nobody to run its tools, hand-offs
   * or watchdogs, and record it as the caller's hang-up. As a stream call is at shutdown (CallSession.handOver),
   * it goes to the agent's fallback: a REFER to `fallback.transferTo` (docs/architecture.md, hand-off), or
   * OpenAI's hangup when there is none or the REFER is refused. Outcome `fallback`, decided before the REFER
   * as the time limit decides its own, so the REFER's `transferred` does not replace it; the trace says which
   * way it went (`sip.refer`, `sip.hangup`, or their `-failed`: then the call stays with OpenAI's model,
   * the openai-sip fallback of SipCallControl).
   */
  async handOver(reason: string): Promise<void> {
    if (this.ended || this.handingOver) return;
    this.handingOver = true;
    // Already REFERred or hung up by the agent: the call is on its way out, with its own outcome.
    if (this.leftAgent) return this.end(reason);
    this.d.metrics?.fallback('shutting-down');
    const call = { callId: this.d.callId, agent: this.d.agent };
    await this.d.store.calls.record({ id: this.d.callId, outcome: { outcome: 'fallback', reason } }).catch((err: Error) => this.conversation.storeFailed(err));
    const destination = fallbackDestination(this.d.agent);
    const referred = destination ? await this.d.control.transfer(call, destination, reason, '') : undefined;
    const left = referred === 'done' || referred === 'gone' ? referred : await this.d.control.hangUp(call, reason);
    if (typeof left === 'object') this.d.logger.error({ callId: this.d.callId, reason: left.refused }, 'could not hand the OpenAI call to its fallback at shutdown: it stays with its model');
    this.end(reason);
  }

  /**
   * The OpenAI call is over. Its leg is completed here: no carrier callback reports an OpenAI call's end.
   * What ended it fills the call's outcome only if nothing decided it (src/outcomes.ts): an expected close
   * after no decision is the caller hanging up; a failure is an error (a Bandwidth parent's fallback, which
   * follows, decides `fallback` over it).
   */
  end(reason: string, failed = false): void {
    if (this.ended) return;
    this.ended = true;
    this.conversation.end();
    this.d.model.close();
    const outcome = failed ? outcomeAtEnd('ai-failed', reason) : outcomeAtEnd('hangup');
    this.d.store.calls
      // The sideband is no longer held here: a restart has nothing of this call to close out (DESIGN §4.12).
      .record({ id: this.d.callId, state: 'completed', endedAt: new Date(this.d.clock.wallNow()).toISOString(), outcome, mediaOwner: null })
      .catch((err: Error) => this.conversation.storeFailed(err));
    this.conversation.record('bridge.ended', { reason, storeFailures: this.conversation.storeFailures });
    this.d.onEnded(this);
  }

  private leaving(outcome: HandOffOutcome): HandOffOutcome {
    if (outcome === 'done' || outcome === 'gone') this.leftAgent = true;
    return outcome;
  }

  /** DESIGN §4.9: the AI side failed; the reason is stored and the call goes to its fallback (SipCallControl.fallback). */
  private async fail(reason: string): Promise<void> {
    if (this.ended) return;
    this.d.metrics?.modelError('session-failed', 'sideband-failed');
    this.d.logger.warn({ callId: this.d.callId, agentId: this.d.agent.id, reason }, 'sideband failed: sending the call to its fallback');
    this.conversation.record('model.failed', { reason });
    await this.d.control.fallback({ callId: this.d.callId, agent: this.d.agent }, reason);
    this.end(reason, true);
  }
}
