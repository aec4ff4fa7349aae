/**
 * Plausible token accounting for `response.done.response.usage` (RT §1.5) and `rate_limits.updated` (RT §6.2),
 * from the rates in RT §6.3 "Token accounting": user audio 1 token per 100 ms, assistant audio 1 token per
 * 50 ms, the whole conversation re-read as input on every response (prompt caching makes the repeated prefix
 * "cached"). Text is estimated at 4 characters per token.
 */
import type { ConversationEntry } from './realtime-script';

export const USER_AUDIO_MS_PER_TOKEN = 100;
export const ASSISTANT_AUDIO_MS_PER_TOKEN = 50;
const CHARS_PER_TOKEN = 4;
/** Prompt caching works in blocks; the docs' example reports 64 cached tokens. */
const CACHE_BLOCK = 64;

export function textTokens(text: string | undefined): number {
  return text ? Math.ceil(text.length / CHARS_PER_TOKEN) : 0;
}

export interface InputUsage {
  text_tokens: number;
  audio_tokens: number;
  image_tokens: number;
  cached_tokens: number;
  cached_tokens_details: { text_tokens: number; audio_tokens: number; image_tokens: number };
}

export interface Usage {
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  input_token_details: InputUsage;
  output_token_details: { text_tokens: number; audio_tokens: number };
}

/** Tokens of one conversation entry as model input: audio as audio tokens, everything else as text. */
function entryTokens(e: ConversationEntry): { text: number; audio: number } {
  if (e.type === 'function_call') return { text: textTokens(e.name) + textTokens(e.arguments) + 4, audio: 0 };
  if (e.type === 'function_call_output') return { text: textTokens(e.output) + 4, audio: 0 };
  if (e.type === 'mcp_call') return { text: textTokens(e.name) + textTokens(e.arguments) + textTokens(e.output) + 4, audio: 0 };
  if (e.audioMs !== undefined) {
    const perToken = e.role === 'assistant' ? ASSISTANT_AUDIO_MS_PER_TOKEN : USER_AUDIO_MS_PER_TOKEN;
    return { text: 4, audio: Math.ceil(e.audioMs / perToken) };
  }
  return { text: textTokens(e.text) + 4, audio: 0 };
}

/**
 * Input side of a response: instructions + tools + every item so far. `previous` (the last response's input in
 * this session) is the cacheable prefix when the instructions did not change.
 */
export function inputUsage(
  conversation: readonly ConversationEntry[],
  instructions: string,
  tools: readonly unknown[],
  previous?: { text: number; audio: number; instructions: string },
): InputUsage {
  let text = textTokens(instructions) + textTokens(JSON.stringify(tools)) + 8;
  let audio = 0;
  for (const e of conversation) {
    const t = entryTokens(e);
    text += t.text;
    audio += t.audio;
  }
  let cachedText = 0;
  let cachedAudio = 0;
  if (previous && previous.instructions === instructions) {
    cachedText = Math.min(text, previous.text);
    cachedAudio = Math.min(audio, previous.audio);
    const cached = Math.floor((cachedText + cachedAudio) / CACHE_BLOCK) * CACHE_BLOCK;
    cachedAudio = Math.min(cachedAudio, cached);
    cachedText = cached - cachedAudio;
  }
  return {
    text_tokens: text,
    audio_tokens: audio,
    image_tokens: 0,
    cached_tokens: cachedText + cachedAudio,
    cached_tokens_details: { text_tokens: cachedText, audio_tokens: cachedAudio, image_tokens: 0 },
  };
}

/** Output side: the audio actually produced (cancelled responses bill what was generated) plus its transcript. */
export function buildUsage(input: InputUsage, output: { audioMs: number; textChars: number }): Usage {
  const outAudio = Math.ceil(output.audioMs / ASSISTANT_AUDIO_MS_PER_TOKEN);
  const outText = Math.ceil(output.textChars / CHARS_PER_TOKEN);
  const inputTokens = input.text_tokens + input.audio_tokens + input.image_tokens;
  return {
    total_tokens: inputTokens + outAudio + outText,
    input_tokens: inputTokens,
    output_tokens: outAudio + outText,
    input_token_details: input,
    output_token_details: { text_tokens: outText, audio_tokens: outAudio },
  };
}

export interface RateLimitConfig {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

/** RT §6.2: `rate_limits.updated` with `requests` and `tokens` entries; counters shared by all sessions. */
export class RateLimitMeter {
  private requests = 0;
  private tokens = 0;

  constructor(private readonly config: RateLimitConfig) {}

  record(totalTokens: number): void {
    this.requests += 1;
    this.tokens += totalTokens;
  }

  snapshot(): Array<{ name: 'requests' | 'tokens'; limit: number; remaining: number; reset_seconds: number }> {
    return [
      { name: 'requests', limit: this.config.requestsPerMinute, remaining: Math.max(0, this.config.requestsPerMinute - this.requests), reset_seconds: 60 },
      { name: 'tokens', limit: this.config.tokensPerMinute, remaining: Math.max(0, this.config.tokensPerMinute - this.tokens), reset_seconds: 60 },
    ];
  }
}
