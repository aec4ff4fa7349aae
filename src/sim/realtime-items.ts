/**
 * Conversation items: the stand-in's record of each one, and its GA wire shape (RT §1.4 item shapes, RT §1.5
 * `conversation.item.added|done`: "audio omitted"). Server events are typed against the `openai` SDK's GA
 * union so an event name the real service does not send fails to compile.
 */
import type {
  ConversationItem,
  RealtimeConversationItemAssistantMessage,
  RealtimeConversationItemSystemMessage,
  RealtimeConversationItemUserMessage,
  RealtimeServerEvent,
  SessionCreatedEvent,
  SessionUpdatedEvent,
} from 'openai/resources/realtime/realtime';
import type { AudioFormat } from './realtime-audio';
import type { EffectiveSession } from './realtime-protocol';
import type { ConversationEntry } from './realtime-script';

type WithoutEventId<T> = T extends unknown ? Omit<T, 'event_id'> : never;

/**
 * A server event before `event_id` is stamped on it: the `openai` SDK's RealtimeServerEvent union
 * (RT §1.5), so a field or event name the real service does not send fails to compile. One exception:
 * the SDK types the session of `session.created`/`session.updated` with the request type
 * (RealtimeSessionCreateRequest), which has no `null` for `audio.input.noise_reduction`,
 * `audio.input.transcription` or `include`, all `null` when off in the GA reference's `session.created`
 * example; the stand-in's EffectiveSession is sent there, and test/conformance checks it at runtime.
 */
export type ServerEventBody =
  | WithoutEventId<Exclude<RealtimeServerEvent, SessionCreatedEvent | SessionUpdatedEvent>>
  | { type: (SessionCreatedEvent | SessionUpdatedEvent)['type']; session: EffectiveSession };

export type ItemStatus = 'completed' | 'incomplete' | 'in_progress';

/**
 * One content part of a message item, of any role (RT §1.4). A user's `input_audio` part carries
 * `transcript: null` until it is transcribed, as the GA reference's `conversation.item.added` example
 * shows; the SDK types that field `transcript?: string`.
 */
export type MessageContent =
  | RealtimeConversationItemUserMessage.Content
  | RealtimeConversationItemAssistantMessage.Content
  | RealtimeConversationItemSystemMessage.Content
  | { type: 'input_audio'; transcript: string | null };

export type McpItemType = 'mcp_list_tools' | 'mcp_call' | 'mcp_approval_request' | 'mcp_approval_response';

/** The MCP fields of an MCP item (openai package: RealtimeMcpListTools, RealtimeMcpToolCall, RealtimeMcpApproval*). */
export interface SimMcpFields {
  server_label?: string;
  tools?: { name: string; description?: string; input_schema: unknown }[];
  error?: { type: 'protocol_error' | 'http_error'; code: number; message: string } | { type: 'tool_execution_error'; message: string } | null;
  approval_request_id?: string | null;
  approve?: boolean;
  reason?: string | null;
}

export interface SimItem {
  id: string;
  type: 'message' | 'function_call' | 'function_call_output' | McpItemType;
  mcp?: SimMcpFields;
  role?: 'user' | 'assistant' | 'system';
  status: ItemStatus;
  /** Message content as the wire shows it (no audio bytes). */
  content?: MessageContent[];
  /** Text in the model's context (typed text, transcript, or '' once truncated). */
  text?: string;
  /** Audio length in context, ms. For assistant items: produced so far, then `audio_end_ms` once truncated. */
  audioMs?: number;
  /** User audio bytes and their format (for `conversation.item.retrieve`). */
  audio?: { bytes: Buffer; format: AudioFormat };
  truncatedAtMs?: number;
  name?: string;
  call_id?: string;
  arguments?: string;
  output?: string;
  /** The response that produced it (assistant output). */
  responseId?: string;
}

/** The GA JSON of an item (RT §1.5: `conversation.item.added`/`done` and `response.output_item.*` carry it). */
export function itemJson(item: SimItem): ConversationItem {
  const base = { id: item.id, object: 'realtime.item' as const, status: item.status };
  switch (item.type) {
    case 'message': {
      // Each role's content was built from (or validated as) that role's part types (RT §1.4).
      const content = item.content ?? [];
      if (item.role === 'assistant') return { ...base, type: 'message', role: 'assistant', content: content as RealtimeConversationItemAssistantMessage.Content[] };
      if (item.role === 'system') return { ...base, type: 'message', role: 'system', content: content as RealtimeConversationItemSystemMessage.Content[] };
      return { ...base, type: 'message', role: 'user', content: content as RealtimeConversationItemUserMessage.Content[] };
    }
    case 'function_call':
      return { ...base, type: 'function_call', name: item.name ?? '', call_id: item.call_id, arguments: item.arguments ?? '' };
    case 'function_call_output':
      return { ...base, type: 'function_call_output', call_id: item.call_id ?? '', output: item.output ?? '' };
    // The SDK's MCP item types carry no `object`/`status` fields: sent as it types them.
    case 'mcp_list_tools':
      return { id: item.id, type: 'mcp_list_tools', server_label: item.mcp?.server_label ?? '', tools: item.mcp?.tools ?? [] };
    case 'mcp_call':
      return {
        id: item.id,
        type: 'mcp_call',
        server_label: item.mcp?.server_label ?? '',
        name: item.name ?? '',
        arguments: item.arguments ?? '',
        approval_request_id: item.mcp?.approval_request_id ?? null,
        output: item.output ?? null,
        error: item.mcp?.error ?? null,
      };
    case 'mcp_approval_request':
      return { id: item.id, type: 'mcp_approval_request', server_label: item.mcp?.server_label ?? '', name: item.name ?? '', arguments: item.arguments ?? '' };
    case 'mcp_approval_response':
      return { id: item.id, type: 'mcp_approval_response', approval_request_id: item.mcp?.approval_request_id ?? '', approve: item.mcp?.approve ?? false, reason: item.mcp?.reason ?? null };
  }
}

/** The script's view of an item. */
export function toEntry(item: SimItem): ConversationEntry {
  const entry: ConversationEntry = { id: item.id, type: item.type };
  if (item.role !== undefined) entry.role = item.role;
  if (item.text !== undefined) entry.text = item.text;
  if (item.audioMs !== undefined) entry.audioMs = item.audioMs;
  if (item.truncatedAtMs !== undefined) entry.truncatedAtMs = item.truncatedAtMs;
  if (item.name !== undefined) entry.name = item.name;
  if (item.call_id !== undefined) entry.call_id = item.call_id;
  if (item.arguments !== undefined) entry.arguments = item.arguments;
  if (item.output !== undefined) entry.output = item.output;
  if (item.mcp?.server_label !== undefined) entry.server_label = item.mcp.server_label;
  if (item.mcp?.approval_request_id) entry.approval_request_id = item.mcp.approval_request_id;
  if (item.mcp?.approve !== undefined) entry.approve = item.mcp.approve;
  return entry;
}
