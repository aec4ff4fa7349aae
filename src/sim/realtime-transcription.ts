/**
 * The caller's words in a session: the transcriber names them per user turn (a throwing transcriber is
 * recorded and yields ''), and RT §1.3 input transcription reports them asynchronously after the commit.
 */
import type { SimItem } from './realtime-items';
import type { SessionHost } from './realtime-session-host';
import { textTokens, USER_AUDIO_MS_PER_TOKEN } from './realtime-usage';

export class UserTranscription {
  private userTurns = 0;

  constructor(private readonly host: SessionHost) {}

  /** The transcriber names the caller's words; a throwing transcriber is recorded and yields ''. */
  transcribe(audioMs: number): string {
    try {
      return this.host.env.transcribe(audioMs, ++this.userTurns);
    } catch (err) {
      this.host.internalErrors.push(err);
      return '';
    }
  }

  /** RT §1.3 input transcription: asynchronous, after the commit; matched by item_id. */
  transcribeLater(item: SimItem): void {
    const transcription = this.host.config.audio.input.transcription;
    if (!transcription) return;
    const emit = (): void => {
      const transcript = item.text ?? '';
      const ref = { item_id: item.id, content_index: 0 };
      this.host.send({ type: 'conversation.item.input_audio_transcription.delta', ...ref, delta: transcript });
      const audioTokens = Math.ceil((item.audioMs ?? 0) / USER_AUDIO_MS_PER_TOKEN);
      const outputTokens = textTokens(transcript);
      this.host.send({
        type: 'conversation.item.input_audio_transcription.completed',
        ...ref,
        transcript,
        usage: {
          type: 'tokens',
          total_tokens: audioTokens + outputTokens,
          input_tokens: audioTokens,
          input_token_details: { text_tokens: 0, audio_tokens: audioTokens },
          output_tokens: outputTokens,
        },
      });
      const part = item.content?.[0];
      if (part?.type === 'input_audio') part.transcript = transcript;
    };
    if (this.host.env.transcriptionDelayMs <= 0) emit();
    else this.host.env.clock.setTimeout(emit, this.host.env.transcriptionDelayMs);
  }
}
