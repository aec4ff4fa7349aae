/**
 * An optional observer of one OpenAI Realtime socket (OpenAI reference §1), for whole-call recording
 * (src/record/call-recorder.ts): every event text both ways as it crossed the wire, and how the socket
 * was refused or closed. It must not throw; without recording, no tap is attached.
 */
export interface RealtimeTap {
  /** A client event we sent (session.update, input_audio_buffer.append, conversation.item.truncate, …). */
  sent(text: string): void;
  /** A server event OpenAI sent us. */
  received(text: string): void;
  /** The upgrade was answered with this HTTP status instead of 101 (reference §6.1: 429, 5xx). */
  refused(status: number): void;
  closed(code: number, reason: string): void;
}

/** Hands out a tap per Realtime session: `callId` is the Bandwidth call (stream mode) or the OpenAI SIP call id (sideband). */
export type RealtimeTapFactory = (callId: string) => RealtimeTap | undefined;
