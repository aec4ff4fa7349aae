import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { DEFAULT_PRICES, estimateCost, loadPriceTable, priceFor } from '../../src/reports/cost';
import { flattenUsage } from '../../src/openai/events';

/** Usage as `response.done` carries it (openai resources/realtime RealtimeResponseUsage), summed the way the store keeps it. */
const USAGE = flattenUsage({
  total_tokens: 4300,
  input_tokens: 1500,
  output_tokens: 2300,
  input_token_details: { audio_tokens: 1000, text_tokens: 500, image_tokens: 0, cached_tokens: 300, cached_tokens_details: { audio_tokens: 200, text_tokens: 100, image_tokens: 0 } },
  output_token_details: { audio_tokens: 2000, text_tokens: 300 },
});

describe('cost per call', () => {
  it('prices each category of a known usage, cached input apart from fresh input', () => {
    const cost = estimateCost(USAGE, 'gpt-realtime', DEFAULT_PRICES)!;
    expect(cost.tokens).toEqual({ audioIn: 800, cachedAudioIn: 200, audioOut: 2000, textIn: 400, cachedTextIn: 100, textOut: 300 });
    // 800×$32 + 200×$0.40 + 2000×$64 + 400×$4 + 100×$0.40 + 300×$16, per million tokens
    expect(cost.totalUsd).toBeCloseTo(0.16012, 6);
    expect(cost.usd.audioOut).toBeCloseTo(0.128, 6);
    // The mini model, at its own prices: 800×10 + 200×0.3 + 2000×20 + 400×0.6 + 100×0.06 + 300×2.4
    expect(estimateCost(USAGE, 'gpt-realtime-mini', DEFAULT_PRICES)!.totalUsd).toBeCloseTo(0.049026, 6);
    // 2.x bills text out at $24
    expect(estimateCost(USAGE, 'gpt-realtime-2.1', DEFAULT_PRICES)!.totalUsd).toBeCloseTo(0.16252, 6);
  });

  it('a dated snapshot takes its family price; an unknown model or no usage has no estimate', () => {
    expect(priceFor('gpt-realtime-mini-2025-10-06', DEFAULT_PRICES)).toBe(DEFAULT_PRICES['gpt-realtime-mini']);
    expect(priceFor('gpt-realtime-2025-08-28', DEFAULT_PRICES)).toBe(DEFAULT_PRICES['gpt-realtime']);
    expect(estimateCost(USAGE, 'someone-elses-model', DEFAULT_PRICES)).toBeNull();
    expect(estimateCost(null, 'gpt-realtime', DEFAULT_PRICES)).toBeNull();
  });

  it('the table is overridable from inline JSON or a YAML file, and bad prices are named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-prices-'));
    try {
      const file = path.join(dir, 'prices.yaml');
      fs.writeFileSync(file, 'my-model:\n  audioIn: 1\n  cachedAudioIn: 0\n  audioOut: 2\n  textIn: 0\n  cachedTextIn: 0\n  textOut: 0\n');
      const inline = JSON.stringify({ 'gpt-realtime': { ...DEFAULT_PRICES['gpt-realtime'], audioOut: 100 } });
      const { prices, problems } = loadPriceTable(inline, file);
      expect(problems).toEqual([]);
      expect(estimateCost(USAGE, 'my-model', prices)!.totalUsd).toBeCloseTo((800 * 1 + 2000 * 2) / 1e6, 9);
      expect(prices['gpt-realtime']!.audioOut).toBe(100);
      expect(prices['gpt-realtime-mini']).toEqual(DEFAULT_PRICES['gpt-realtime-mini']);

      expect(loadPriceTable('{"m":{"audioIn":-1}}', undefined).problems).toEqual(
        expect.arrayContaining([expect.stringMatching(/^REALTIME_PRICES: m\.audioIn: cannot be negative/), expect.stringMatching(/^REALTIME_PRICES: m\.textOut: /)]),
      );
      expect(loadPriceTable('{not json', undefined).problems[0]).toMatch(/^REALTIME_PRICES: /);
      const config = () => loadConfig({ REALTIME_PRICES: '{"m":{"audioIn":"free"}}', REPORT_SIGNING_SECRET: 'not-a-secret', REPORT_URL: 'ftp://x' }, path.join(__dirname, '../..'));
      expect(config).toThrow(/- REALTIME_PRICES: m\.audioIn: must be a price in US dollars per million tokens/);
      expect(config).toThrow(/- REPORT_SIGNING_SECRET: must be whsec_ followed by base64/);
      expect(config).toThrow(/- REPORT_URL: must be an http:\/\/ or https:\/\/ URL/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
