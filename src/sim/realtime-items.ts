/**
 * Conversation items: the stand-in's record of each one, and its GA wire shape (RT §1.4 item shapes, RT §1.5
 * `conversation.item.added|done`: "audio omitted"). Server events are typed against the `openai` SDK's GA
 * union so an event name the real service does not send fails to compile.
 */
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { AudioFormat } from './realtime-audio';
import type { ConversationEntry } from './realtime-script';

/** A server event before `event_id` is stamped on it; `type` must be a GA server event name (RT §1.5). */
export type ServerEventBody = { type: RealtimeServerEvent['type'] } & Record<string, unknown>;

export type ItemStatus = 'completed' | 'incomplete' | 'in_progress';

export interface SimItem {
  id: string;
  type: 'message' | 'function_call' | 'function_call_output';
  role?: 'user' | 'assistant' | 'system';
  status: ItemStatus;
  /** Message content as the wire shows it (no audio bytes). */
  content?: Array<Record<string, unknown>>;
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
export function itemJson(item: SimItem): Record<string, unknown> {
  const base = { id: item.id, object: 'realtime.item', type: item.type, status: item.status };
  switch (item.type) {
    case 'message':
      return { ...base, role: item.role, content: item.content ?? [] };
    case 'function_call':
      return { ...base, name: item.name, call_id: item.call_id, arguments: item.arguments ?? '' };
    case 'function_call_output':
      return { ...base, call_id: item.call_id, output: item.output ?? '' };
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
  return entry;
}
