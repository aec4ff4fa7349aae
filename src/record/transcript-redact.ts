/**
 * `--redact` for what the caller and the agent said (OpenAI reference §1.5): transcripts, their deltas and
 * message text become a placeholder that keeps only their length, so a shared recording carries no speech
 * content. Agent configuration (instructions, tool definitions) is not speech and is kept.
 */
const TEXT_FIELDS = new Set(['transcript', 'text']);
/** Events whose `delta` is transcript text (audio deltas travel by reference and never reach here). */
const TEXT_DELTA_TYPES = /transcript|output_text|transcription/;

export function redactedText(text: string): string {
  return `[redacted: ${text.length} chars]`;
}

export function redactTranscripts(value: unknown, eventType?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => redactTranscripts(v, eventType));
  if (!value || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const type = typeof obj.type === 'string' ? obj.type : eventType;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string' && (TEXT_FIELDS.has(k) || (k === 'delta' && type && TEXT_DELTA_TYPES.test(type)))) out[k] = redactedText(v);
    else out[k] = redactTranscripts(v, type);
  }
  return out;
}
