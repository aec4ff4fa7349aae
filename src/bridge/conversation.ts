import type { AgentWithDestinations, TransferDestination } from '../agents/agent';
import { spokenLineInstructions } from '../agents/call-limits';
import { mcpApproval } from '../agents/mcp-servers';
import type { Clock, TimerHandle } from '../clock';
import { keyPressText, voicemailInstructions, type VoicemailPlan } from '../agents/telephony';
import { DTMF_GROUP_GAP_MS, DTMF_GROUP_MAX_DIGITS, HANDOFF_MAX_WAIT_MS, VOICEMAIL_MAX_WAIT_MS } from '../constants';
import type { Logger } from '../log';
import type { CallOutcomeKind } from '../outcomes';
import { eventSource, type CallEventInput, type Store, type TranscriptItemInput, type TranscriptItemRecord } from '../store/types';
import { CallTimeLimit } from './call-time-limit';
import { SilenceWatchdog } from './silence-watchdog';
import type { CallActions, ToolRegistry } from './tools';
import type { MetricsSink } from '../metrics/sink';
import type { CallControl, HandOffCall, McpActivity, ModelSession, ModelUsage, SessionEventType } from './transports';

/**
 * The conversation of one call, whoever carries its audio (docs/architecture.md#the-conversation-core):
 * transcript order, per-response tool batches, the speak-then-act hand-off through `CallControl`, the
 * call's trace, and store errors. The stream session (`CallSession`: we play the agent's audio) and the
 * openai-sip session (OpenAI plays it over RTP, we watch the sideband) both feed it the model's events
 * and tell it, through `AgentVoice`, when the agent's words have been heard.
 */

/** How the agent's words reach the caller: what the conversation asks of the session that carries them. */
export interface AgentVoice {
  /** Some agent audio is still to be heard (stream: the playout queue; SIP: OpenAI's output audio buffer). */
  isPlaying(): boolean;
  /** This item's audio is still to be heard in full (its transcript is stored once it has been). */
  holds(itemId: string): boolean;
  /** The call is being handed on: nothing more from the model reaches the caller. */
  silence(): void;
  /** A hand-off was refused: the caller stays with the agent, whose words reach them again. */
  resume(): void;
  /** End the session: the carrier completes the hand-off when it ends, or the call is over. */
  end(reason: string): void;
  /**
   * Cut the agent off as the caller's speech does (barge-in): what is still to be heard is dropped, what was
   * heard is what the model keeps. The conversation cancels the response itself.
   */
  interrupt(): void;
}

export interface ConversationDeps {
  callId: string;
  agent: AgentWithDestinations;
  store: Store;
  logger: Logger;
  clock: Clock;
  tools: ToolRegistry;
  /** How the call leaves the agent: transfer, hang-up, fallback (the carrier's adapter). */
  control: CallControl;
  /** The model session the call talks to now (a stream call replaces it every hour). */
  model: () => ModelSession;
  voice: AgentVoice;
  /** Where OpenAI's error events are counted (default: nowhere). */
  metrics?: MetricsSink;
}

/** A hang-up says which outcome it decides (src/outcomes.ts): the agent's own by default. */
export type HangUpOutcome = Extract<CallOutcomeKind, 'completed-by-agent' | 'no-input' | 'time-limit' | 'voicemail'>;
export type HandOff = { kind: 'transfer'; destination: TransferDestination; reason: string; summary: string } | { kind: 'hangup'; reason: string; outcome?: HangUpOutcome };

/**
 * An assistant item on its way to the transcript. It is stored once its response is done AND the
 * caller has heard all of it or was cut off (the model generates faster than real time, so "done"
 * usually comes long before the caller has heard the words).
 */
interface AgentItem {
  itemId: string;
  responseId: string;
  position: number;
  text: string;
  responseDone: boolean;
  truncatedAtMs?: number;
}

interface ToolCall {
  callId: string;
  name: string;
  arguments: string;
}

export class Conversation {
  /** Store writes that failed (each one logged); reported on `bridge.ended`. */
  storeFailures = 0;
  private ended = false;
  /** Conversation positions: a caller turn takes its place when speech starts, an agent item at its first word. */
  private nextPosition = 0;
  private readonly callerPositions = new Map<string, number>();
  /** The caller has the turn (the model's VAD heard speech start and not yet stop). */
  private callerSpeaking = false;
  private readonly agentItems = new Map<string, AgentItem>();
  /** Tool calls of responses not yet done, by response. */
  private readonly toolCalls = new Map<string, ToolCall[]>();
  /** MCP approval requests of responses not yet done, by response: answered when their response is. */
  private readonly mcpApprovals = new Map<string, { requestId: string; serverLabel: string; name: string; arguments: string }[]>();
  private runningToolBatches = 0;
  /** Responses created and not yet done (current model session). */
  private readonly activeResponses = new Set<string>();
  /**
   * Active responses whose audio is complete (`audioDone`), though their `response.done` has not come:
   * the transcript, which comes before it, can be seconds late. A hand-off waits for audio, not text.
   */
  private readonly audioCompleteResponses = new Set<string>();
  private readonly abort = new AbortController();
  private pendingHandOff: HandOff | undefined;
  private handOffTimer: TimerHandle | undefined;
  /** Responses created since the hand-off was asked for; it waits for the one that speaks it. */
  private responsesSinceHandOff = 0;
  private handedOff = false;
  /** Watchdogs (docs/architecture.md, "Watchdogs"): they run once the caller is connected (`start`). */
  private started = false;
  private readonly silence: SilenceWatchdog;
  private readonly timeLimit: CallTimeLimit;
  /** The time limit ended the call: a refused transfer at the limit hangs up instead. */
  private timeLimitReached = false;
  /**
   * What the agent is to say on Switchboard's behalf (a watchdog's line, a voicemail message): the instructions
   * of a response each, asked for once the floor is free (`flushLines`).
   */
  private readonly pendingLines: string[] = [];
  /** A line's response.create went out and its response has not been created yet. */
  private lineRequested = false;
  /**
   * The line last asked for, until a response is done after it: OpenAI refuses a response.create while another
   * response has the floor (conversation_already_has_active_response), and the line must then be asked again.
   */
  private lineInFlight: string | undefined;
  /** Latency marks on the injected clock: when the conversation began, when the caller's last turn ended. */
  private readonly startedAtMs: number;
  private callerStoppedAtMs: number | undefined;
  private agentHasSpoken = false;
  /** Key presses not yet given to the model: a run typed at a normal pace is one item (DTMF_GROUP_GAP_MS). */
  private readonly pendingDigits: string[] = [];
  private digitsTimer: TimerHandle | undefined;
  /** Key presses reached the model while it was answering something else: it answers them once that is done. */
  private keyResponseOwed = false;

  constructor(private readonly deps: ConversationDeps) {
    this.startedAtMs = deps.clock.now();
    const limits = deps.agent.callLimits;
    this.silence = new SilenceWatchdog(limits.silence, deps.clock, () => this.isQuiet(), {
      prompt: () => {
        this.record('bridge.silence-prompt', { silentMs: limits.silence.promptAfterMs });
        this.say(limits.silence.prompt);
      },
      giveUp: () => {
        this.record('bridge.silence-timeout', { silentMs: limits.silence.hangUpAfterMs });
        this.endWith({ kind: 'hangup', reason: 'no input from the caller', outcome: 'no-input' }, limits.silence.goodbye);
      },
    });
    this.timeLimit = new CallTimeLimit(limits.maxDuration, deps.clock, {
      warn: () => {
        this.record('bridge.time-limit-warning', { limitMs: limits.maxDuration.limitMs, warnMs: limits.maxDuration.warnMs });
        this.say(limits.maxDuration.warning);
      },
      reached: () => this.reachTimeLimit(),
    });
    for (const missing of deps.tools.mcpUnavailable) {
      deps.logger.warn({ callId: deps.callId, serverLabel: missing.serverLabel }, `MCP server left out of the call: ${missing.reason}`);
      this.record('mcp.unavailable', missing);
    }
  }

  /**
   * The caller is connected to the agent: the duration limit starts counting, and silence is watched.
   * Back from a failed transfer: `elapsedMs`, how long the call has lasted; `limitReached`, the time limit
   * already ended it once (its transfer failed), so at the limit now the agent only says goodbye.
   */
  start(resumed: { elapsedMs: number; limitReached: boolean } = { elapsedMs: 0, limitReached: false }): void {
    if (this.started || this.ended) return;
    this.started = true;
    this.timeLimitReached = resumed.limitReached;
    this.timeLimit.start(resumed.elapsedMs);
    this.watch();
  }

  /**
   * The caller did something that shows they are there (speech, a key press): the silence watchdog starts
   * over. For carriers' events the model does not see as speech, e.g. DTMF.
   */
  callerActivity(): void {
    this.silence.callerActivity();
    this.watch();
  }

  /** What tools may ask of the call: both happen once the agent's current words have been heard. */
  readonly actions: CallActions = {
    transfer: (destination, reason, summary) => {
      // A carrier that can never reach the destination says so now, as the tool's output.
      this.deps.control.checkTransfer?.(this.call(), destination);
      this.requestHandOff({ kind: 'transfer', destination, reason, summary });
    },
    hangUp: (reason) => this.requestHandOff({ kind: 'hangup', reason }),
  };

  // ---- what the model says ----------------------------------------------------------------------

  callerSpeechStarted(itemId: string): void {
    this.callerSpeaking = true;
    this.callerPositions.set(itemId, this.nextPosition++);
    this.callerActivity();
  }

  callerSpeechStopped(): void {
    this.callerSpeaking = false;
    this.callerStoppedAtMs = this.deps.clock.now();
    this.watch();
  }

  callerItem(itemId: string): void {
    if (!this.callerPositions.has(itemId)) this.callerPositions.set(itemId, this.nextPosition++);
    this.callerActivity();
  }

  callerTranscript(itemId: string, transcript: string): void {
    void this.storeTranscript({ callId: this.deps.callId, role: 'caller', text: transcript, itemId, position: this.callerPositions.get(itemId) ?? this.nextPosition++ });
  }

  responseCreated(responseId: string): void {
    this.activeResponses.add(responseId);
    this.lineRequested = false;
    if (this.pendingHandOff) this.responsesSinceHandOff++;
    this.watch();
  }

  /** The item has audio on its way to the caller (a further item of a response whose audio was complete speaks again). */
  agentAudio(itemId: string, responseId: string): void {
    this.agentItem(itemId, responseId);
    this.audioCompleteResponses.delete(responseId);
    this.watch();
    this.agentSpeaking(responseId);
  }

  /**
   * The agent's voice began (stream: a response's first audio reaches the playout queue; SIP: OpenAI's
   * output audio buffer started). The first time in the call, and the first time after each caller turn,
   * it is traced with its latency (docs/architecture.md, post-call reports): from the conversation's start
   * (first word), and from the moment the model's VAD said the caller stopped (per turn; that moment
   * already includes the VAD's silence duration).
   */
  agentSpeaking(responseId?: string): void {
    if (this.agentHasSpoken && this.callerStoppedAtMs === undefined) return;
    const nowMs = this.deps.clock.now();
    const afterCallerMs = this.callerStoppedAtMs === undefined ? undefined : Math.round(nowMs - this.callerStoppedAtMs);
    this.record('bridge.agent-speaking', { responseId, first: !this.agentHasSpoken, sinceStartMs: Math.round(nowMs - this.startedAtMs), afterCallerMs });
    this.agentHasSpoken = true;
    this.callerStoppedAtMs = undefined;
  }

  transcriptDelta(itemId: string, responseId: string, delta: string): void {
    this.agentItem(itemId, responseId).text += delta;
  }

  /** Text only: the audio's end is `audioDone` (or, failing that, response.done). */
  transcriptDone(itemId: string, responseId: string, transcript: string): void {
    this.agentItem(itemId, responseId).text = transcript;
  }

  audioDone(responseId: string): void {
    if (this.activeResponses.has(responseId)) this.audioCompleteResponses.add(responseId);
    this.maybeHandOff();
  }

  functionCall(e: { responseId: string; callId: string; name: string; arguments: string }): void {
    const calls = this.toolCalls.get(e.responseId) ?? [];
    calls.push({ callId: e.callId, name: e.name, arguments: e.arguments });
    this.toolCalls.set(e.responseId, calls);
  }

  /**
   * What OpenAI did with the agent's MCP servers (README "MCP tools"): every listing and call goes into the
   * trace; an approval request is held until its response is done, then answered by the agent's rule.
   */
  mcp(e: McpActivity): void {
    switch (e.kind) {
      case 'tools-listed':
        return this.record('mcp.tools-listed', { serverLabel: e.serverLabel, tools: e.tools, itemId: e.itemId });
      case 'list-failed':
        this.deps.logger.warn({ callId: this.deps.callId, serverLabel: e.serverLabel }, 'OpenAI could not list the tools of an MCP server');
        return this.record('mcp.list-failed', { serverLabel: e.serverLabel, itemId: e.itemId });
      case 'call':
        return this.record('mcp.call', {
          serverLabel: e.serverLabel,
          name: e.name,
          arguments: safeJson(e.arguments),
          ok: e.ok,
          ...(e.output !== undefined ? { output: safeJson(e.output) } : {}),
          ...(e.error !== undefined ? { error: e.error } : {}),
          ...(e.approvalRequestId ? { approvalRequestId: e.approvalRequestId } : {}),
          itemId: e.itemId,
        });
      case 'approval-request': {
        const pending = this.mcpApprovals.get(e.responseId) ?? [];
        pending.push({ requestId: e.requestId, serverLabel: e.serverLabel, name: e.name, arguments: e.arguments });
        this.mcpApprovals.set(e.responseId, pending);
        return;
      }
    }
  }

  /** The items of a response not yet stored (response.done completes their audio too). */
  itemsOf(responseId: string): string[] {
    return [...this.agentItems.values()].filter((i) => i.responseId === responseId).map((i) => i.itemId);
  }

  responseDone(e: { responseId: string; status: string; reason?: string; usage?: ModelUsage }): void {
    this.lineInFlight = undefined;
    this.activeResponses.delete(e.responseId);
    this.audioCompleteResponses.delete(e.responseId);
    if (this.ended) return;
    if (this.keyResponseOwed && this.activeResponses.size === 0 && !this.pendingHandOff && !this.handedOff) {
      this.keyResponseOwed = false;
      this.deps.model().createResponse();
    }
    if (e.usage) void this.deps.store.calls.addUsage(this.deps.callId, e.usage).catch((err: Error) => this.storeFailed(err));
    this.record('model.response.done', { responseId: e.responseId, status: e.status, reason: e.reason, usage: e.usage });
    for (const item of [...this.agentItems.values()]) {
      if (item.responseId !== e.responseId) continue;
      item.responseDone = true;
      this.settle(item.itemId);
    }
    const calls = this.toolCalls.get(e.responseId);
    this.toolCalls.delete(e.responseId);
    const answered = this.answerMcpApprovals(e.responseId);
    if (calls && calls.length > 0 && e.status === 'completed') void this.runTools(calls);
    // OpenAI paused for the answers; the model goes on (or explains a denial) in a new response. A tool batch
    // asks for that response itself, once its outputs are in.
    else if (answered && e.status === 'completed') this.deps.model().createResponse();
    this.maybeHandOff();
  }

  /** Nobody speaking, nothing in flight, nothing left to hear, nothing queued to say: the silence the watchdog counts. */
  private isQuiet(): boolean {
    return this.started && !this.ended && this.isIdle() && !this.deps.voice.isPlaying() && this.pendingLines.length === 0 && !this.lineRequested;
  }

  /** Whatever may have changed who holds the floor: say a waiting line if it is free, and tell the silence watchdog. */
  private watch(): void {
    if (!this.started || this.ended) return;
    this.flushLines();
    this.silence.check();
  }

  // ---- watchdogs' lines and endings ---------------------------------------------------------------

  /** The agent says `line` (an instructed response, like the greeting) once no response is active and the caller is not speaking. */
  private say(line: string): void {
    this.pendingLines.push(spokenLineInstructions(line));
    this.watch();
  }

  private flushLines(): void {
    if (this.ended || this.pendingLines.length === 0 || this.lineRequested || this.activeResponses.size > 0 || this.callerSpeaking) return;
    this.lineRequested = true;
    this.lineInFlight = this.pendingLines.shift()!;
    this.deps.model().createResponse({ instructions: this.lineInFlight });
  }

  /** End the call the way a tool would (the speak-then-act hand-off), the agent saying `line` first. */
  private endWith(action: HandOff, line: string): void {
    this.requestHandOff(action);
    if (this.pendingHandOff === action) this.say(line);
  }

  /**
   * The duration limit: goodbye and hang-up, or the configured transfer, with outcome `time-limit` either
   * way. Before a transfer the outcome is decided at once, so the transfer's own (`transferred`) does not
   * replace it (src/outcomes.ts: a decision stands). A call already leaving the agent is left to it.
   */
  private reachTimeLimit(): void {
    if (this.ended || this.pendingHandOff || this.handedOff) return;
    const settings = this.deps.agent.callLimits.maxDuration;
    const reason = `the call reached its time limit (${settings.limitMs} ms)`;
    // A transfer at the limit is tried once: a caller it brought back is only told goodbye.
    const transferTo = this.timeLimitReached ? undefined : settings.transferTo;
    this.timeLimitReached = true;
    this.silence.stop();
    const destination = transferTo ? this.deps.agent.destinations.find((d) => d.name === transferTo) : undefined;
    this.record('bridge.time-limit', { limitMs: settings.limitMs, transferTo, action: destination ? 'transfer' : 'hangup' });
    if (destination) {
      try {
        this.deps.control.checkTransfer?.(this.call(), destination);
        this.deps.store.calls.record({ id: this.deps.callId, outcome: { outcome: 'time-limit', reason } }).catch((err: Error) => this.storeFailed(err));
        return this.endWith({ kind: 'transfer', destination, reason, summary: `The call reached its time limit; the caller is transferred to continue.` }, settings.transferMessage);
      } catch (err) {
        this.record('bridge.hand-off-refused', { action: 'transfer', reason: (err as Error).message, why: 'time limit: hanging up instead' });
      }
    } else if (transferTo) {
      this.deps.logger.warn({ callId: this.deps.callId, agentId: this.deps.agent.id, transferTo }, 'time limit: the agent has no destination of that name; hanging up instead');
    }
    this.endWith({ kind: 'hangup', reason, outcome: 'time-limit' }, settings.goodbye);
  }

  /** The caller heard `heardMs` of the item before cutting in (barge-in). */
  truncated(itemId: string, heardMs: number): void {
    const item = this.agentItems.get(itemId);
    if (!item) return;
    item.truncatedAtMs = heardMs;
    this.settle(itemId);
  }

  /** Store an agent item if it is complete: response done, and heard in full, cut off, or never queued. */
  settle(itemId: string): void {
    const item = this.agentItems.get(itemId);
    if (!item || !item.responseDone) return;
    if (item.truncatedAtMs === undefined && this.deps.voice.holds(itemId)) return; // still playing
    this.storeAgentItem(item);
  }

  modelError(e: { code?: string; message: string; type?: string; eventId?: string }): void {
    this.deps.logger.warn({ callId: this.deps.callId, code: e.code, type: e.type }, `OpenAI error: ${e.message}`);
    this.deps.metrics?.modelError('event');
    this.record('model.error', e);
    // A watchdog's line refused (another response got the floor first): it is asked again at the next free floor.
    if (this.lineInFlight !== undefined && e.code === 'conversation_already_has_active_response') {
      this.pendingLines.unshift(this.lineInFlight);
      this.lineInFlight = undefined;
    }
    if (this.lineRequested) {
      this.lineRequested = false;
      this.watch();
    }
  }

  /** Between turns: the caller not speaking, no response in flight, no tool call outstanding, no hand-off waiting or under way. */
  isIdle(): boolean {
    return !this.callerSpeaking && this.activeResponses.size === 0 && this.toolCalls.size === 0 && this.mcpApprovals.size === 0 && this.runningToolBatches === 0 && !this.pendingHandOff && !this.handedOff;
  }

  /** A new model session replaced the old one: the old one's responses will never finish here. */
  modelReplaced(): void {
    this.activeResponses.clear();
    this.audioCompleteResponses.clear();
    this.watch();
  }

  /** The conversation as stored so far, in order (priming a new model session); a store failure is surfaced and yields nothing. */
  async history(): Promise<TranscriptItemRecord[] | undefined> {
    try {
      return await this.deps.store.transcripts.list(this.deps.callId);
    } catch (err) {
      this.storeFailed(err as Error);
      return undefined;
    }
  }

  // ---- the caller's keypad and the callee's answering machine (docs/architecture.md#key-presses-and-voicemail) ----

  /**
   * The caller pressed a key (stream: Bandwidth's `dtmf` callback; openai-sip: the sideband's
   * `input_audio_buffer.dtmf_event_received`). The mode-independent entry for key presses: it is caller
   * activity, like speech, so the silence watchdog resets here. With `telephony.keyPresses.interrupt` it cuts the
   * agent off the way speech does; the digits then reach the model as one user item per run of presses.
   */
  callerKeyPress(digit: string): void {
    // An agent that does not listen for keys ignores them in every mode (stream mode asks for none; OpenAI's sideband sends them anyway).
    if (this.ended || this.handedOff || !this.deps.agent.telephony.keyPresses.enabled) return;
    const interrupts = this.deps.agent.telephony.keyPresses.interrupt && this.agentHasWordsOnTheWay();
    // The trace says the key cut the agent off; the stream session's own bridge.barge-in says what was heard.
    this.record('caller.key-press', interrupts ? { digit, interrupted: true } : { digit });
    this.callerActivity();
    if (interrupts) this.interruptAgent();
    this.pendingDigits.push(digit);
    this.deps.clock.clear(this.digitsTimer);
    this.digitsTimer = undefined;
    if (digit === '#' || this.pendingDigits.length >= DTMF_GROUP_MAX_DIGITS) this.giveDigitsToModel();
    else this.digitsTimer = this.deps.clock.setTimeout(() => this.giveDigitsToModel(), DTMF_GROUP_GAP_MS);
  }

  /**
   * An outbound call reached an answering machine (Bandwidth's machine detection). The agent stops whatever it
   * was saying; then it hangs up at once, or leaves its message (configured, or composed by the model from the
   * call's context) and hangs up once that has been heard. Either way the outcome is `voicemail`.
   */
  answeredByMachine(plan: VoicemailPlan): void {
    if (this.ended || this.handedOff || this.pendingHandOff) return; // already leaving: that decision stands
    this.record('bridge.voicemail', { action: plan.kind, ...(plan.kind === 'leave-message' ? { message: plan.message ? 'configured' : 'composed' } : {}) });
    this.clearDigits();
    this.interruptAgent();
    if (plan.kind === 'hang-up') {
      this.pendingHandOff = { kind: 'hangup', reason: 'an answering machine answered', outcome: 'voicemail' };
      this.record('bridge.hangup-requested', this.pendingHandOff);
      void this.runHandOff('an answering machine answered');
      return;
    }
    // The whole message is what the hand-off waits for: longer than a goodbye, so its own bound. It is asked
    // for once the cancelled response is done, and again if OpenAI refuses it (flushLines, modelError).
    this.requestHandOff({ kind: 'hangup', reason: 'left a voicemail message', outcome: 'voicemail' }, VOICEMAIL_MAX_WAIT_MS);
    this.pendingLines.push(voicemailInstructions(plan.message));
    this.watch();
  }

  /** The agent has words on their way: a response in flight, or audio still to be heard. */
  private agentHasWordsOnTheWay(): boolean {
    return this.activeResponses.size > 0 || this.deps.voice.isPlaying();
  }

  /** Barge-in from outside the model's VAD: the session drops what was not heard, and the response stops. */
  private interruptAgent(): void {
    // Cancel first: over SIP the output buffer is cleared after response.cancel (OpenAI reference §1.4).
    if (this.activeResponses.size > 0) this.deps.model().cancelResponse();
    this.deps.voice.interrupt();
  }

  private giveDigitsToModel(): void {
    this.deps.clock.clear(this.digitsTimer);
    this.digitsTimer = undefined;
    const digits = this.pendingDigits.splice(0);
    if (digits.length === 0 || this.ended || this.handedOff || this.pendingHandOff) return;
    const model = this.deps.model();
    model.addItem('user', keyPressText(digits));
    // One response at a time (OpenAI reference §1.6): while one is under way, the next answers the keys.
    if (this.activeResponses.size > 0) this.keyResponseOwed = true;
    else model.createResponse();
  }

  private clearDigits(): void {
    this.deps.clock.clear(this.digitsTimer);
    this.digitsTimer = undefined;
    this.pendingDigits.length = 0;
    this.keyResponseOwed = false;
  }

  /** The call is over: long-running tools are aborted, and whatever the agent said is kept. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.clearDigits();
    this.deps.clock.clear(this.handOffTimer);
    this.silence.stop();
    this.timeLimit.stop();
    this.abort.abort();
    for (const item of [...this.agentItems.values()]) this.storeAgentItem(item);
  }

  // ---- tools ------------------------------------------------------------------------------------

  /** A response's tool calls run in parallel, with the call's abort signal; every output, then exactly one response.create. */
  private async runTools(calls: ToolCall[]): Promise<void> {
    const ctx = { callId: this.deps.callId, agent: this.deps.agent, signal: this.abort.signal, actions: this.actions };
    this.runningToolBatches++;
    this.watch();
    let outcomes;
    try {
      outcomes = await Promise.all(calls.map((c) => this.deps.tools.dispatch(c.name, c.arguments, ctx, () => this.deps.clock.now())));
    } finally {
      this.runningToolBatches--;
    }
    if (this.ended) return;
    const model = this.deps.model();
    calls.forEach((c, i) => {
      const outcome = outcomes[i]!;
      model.sendFunctionOutput(c.callId, outcome.output);
      this.record('tool.call', { name: c.name, callId: c.callId, arguments: safeJson(c.arguments), ok: outcome.ok, output: safeJson(outcome.output), durationMs: outcome.durationMs });
    });
    model.createResponse();
  }

  /**
   * Nobody on a phone call can approve a tool call, so Switchboard answers each request at once by the agent's
   * rule (src/agents/mcp-servers.ts: its `autoApprove` tools are approved, any other denied). Returns whether
   * any was answered.
   */
  private answerMcpApprovals(responseId: string): boolean {
    const requests = this.mcpApprovals.get(responseId);
    this.mcpApprovals.delete(responseId);
    if (!requests || requests.length === 0) return false;
    const model = this.deps.model();
    for (const r of requests) {
      const decision = mcpApproval(this.deps.agent.mcpServers, r.serverLabel, r.name);
      model.answerMcpApproval(r.requestId, decision.approve, decision.reason);
      this.record('mcp.approval', { serverLabel: r.serverLabel, name: r.name, arguments: safeJson(r.arguments), requestId: r.requestId, approved: decision.approve, reason: decision.reason });
    }
    return true;
  }

  // ---- hand-off ---------------------------------------------------------------------------------

  /** Hand-off (docs/architecture.md#hand-off-how-a-call-leaves-the-agent): act once the words that go with it have been heard, or after HANDOFF_MAX_WAIT_MS. */
  private requestHandOff(action: HandOff, maxWaitMs = HANDOFF_MAX_WAIT_MS): void {
    if (this.pendingHandOff || this.handedOff || this.ended) return; // one hand-off at a time
    this.pendingHandOff = action;
    this.pendingLines.length = 0; // the call is leaving the agent: a warning or a prompt still queued is moot
    this.responsesSinceHandOff = 0;
    this.record(action.kind === 'transfer' ? 'bridge.transfer-requested' : 'bridge.hangup-requested', action);
    this.handOffTimer = this.deps.clock.setTimeout(() => void this.runHandOff('timed out waiting for the agent to finish speaking'), maxWaitMs);
  }

  /** Call whenever the agent may have finished speaking (a response done, its audio complete or heard). */
  maybeHandOff(): void {
    this.watch();
    if (!this.pendingHandOff || this.responsesSinceHandOff === 0) return;
    // A watchdog's goodbye not yet asked for, or asked for and not yet created, is still to be said.
    if (this.pendingLines.length > 0 || this.lineRequested) return;
    // A response still generating audio may have more words for the caller; one whose audio is complete
    // has said them (its late transcript and response.done do not hold the caller).
    if (this.activeResponses.size > this.audioCompleteResponses.size || this.toolCalls.size > 0 || this.runningToolBatches > 0 || this.deps.voice.isPlaying()) return;
    void this.runHandOff('the agent finished speaking');
  }

  private async runHandOff(why: string): Promise<void> {
    const action = this.pendingHandOff;
    if (!action || this.handedOff || this.ended) return;
    this.handedOff = true;
    this.pendingHandOff = undefined;
    this.deps.clock.clear(this.handOffTimer);
    this.deps.voice.silence();
    const call = this.call();
    const outcome = action.kind === 'transfer' ? await this.deps.control.transfer(call, action.destination, action.reason, action.summary) : await this.deps.control.hangUp(call, action.reason);
    if (typeof outcome === 'object') return this.handOffRefused(action, outcome.refused, why);
    if (action.kind === 'hangup' && outcome !== 'gone') {
      // Decided now, whichever way the carrier ends the call. Submitted, not waited for: a stalled store
      // must not hold the session open (docs/reliability.md).
      const decided = { outcome: action.outcome ?? 'completed-by-agent', reason: action.reason } as const;
      this.deps.store.calls.record({ id: this.deps.callId, cause: 'agent-hangup', outcome: decided }).catch((err: Error) => this.storeFailed(err));
    }
    if (outcome === 'on-stream-end') {
      // The carrier does it when the session ends (docs/architecture.md#hand-off-how-a-call-leaves-the-agent).
      this.record('bridge.handed-off', { action: action.kind, via: 'stream-end', why });
      this.deps.voice.end(action.kind === 'transfer' ? 'transferring' : 'agent hung up');
      return;
    }
    // gone: the caller hung up while the agent was still speaking.
    this.record('bridge.handed-off', { action: action.kind, via: 'carrier', outcome: outcome === 'gone' ? 'call already ended' : action.kind === 'transfer' ? 'redirected' : 'completed', why });
    if (outcome === 'gone' || action.kind === 'hangup') this.deps.voice.end(action.kind === 'hangup' ? 'agent hung up' : 'call already ended');
    // A transfer under way: the carrier moves the call on, and its end ends the session.
  }

  /** The caller stays with the agent (its state unchanged); the agent is told, so it can tell the caller and offer something else. */
  private handOffRefused(action: HandOff, reason: string, why: string): void {
    this.record('bridge.hand-off-refused', { action: action.kind, reason, why });
    if (this.ended) return;
    if (action.kind === 'transfer') {
      const returned = { outcome: 'transfer-failed-returned', reason: `transfer to ${action.destination.name} failed (${reason})` } as const;
      this.deps.store.calls.record({ id: this.deps.callId, outcome: returned }).catch((err: Error) => this.storeFailed(err));
    }
    this.handedOff = false;
    this.deps.voice.resume();
    if (this.timeLimitReached && action.kind === 'transfer') {
      // The time limit's transfer could not happen: the call still ends at the limit (its outcome stands).
      const settings = this.deps.agent.callLimits.maxDuration;
      return this.endWith({ kind: 'hangup', reason: `${action.reason}; the transfer failed (${reason})`, outcome: 'time-limit' }, settings.goodbye);
    }
    const model = this.deps.model();
    model.addItem('system', action.kind === 'transfer' ? `The transfer to ${action.destination.name} failed (${reason}). Tell the caller and offer another way to help.` : `Hanging up failed (${reason}).`);
    model.createResponse();
  }

  private call(): HandOffCall {
    return { callId: this.deps.callId, agent: this.deps.agent };
  }

  // ---- transcripts, trace, store errors ---------------------------------------------------------

  private agentItem(itemId: string, responseId: string): AgentItem {
    let item = this.agentItems.get(itemId);
    if (!item) {
      item = { itemId, responseId, position: this.nextPosition++, text: '', responseDone: false };
      this.agentItems.set(itemId, item);
    }
    return item;
  }

  private storeAgentItem(item: AgentItem): void {
    this.agentItems.delete(item.itemId);
    if (!item.text.trim()) return;
    void this.storeTranscript({
      callId: this.deps.callId,
      role: 'agent',
      text: item.text,
      itemId: item.itemId,
      position: item.position,
      truncated: item.truncatedAtMs !== undefined,
      heardMs: item.truncatedAtMs,
    });
  }

  private async storeTranscript(item: TranscriptItemInput): Promise<void> {
    try {
      await this.deps.store.transcripts.append(item);
    } catch (err) {
      this.storeFailed(err as Error);
    }
  }

  /** One event in the call's trace (DESIGN §6: every stream event and tool call, in order). */
  record(type: SessionEventType, data: unknown): void {
    const event: CallEventInput = { callId: this.deps.callId, source: eventSource(type), type, data };
    this.deps.store.events.append(event).catch((err: Error) => this.storeFailed(err));
  }

  /**
   * A write the store refused. The live call goes on (DESIGN §6: the store never holds up live audio), but
   * the failure is never swallowed: it is logged with the call, and counted for the call's `bridge.ended`.
   */
  storeFailed(err: Error): void {
    this.storeFailures++;
    this.deps.logger.error({ callId: this.deps.callId, err: err.message, storeFailures: this.storeFailures }, 'could not write to the store');
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
