/**
 * The default conversation of a session (RT §1.4): inserting items and announcing them, the client's
 * `conversation.item.create|delete|retrieve|truncate`, and the validation the schema cannot do.
 */
import { bytesToMs, encodeFromPcm, sampleRateOf, speechSamples } from './realtime-audio';
import { itemJson, type SimItem } from './realtime-items';
import { invalidRequest, type ItemInput, type RealtimeErrorBody } from './realtime-protocol';
import type { SessionHost } from './realtime-session-host';
import type { TruncateRecord } from './realtime-session-types';
import type { UserTranscription } from './realtime-transcription';

export class Conversation {
  constructor(
    private readonly host: SessionHost,
    private readonly transcription: UserTranscription,
  ) {}

  private get items(): SimItem[] {
    return this.host.items;
  }

  lastItemId(): string | null {
    return this.items[this.items.length - 1]?.id ?? null;
  }

  /** Insert after `previousItemId` (undefined = at the end, 'root' = at the start) and announce it. */
  insertItem(item: SimItem, previousItemId: string | null | undefined): void {
    let index = this.items.length;
    if (previousItemId === 'root') index = 0;
    else if (previousItemId) index = this.items.findIndex((i) => i.id === previousItemId) + 1;
    this.items.splice(index, 0, item);
    const previous = this.items[index - 1]?.id ?? null;
    this.host.send({ type: 'conversation.item.added', previous_item_id: previous, item: itemJson(item) });
    this.host.send({ type: 'conversation.item.done', previous_item_id: previous, item: itemJson(item) });
  }

  /** A response's output item: appended and announced as added (its response sends `done`); returns the previous item id. */
  addResponseItem(item: SimItem): string | null {
    const previous = this.lastItemId();
    this.items.push(item);
    this.host.send({ type: 'conversation.item.added', previous_item_id: previous, item: itemJson(item) });
    return previous;
  }

  onItemCreate(input: ItemInput, previousItemId: string | null | undefined, eventId: string | null): void {
    const problem = this.checkNewItem(input, previousItemId);
    if (problem) return this.host.sendError(problem, eventId);
    const inputFormat = this.host.config.audio.input.format;
    const item: SimItem = { id: input.id ?? this.host.env.ids.next('item'), type: input.type, status: 'completed' };
    if (input.type === 'function_call_output') Object.assign(item, { call_id: input.call_id, output: input.output });
    else if (input.type === 'mcp_approval_response') item.mcp = { approval_request_id: input.approval_request_id, approve: input.approve, reason: input.reason ?? null };
    else if (input.type === 'function_call')
      Object.assign(item, { name: input.name, arguments: input.arguments, call_id: input.call_id ?? this.host.env.ids.next('call') });
    else {
      item.role = input.role;
      item.content = input.content.map((part) => (part.type === 'input_audio' ? { type: 'input_audio', transcript: part.transcript ?? null } : { ...part }));
      item.text = input.content.flatMap((p) => ('text' in p ? [p.text] : [])).join(' ');
      const audioPart = input.content.find((p) => p.type === 'input_audio');
      if (audioPart?.type === 'input_audio') {
        const bytes = Buffer.from(audioPart.audio, 'base64');
        item.audio = { bytes, format: inputFormat };
        item.audioMs = bytesToMs(inputFormat, bytes.length);
        item.text = audioPart.transcript ?? this.transcription.transcribe(item.audioMs);
      }
    }
    this.insertItem(item, previousItemId ?? undefined);
    if (item.audio) this.transcription.transcribeLater(item);
  }

  /** Validation the schema cannot do: ids, roles vs content types, tool call ids. */
  private checkNewItem(input: ItemInput, previousItemId: string | null | undefined): RealtimeErrorBody | undefined {
    if (input.id && this.items.some((i) => i.id === input.id))
      return invalidRequest('item_id_already_exists', `Item with id '${input.id}' already exists.`, 'item.id');
    if (previousItemId && previousItemId !== 'root' && !this.items.some((i) => i.id === previousItemId))
      return invalidRequest('item_not_found', `Previous item with id '${previousItemId}' not found.`, 'previous_item_id');
    if (input.type === 'function_call_output' && !this.items.some((i) => i.type === 'function_call' && i.call_id === input.call_id))
      return invalidRequest('invalid_value', `Tool call ID '${input.call_id}' not found in conversation.`, 'item.call_id');
    if (input.type === 'mcp_approval_response' && !this.items.some((i) => i.type === 'mcp_approval_request' && i.id === input.approval_request_id))
      return invalidRequest('invalid_value', `Approval request '${input.approval_request_id}' not found in conversation.`, 'item.approval_request_id');
    if (input.type !== 'message') return undefined;
    const allowed: Record<string, readonly string[]> = {
      system: ['input_text'],
      user: ['input_text', 'input_audio', 'input_image'],
      // RT §1.4: "Assistant *audio* messages cannot be injected".
      assistant: ['output_text'],
    };
    const index = input.content.findIndex((p) => !(allowed[input.role] ?? []).includes(p.type));
    const bad = input.content[index];
    if (bad)
      return invalidRequest(
        'invalid_value',
        `Invalid value: '${bad.type}'. Supported values for ${input.role} messages are: ${(allowed[input.role] ?? []).map((t) => `'${t}'`).join(', ')}.`,
        `item.content[${index}].type`,
      );
    return undefined;
  }

  onItemDelete(itemId: string, eventId: string | null): void {
    const index = this.items.findIndex((i) => i.id === itemId);
    if (index < 0)
      return this.host.sendError(invalidRequest('item_not_found', `Error deleting item: the item with id '${itemId}' does not exist.`, 'item_id'), eventId);
    this.items.splice(index, 1);
    this.host.send({ type: 'conversation.item.deleted', item_id: itemId });
  }

  /** RT §1.4: `conversation.item.retrieved` includes audio. */
  onItemRetrieve(itemId: string, eventId: string | null): void {
    const item = this.items.find((i) => i.id === itemId);
    if (!item)
      return this.host.sendError(invalidRequest('item_not_found', `Error retrieving item: the item with id '${itemId}' does not exist.`, 'item_id'), eventId);
    const json = itemJson(item);
    const audio = item.audio?.bytes ?? this.assistantAudio(item);
    if (audio && json.type === 'message' && json.content[0]) json.content[0] = { ...json.content[0], audio: audio.toString('base64') };
    this.host.send({ type: 'conversation.item.retrieved', item: json });
  }

  /** Re-synthesise an assistant item's audio (deterministic), cut at its truncation point. */
  private assistantAudio(item: SimItem): Buffer | undefined {
    const run = this.host.responses.find((r) => r.id === item.responseId)?.run;
    if (!run || item.role !== 'assistant' || !item.audioMs) return undefined;
    const rate = sampleRateOf(run.setup.format);
    const produced = Math.round((item.audioMs * rate) / 1000);
    const total = Math.round((run.audioMs * rate) / 1000);
    return encodeFromPcm(run.setup.format, speechSamples(run.setup.speechVoice, rate, 0, produced, Math.max(total, produced)));
  }

  /**
   * RT §1.4 / §3.1 / P2: `audio_end_ms` beyond the audio the item has → `invalid_request_error` "Audio content of
   * Xms is already shorter than Yms"; otherwise `conversation.item.truncated` and the transcript is dropped.
   */
  onTruncate(itemId: string, contentIndex: number, audioEndMs: number, eventId: string | null): void {
    const item = this.items.find((i) => i.id === itemId);
    const record: TruncateRecord = {
      atMs: this.host.env.clock.now(),
      item_id: itemId,
      content_index: contentIndex,
      audio_end_ms: audioEndMs,
      producedMs: item?.audioMs,
      ok: false,
    };
    this.host.truncates.push(record);
    const fail = (error: RealtimeErrorBody): void => {
      record.error = error.message;
      this.host.sendError(error, eventId);
    };
    if (!item) return fail(invalidRequest('item_not_found', `Item with id '${itemId}' not found.`, 'item_id'));
    if (item.type !== 'message' || item.role !== 'assistant' || item.audioMs === undefined)
      return fail(invalidRequest('invalid_value', 'Only assistant messages with audio content can be truncated.', 'item_id'));
    if (contentIndex !== 0)
      return fail(invalidRequest('invalid_value', `Invalid 'content_index': the item has no content part at index ${contentIndex}.`, 'content_index'));
    if (audioEndMs > item.audioMs)
      return fail(invalidRequest('invalid_value', `Audio content of ${Math.floor(item.audioMs)}ms is already shorter than ${audioEndMs}ms`, 'audio_end_ms'));
    item.audioMs = audioEndMs;
    item.truncatedAtMs = audioEndMs;
    item.text = '';
    if (item.content?.[0]) item.content[0] = { ...item.content[0], transcript: '' };
    record.ok = true;
    this.host.send({ type: 'conversation.item.truncated', item_id: itemId, content_index: contentIndex, audio_end_ms: audioEndMs });
  }
}
