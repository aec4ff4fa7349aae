import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';

/**
 * Estimated cost of a call's model use (docs/architecture.md, "Cost per call"): the summed `response.done`
 * usage the store keeps (`calls.usage`, flattened by src/openai/events.ts flattenUsage) times a per-model
 * price table in US dollars per million tokens. OpenAI bills cached input at its own rate and counts it
 * inside input (openai resources/realtime RealtimeResponseUsage: "cached tokens ... are counted as a subset
 * of input tokens"), so cached tokens are taken out of the fresh input before pricing.
 */
const perMillion = z.number({ message: 'must be a price in US dollars per million tokens' }).min(0, 'cannot be negative').max(10_000, 'is more than $10,000 per million tokens: check the unit');
export const modelPriceSchema = z
  .object({
    audioIn: perMillion,
    cachedAudioIn: perMillion,
    audioOut: perMillion,
    textIn: perMillion,
    cachedTextIn: perMillion,
    textOut: perMillion,
  })
  .strict();
export type ModelPrice = z.infer<typeof modelPriceSchema>;

export const priceTableSchema = z.record(z.string().trim().min(1, 'a model name cannot be empty'), modelPriceSchema);
export type PriceTable = z.infer<typeof priceTableSchema>;

const GPT_REALTIME: ModelPrice = { audioIn: 32, cachedAudioIn: 0.4, audioOut: 64, textIn: 4, cachedTextIn: 0.4, textOut: 16 };
const GPT_REALTIME_2: ModelPrice = { ...GPT_REALTIME, textOut: 24 };
const GPT_REALTIME_MINI: ModelPrice = { audioIn: 10, cachedAudioIn: 0.3, audioOut: 20, textIn: 0.6, cachedTextIn: 0.06, textOut: 2.4 };

/**
 * OpenAI's published Realtime prices (OpenAI reference §6.3, Nov 2026): the 2.x models bill text out at
 * $24, the others at $16. Dated snapshots (gpt-realtime-2025-08-28) take their family's price by prefix.
 */
export const DEFAULT_PRICES: PriceTable = {
  'gpt-realtime': GPT_REALTIME,
  'gpt-realtime-1.5': GPT_REALTIME,
  'gpt-realtime-2': GPT_REALTIME_2,
  'gpt-realtime-2.1': GPT_REALTIME_2,
  'gpt-realtime-mini': GPT_REALTIME_MINI,
  'gpt-realtime-2.1-mini': GPT_REALTIME_MINI,
};

export interface CallCost {
  model: string;
  currency: 'USD';
  /** Whole-call estimate in dollars, rounded to a millionth of a dollar. */
  totalUsd: number;
  /** Tokens per billing category, and what each cost. */
  tokens: Record<keyof ModelPrice, number>;
  usd: Record<keyof ModelPrice, number>;
  /** The price used, per million tokens. */
  pricePerMillion: ModelPrice;
}

/** The price of `model`: exact name first, then the longest name it starts with (`gpt-realtime-mini-2025-10-06`). */
export function priceFor(model: string, prices: PriceTable): ModelPrice | undefined {
  if (prices[model]) return prices[model];
  const family = Object.keys(prices)
    .filter((name) => model.startsWith(`${name}-`))
    .sort((a, b) => b.length - a.length)[0];
  return family ? prices[family] : undefined;
}

/** The estimate for a call's summed usage, or null when there is no usage or no price for the model. */
export function estimateCost(usage: Record<string, number> | null | undefined, model: string | null | undefined, prices: PriceTable): CallCost | null {
  if (!usage || !model) return null;
  const price = priceFor(model, prices);
  if (!price) return null;
  const n = (key: string) => usage[key] ?? 0;
  const cachedAudio = n('input_token_details.cached_tokens_details.audio_tokens');
  const cachedText = n('input_token_details.cached_tokens_details.text_tokens');
  const tokens: CallCost['tokens'] = {
    audioIn: Math.max(0, n('input_token_details.audio_tokens') - cachedAudio),
    cachedAudioIn: cachedAudio,
    audioOut: n('output_token_details.audio_tokens'),
    textIn: Math.max(0, n('input_token_details.text_tokens') - cachedText),
    cachedTextIn: cachedText,
    textOut: n('output_token_details.text_tokens'),
  };
  const usd = {} as CallCost['usd'];
  let total = 0;
  for (const key of Object.keys(tokens) as (keyof ModelPrice)[]) {
    const dollars = (tokens[key] * price[key]) / 1_000_000;
    usd[key] = roundUsd(dollars);
    total += dollars;
  }
  return { model, currency: 'USD', totalUsd: roundUsd(total), tokens, usd, pricePerMillion: price };
}

const roundUsd = (usd: number) => Math.round(usd * 1_000_000) / 1_000_000;

/**
 * The price table in force: the defaults, with REALTIME_PRICES (inline JSON) or REALTIME_PRICES_FILE (a
 * JSON or YAML file) adding or replacing models. Returns problems naming the variable and field instead of throwing.
 */
export function loadPriceTable(inline: string | undefined, file: string | undefined): { prices: PriceTable; problems: string[] } {
  const problems: string[] = [];
  let overrides: PriceTable = {};
  const parse = (what: string, read: () => unknown) => {
    let raw: unknown;
    try {
      raw = read();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
      return;
    }
    const parsed = priceTableSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `${what}: ${i.path.join('.') || '(table)'}: ${i.message}`));
      return;
    }
    overrides = { ...overrides, ...parsed.data };
  };
  if (file) parse(`REALTIME_PRICES_FILE ${file}`, () => (/\.ya?ml$/i.test(file) ? YAML.parse(fs.readFileSync(file, 'utf8')) : JSON.parse(fs.readFileSync(file, 'utf8'))));
  if (inline) parse('REALTIME_PRICES', () => JSON.parse(inline));
  return { prices: { ...DEFAULT_PRICES, ...overrides }, problems };
}
