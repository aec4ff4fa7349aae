/**
 * One model response, played out on the injected Clock: the GA event sequence of RT §1.6 ("VAD turn" and
 * "Function call"), audio in the session's output format streamed in chunks larger than a 20 ms frame and
 * faster than real time (RT §3.1: the server "may have generated many seconds of audio ahead of real time"),
 * and cancellation with `response.done` status `cancelled` (RT §1.5 notes, RT §3.1).
 */
import type { RateLimitsUpdatedEvent } from 'openai/resources/realtime/realtime';
import type { Clock, TimerHandle } from '../clock';
import { bytesPerMs, bytesPerSample, encodeFromPcm, sampleRateOf, speechSamples, type AudioFormat, type SpeechVoice } from './realtime-audio';
import type { IdGenerator } from './realtime-ids';
import { itemJson, type ServerEventBody, type SimItem } from './realtime-items';
import type { Voice } from './realtime-protocol';
import { MULAW_BYTES_PER_MS } from '../constants';
import type { FunctionCallPlan, McpCallPlan, RecordedTiming, ResponsePlan, ResponseTrigger } from './realtime-script';
import type { SessionMcp } from './realtime-mcp';
import { speechMsFor } from './realtime-script';
import { buildUsage, type InputUsage, type Usage } from './realtime-usage';

export interface Pacing {
  /** Audio per `response.output_audio.delta`, ms (the real service sends far more than one 20 ms frame per delta). */
  chunkMs: number;
  /** Audio ms generated per clock ms (4 = four times faster than real time). */
  speedFactor: number;
  /** Clock ms from `response.created` to the first output (audio, text or function call). */
  firstDeltaLatencyMs: number;
}

export interface ResponseHost {
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly pacing: Pacing;
  send(event: ServerEventBody): void;
  /** Append to the default conversation; returns the `previous_item_id`. */
  addItem(item: SimItem): string | null;
  /** The session's MCP servers (realtime-mcp.ts). */
  readonly mcp: SessionMcp;
  /** Count the response against the rate limits and return the `rate_limits` array to report. */
  rateLimitsAfter(usage: Usage): RateLimitsUpdatedEvent['rate_limits'];
  finished(run: ResponseRun): void;
}

export interface ResponseSetup {
  id: string;
  n: number;
  trigger: ResponseTrigger;
  plan: ResponsePlan;
  format: AudioFormat;
  voice: Voice;
  speechVoice: SpeechVoice;
  /** `audio.output.speed` (RT §1.3: 0.25..1.5); shortens or lengthens the audio. */
  speed: number;
  modalities: Array<'audio' | 'text'>;
  /** `none` = out-of-band: nothing is added to the default conversation (RT §1.4 `response.create`). */
  inConversation: boolean;
  conversationId: string | null;
  maxOutputTokens: number | 'inf';
  metadata: Record<string, string> | null;
  input: InputUsage;
}

export type CancelReason = 'turn_detected' | 'client_cancelled';

/** The message part of a response in flight. */
interface MessageProgress {
  item: SimItem;
  outputIndex: number;
  previousItemId: string | null;
  text: string;
  totalSamples: number;
  chunkSamples: number;
  chunkCount: number;
  nextChunk: number;
  /** Transcript (or text) sent so far. */
  sent: string;
  /** `response.output_audio.done` has gone out (it can precede a delayed transcript). */
  audioDone: boolean;
  /** Recorded bytes to speak (SpeechPlan.audio), in the session's output format. */
  recorded: Buffer | undefined;
  /** A recorded pace (RecordedTiming): each chunk's end sample and its clock ms after the response started. */
  chunks: { endSample: number; atMs: number }[] | undefined;
}

export class ResponseRun {
  status: 'in_progress' | 'completed' | 'cancelled' = 'in_progress';
  cancelReason: CancelReason | undefined;
  readonly output: SimItem[] = [];
  /** Assistant audio produced so far, ms. */
  audioMs = 0;
  readonly startedAtMs: number;
  firstOutputAtMs: number | undefined;
  doneAtMs: number | undefined;
  usage: Usage | undefined;
  private timer: TimerHandle | undefined;
  private message: MessageProgress | undefined;
  private textChars = 0;
  /** The planned mid-response stall has happened (it happens once). */
  private stalled = false;

  constructor(
    private readonly host: ResponseHost,
    readonly setup: ResponseSetup,
  ) {
    this.startedAtMs = host.clock.now();
  }

  get id(): string {
    return this.setup.id;
  }

  get active(): boolean {
    return this.status === 'in_progress';
  }

  get audioOut(): boolean {
    return this.setup.modalities.includes('audio');
  }

  /** RT §1.6: `response.created` at once; output after the first-delta latency (the recorded one, when the plan has it). */
  start(): void {
    this.host.send({ type: 'response.created', response: this.responseJson(null) });
    const timing = this.timing;
    const recordedMs = timing ? (this.audioOut ? timing.deltas[0]?.atMs : undefined) ?? timing.firstOutputMs : undefined;
    this.timer = this.host.clock.setTimeout(() => this.begin(), recordedMs ?? this.host.pacing.firstDeltaLatencyMs);
  }

  private get timing(): RecordedTiming | undefined {
    const plan = this.setup.plan;
    return 'mcpCall' in plan ? undefined : plan.timing;
  }

  /** RT §3.1 / §1.5: close whatever is open, then `response.done` with status `cancelled`. */
  cancel(reason: CancelReason): void {
    if (!this.active) return;
    this.host.clock.clear(this.timer);
    this.cancelReason = reason;
    if (this.message) this.finishMessage('incomplete');
    this.done('cancelled');
  }

  /** Socket gone: stop without sending anything. */
  abandon(): void {
    this.host.clock.clear(this.timer);
    if (this.active) this.status = 'cancelled';
  }

  private begin(): void {
    this.firstOutputAtMs = this.host.clock.now();
    const plan = this.setup.plan;
    if ('text' in plan) {
      const recorded = this.audioOut && plan.audio?.bytesPerMs === bytesPerMs(this.setup.format) ? plan.audio.bytes : undefined;
      this.openMessage(plan.text, plan.audioMs ?? speechMsFor(plan.text), recorded, plan.timing && plan.timing.deltas.length > 0 ? { timing: plan.timing, bytesPerMs: plan.audio?.bytesPerMs ?? MULAW_BYTES_PER_MS } : undefined);
      this.tick();
      return;
    }
    if ('mcpCall' in plan) return this.runMcpCall(plan);
    this.emitFunctionCall(plan.functionCall);
    this.done('completed');
  }

  /**
   * An MCP call planned for this response (realtime-mcp.ts): the approval request ends the response; a refused
   * call is explained; a call runs (arguments, in progress, completed or failed) and its result is spoken.
   */
  private runMcpCall(plan: McpCallPlan): void {
    const { serverLabel, name, arguments: args } = plan.mcpCall;
    const outcome = this.host.mcp.call(serverLabel, name, args);
    if (outcome.kind === 'ask') {
      this.emitItem({ id: this.host.ids.next('item'), type: 'mcp_approval_request', status: 'completed', name, arguments: JSON.stringify(args), mcp: { server_label: serverLabel }, responseId: this.id });
      return this.done('completed');
    }
    if (outcome.kind === 'run') this.emitMcpCall(serverLabel, name, JSON.stringify(args), outcome);
    const say = outcome.kind === 'denied' ? (plan.denied ?? "I'm sorry, I'm not allowed to do that on this call.") : plan.then;
    if (!say) return this.done('completed');
    this.openMessage(say, speechMsFor(say));
    this.tick();
  }

  /**
   * openai package events of one MCP call: item added, `response.mcp_call_arguments.delta|done`,
   * `response.mcp_call.in_progress`, then `.completed` or `.failed`, and the item done with its output or error.
   */
  private emitMcpCall(serverLabel: string, name: string, args: string, outcome: Extract<ReturnType<SessionMcp['call']>, { kind: 'run' }>): void {
    const item: SimItem = {
      id: this.host.ids.next('item'),
      type: 'mcp_call',
      status: 'in_progress',
      name,
      arguments: '',
      mcp: { server_label: serverLabel, approval_request_id: outcome.approvalRequestId ?? null, error: null },
      responseId: this.id,
    };
    const outputIndex = this.output.length;
    this.output.push(item);
    this.host.send({ type: 'response.output_item.added', response_id: this.id, output_index: outputIndex, item: itemJson(item) });
    const previousItemId = this.setup.inConversation ? this.host.addItem(item) : null;
    const ref = { response_id: this.id, item_id: item.id, output_index: outputIndex };
    this.host.send({ type: 'response.mcp_call_arguments.delta', ...ref, delta: args });
    this.host.send({ type: 'response.mcp_call_arguments.done', ...ref, arguments: args });
    item.arguments = args;
    this.host.send({ type: 'response.mcp_call.in_progress', item_id: item.id, output_index: outputIndex });
    const { output, error } = outcome.result;
    if (output !== undefined) item.output = output;
    item.mcp!.error = error;
    item.status = 'completed';
    this.textChars += args.length + name.length + (output?.length ?? 0);
    this.host.send({ type: error ? 'response.mcp_call.failed' : 'response.mcp_call.completed', item_id: item.id, output_index: outputIndex });
    this.host.send({ type: 'response.output_item.done', response_id: this.id, output_index: outputIndex, item: itemJson(item) });
    if (this.setup.inConversation) this.host.send({ type: 'conversation.item.done', previous_item_id: previousItemId, item: itemJson(item) });
  }

  /** A complete output item at once (added, done), as OpenAI sends an `mcp_approval_request`. */
  private emitItem(item: SimItem): void {
    const outputIndex = this.output.length;
    this.output.push(item);
    this.host.send({ type: 'response.output_item.added', response_id: this.id, output_index: outputIndex, item: itemJson(item) });
    const previousItemId = this.setup.inConversation ? this.host.addItem(item) : null;
    this.host.send({ type: 'response.output_item.done', response_id: this.id, output_index: outputIndex, item: itemJson(item) });
    if (this.setup.inConversation) this.host.send({ type: 'conversation.item.done', previous_item_id: previousItemId, item: itemJson(item) });
  }

  private tick(): void {
    const m = this.message;
    if (!m) return;
    this.emitChunk(m);
    const plan = this.setup.plan;
    if (m.nextChunk < m.chunkCount) {
      let delayMs = m.chunks ? Math.max(0, m.chunks[m.nextChunk]!.atMs - m.chunks[m.nextChunk - 1]!.atMs) : this.host.pacing.chunkMs / Math.max(1e-9, this.host.pacing.speedFactor);
      if ('text' in plan && plan.stall && !this.stalled && this.audioMs >= plan.stall.afterAudioMs) {
        this.stalled = true;
        delayMs += plan.stall.forMs;
      }
      this.timer = this.host.clock.setTimeout(() => this.tick(), delayMs);
      return;
    }
    this.sendAudioDone(m);
    const transcriptDelayMs = 'text' in plan ? (plan.transcriptDelayMs ?? plan.timing?.transcriptDelayMs ?? 0) : 0;
    if (transcriptDelayMs > 0) this.timer = this.host.clock.setTimeout(() => this.complete(), transcriptDelayMs);
    else this.complete();
  }

  /** The message's closing events, then the function call if planned, then response.done. */
  private complete(): void {
    this.finishMessage('completed');
    const plan = this.setup.plan;
    if ('text' in plan && plan.functionCall) this.emitFunctionCall(plan.functionCall);
    this.done('completed');
  }

  /** RT §1.5 `response.output_audio.done`: the item's audio is complete (no audio in it). Once per message. */
  private sendAudioDone(m: MessageProgress): void {
    if (!this.audioOut || m.audioDone) return;
    m.audioDone = true;
    const plan = this.setup.plan;
    if ('text' in plan && plan.omitAudioDone) return;
    this.host.send({ ...this.partRef(m), type: 'response.output_audio.done' });
  }

  /** RT §1.6: `output_item.added` → `conversation.item.added` → `content_part.added`. */
  private openMessage(text: string, plannedMs: number, recorded?: Buffer, paced?: { timing: RecordedTiming; bytesPerMs: number }): void {
    const rate = this.audioOut ? sampleRateOf(this.setup.format) : 1000;
    const totalSamples = recorded ? Math.max(1, Math.floor(recorded.length / bytesPerSample(this.setup.format))) : Math.max(1, Math.round(((plannedMs / this.setup.speed) * rate) / 1000));
    const chunkSamples = Math.max(1, Math.round((this.host.pacing.chunkMs * rate) / 1000));
    const chunks = this.audioOut && paced ? recordedChunks(paced.timing.deltas, paced.bytesPerMs, rate, totalSamples) : undefined;
    const item: SimItem = {
      id: this.host.ids.next('item'),
      type: 'message',
      role: 'assistant',
      status: 'in_progress',
      content: [],
      text: '',
      responseId: this.id,
    };
    if (this.audioOut) item.audioMs = 0;
    const outputIndex = this.output.length;
    this.output.push(item);
    this.host.send({ type: 'response.output_item.added', response_id: this.id, output_index: outputIndex, item: itemJson(item) });
    const previousItemId = this.setup.inConversation ? this.host.addItem(item) : null;
    this.message = {
      item,
      outputIndex,
      previousItemId,
      text,
      totalSamples,
      chunkSamples,
      // Whole chunks; the remainder rides on the last one, so no delta is a sliver.
      chunkCount: chunks ? chunks.length : Math.max(1, Math.floor(totalSamples / chunkSamples)),
      nextChunk: 0,
      sent: '',
      audioDone: false,
      recorded,
      chunks,
    };
    const part = this.audioOut ? { type: 'audio' as const, transcript: '' } : { type: 'text' as const, text: '' };
    this.host.send({ ...this.partRef(), type: 'response.content_part.added', part });
  }

  /** RT §1.5: `response.output_audio.delta` (base64 in the output format) + `output_audio_transcript.delta`. */
  private emitChunk(m: MessageProgress): void {
    const i = m.nextChunk++;
    const from = m.chunks ? (m.chunks[i - 1]?.endSample ?? 0) : i * m.chunkSamples;
    const to = m.chunks ? m.chunks[i]!.endSample : i === m.chunkCount - 1 ? m.totalSamples : from + m.chunkSamples;
    const text = m.text.slice(Math.floor((m.text.length * i) / m.chunkCount), Math.floor((m.text.length * (i + 1)) / m.chunkCount));
    m.sent += text;
    // A truncate that lands mid-stream sticks: the item keeps the truncated length and no transcript.
    if (m.item.truncatedAtMs === undefined) m.item.text = m.sent;
    this.textChars += text.length;
    if (!this.audioOut) {
      if (text) this.host.send({ ...this.partRef(), type: 'response.output_text.delta', delta: text });
      return;
    }
    const rate = sampleRateOf(this.setup.format);
    const perSample = bytesPerSample(this.setup.format);
    const bytes = m.recorded ? m.recorded.subarray(from * perSample, to * perSample) : encodeFromPcm(this.setup.format, speechSamples(this.setup.speechVoice, rate, from, to - from, m.totalSamples));
    this.host.send({ ...this.partRef(), type: 'response.output_audio.delta', delta: bytes.toString('base64') });
    this.audioMs += ((to - from) * 1000) / rate;
    if (m.item.truncatedAtMs === undefined) m.item.audioMs = this.audioMs;
    if (text) this.host.send({ ...this.partRef(), type: 'response.output_audio_transcript.delta', delta: text });
  }

  /** RT §1.6: `output_audio.done` → `transcript.done` → `content_part.done` → `output_item.done` (+ `conversation.item.done`). */
  private finishMessage(status: 'completed' | 'incomplete'): void {
    const m = this.message;
    if (!m) return;
    this.message = undefined;
    const ref = this.partRef(m);
    const kept = m.item.truncatedAtMs === undefined ? m.sent : '';
    if (this.audioOut) {
      this.sendAudioDone(m);
      this.host.send({ ...ref, type: 'response.output_audio_transcript.done', transcript: m.sent });
      this.host.send({ ...ref, type: 'response.content_part.done', part: { type: 'audio', transcript: m.sent } });
      m.item.content = [{ type: 'output_audio', transcript: kept }];
    } else {
      this.host.send({ ...ref, type: 'response.output_text.done', text: m.sent });
      this.host.send({ ...ref, type: 'response.content_part.done', part: { type: 'text', text: m.sent } });
      m.item.content = [{ type: 'output_text', text: kept }];
    }
    m.item.status = status;
    this.host.send({ type: 'response.output_item.done', response_id: this.id, output_index: m.outputIndex, item: itemJson(m.item) });
    if (this.setup.inConversation) this.host.send({ type: 'conversation.item.done', previous_item_id: m.previousItemId, item: itemJson(m.item) });
  }

  /** RT §1.6 "Function call": item added → arguments deltas → arguments done → item done. */
  private emitFunctionCall(call: FunctionCallPlan): void {
    const args = JSON.stringify(call.arguments);
    const itemId = this.host.ids.next('item');
    const callId = this.host.ids.next('call');
    const item: SimItem = {
      id: itemId,
      type: 'function_call',
      status: 'in_progress',
      name: call.name,
      call_id: callId,
      arguments: '',
      responseId: this.id,
    };
    const outputIndex = this.output.length;
    this.output.push(item);
    this.host.send({ type: 'response.output_item.added', response_id: this.id, output_index: outputIndex, item: itemJson(item) });
    const previousItemId = this.setup.inConversation ? this.host.addItem(item) : null;
    const ref = { response_id: this.id, item_id: item.id, output_index: outputIndex, call_id: callId };
    const pieces = Math.min(3, Math.max(1, args.length));
    for (let p = 0; p < pieces; p++) {
      const delta = args.slice(Math.floor((args.length * p) / pieces), Math.floor((args.length * (p + 1)) / pieces));
      this.host.send({ type: 'response.function_call_arguments.delta', ...ref, delta });
    }
    this.host.send({ type: 'response.function_call_arguments.done', ...ref, name: call.name, arguments: args });
    item.arguments = args;
    item.status = 'completed';
    this.textChars += args.length + call.name.length;
    this.host.send({ type: 'response.output_item.done', response_id: this.id, output_index: outputIndex, item: itemJson(item) });
    if (this.setup.inConversation) this.host.send({ type: 'conversation.item.done', previous_item_id: previousItemId, item: itemJson(item) });
  }

  /** RT §1.6: `response.done` (with usage) then `rate_limits.updated` ("emitted after every response.done"). */
  private done(status: 'completed' | 'cancelled'): void {
    this.status = status;
    this.doneAtMs = this.host.clock.now();
    this.usage = buildUsage(this.setup.input, { audioMs: this.audioMs, textChars: this.textChars });
    const details = status === 'cancelled' ? { type: 'cancelled', reason: this.cancelReason } : null;
    this.host.send({ type: 'response.done', response: this.responseJson(details) });
    this.host.send({ type: 'rate_limits.updated', rate_limits: this.host.rateLimitsAfter(this.usage) });
    this.host.finished(this);
  }

  private partRef(m: MessageProgress | undefined = this.message): { response_id: string; item_id: string; output_index: number; content_index: number } {
    return { response_id: this.id, item_id: m?.item.id ?? '', output_index: m?.outputIndex ?? 0, content_index: 0 };
  }

  /** RT §1.5 `response.created`/`response.done`: the GA response object (shape of the docs' example). */
  private responseJson(statusDetails: Record<string, unknown> | null): Record<string, unknown> {
    return {
      object: 'realtime.response',
      id: this.id,
      status: this.status,
      status_details: statusDetails,
      output: this.output.map(itemJson),
      conversation_id: this.setup.conversationId,
      output_modalities: this.setup.modalities,
      max_output_tokens: this.setup.maxOutputTokens,
      audio: { output: { format: this.setup.format, voice: this.setup.voice } },
      usage: this.usage ?? null,
      metadata: this.setup.metadata,
    };
  }
}

/**
 * The recorded deltas as chunks of this message: each one's end sample (its bytes as ms of the recorded format,
 * in this session's sample rate; the last one ends the audio) and its time.
 */
function recordedChunks(deltas: RecordedTiming['deltas'], bytesPerMs: number, rate: number, totalSamples: number): { endSample: number; atMs: number }[] {
  let ms = 0;
  return deltas.map((d, i) => {
    ms += d.bytes / bytesPerMs;
    const endSample = i === deltas.length - 1 ? totalSamples : Math.min(totalSamples, Math.round((ms * rate) / 1000));
    return { endSample, atMs: d.atMs };
  });
}
