/**
 * What the stand-in "model" says: a script decides each response (speech or a function call), and a
 * transcriber names what the caller said. Deterministic by design: same inputs, same conversation.
 */
import type { ResponseParams } from './realtime-protocol';

/** A conversation item as the script sees it: the model's context, in order (RT §1.4 item shapes). */
export interface ConversationEntry {
  id: string;
  type: 'message' | 'function_call' | 'function_call_output' | 'mcp_list_tools' | 'mcp_call' | 'mcp_approval_request' | 'mcp_approval_response';
  role?: 'user' | 'assistant' | 'system';
  /**
   * Text the model has in context: typed text, the user's transcript, or the assistant's transcript (empty once
   * the item was truncated: RT §1.4 "deletes the item's server-side text transcript").
   */
  text?: string;
  /** Audio length in context, ms (user: committed audio; assistant: produced audio, or `audio_end_ms` once truncated). */
  audioMs?: number;
  truncatedAtMs?: number;
  name?: string;
  call_id?: string;
  arguments?: string;
  output?: string;
  /** MCP items: the server, the approval a call or answer refers to, and the answer. */
  server_label?: string;
  approval_request_id?: string;
  approve?: boolean;
}

export interface FunctionCallPlan {
  name: string;
  arguments: Record<string, unknown>;
}

/** Speak `text` (for `audioMs`, default from its length at ~15 chars/s), optionally followed by a function call. */
export interface SpeechPlan {
  text: string;
  audioMs?: number;
  functionCall?: FunctionCallPlan;
  /**
   * The model stalls mid-response, as the real service does: once `afterAudioMs` of audio has been sent
   * (at the end of the first delta that reaches it), no delta comes for `forMs` clock ms.
   */
  stall?: { afterAudioMs: number; forMs: number };
  /**
   * Clock ms between `response.output_audio.done` and `response.output_audio_transcript.done` (the
   * transcript can trail the audio by seconds); the events after it (content_part.done, output_item.done,
   * response.done) wait too, keeping RT §1.6's order. Default 0.
   */
  transcriptDelayMs?: number;
  /** Leave out `response.output_audio.done` (to exercise a client's fallback to response.done). */
  omitAudioDone?: boolean;
  /**
   * Speak these bytes instead of synthesised speech (a whole-call replay: what the model said then), when
   * the session's output format has the same bytes per ms as they were recorded in; `audioMs` otherwise.
   */
  audio?: { bytes: Buffer; bytesPerMs: number };
  /** The recorded pace of this response, in place of the stand-in's Pacing (see RecordedTiming). */
  timing?: RecordedTiming;
}

/**
 * How a recorded response came out (a whole-call replay, realtime-playback.ts): production OpenAI answers with
 * its own latency, delta sizes and gaps (RT §3.1), and the stand-in replays them instead of its Pacing, so
 * the bridge receives the audio as it did then. Times are clock ms after the response started (the stand-in
 * sends `response.created` at once on its trigger); recorded times may be fractional.
 */
export interface RecordedTiming {
  /** A response without audio (a function call): when its first output item came. */
  firstOutputMs?: number;
  /**
   * Each `response.output_audio.delta`: when it came, and its size in bytes of the recorded format
   * (SpeechPlan.audio.bytesPerMs when given, else μ-law's 8 bytes per ms).
   */
  deltas: { atMs: number; bytes: number }[];
  /** Clock ms from the audio's end to the transcript's (SpeechPlan.transcriptDelayMs). */
  transcriptDelayMs?: number;
}

/**
 * Call a tool of one of the session's MCP servers (realtime-mcp.ts), then say `then` (if given). When the server
 * requires approval and none was given yet, the response ends with an `mcp_approval_request` instead; once the
 * client has answered, the same plan runs the call (approved) or says `denied` (default: an apology).
 */
export interface McpCallPlan {
  mcpCall: { serverLabel: string; name: string; arguments: Record<string, unknown> };
  then?: string;
  denied?: string;
}

export type ResponsePlan = SpeechPlan | { functionCall: FunctionCallPlan; timing?: RecordedTiming } | McpCallPlan;

export type ResponseTrigger = 'response.create' | 'vad' | 'idle_timeout';

export interface ScriptContext<S = unknown> {
  /** The stand-in session (see realtime-session.ts). */
  session: S;
  trigger: ResponseTrigger;
  /** The `response` object of `response.create`, if any. */
  response?: ResponseParams;
  /** `response.instructions` if given, else the session's. */
  instructions: string;
  conversation: readonly ConversationEntry[];
  /** 1-based number of this response in the session. */
  n: number;
}

export type Script<S = unknown> = (ctx: ScriptContext<S>) => ResponsePlan;
export type Transcriber = (itemAudioMs: number, n: number) => string;

/** ~15 characters per second of speech, never shorter than 400 ms. */
export function speechMsFor(text: string): number {
  return Math.max(400, Math.round((text.length / 15) * 1000));
}

export const DEFAULT_GREETING = 'Hello! Thanks for calling. How can I help you today?';

/** Greets first; after a tool result confirms; otherwise answers what the caller said. */
export const defaultScript: Script = (ctx) => {
  const last = ctx.conversation[ctx.conversation.length - 1];
  const spoke = ctx.conversation.some((e) => e.role === 'user');
  if (!spoke && ctx.n === 1) return { text: DEFAULT_GREETING };
  if (last?.type === 'function_call_output') return { text: 'All done. Is there anything else I can help you with?' };
  if (ctx.trigger === 'idle_timeout') return { text: 'Are you still there?' };
  const heard = [...ctx.conversation].reverse().find((e) => e.role === 'user')?.text;
  return { text: heard ? `You said: ${heard} I can help with that.` : 'Sure, I can help with that. Could you tell me a little more?' };
};

const CALLER_LINES = [
  "Hi, I'd like to check on my order.",
  "It's order number one two three four.",
  'Can I talk to a person, please?',
  'Thanks, goodbye.',
];

/** Cycles through a few plausible caller lines. */
export const defaultTranscriber: Transcriber = (_itemAudioMs, n) => CALLER_LINES[(n - 1) % CALLER_LINES.length] ?? '';
