import http from 'node:http';
import { Webhooks } from 'openai/resources/webhooks';
import { signWebhook } from '../../src/sim/openai-webhooks';
import { startTestServer, type TestServer } from '../helpers/server';
import { percentile, recordFigures, round2, Tally } from './harness';

/**
 * The OpenAI webhook under a signature flood (docs/reliability.md, "Limits on what outsiders control"): bogus
 * signatures on a 250 KB body, over and over. Every one is refused by its headers or its declared size before
 * the body is read, so no HMAC is ever computed: the SDK's verifier and WebCrypto's verify are spied on, and
 * each answer is timed. One genuine webhook at the end proves the spies see a verification when there is one.
 */
const SECRET = `whsec_${Buffer.from('a-webhook-signing-key-of-32-bytes!').toString('base64')}`;
const ROUNDS = 25;
const BURSTS = 4;
const BURST_SIZE = 16;

/** POST with node:http, timing the response head; `chunked` sends the body without a length, as a stream. */
function post(url: string, headers: Record<string, string>, body: string, chunked = false): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const startedNs = process.hrtime.bigint();
    const req = http.request(url, { method: 'POST', headers: chunked ? { ...headers, 'transfer-encoding': 'chunked' } : { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false }, (res) => {
      const ms = Number(process.hrtime.bigint() - startedNs) / 1e6;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, ms }));
      res.on('error', reject);
    });
    req.on('error', (err) => reject(err));
    if (chunked) {
      for (let i = 0; i < body.length; i += 16_384) req.write(body.slice(i, i + 16_384));
      req.end();
    } else req.end(body);
  });
}

describe('the OpenAI webhook signature flood', () => {
  let server: TestServer;
  afterAll(() => server?.close());

  it('refuses every bogus signature on a 250 KB body fast, without computing an HMAC', async () => {
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_WEBHOOK_SECRET: SECRET });
    const url = `${server.url}/openai/webhook`;
    const verifySignature = jest.spyOn(Webhooks.prototype, 'verifySignature');
    const subtleVerify = jest.spyOn(globalThis.crypto.subtle, 'verify');
    const body = JSON.stringify({ object: 'event', type: 'realtime.call.incoming', pad: 'x'.repeat(250_000) });
    const genuine = () => signWebhook(SECRET, body);
    const wellFormedBogus = (n: number, seed: number) => Array.from({ length: n }, (_, i) => `v1,${Buffer.alloc(32, seed + i).toString('base64')}`).join(' ');
    const variants: Record<string, () => { headers: Record<string, string>; chunked?: boolean }> = {
      'too-many-signatures': () => ({ headers: { ...genuine(), 'webhook-signature': wellFormedBogus(300, 1) } }),
      'four-bogus-well-formed': () => ({ headers: { ...genuine(), 'webhook-signature': wellFormedBogus(4, 7) } }), // passes the header check: refused by size
      'four-bogus-chunked': () => ({ headers: { ...genuine(), 'webhook-signature': wellFormedBogus(4, 9) }, chunked: true }),
      'malformed-signature': () => ({ headers: { ...genuine(), 'webhook-signature': 'v1,short v2,abc' } }),
      'stale-timestamp': () => ({ headers: { ...genuine(), 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600) } }),
      'non-numeric-timestamp': () => ({ headers: { ...genuine(), 'webhook-timestamp': '1e9' } }),
      'long-id': () => ({ headers: { ...genuine(), 'webhook-id': 'w'.repeat(300) } }),
      'no-signature-headers': () => ({ headers: { 'content-type': 'application/json' } }),
    };
    const perVariant: Record<string, Tally> = {};
    const sequentialMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, make] of Object.entries(variants)) {
        const { headers, chunked } = make();
        const r = await post(url, headers, body, chunked);
        (perVariant[name] ??= new Tally()).add(r.status);
        sequentialMs.push(r.ms);
      }
    }
    // Bursts: many at once, as a flood arrives.
    const burstMs: number[] = [];
    const burstStatuses = new Tally();
    const names = Object.keys(variants);
    for (let b = 0; b < BURSTS; b++) {
      const results = await Promise.all(Array.from({ length: BURST_SIZE }, (_, i) => {
        const { headers, chunked } = variants[names[(b + i) % names.length]!]!();
        return post(url, headers, body, chunked);
      }));
      for (const r of results) {
        burstMs.push(r.ms);
        burstStatuses.add(r.status);
      }
    }
    const hmacsDuringFlood = verifySignature.mock.calls.length + subtleVerify.mock.calls.length;

    // The control: a genuine small webhook is verified, so the spies would have seen any verification above.
    const event = JSON.stringify({ object: 'event', id: 'evt_control', type: 'batch.completed', created_at: Math.floor(Date.now() / 1000), data: { id: 'batch_1' } });
    const control = await post(url, signWebhook(SECRET, event), event);
    const hmacsForControl = verifySignature.mock.calls.length + subtleVerify.mock.calls.length - hmacsDuringFlood;
    verifySignature.mockRestore();
    subtleVerify.mockRestore();

    const statuses = new Tally();
    for (const t of Object.values(perVariant)) for (const [k, n] of Object.entries(t.counts)) for (let i = 0; i < n; i++) statuses.add(k);
    recordFigures('webhook-flood', {
      bodyBytes: Buffer.byteLength(body), sequentialRequests: sequentialMs.length, statuses: statuses.counts,
      perVariant: Object.fromEntries(Object.entries(perVariant).map(([k, t]) => [k, t.counts])),
      p50Ms: round2(percentile(sequentialMs, 50)), p99Ms: round2(percentile(sequentialMs, 99)), maxMs: round2(Math.max(...sequentialMs)),
      burstRequests: burstMs.length, burstConcurrency: BURST_SIZE, burstStatuses: burstStatuses.counts, burstP50Ms: round2(percentile(burstMs, 50)), burstP99Ms: round2(percentile(burstMs, 99)), burstMaxMs: round2(Math.max(...burstMs)),
      hmacsDuringFlood, controlStatus: control.status, hmacsForControl,
    });
    expect(hmacsDuringFlood).toBe(0);
    expect(control.status).toBe(200);
    expect(hmacsForControl).toBeGreaterThan(0);
    expect(statuses.atLeast(500)).toBe(0);
    expect(burstStatuses.atLeast(500)).toBe(0);
    for (const [name, t] of Object.entries(perVariant)) expect([name, Object.keys(t.counts)]).toEqual([name, [name.startsWith('four-bogus') ? '413' : '401']]);
    expect(percentile(sequentialMs, 99)).toBeLessThan(50);
    expect(Math.max(...sequentialMs)).toBeLessThan(50);
  });
});
