import { BandwidthSpec } from '../conformance/bandwidth-spec';
import { callbackFixture } from '../helpers/fixtures';
import { basicAuth } from '../helpers/server';
import { mutantValue, mutateObject, nested, nestedJsonText, NASTY_STRINGS, percentEncode, type Rand, Tally } from './harness';

/**
 * Seeded fuzz inputs for the eleven Bandwidth callback routes (src/bandwidth/webhooks.ts), and a runner that
 * sends them with valid credentials (unless the input is about credentials) and counts the answers. Used
 * against the in-process server (fuzz.test.ts) and the built server in a child process (fuzz-child.test.ts).
 */

/** Each route and the callbacks Bandwidth sends it (BW §1, §3), as fixtures. */
export const ROUTE_FIXTURES: Record<string, string[]> = {
  initiate: ['initiate', 'initiate-diversion-stirshaken-uui'],
  answer: ['answer'],
  status: ['disconnect', 'disconnect-callback-error'],
  redirect: ['redirect'],
  'stream-events': ['mediaStreamStarted', 'mediaStreamStopped', 'mediaStreamRejected-duplicate'],
  'stream-ended': ['redirect'],
  'transfer-answer': ['transferAnswer'],
  'transfer-complete': ['transferComplete', 'transferComplete-busy'],
  'transfer-disconnect': ['transferDisconnect'],
  dtmf: ['dtmf'],
  'machine-detection': ['machineDetectionComplete'],
};

export interface CallbackInput {
  route: string;
  kind: string;
  method: 'POST' | 'GET';
  query: string;
  body?: string;
  contentType?: string;
  /** Replaces the valid Authorization header. */
  auth?: string;
}

export interface CallbackFuzzResult {
  perRoute: Record<string, Tally>;
  all: Tally;
  kinds: Tally;
  durationsMs: number[];
  /** Every answer ≥ 500, with what provoked it. */
  fiveHundreds: string[];
  /** Transport errors other than the server closing after a 413 (which a client may see as a reset). */
  unexpectedErrors: string[];
}

export class CallbackFuzzer {
  private readonly spec = BandwidthSpec.load();
  /** Real signed tokens seen in BXML answers, reused (whole, truncated, forged) in the inputs. */
  readonly tokens: string[] = [];

  constructor(private readonly rand: Rand) {}

  harvest(bxmlText: string): void {
    for (const m of bxmlText.matchAll(/[?&](?:amp;)?t=([^"&\s<]+)/g)) if (this.tokens.length < 200) this.tokens.push(decodeURIComponent(m[1]!));
  }

  /** `perRoute` inputs for each of the eleven routes, in a seeded order; call ids start with `callIdPrefix`. */
  inputs(perRoute: number, callIdPrefix: string): CallbackInput[] {
    const rand = this.rand;
    const inputs: CallbackInput[] = [];
    for (const [route, names] of Object.entries(ROUTE_FIXTURES)) {
      for (let i = 0; i < perRoute; i++) {
        const valid = { ...callbackFixture(rand.pick(names)), callId: `${callIdPrefix}-${route}-${i}` };
        const t = this.token();
        const query = t === undefined ? '' : `t=${percentEncode(t)}`;
        const roll = rand.int(20);
        if (roll < 7) inputs.push({ route, kind: 'mutated', method: 'POST', query, body: JSON.stringify(mutateObject(rand, valid).body) });
        else if (roll < 11) inputs.push({ route, kind: 'schema', method: 'POST', query, body: JSON.stringify(this.fromSchema(valid)) });
        else if (roll < 13) {
          const fields = mutateObject(rand, valid).body;
          const form = fields && typeof fields === 'object' && !Array.isArray(fields) ? (fields as Record<string, unknown>) : valid;
          const params = new URLSearchParams(query);
          for (const [k, v] of Object.entries(form)) params.append(k, typeof v === 'string' ? v : JSON.stringify(v) ?? '');
          if (rand.chance(0.3)) params.append('eventType', 'answer'); // a repeated key: an array after parsing
          inputs.push({ route, kind: 'get-query', method: 'GET', query: params.toString() });
        } else if (roll < 14) inputs.push({ route, kind: 'deep', method: 'POST', query, body: rand.chance(0.5) ? JSON.stringify({ ...valid, tag: nested(17 + rand.int(200)) }) : nestedJsonText(rand.pick([17, 1000, 20_000])) });
        else if (roll < 15) inputs.push({ route, kind: 'huge', method: 'POST', query, body: JSON.stringify({ ...valid, tag: 'x'.repeat(rand.pick([63_000, 65_600, 300_000])) }) });
        else if (roll < 16) inputs.push({ route, kind: 'not-json', method: 'POST', query, body: rand.pick(['', '{', '{"eventType":', 'null', '\ufeff{}', rand.bytes(200).toString('latin1'), JSON.stringify(valid).slice(0, 40)]) });
        else if (roll < 17) inputs.push({ route, kind: 'content-type', method: 'POST', query, body: JSON.stringify(valid), contentType: rand.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16']) });
        else if (roll < 18) inputs.push({ route, kind: 'bad-credentials', method: 'POST', query, body: JSON.stringify(valid), auth: rand.pick([basicAuth('nobody', 'wrong'), 'Basic %%%', 'Bearer x', `Basic ${'A'.repeat(8000)}`]) });
        else inputs.push({ route, kind: 'valid', method: 'POST', query, body: JSON.stringify(valid) });
      }
    }
    return inputs;
  }

  /** A body built from the vendor's schema for the event type: every field it lists, each valid (from the fixture) or a mutant. */
  private fromSchema(valid: Record<string, unknown>): Record<string, unknown> {
    const eventType = String(valid.eventType);
    const properties = this.spec.source(eventType) ? Object.keys(this.spec.callbackSchema(eventType).properties ?? {}) : Object.keys(valid);
    return Object.fromEntries(properties.filter(() => this.rand.chance(0.9)).map((k) => [k, k in valid && this.rand.chance(0.6) ? valid[k] : mutantValue(this.rand)]));
  }

  private token(): string | undefined {
    const r = this.rand;
    const harvested = this.tokens.length > 0 ? r.pick(this.tokens) : undefined;
    switch (r.int(6)) {
      case 0: return undefined;
      case 1: return harvested;
      case 2: return harvested ? harvested.slice(0, r.int(harvested.length)) : 'x';
      case 3: return harvested ? `${harvested.slice(0, -2)}AA` : 'AA';
      case 4: return 'v1.' + r.bytes(r.int(300)).toString('base64url');
      default: return r.pick(NASTY_STRINGS);
    }
  }
}

export async function pool<T>(items: readonly T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

/** Sends every input to `baseUrl` (the server's root) with `auth` unless the input brings its own. */
export async function sendCallbackInputs(baseUrl: string, auth: string, inputs: readonly CallbackInput[], concurrency: number): Promise<CallbackFuzzResult> {
  const result: CallbackFuzzResult = { perRoute: {}, all: new Tally(), kinds: new Tally(), durationsMs: [], fiveHundreds: [], unexpectedErrors: [] };
  await pool(inputs, concurrency, async (input) => {
    const headers: Record<string, string> = { authorization: input.auth ?? auth };
    if (input.body !== undefined) headers['content-type'] = input.contentType ?? 'application/json';
    const startedMs = performance.now();
    let status: number | string;
    try {
      const res = await fetch(`${baseUrl}/bandwidth/voice/${input.route}${input.query ? `?${input.query}` : ''}`, { method: input.method, headers, body: input.body });
      status = res.status;
      const text = await res.text();
      if (res.status >= 500) result.fiveHundreds.push(`${input.method} ${input.route} (${input.kind}): ${res.status} ${text.slice(0, 200)} body=${(input.body ?? input.query).slice(0, 300)}`);
    } catch (err) {
      const cause = (err as Error).cause as Error | undefined;
      status = `error:${cause?.message ?? (err as Error).message}`;
      // Over-size bodies are refused with 413 and the socket closed (the 64 KB limit); a client still sending may see the close instead.
      if (!/other side closed|ECONNRESET|EPIPE|socket/i.test(status)) result.unexpectedErrors.push(`${input.route} (${input.kind}): ${status}`);
    }
    result.durationsMs.push(performance.now() - startedMs);
    (result.perRoute[input.route] ??= new Tally()).add(status);
    result.all.add(status);
    result.kinds.add(input.kind);
  });
  return result;
}
