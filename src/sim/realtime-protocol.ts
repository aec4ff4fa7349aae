/**
 * The GA Realtime wire as the stand-in accepts it: zod schemas for every client event (RT §1.4), the GA
 * `session` object and its merge rules (RT §1.3), and OpenAI-shaped `error` bodies (RT §1.1 transport notes,
 * RT §1.5 `error`). References are to ../shared/reference/openai-realtime.md ("RT §n").
 */
import { z } from 'zod';
import type { AudioFormat } from './realtime-audio';

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/** RT §1.5 `error.error` minus `event_id` (filled in from the offending client event when sent). */
export interface RealtimeErrorBody {
  type: 'invalid_request_error' | 'server_error';
  code: string | null;
  message: string;
  param: string | null;
}

export function invalidRequest(code: string | null, message: string, param: string | null = null): RealtimeErrorBody {
  return { type: 'invalid_request_error', code, message, param };
}

/** RT §1.3: "Omitting it yields `Missing required parameter: 'session.type'`". */
export function missingParameter(param: string): RealtimeErrorBody {
  return invalidRequest('missing_required_parameter', `Missing required parameter: '${param}'.`, param);
}

/** The real service's wording for a field it does not know (also how beta-shaped fields are refused). */
export function unknownParameter(param: string): RealtimeErrorBody {
  return invalidRequest('unknown_parameter', `Unknown parameter: '${param}'.`, param);
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => `'${String(v)}'`).join(', ');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out;
}

/** Turn the first zod issue into the OpenAI-style error a real server would send for it. */
export function zodIssueToError(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[] = []): RealtimeErrorBody {
  const path = [...prefix, ...issue.path];
  const param = formatPath(path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys':
      return unknownParameter(formatPath([...path, issue.keys[0] ?? '']));
    case 'invalid_type':
      if (input === undefined) return missingParameter(param);
      return invalidRequest('invalid_type', `Invalid type for '${param}': expected ${issue.expected}, but got ${describe(input)} instead.`, param);
    case 'invalid_value':
      return invalidRequest('invalid_value', `Invalid value: '${String(input)}'. Supported values are: ${quoteList(issue.values)}.`, param);
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (options && (issue as { discriminator?: string }).discriminator) {
        const d = (issue as { discriminator?: string }).discriminator ?? 'type';
        const value = (input as Record<string, unknown> | undefined)?.[d];
        const at = formatPath([...path, d]);
        if (value === undefined) return missingParameter(at);
        return invalidRequest('invalid_value', `Invalid value: '${String(value)}'. Supported values are: ${quoteList(options)}.`, at);
      }
      return invalidRequest('invalid_value', `Invalid value for '${param}'.`, param);
    }
    case 'too_big':
      return invalidRequest(
        'decimal_above_max_value',
        `Invalid '${param}': decimal above maximum value. Expected a value <= ${String(issue.maximum)}, but got ${String(input)} instead.`,
        param,
      );
    case 'too_small':
      return invalidRequest(
        'decimal_below_min_value',
        `Invalid '${param}': decimal below minimum value. Expected a value >= ${String(issue.minimum)}, but got ${String(input)} instead.`,
        param,
      );
    default:
      return invalidRequest('invalid_value', `Invalid '${param}': ${issue.message}.`, param);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Session (RT §1.3, §2)
// ---------------------------------------------------------------------------------------------------------

/** RT §2: formats are objects; `audio/pcm` only at 24000; G.711 has no `rate` field (RT §8.3: we refuse one). */
export const AudioFormatSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('audio/pcm'), rate: z.literal(24000).optional() }),
  z.strictObject({ type: z.literal('audio/pcmu') }),
  z.strictObject({ type: z.literal('audio/pcma') }),
]);

const ServerVadSchema = z.strictObject({
  type: z.literal('server_vad'),
  threshold: z.number().min(0).max(1).optional(),
  prefix_padding_ms: z.number().int().min(0).optional(),
  silence_duration_ms: z.number().int().min(0).optional(),
  idle_timeout_ms: z.number().int().min(0).nullable().optional(),
  create_response: z.boolean().optional(),
  interrupt_response: z.boolean().optional(),
});

const SemanticVadSchema = z.strictObject({
  type: z.literal('semantic_vad'),
  eagerness: z.enum(['low', 'medium', 'high', 'auto']).optional(),
  create_response: z.boolean().optional(),
  interrupt_response: z.boolean().optional(),
});

const TurnDetectionSchema = z.discriminatedUnion('type', [ServerVadSchema, SemanticVadSchema]);

const TranscriptionSchema = z.strictObject({
  model: z.string().optional(),
  language: z.string().optional(),
  languages: z.array(z.string()).optional(),
  prompt: z.string().optional(),
  delay: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']).optional(),
});

const VoiceSchema = z.union([z.string(), z.strictObject({ id: z.string() })]);

const FunctionToolSchema = z.strictObject({
  type: z.literal('function'),
  name: z.string(),
  description: z.string().optional(),
  parameters: z.unknown().optional(),
});
/** MCP tools are accepted and kept, not simulated. */
const McpToolSchema = z.looseObject({ type: z.literal('mcp'), server_label: z.string() });
const ToolSchema = z.discriminatedUnion('type', [FunctionToolSchema, McpToolSchema]);

const OutputModalitiesSchema = z.array(z.enum(['audio', 'text'])).min(1).max(1);
const MaxOutputTokensSchema = z.union([z.number().int().min(1).max(4096), z.literal('inf')]);

/** RT §1.3: the GA `session` of `session.update` (partial; `type` required). Strict: unknown keys are errors. */
export const SessionUpdateSchema = z.strictObject({
  type: z.literal('realtime'),
  model: z.string().optional(),
  instructions: z.string().optional(),
  output_modalities: OutputModalitiesSchema.optional(),
  audio: z
    .strictObject({
      input: z
        .strictObject({
          format: AudioFormatSchema.optional(),
          noise_reduction: z.strictObject({ type: z.enum(['near_field', 'far_field']) }).nullable().optional(),
          transcription: TranscriptionSchema.nullable().optional(),
          turn_detection: TurnDetectionSchema.nullable().optional(),
        })
        .optional(),
      output: z
        .strictObject({
          format: AudioFormatSchema.optional(),
          voice: VoiceSchema.optional(),
          speed: z.number().min(0.25).max(1.5).optional(),
        })
        .optional(),
    })
    .optional(),
  tools: z.array(ToolSchema).optional(),
  tool_choice: z
    .union([z.enum(['auto', 'none', 'required']), z.strictObject({ type: z.literal('function'), name: z.string() }), z.looseObject({ type: z.literal('mcp') })])
    .optional(),
  max_output_tokens: MaxOutputTokensSchema.optional(),
  truncation: z.unknown().optional(),
  tracing: z.unknown().optional(),
  prompt: z.unknown().optional(),
  include: z.array(z.literal('item.input_audio_transcription.logprobs')).nullable().optional(),
  reasoning: z.strictObject({ effort: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']).optional() }).optional(),
  parallel_tool_calls: z.boolean().optional(),
});
export type SessionUpdate = z.infer<typeof SessionUpdateSchema>;

export interface ServerVadConfig {
  type: 'server_vad';
  threshold: number;
  prefix_padding_ms: number;
  silence_duration_ms: number;
  idle_timeout_ms: number | null;
  create_response: boolean;
  interrupt_response: boolean;
}
export interface SemanticVadConfig {
  type: 'semantic_vad';
  eagerness: 'low' | 'medium' | 'high' | 'auto';
  create_response: boolean;
  interrupt_response: boolean;
}
export type TurnDetectionConfig = ServerVadConfig | SemanticVadConfig;
export type TranscriptionConfig = z.infer<typeof TranscriptionSchema>;
export type Voice = z.infer<typeof VoiceSchema>;

/** The effective session, as `session.created`/`session.updated` carry it (RT §1.5; shape of the GA docs' example). */
export interface EffectiveSession {
  type: 'realtime';
  object: 'realtime.session';
  id: string;
  model: string;
  output_modalities: Array<'audio' | 'text'>;
  instructions: string;
  tools: unknown[];
  tool_choice: unknown;
  max_output_tokens: number | 'inf';
  tracing: unknown;
  prompt: unknown;
  expires_at: number;
  audio: {
    input: {
      format: AudioFormat;
      transcription: TranscriptionConfig | null;
      noise_reduction: { type: 'near_field' | 'far_field' } | null;
      turn_detection: TurnDetectionConfig | null;
    };
    output: { format: AudioFormat; voice: Voice; speed: number };
  };
  include: string[] | null;
  truncation?: unknown;
  reasoning?: unknown;
  parallel_tool_calls?: boolean;
}

/**
 * Defaults of a new session, as the GA docs' `session.created` example shows them: PCM16 24 kHz both ways
 * (RT §2), server VAD on with threshold 0.5 / prefix 300 ms / silence 200 ms (the prose says 500: see the report),
 * voice marin.
 */
export const DEFAULT_SERVER_VAD: ServerVadConfig = {
  type: 'server_vad',
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 200,
  idle_timeout_ms: null,
  create_response: true,
  interrupt_response: true,
};
const DEFAULT_SEMANTIC_VAD: SemanticVadConfig = { type: 'semantic_vad', eagerness: 'auto', create_response: true, interrupt_response: true };

export const DEFAULT_INSTRUCTIONS =
  'You are a helpful, witty, and friendly AI. Your voice and personality should be warm and engaging. Talk quickly.';

export function defaultSession(id: string, model: string, expiresAtS: number): EffectiveSession {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id,
    model,
    output_modalities: ['audio'],
    instructions: DEFAULT_INSTRUCTIONS,
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    prompt: null,
    expires_at: expiresAtS,
    audio: {
      input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: null, noise_reduction: null, turn_detection: { ...DEFAULT_SERVER_VAD } },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin', speed: 1 },
    },
    include: null,
  };
}

/** Fill the implicit `rate` of `audio/pcm` so every stored format is complete. */
export function normalizeFormat(format: z.infer<typeof AudioFormatSchema>): AudioFormat {
  return format.type === 'audio/pcm' ? { type: 'audio/pcm', rate: 24000 } : { type: format.type };
}

/**
 * A partial turn-detection object overlays the previous one when the type is unchanged, otherwise that type's
 * defaults (the docs do not say which; see the report).
 */
function mergeTurnDetection(prev: TurnDetectionConfig | null, next: z.infer<typeof TurnDetectionSchema>): TurnDetectionConfig {
  if (next.type === 'server_vad') {
    const base = prev?.type === 'server_vad' ? prev : DEFAULT_SERVER_VAD;
    return { ...base, ...stripUndefined(next) };
  }
  const base = prev?.type === 'semantic_vad' ? prev : DEFAULT_SEMANTIC_VAD;
  return { ...base, ...stripUndefined(next) };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const REPLACED_KEYS = [
  'instructions',
  'output_modalities',
  'tools',
  'tool_choice',
  'max_output_tokens',
  'truncation',
  'tracing',
  'prompt',
  'include',
  'reasoning',
  'parallel_tool_calls',
] as const;

/** RT §1.3: "You may send partial updates; server answers `session.updated` with the full effective config." */
export function mergeSession(current: EffectiveSession, update: SessionUpdate): EffectiveSession {
  const next: EffectiveSession = structuredClone(current);
  const target = next as unknown as Record<string, unknown>;
  for (const key of REPLACED_KEYS) if (update[key] !== undefined) target[key] = structuredClone(update[key]);
  // RT §1.1: the model is fixed for the life of the session; a model in session.update is ignored.
  const input = update.audio?.input;
  if (input?.format) next.audio.input.format = normalizeFormat(input.format);
  if (input?.transcription !== undefined) next.audio.input.transcription = input.transcription;
  if (input?.noise_reduction !== undefined) next.audio.input.noise_reduction = input.noise_reduction;
  if (input?.turn_detection !== undefined)
    next.audio.input.turn_detection = input.turn_detection === null ? null : mergeTurnDetection(current.audio.input.turn_detection, input.turn_detection);
  const output = update.audio?.output;
  if (output?.format) next.audio.output.format = normalizeFormat(output.format);
  if (output?.voice !== undefined) next.audio.output.voice = output.voice;
  if (output?.speed !== undefined) next.audio.output.speed = output.speed;
  return next;
}

/** RT §1.3 "Not in GA" / RT §1.7: the flat beta fields. */
export const BETA_SESSION_FIELDS = [
  'voice',
  'input_audio_format',
  'output_audio_format',
  'input_audio_transcription',
  'input_audio_noise_reduction',
  'turn_detection',
  'modalities',
  'temperature',
  'max_response_output_tokens',
] as const;

export type BetaFieldPolicy = 'reject' | 'ignore';

/**
 * Validate the `session` of a `session.update`: an object, `type` present and `realtime` (RT §1.3), no beta
 * fields (refused, or dropped silently under `ignore` to reproduce RT §7 P1), then the strict GA schema.
 */
export function validateSessionUpdate(
  session: unknown,
  betaFields: BetaFieldPolicy,
): { ok: true; update: SessionUpdate } | { ok: false; error: RealtimeErrorBody } {
  if (typeof session !== 'object' || session === null || Array.isArray(session)) {
    const message = `Invalid type for 'session': expected an object, but got ${describe(session)} instead.`;
    return { ok: false, error: invalidRequest('invalid_type', message, 'session') };
  }
  const record = { ...(session as Record<string, unknown>) };
  if (record.type === undefined) return { ok: false, error: missingParameter('session.type') };
  for (const field of BETA_SESSION_FIELDS) {
    if (!(field in record)) continue;
    if (betaFields === 'reject') return { ok: false, error: unknownParameter(`session.${field}`) };
    delete record[field];
  }
  const parsed = SessionUpdateSchema.safeParse(record, { reportInput: true });
  if (!parsed.success) return { ok: false, error: zodIssueToError(parsed.error.issues[0]!, ['session']) };
  return { ok: true, update: parsed.data };
}

// ---------------------------------------------------------------------------------------------------------
// Client events (RT §1.4)
// ---------------------------------------------------------------------------------------------------------

const eventId = z.string().optional();

const InputTextPart = z.strictObject({ type: z.literal('input_text'), text: z.string() });
const InputAudioPart = z.strictObject({ type: z.literal('input_audio'), audio: z.string(), transcript: z.string().nullable().optional() });
const InputImagePart = z.strictObject({ type: z.literal('input_image'), image_url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() });
const OutputTextPart = z.strictObject({ type: z.literal('output_text'), text: z.string() });
const OutputAudioPart = z.strictObject({ type: z.literal('output_audio'), audio: z.string().optional(), transcript: z.string().optional() });
const ContentPart = z.discriminatedUnion('type', [InputTextPart, InputAudioPart, InputImagePart, OutputTextPart, OutputAudioPart]);
export type ContentPartInput = z.infer<typeof ContentPart>;

const itemCommon = {
  id: z.string().optional(),
  object: z.literal('realtime.item').optional(),
  status: z.enum(['completed', 'incomplete', 'in_progress']).optional(),
};

/** RT §1.4 "Item shapes for `conversation.item.create`". */
export const ItemSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...itemCommon, type: z.literal('message'), role: z.enum(['user', 'assistant', 'system']), content: z.array(ContentPart) }),
  z.strictObject({ ...itemCommon, type: z.literal('function_call'), name: z.string(), arguments: z.string(), call_id: z.string().optional() }),
  z.strictObject({ ...itemCommon, type: z.literal('function_call_output'), call_id: z.string(), output: z.string() }),
  /** openai package: RealtimeMcpApprovalResponse, the client's answer to an `mcp_approval_request`. */
  z.strictObject({ id: z.string().optional(), type: z.literal('mcp_approval_response'), approval_request_id: z.string(), approve: z.boolean(), reason: z.string().nullable().optional() }),
]);
export type ItemInput = z.infer<typeof ItemSchema>;

/** RT §1.4 `response.create.response`. Accepted in full; instructions, modalities, audio.output, conversation and metadata are simulated. */
export const ResponseParamsSchema = z.strictObject({
  conversation: z.string().optional(),
  input: z.array(z.unknown()).optional(),
  instructions: z.string().optional(),
  output_modalities: OutputModalitiesSchema.optional(),
  audio: z.strictObject({ output: z.strictObject({ format: AudioFormatSchema.optional(), voice: VoiceSchema.optional() }).optional() }).optional(),
  tools: z.array(z.unknown()).optional(),
  tool_choice: z.unknown().optional(),
  max_output_tokens: MaxOutputTokensSchema.optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  prompt: z.unknown().optional(),
  reasoning: z.unknown().optional(),
  parallel_tool_calls: z.boolean().optional(),
});
export type ResponseParams = z.infer<typeof ResponseParamsSchema>;

export const ClientEventSchemas = {
  'session.update': z.strictObject({ type: z.literal('session.update'), event_id: eventId, session: z.unknown() }),
  'input_audio_buffer.append': z.strictObject({ type: z.literal('input_audio_buffer.append'), event_id: eventId, audio: z.string() }),
  'input_audio_buffer.commit': z.strictObject({ type: z.literal('input_audio_buffer.commit'), event_id: eventId }),
  'input_audio_buffer.clear': z.strictObject({ type: z.literal('input_audio_buffer.clear'), event_id: eventId }),
  'output_audio_buffer.clear': z.strictObject({ type: z.literal('output_audio_buffer.clear'), event_id: eventId }),
  'conversation.item.create': z.strictObject({
    type: z.literal('conversation.item.create'),
    event_id: eventId,
    previous_item_id: z.string().nullable().optional(),
    item: ItemSchema,
  }),
  'conversation.item.truncate': z.strictObject({
    type: z.literal('conversation.item.truncate'),
    event_id: eventId,
    item_id: z.string(),
    content_index: z.number().int().min(0),
    audio_end_ms: z.number().int().min(0),
  }),
  'conversation.item.delete': z.strictObject({ type: z.literal('conversation.item.delete'), event_id: eventId, item_id: z.string() }),
  'conversation.item.retrieve': z.strictObject({ type: z.literal('conversation.item.retrieve'), event_id: eventId, item_id: z.string() }),
  'response.create': z.strictObject({ type: z.literal('response.create'), event_id: eventId, response: ResponseParamsSchema.optional() }),
  'response.cancel': z.strictObject({ type: z.literal('response.cancel'), event_id: eventId, response_id: z.string().optional() }),
} as const;

export type ClientEventType = keyof typeof ClientEventSchemas;
export type ClientEvent = { [K in ClientEventType]: z.infer<(typeof ClientEventSchemas)[K]> }[ClientEventType];
export const CLIENT_EVENT_TYPES = Object.keys(ClientEventSchemas) as ClientEventType[];

export type ParsedClientEvent =
  | { ok: true; event: ClientEvent; raw: Record<string, unknown> }
  | { ok: false; error: RealtimeErrorBody; eventId: string | null; raw: unknown };

/** Parse one text frame. Every failure is an `error` event; the socket stays open (RT §1.5 `error`). */
export function parseClientEvent(text: string): ParsedClientEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    const error = invalidRequest('invalid_json', 'We could not parse the JSON body of your request. Expected a JSON object.');
    return { ok: false, raw: text, eventId: null, error };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, raw, eventId: null, error: invalidRequest('invalid_json', 'Expected a JSON object.') };
  const record = raw as Record<string, unknown>;
  const id = typeof record.event_id === 'string' ? record.event_id : null;
  // The docs' own `error` example: {"code":"invalid_event","message":"The 'type' field is missing."}.
  if (record.type === undefined) return { ok: false, raw, eventId: id, error: invalidRequest('invalid_event', "The 'type' field is missing.", 'type') };
  const type = record.type;
  if (typeof type !== 'string' || !(type in ClientEventSchemas))
    return {
      ok: false,
      raw,
      eventId: id,
      error: invalidRequest('invalid_value', `Invalid value: '${String(type)}'. Supported values are: ${quoteList(CLIENT_EVENT_TYPES)}.`, 'type'),
    };
  const parsed = ClientEventSchemas[type as ClientEventType].safeParse(raw, { reportInput: true });
  if (!parsed.success) return { ok: false, raw, eventId: id, error: zodIssueToError(parsed.error.issues[0]!) };
  return { ok: true, event: parsed.data as ClientEvent, raw: record };
}
