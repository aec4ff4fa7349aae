/**
 * The caller's turns in a session: the input audio buffer and server VAD (RT §1.4, §1.5, §2),
 * `input_audio_buffer.append|commit|clear`, speech start/stop with interruption (RT §3.1), committing audio as
 * a user item (RT §1.6 VAD turn), and the commit the idle timeout makes (RT §1.3 `idle_timeout_ms`).
 */
import { sampleRateOf } from './realtime-audio';
import type { Conversation } from './realtime-conversation';
import { InputAudioBuffer } from './realtime-input';
import type { SimItem } from './realtime-items';
import { invalidRequest, type EffectiveSession } from './realtime-protocol';
import type { ResponseControl } from './realtime-response-control';
import type { SessionHost } from './realtime-session-host';
import type { UserTranscription } from './realtime-transcription';
import { RecordedVad, type TurnDetector } from './realtime-recorded-vad';
import { EnergyVad, type VadParams } from './realtime-vad';

export class InputTurns {
  readonly input = new InputAudioBuffer();
  private vad: TurnDetector;
  /** Whether this session has asked for recorded turns yet (on its first append: playback mode). */
  private vadChosen = false;
  private speech: { itemId: string; startMs: number } | undefined;

  constructor(
    private readonly host: SessionHost,
    private readonly conversation: Conversation,
    private readonly transcription: UserTranscription,
    private readonly responses: ResponseControl,
  ) {
    this.vad = new EnergyVad(this.vadParams());
  }

  /** After an accepted `session.update` (RT §1.3): follow a new input format and turn detection. */
  onConfigChanged(before: EffectiveSession): void {
    const config = this.host.config;
    const formatChanged = JSON.stringify(before.audio.input.format) !== JSON.stringify(config.audio.input.format);
    if (formatChanged) this.input.formatChanged();
    // The VAD only sees audio while turn detection is on: restart it on the current timeline when that flips.
    if (formatChanged || !before.audio.input.turn_detection !== !config.audio.input.turn_detection) this.vad.reset(this.input.appendedMs);
    this.vad.setParams(this.vadParams());
    if (!config.audio.input.turn_detection) this.speech = undefined;
  }

  /** Server VAD parameters; semantic VAD is approximated by energy VAD with an eagerness-dependent silence. */
  private vadParams(): VadParams {
    const td = this.host.config.audio.input.turn_detection;
    const base = { minSpeechMs: this.host.env.vadMinSpeechMs };
    if (td?.type === 'server_vad')
      return { ...base, threshold: td.threshold, prefixPaddingMs: td.prefix_padding_ms, silenceDurationMs: td.silence_duration_ms };
    const eagerSilence = { low: 1200, medium: 700, auto: 700, high: 400 } as const;
    return { ...base, threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: td ? eagerSilence[td.eagerness] : 500 };
  }

  onAppend(audio: string, eventId: string | null): void {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(audio) || audio.length % 4 === 1)
      return this.host.sendError(invalidRequest('invalid_value', "Invalid 'audio'. Expected base64-encoded audio bytes.", 'audio'), eventId);
    if (!this.vadChosen) {
      this.vadChosen = true;
      const recorded = this.host.env.recordedVad?.();
      if (recorded) this.vad = new RecordedVad(recorded, this.vadParams(), this.input.appendedMs);
    }
    const format = this.host.config.audio.input.format;
    const samples = this.input.append(format, Buffer.from(audio, 'base64'));
    if (!this.host.config.audio.input.turn_detection) return;
    for (const vadEvent of this.vad.push(samples, sampleRateOf(format))) {
      if (vadEvent.kind === 'start') this.onSpeechStarted(vadEvent.onsetMs);
      else this.onSpeechStopped(vadEvent.endMs);
    }
  }

  /** RT §1.5 `speech_started` (audio_start_ms includes prefix padding); RT §3.1 interrupt_response. */
  private onSpeechStarted(onsetMs: number): void {
    const td = this.host.config.audio.input.turn_detection;
    if (!td) return;
    const startMs = Math.max(this.input.startMs, onsetMs - this.vadParams().prefixPaddingMs);
    this.speech = { itemId: this.host.env.ids.next('item'), startMs };
    this.responses.clearIdleTimeout();
    this.host.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.floor(startMs), item_id: this.speech.itemId });
    const active = this.host.activeResponse;
    if (td.interrupt_response && active?.setup.inConversation) active.cancel('turn_detected');
  }

  /** RT §1.6 VAD turn: `speech_stopped` → `committed` → user item → (create_response) response. */
  private onSpeechStopped(endMs: number): void {
    const td = this.host.config.audio.input.turn_detection;
    const speech = this.speech;
    if (!td || !speech) return;
    this.speech = undefined;
    this.host.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.floor(endMs), item_id: speech.itemId });
    this.commitAudio(speech.itemId, speech.startMs, endMs);
    // SDK doc on create_response: with interrupt_response false this "may fail to create a response if the
    // model is already responding" — we skip it silently.
    if (td.create_response && !this.host.activeResponse) this.responses.startResponse('vad');
  }

  /** RT §1.4 `input_audio_buffer.commit`: error if the buffer holds less than 100 ms. */
  onCommit(eventId: string | null): void {
    const bufferedMs = this.input.uncommittedMs;
    if (bufferedMs < 100)
      return this.host.sendError(
        invalidRequest(
          'input_audio_buffer_commit_empty',
          `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${bufferedMs.toFixed(2)}ms of audio.`,
        ),
        eventId,
      );
    const itemId = this.speech?.itemId ?? this.host.env.ids.next('item');
    this.speech = undefined;
    this.commitAudio(itemId, this.input.startMs, this.input.appendedMs);
    this.vad.reset(this.input.appendedMs);
  }

  onClear(): void {
    this.input.clear();
    this.speech = undefined;
    this.vad.reset(this.input.appendedMs);
    this.host.send({ type: 'input_audio_buffer.cleared' });
  }

  /** RT §1.3 `idle_timeout_ms`: `timeout_triggered`, commit of the (silent) buffer, and a response. */
  onIdleTimeout(idleMs: number): void {
    if (this.host.activeResponse || this.speech || !this.host.open) return;
    const itemId = this.host.env.ids.next('item');
    const endMs = this.input.appendedMs;
    const startMs = Math.max(this.input.startMs, endMs - idleMs);
    this.host.send({ type: 'input_audio_buffer.timeout_triggered', audio_start_ms: Math.floor(startMs), audio_end_ms: Math.floor(endMs), item_id: itemId });
    this.commitAudio(itemId, this.input.startMs, endMs, ''); // the silence that timed out says nothing
    this.vad.reset(this.input.appendedMs);
    this.responses.startResponse('idle_timeout');
  }

  /** `committed` + the user audio item (`conversation.item.added`/`done`) + its transcription, if configured. */
  private commitAudio(itemId: string, startMs: number, endMs: number, transcript?: string): void {
    const previous = this.conversation.lastItemId();
    this.input.consumeTo(endMs);
    this.host.send({ type: 'input_audio_buffer.committed', previous_item_id: previous, item_id: itemId });
    const audioMs = endMs - startMs;
    const item: SimItem = {
      id: itemId,
      type: 'message',
      role: 'user',
      status: 'completed',
      content: [{ type: 'input_audio', transcript: null }],
      audioMs,
    };
    const audio = this.input.slice(startMs, endMs);
    if (audio) item.audio = audio;
    item.text = transcript ?? this.transcription.transcribe(audioMs);
    this.conversation.insertItem(item, undefined);
    this.transcription.transcribeLater(item);
  }
}
