import fs from 'node:fs';
import path from 'node:path';
import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';

/**
 * The Realtime events as the `openai` package declares them (resources/realtime/realtime.d.ts): for each
 * event `type`, the top-level fields its interface has and which of them are required. The type
 * lists below are checked against the SDK's unions by tsc (`satisfies Record<Union, true>`: a missing or
 * extra name fails to compile); the fields come from the .d.ts text at runtime.
 */
const CLIENT_TYPES = {
  'conversation.item.create': true,
  'conversation.item.delete': true,
  'conversation.item.retrieve': true,
  'conversation.item.truncate': true,
  'input_audio_buffer.append': true,
  'input_audio_buffer.clear': true,
  'output_audio_buffer.clear': true,
  'input_audio_buffer.commit': true,
  'response.cancel': true,
  'response.create': true,
  'session.update': true,
} satisfies Record<RealtimeClientEvent['type'], true>;

const SERVER_TYPES = {
  'conversation.created': true,
  'conversation.item.created': true,
  'conversation.item.deleted': true,
  'conversation.item.input_audio_transcription.completed': true,
  'conversation.item.input_audio_transcription.delta': true,
  'conversation.item.input_audio_transcription.failed': true,
  'conversation.item.retrieved': true,
  'conversation.item.truncated': true,
  error: true,
  'input_audio_buffer.cleared': true,
  'input_audio_buffer.committed': true,
  'input_audio_buffer.dtmf_event_received': true,
  'input_audio_buffer.speech_started': true,
  'input_audio_buffer.speech_stopped': true,
  'rate_limits.updated': true,
  'response.output_audio.delta': true,
  'response.output_audio.done': true,
  'response.output_audio_transcript.delta': true,
  'response.output_audio_transcript.done': true,
  'response.content_part.added': true,
  'response.content_part.done': true,
  'response.created': true,
  'response.done': true,
  'response.function_call_arguments.delta': true,
  'response.function_call_arguments.done': true,
  'response.output_item.added': true,
  'response.output_item.done': true,
  'response.output_text.delta': true,
  'response.output_text.done': true,
  'session.created': true,
  'session.updated': true,
  'output_audio_buffer.started': true,
  'output_audio_buffer.stopped': true,
  'output_audio_buffer.cleared': true,
  'conversation.item.added': true,
  'conversation.item.done': true,
  'input_audio_buffer.timeout_triggered': true,
  'conversation.item.input_audio_transcription.segment': true,
  'mcp_list_tools.in_progress': true,
  'mcp_list_tools.completed': true,
  'mcp_list_tools.failed': true,
  'response.mcp_call_arguments.delta': true,
  'response.mcp_call_arguments.done': true,
  'response.mcp_call.in_progress': true,
  'response.mcp_call.completed': true,
  'response.mcp_call.failed': true,
} satisfies Record<RealtimeServerEvent['type'], true>;

export interface EventShape {
  fields: Set<string>;
  required: Set<string>;
}

/** Every interface in the .d.ts whose `type` field is a single literal, by that literal. */
function shapesByType(): Map<string, EventShape> {
  const text = fs.readFileSync(path.join(path.dirname(require.resolve('openai/resources/realtime/realtime')), 'realtime.d.ts'), 'utf8');
  const lines = text.split('\n');
  const out = new Map<string, EventShape>();
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(?:export )?interface \w+ \{$/.exec(lines[i]!);
    if (!open) continue;
    const fieldIndent = `${open[1]}    `;
    const shape: EventShape = { fields: new Set(), required: new Set() };
    let type: string | undefined;
    for (i++; i < lines.length && lines[i] !== `${open[1]}}`; i++) {
      const field = new RegExp(`^${fieldIndent}(\\w+)(\\?)?: (.*)$`).exec(lines[i]!);
      if (!field) continue;
      shape.fields.add(field[1]!);
      if (!field[2]) shape.required.add(field[1]!);
      const literal = /^'([^']+)';$/.exec(field[3]!);
      if (field[1] === 'type' && literal) type = literal[1];
    }
    if (type && !out.has(type)) out.set(type, shape);
  }
  return out;
}

const SHAPES = shapesByType();

/** Problems with one event as a member of the SDK's client (or server) union; [] when it conforms. */
export function checkEvent(side: 'client' | 'server', event: unknown): string[] {
  if (!event || typeof event !== 'object') return [`${side} event is not an object`];
  const record = event as Record<string, unknown>;
  const type = String(record.type);
  const known: Record<string, true> = side === 'client' ? CLIENT_TYPES : SERVER_TYPES;
  if (!known[type]) return [`${type}: not a type of the SDK's Realtime${side === 'client' ? 'Client' : 'Server'}Event`];
  const shape = SHAPES.get(type);
  if (!shape) return [`${type}: no interface for it found in realtime.d.ts`];
  const problems: string[] = [];
  for (const field of shape.required) if (record[field] === undefined) problems.push(`${type}: required field ${field} is missing`);
  for (const field of Object.keys(record)) if (!shape.fields.has(field)) problems.push(`${type}: ${field} is not a field of the SDK's interface`);
  return problems;
}

/** Event types of the two unions whose interface was not found (a check of the parse above). */
export function unparsedTypes(): string[] {
  return [...Object.keys(CLIENT_TYPES), ...Object.keys(SERVER_TYPES)].filter((t) => !SHAPES.get(t)?.fields.has('type'));
}
