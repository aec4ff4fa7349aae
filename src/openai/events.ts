import { z } from 'zod';
import { DTMF_DIGIT_PATTERN } from '../constants';

/**
 * The GA Realtime server events the bridge acts on (OpenAI reference §1.5), as zod schemas. Lenient:
 * unknown fields are kept and unknown event types are passed to the trace. The two hot events
 * (`response.output_audio.delta`, `response.output_audio_transcript.delta`) are checked by hand in
 * realtime-session.ts instead, because they arrive many times a second.
 */
const id = z.string().min(1);

export const serverEventSchemas = {
  'session.created': z.looseObject({ session: z.unknown() }),
  'session.updated': z.looseObject({ session: z.unknown() }),
  'input_audio_buffer.speech_started': z.looseObject({ item_id: id, audio_start_ms: z.number() }),
  'input_audio_buffer.speech_stopped': z.looseObject({ item_id: id, audio_end_ms: z.number() }),
  'input_audio_buffer.committed': z.looseObject({ item_id: id }),
  'conversation.item.input_audio_transcription.completed': z.looseObject({ item_id: id, transcript: z.string() }),
  'conversation.item.input_audio_transcription.failed': z.looseObject({ item_id: id, error: z.unknown().optional() }),
  'conversation.item.truncated': z.looseObject({ item_id: id, audio_end_ms: z.number() }),
  'response.created': z.looseObject({ response: z.looseObject({ id }) }),
  /** RT §1.5: the item's audio is complete (no audio in it); also sent when a response is interrupted. */
  'response.output_audio.done': z.looseObject({ response_id: id, item_id: id, content_index: z.number().int().min(0) }),
  'response.output_audio_transcript.done': z.looseObject({ response_id: id, item_id: id, transcript: z.string() }),
  'response.function_call_arguments.done': z.looseObject({
    response_id: id,
    item_id: id,
    call_id: id,
    name: z.string().min(1),
    arguments: z.string(),
  }),
  'response.done': z.looseObject({
    response: z.looseObject({
      id,
      status: z.string(),
      status_details: z.looseObject({ reason: z.string().optional() }).nullable().optional(),
      usage: z.looseObject({}).nullable().optional(),
    }),
  }),
  error: z.looseObject({
    error: z.looseObject({ type: z.string().optional(), code: z.string().nullable().optional(), message: z.string(), event_id: z.string().nullable().optional() }),
  }),
  'rate_limits.updated': z.looseObject({ rate_limits: z.array(z.unknown()) }),
  /** SIP/WebRTC only (reference §1.5): OpenAI's own playout started / finished / cut off (the caller spoke). */
  'output_audio_buffer.started': z.looseObject({}),
  'output_audio_buffer.stopped': z.looseObject({}),
  'output_audio_buffer.cleared': z.looseObject({}),
  /**
   * Items, read for MCP only (openai package: ConversationItemAdded/Done, ResponseOutputItemDoneEvent): the
   * `mcp_list_tools` item names its server and, once done, its tools; a response's `mcp_call` item carries the
   * call's output or error, its `mcp_approval_request` what OpenAI asks. Other item types pass untouched.
   */
  'conversation.item.added': z.looseObject({ item: z.looseObject({ type: z.string() }) }),
  'conversation.item.done': z.looseObject({ item: z.looseObject({ type: z.string() }) }),
  'response.output_item.done': z.looseObject({ response_id: id, item: z.looseObject({ type: z.string() }) }),
  /** Only the item id (openai package: McpListToolsFailed); the server is the one its item named when added. */
  'mcp_list_tools.failed': z.looseObject({ item_id: id }),
  /** SIP only (reference §1.5; the openai package's InputAudioBufferDtmfEventReceivedEvent): a key the caller pressed. */
  'input_audio_buffer.dtmf_event_received': z.looseObject({ event: z.string().regex(DTMF_DIGIT_PATTERN, 'expected one key: 0-9, *, #, A-D'), received_at: z.number() }),
} as const;

/** The MCP items of the openai package (RealtimeMcpListTools, RealtimeMcpToolCall, RealtimeMcpApprovalRequest). */
export const mcpItemSchemas = {
  mcp_list_tools: z.looseObject({ type: z.literal('mcp_list_tools'), id: id.optional(), server_label: z.string(), tools: z.array(z.looseObject({ name: z.string() })) }),
  mcp_call: z.looseObject({
    type: z.literal('mcp_call'),
    id,
    server_label: z.string(),
    name: z.string(),
    arguments: z.string(),
    approval_request_id: z.string().nullish(),
    output: z.string().nullish(),
    error: z.looseObject({ type: z.string().optional(), message: z.string().optional(), code: z.number().optional() }).nullish(),
  }),
  mcp_approval_request: z.looseObject({ type: z.literal('mcp_approval_request'), id, server_label: z.string(), name: z.string(), arguments: z.string() }),
} as const;

export type ServerEventType = keyof typeof serverEventSchemas;
export type ServerEvent<T extends ServerEventType> = z.infer<(typeof serverEventSchemas)[T]>;

/** Flatten a response.done usage object into numbers only (nested details joined with "."). */
export function flattenUsage(usage: unknown, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  if (!usage || typeof usage !== 'object') return out;
  for (const [k, v] of Object.entries(usage as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number') out[key] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flattenUsage(v, key));
  }
  return out;
}
