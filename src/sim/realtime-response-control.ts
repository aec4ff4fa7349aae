/**
 * Responses of one session (RT §1.6, §7 P7): `response.create` and `response.cancel`, starting a ResponseRun
 * from the script's plan and the session config, and the server_vad idle timeout armed when a response
 * completes (RT §1.3 `idle_timeout_ms`).
 */
import type { TimerHandle } from '../clock';
import { voiceFor } from './realtime-audio';
import type { Conversation } from './realtime-conversation';
import { invalidRequest, normalizeFormat, type ResponseParams } from './realtime-protocol';
import { ResponseRun, type ResponseHost } from './realtime-response';
import type { ResponsePlan, ResponseTrigger } from './realtime-script';
import type { SessionHost } from './realtime-session-host';
import { inputUsage } from './realtime-usage';

export class ResponseControl {
  private previousInput: { text: number; audio: number; instructions: string } | undefined;
  private idleTimer: TimerHandle | undefined;

  constructor(
    private readonly host: SessionHost,
    private readonly conversation: Conversation,
    /** Called when the idle timeout fires, with its `idle_timeout_ms`. */
    private readonly onIdleTimeout: (idleMs: number) => void,
  ) {}

  onResponseCreate(params: ResponseParams | undefined, eventId: string | null): void {
    if (this.host.activeResponse)
      return this.host.sendError(
        invalidRequest(
          'conversation_already_has_active_response',
          `Conversation already has an active response in progress: ${this.host.activeResponse.id}. Wait until the response is finished before creating a new one.`,
        ),
        eventId,
      );
    this.startResponse('response.create', params);
  }

  onResponseCancel(responseId: string | undefined, eventId: string | null): void {
    const active = this.host.activeResponse;
    if (!active || (responseId !== undefined && responseId !== active.id))
      return this.host.sendError(invalidRequest('response_cancel_not_active', 'Cancellation failed: no active response found'), eventId);
    active.cancel('client_cancelled');
  }

  startResponse(trigger: ResponseTrigger, params?: ResponseParams): void {
    // The config is read after the script runs, not before: the script holds the session and may replace it.
    const { env } = this.host;
    this.clearIdleTimeout();
    const n = this.host.responses.length + 1;
    const instructions = params?.instructions ?? this.host.config.instructions;
    const conversation = this.host.session.conversation;
    let plan: ResponsePlan;
    try {
      plan = env.script({ session: this.host.session, trigger, instructions, conversation, n, ...(params ? { response: params } : {}) });
    } catch (err) {
      this.host.internalErrors.push(err);
      const message = 'The server had an error while processing your request. Sorry about that!';
      return this.host.sendError({ type: 'server_error', code: null, message, param: null }, null);
    }
    const format = params?.audio?.output?.format ? normalizeFormat(params.audio.output.format) : this.host.config.audio.output.format;
    const voice = params?.audio?.output?.voice ?? this.host.config.audio.output.voice;
    const input = inputUsage(conversation, instructions, this.host.config.tools, this.previousInput);
    this.previousInput = { text: input.text_tokens, audio: input.audio_tokens, instructions };
    const inConversation = (params?.conversation ?? 'auto') !== 'none';
    const run = new ResponseRun(this.responseHost(), {
      id: env.ids.next('resp'),
      n,
      trigger,
      plan,
      format,
      voice,
      speechVoice: voiceFor(typeof voice === 'string' ? voice : voice.id),
      speed: this.host.config.audio.output.speed,
      modalities: params?.output_modalities ?? this.host.config.output_modalities,
      inConversation,
      conversationId: inConversation ? this.host.session.conversationId : null,
      maxOutputTokens: params?.max_output_tokens ?? this.host.config.max_output_tokens,
      metadata: params?.metadata ?? null,
      input,
    });
    this.host.activeResponse = run;
    this.host.responses.push({ id: run.id, n, trigger, plan, run });
    run.start();
  }

  clearIdleTimeout(): void {
    this.host.env.clock.clear(this.idleTimer);
  }

  private responseHost(): ResponseHost {
    const { env } = this.host;
    return {
      clock: env.clock,
      ids: env.ids,
      pacing: env.pacing,
      send: (event) => this.host.send(event),
      addItem: (item) => this.conversation.addResponseItem(item),
      mcp: this.host.mcp,
      rateLimitsAfter: (usage) => {
        env.rateLimits.record(usage.total_tokens);
        return env.rateLimits.snapshot();
      },
      finished: (run) => this.onResponseFinished(run),
    };
  }

  private onResponseFinished(run: ResponseRun): void {
    if (this.host.activeResponse === run) this.host.activeResponse = undefined;
    this.armIdleTimeout(run);
  }

  /**
   * RT §1.3 `idle_timeout_ms` (server_vad only): fires `idle_timeout_ms` after "the response.done time plus audio
   * playback duration" with no speech → `timeout_triggered`, commit of the (silent) buffer, and a response.
   */
  private armIdleTimeout(run: ResponseRun): void {
    const td = this.host.config.audio.input.turn_detection;
    if (run.status !== 'completed' || td?.type !== 'server_vad' || td.idle_timeout_ms === null) return;
    const idleMs = td.idle_timeout_ms;
    this.clearIdleTimeout();
    this.idleTimer = this.host.env.clock.setTimeout(() => this.onIdleTimeout(idleMs), run.audioMs + idleMs);
  }
}
