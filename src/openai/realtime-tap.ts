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

/** One request of ours to OpenAI's REST API (the SIP calls endpoints: accept, reject, refer, hangup; reference §4.4) and its status. */
export type OpenAIRestTap = (call: { method: string; path: string; body: string | undefined; status: number }) => void;

/**
 * OpenAI's webhooks as the recorder sees them (openai-sip, reference §4.2): `received` before we act on a
 * delivery (so the call's sideband and REST calls, made while answering it, are filed with its call),
 * `answered` with our answer once it is sent.
 */
export interface OpenAIWebhookTap {
  received(rawBody: string): void;
  answered(delivery: { rawBody: string; headers: Record<string, string | string[] | undefined>; status: number; body: Record<string, unknown> }): void;
}
