import fs from 'node:fs';
import path from 'node:path';
import { prng } from '../../src/sim/bandwidth-audio';
// figures-dir.js is plain CommonJS: jest's globalSetup and globalTeardown load it too.
const { FIGURES_DIR } = require('./figures-dir') as { FIGURES_DIR: string };

/** The run's seed (set by global-setup.js; ROBUSTNESS_SEED repeats a run), offset per surface so surfaces do not share a stream. */
export function seedFor(surface: string): { seed: number; rand: Rand } {
  const fromFile = path.join(FIGURES_DIR, 'seed');
  const seed = Number(process.env.ROBUSTNESS_SEED ?? (fs.existsSync(fromFile) ? fs.readFileSync(fromFile, 'utf8') : '1'));
  let offset = 0;
  for (const ch of surface) offset = (Math.imul(offset, 31) + ch.charCodeAt(0)) >>> 0;
  return { seed, rand: new Rand(prng((seed ^ offset) >>> 0)) };
}

/** Seeded choices for the fuzzers: the same seed gives the same inputs, in the same order. */
export class Rand {
  constructor(private readonly next: () => number) {}
  float(): number {
    return this.next();
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Strings an outsider may send: odd unicode, control characters, lone surrogates, injection shapes. */
export const NASTY_STRINGS = [
  '', ' ', '\u0000', '\u202e\u0631\u0644', '😀'.repeat(50), '\ud800', 'a\udfffb', '%00%ff%', '../../etc/passwd', '<x>&amp;</x>]]>',
  "'; DROP TABLE calls; --", '{{greeting}}', '${process.exit()}', '__proto__', 'constructor', 'c-', '+1', 'NaN', '-0', '1e309', 'null', 'true',
];

/** A value of a shape the field never has, or a nasty value of its own shape. */
export function mutantValue(rand: Rand, depthLimit = 40): unknown {
  switch (rand.int(12)) {
    case 0: return null;
    case 1: return rand.int(2) === 0 ? rand.int(1e9) : -rand.float() * 1e308;
    case 2: return rand.chance(0.5);
    case 3: return [];
    case 4: return {};
    case 5: return rand.pick(NASTY_STRINGS);
    case 6: return 'x'.repeat(rand.pick([257, 1024, 5000]));
    case 7: return nested(rand.int(depthLimit) + 1);
    case 8: return [rand.pick(NASTY_STRINGS), rand.int(10), null];
    case 9: return { $gt: '', __proto__: { polluted: true } };
    case 10: return new Date(rand.int(2 ** 42)).toISOString();
    default: return rand.bytes(rand.int(40)).toString('latin1');
  }
}

/** `{"a":{"a":…}}` `depth` levels deep. */
export function nested(depth: number): unknown {
  let v: unknown = 'deep';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}
export function nestedJsonText(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

/**
 * One structural mutation of a valid JSON object (never mutates the input): a field removed, retyped,
 * nulled, made huge or nasty, an extra field, the whole body replaced. Returns the body and what was done.
 */
export function mutateObject(rand: Rand, valid: Record<string, unknown>): { body: unknown; what: string } {
  const keys = Object.keys(valid);
  const body: Record<string, unknown> = structuredClone(valid);
  const key = keys.length > 0 ? rand.pick(keys) : 'x';
  switch (rand.int(9)) {
    case 0:
      delete body[key];
      return { body, what: `missing ${key}` };
    case 1:
      body[key] = null;
      return { body, what: `null ${key}` };
    case 2:
      body[key] = mutantValue(rand);
      return { body, what: `mutant ${key}` };
    case 3:
      body[`extra${rand.int(1000)}`] = mutantValue(rand);
      return { body, what: 'extra field' };
    case 4: {
      for (const k of keys) if (rand.chance(0.3)) body[k] = mutantValue(rand);
      return { body, what: 'several mutants' };
    }
    case 5:
      return { body: rand.pick<unknown>([[], [valid], 'string', 42, null, true]), what: 'not an object' };
    case 6:
      body[key] = rand.pick(NASTY_STRINGS);
      return { body, what: `nasty ${key}` };
    case 7:
      Object.defineProperty(body, '__proto__', { value: { admin: true }, enumerable: true });
      return { body, what: '__proto__ key' };
    default:
      for (const k of keys) if (rand.chance(0.5)) delete body[k];
      return { body, what: 'fields dropped' };
  }
}

/** Percent-encodes every UTF-8 byte (lone surrogates become U+FFFD, where encodeURIComponent throws). */
export function percentEncode(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/** Counts by status (or close code, or outcome). */
export class Tally {
  readonly counts: Record<string, number> = {};
  total = 0;
  add(key: string | number): void {
    this.counts[String(key)] = (this.counts[String(key)] ?? 0) + 1;
    this.total++;
  }
  atLeast(status: number): number {
    return Object.entries(this.counts).filter(([k]) => Number(k) >= status).reduce((a, [, n]) => a + n, 0);
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A real wait: only for the tests that are about real time (a held lock, a child process), never to let a fake clock pass. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const round2 = (n: number) => Math.round(n * 100) / 100;

/** Records one test's figures for print-figures.js (the last full run's figures go to docs/reliability.md). */
export function recordFigures(name: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(FIGURES_DIR, { recursive: true });
  fs.writeFileSync(path.join(FIGURES_DIR, `${name}.json`), JSON.stringify(figures));
}

/**
 * Watches the process for what would crash a real server (an uncaught exception, an unhandled rejection)
 * while a test abuses the in-process server. Jest would otherwise swallow some of them.
 */
export function watchForCrashes(): { stop(): string[] } {
  const seen: string[] = [];
  const onError = (err: unknown) => seen.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    stop() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
      return seen;
    },
  };
}
