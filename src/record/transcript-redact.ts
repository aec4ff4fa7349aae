/**
 * `--redact` for what was said and typed on a call: transcripts, their deltas and message text (OpenAI
 * reference §1.5), the model's function-call arguments and our tool outputs (§1.6), and the keys the caller
 * pressed (BW dtmfCallback/gatherCallback `digit(s)`, the sideband's `input_audio_buffer.dtmf_event_received`).
 * Each becomes a placeholder of known length, so a shared recording's text files carry none of it. The
 * audio tracks are NOT touched: they are the speech itself (README "Record, replay, and the dev tunnel").
 * Agent configuration (instructions, tool definitions) is not caller content and is kept.
 */
const TEXT_FIELDS = new Set(['transcript', 'text']);
/** Events whose `delta` is transcript text (audio deltas travel by reference and never reach here). */
const TEXT_DELTA_TYPES = /transcript|output_text|transcription/;
/** Events whose `delta` is a fragment of a tool call's JSON arguments (OpenAI reference §1.6). */
const ARGUMENT_DELTA_TYPES = /function_call_arguments|mcp_call_arguments/;
/** Item types whose `output` is a tool's answer (ours for function calls, an MCP server's for MCP calls). */
const OUTPUT_ITEM_TYPES = new Set(['function_call_output', 'mcp_call']);
const DTMF_EVENT = 'input_audio_buffer.dtmf_event_received';
/**
 * What a redacted key press becomes: `D` is a valid DTMF key (BW and OpenAI accept 0-9 * # A-D), so a
 * redacted recording still replays its key presses, yet no phone keypad has it, so it reads as redacted.
 */
export const REDACTED_KEY = 'D';

export function redactedText(text: string): string {
  return `[redacted: ${text.length} chars]`;
}

/** Key presses, one placeholder key per key. */
export function redactedKeys(keys: string): string {
  return REDACTED_KEY.repeat(keys.length);
}

/**
 * A tool call's arguments (or a tool's output) as JSON text: the structure, numbers and booleans stay,
 * every string becomes a placeholder, except `keep` values (the enum values the agent's own tool
 * definitions offer, e.g. transfer_call's destination names: configuration, not caller content, and what a
 * replay of the redacted call needs to take the same path). Text that is not JSON is replaced whole.
 */
export function redactJsonText(text: string, keep: ReadonlySet<string> = new Set()): string {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    return redactedText(text);
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return keep.has(v) ? v : redactedText(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return JSON.stringify(walk(value));
}

/**
 * One call's Realtime content redaction: it learns the enum values of the tools each `session.update`
 * declares (so they survive in arguments), and redacts events with them. State per call (a recorder keeps
 * one per tape; a comparison one per recording).
 */
export class RealtimeContentRedactor {
  private readonly enumValues = new Set<string>();

  redact(event: Record<string, unknown>): Record<string, unknown> {
    if (event.type === 'session.update') this.learnTools(event.session);
    return redactContent(event, undefined, this.enumValues) as Record<string, unknown>;
  }

  private learnTools(session: unknown): void {
    const tools = (session as { tools?: unknown } | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    const visit = (schema: unknown): void => {
      if (!schema || typeof schema !== 'object') return;
      const s = schema as { enum?: unknown; properties?: unknown; items?: unknown };
      if (Array.isArray(s.enum)) for (const v of s.enum) if (typeof v === 'string') this.enumValues.add(v);
      if (s.properties && typeof s.properties === 'object') for (const p of Object.values(s.properties)) visit(p);
      visit(s.items);
    };
    for (const tool of tools) visit((tool as { parameters?: unknown } | undefined)?.parameters);
  }
}

/** Transcripts and text only (no tool state needed): what the tests and simple callers use. */
export function redactTranscripts(value: unknown, eventType?: string): unknown {
  return redactContent(value, eventType, new Set());
}

function redactContent(value: unknown, eventType: string | undefined, keep: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => redactContent(v, eventType, keep));
  if (!value || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const type = typeof obj.type === 'string' ? obj.type : eventType;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== 'string') out[k] = redactContent(v, type, keep);
    else if (TEXT_FIELDS.has(k)) out[k] = redactedText(v);
    else if (k === 'delta' && type && TEXT_DELTA_TYPES.test(type)) out[k] = redactedText(v);
    else if (k === 'delta' && type && ARGUMENT_DELTA_TYPES.test(type)) out[k] = redactedText(v);
    else if (k === 'arguments') out[k] = redactJsonText(v, keep);
    else if (k === 'output' && typeof obj.type === 'string' && OUTPUT_ITEM_TYPES.has(obj.type)) out[k] = redactJsonText(v, keep);
    else if (k === 'event' && obj.type === DTMF_EVENT) out[k] = redactedKeys(v);
    else out[k] = v;
  }
  return out;
}

/** Callback bodies (BW dtmfCallback `digit`, gatherCallback `digits`): the keys the caller pressed. */
export function redactCallbackBody(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const k of ['digit', 'digits']) if (typeof out[k] === 'string') out[k] = redactedKeys(out[k]);
  return out;
}

/**
 * A stored callback context (DESIGN §4.6): a transfer's or hang-up's `reason` and `summary` are the model's
 * words about the caller. Returns the redacted context and the texts it replaced, so the same texts can be
 * replaced where they were rendered (the whisper BXML speaks the summary).
 */
export function redactContext(context: unknown): { context: unknown; texts: string[] } {
  const texts: string[] = [];
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'reason' || k === 'summary') && typeof x === 'string' && x !== '') {
        texts.push(x);
        out[k] = redactedText(x);
      } else out[k] = walk(x);
    }
    return out;
  };
  return { context: walk(context), texts };
}
