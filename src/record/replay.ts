import { randomBytes, randomUUID } from 'node:crypto';
import { SIGNED_URL_TTL_MS } from '../constants';
import { parseXml, type XmlElement } from '../bandwidth/bxml/xml';
import type { TokenPurpose, UrlSigner } from '../security/signing';
import { diffBxml } from './compare';
import { exchangesOf, routeOf, type Exchange, type Scenario } from './scenario';

/**
 * `switchboard replay`: send a scenario's callbacks, in order, to a running Switchboard and compare
 * each response with the recorded one (compare.ts).
 *
 * Authentication is always the TARGET's: its callback credentials (flags, env, or the test's server),
 * never the recorded ones (recordings have none).
 *
 * Sealed tokens. A recorded callback URL such as `…/transfer-complete?t=…` carried a token minted by
 * the recording server, which the server under test cannot open. So the replayer follows the URLs the
 * server under test hands out, mapping recorded URLs to live ones by route:
 *   1. every URL in every live BXML response (transferCompleteUrl, transferAnswerUrl, redirectUrl, …) is
 *      remembered by its path; a later recorded step whose URL has a `t` takes the token of the latest
 *      live URL with the same path (the transfer BXML's transferCompleteUrl → the transfer-complete step);
 *   2. a URL that never appeared in a callback response (the Calls API redirect the bridge asked for, an
 *      outbound call's answerUrl) is re-minted from the step's `request.sealed` ({purpose, data, context},
 *      written by the recorder) when the replayer has the target's URL signing secret — and, for a token
 *      naming a stored context (a redirect's action), the target's store to put that context in (`remint`);
 *   3. otherwise the recorded URL is sent as is, and the target will most likely refuse it (403): the
 *      mismatch says so.
 *
 * Ids and times. With `shiftIds`, every call/stream id (`c-…`, `s-…`) gets a fresh value, consistently
 * in requests, sealed data and expected responses, so a replay never collides with calls already stored.
 * With `shiftTimes`, ISO timestamps in request bodies move by (now − the scenario's first timestamp).
 */
export interface ReplayOptions {
  /** The target's base URL (http://127.0.0.1:3000). Recorded hosts are ignored. */
  baseUrl: string;
  auth: { username: string; password: string };
  /** The target's signer, to re-mint tokens that no live response handed out (rule 2). */
  signer?: UrlSigner;
  /**
   * Re-mint a token whose recording names a stored context (redirect, transfer: DESIGN §4.6): the context
   * must be stored in the target's store first (callback-contexts.ts remintToken). Without it, such
   * tokens are re-minted by `signer` alone and name a context the target does not have.
   */
  remint?: (purpose: TokenPurpose, sealed: { data: unknown; context?: unknown }) => Promise<string>;
  shiftIds?: boolean;
  shiftTimes?: boolean;
  fetchImpl?: typeof fetch;
}

export interface StepOutcome {
  seq: number;
  route: string;
  method: string;
  status: number | undefined;
  expectedStatus: number | undefined;
  /** How the token was obtained, when the step had one. */
  token?: 'live' | 'reminted' | 'recorded';
  problems: string[];
}

export interface ReplayResult {
  file: string;
  outcomes: StepOutcome[];
  /** Steps that are not HTTP callbacks (ws frames, REST calls): shown in fixtures, not replayed. */
  skipped: number;
  ok: boolean;
}

const CALL_ID = /\b([cs])-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g;
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\b/g;

export async function replayScenario(steps: Scenario, options: ReplayOptions, file = 'scenario'): Promise<ReplayResult> {
  const doFetch = options.fetchImpl ?? fetch;
  const { exchanges, skipped } = exchangesOf(steps);
  const idMap = new Map<string, string>();
  const mapIds = (s: string) => (options.shiftIds ? s.replace(CALL_ID, (id, kind: string) => idFor(idMap, id, kind)) : s);
  const timeDeltaMs = options.shiftTimes ? timeShift(exchanges) : 0;
  const mapTimes = (s: string) => (timeDeltaMs ? s.replace(ISO_TIME, (t) => new Date(Date.parse(t) + timeDeltaMs).toISOString()) : s);
  /** Live callback URLs handed out by the target, by path (rule 1). */
  const live = new Map<string, URL>();
  const outcomes: StepOutcome[] = [];

  for (const x of exchanges) {
    const request = JSON.parse(mapTimes(mapIds(JSON.stringify(x.request)))) as Exchange['request'];
    const recorded = new URL(request.url, 'http://recorded.invalid');
    const target = targetUrl(options.baseUrl, recorded);
    const outcome: StepOutcome = { seq: x.responseSeq, route: x.route, method: request.method, status: undefined, expectedStatus: x.expected?.status, problems: [] };
    if (recorded.searchParams.has('t')) {
      const liveUrl = live.get(recorded.pathname);
      if (liveUrl?.searchParams.get('t')) {
        target.searchParams.set('t', liveUrl.searchParams.get('t')!);
        outcome.token = 'live';
      } else if (request.sealed && options.remint) {
        target.searchParams.set('t', await options.remint(request.sealed.purpose, request.sealed));
        outcome.token = 'reminted';
      } else if (request.sealed && options.signer) {
        target.searchParams.set('t', options.signer.sign(request.sealed.purpose, request.sealed.data, SIGNED_URL_TTL_MS));
        outcome.token = 'reminted';
      } else {
        outcome.token = 'recorded';
      }
    }
    const headers: Record<string, string> = { 'content-type': headerOf(request.headers, 'content-type') ?? 'application/json' };
    const auth = request.auth ?? 'target';
    if (auth !== 'none') {
      const password = auth === 'invalid' ? `${options.auth.password}-wrong` : options.auth.password;
      headers.authorization = `Basic ${Buffer.from(`${options.auth.username}:${password}`).toString('base64')}`;
    }
    const method = request.method.toUpperCase();
    const body = method === 'GET' ? undefined : (request.rawBody ?? JSON.stringify(request.body ?? {}));
    let status: number;
    let text: string;
    let contentType: string;
    try {
      const res = await doFetch(target, { method, headers, body });
      status = res.status;
      contentType = res.headers.get('content-type') ?? '';
      text = await res.text();
    } catch (err) {
      outcome.problems.push(`request failed: ${(err as Error).message}`);
      outcomes.push(outcome);
      continue;
    }
    outcome.status = status;
    if (/xml/i.test(contentType) && text) rememberUrls(text, live);
    if (x.expected) outcome.problems.push(...compareResponse(x.expected, { status, contentType, text }, mapIds));
    if (outcome.token === 'recorded' && outcome.problems.length > 0) {
      outcome.problems.push(`(the recorded ${x.route} token could not be mapped: no live URL for ${recorded.pathname} and no signing secret to re-mint it)`);
    }
    outcomes.push(outcome);
  }
  return { file, outcomes, skipped, ok: outcomes.every((o) => o.problems.length === 0) };
}

function compareResponse(expected: NonNullable<Exchange['expected']>, actual: { status: number; contentType: string; text: string }, mapIds: (s: string) => string): string[] {
  const problems: string[] = [];
  if (expected.status !== actual.status) problems.push(`status: expected ${expected.status}, got ${actual.status}`);
  const body = expected.body ?? '';
  if (body.trimStart().startsWith('<')) {
    if (!/xml/i.test(actual.contentType)) problems.push(`expected BXML, got ${actual.contentType || 'no content type'}${actual.text ? `: ${actual.text.slice(0, 160)}` : ''}`);
    else problems.push(...diffBxml(body, actual.text, mapIds));
  } else if (body.trimStart().startsWith('{')) {
    const code = (s: string) => {
      try {
        return (JSON.parse(s) as { error?: { code?: string } }).error?.code;
      } catch {
        return undefined;
      }
    };
    if (code(body) !== code(actual.text)) problems.push(`error code: expected ${String(code(body))}, got ${String(code(actual.text))}`);
  } else if (!body && actual.text && expected.status === actual.status && actual.status !== 401) {
    problems.push(`expected an empty body, got ${actual.text.slice(0, 160)}`);
  }
  return problems;
}

/**
 * Where a recorded callback goes: the target's origin with the recorded path and query. The recorded host
 * is never used, and the path is set, not resolved, so a recorded `//elsewhere/…` or `https://elsewhere/…`
 * stays on the target (a replayed file may come from anyone: it must not make us call a third host).
 */
export function targetUrl(baseUrl: string, recorded: URL): URL {
  const target = new URL(baseUrl);
  target.pathname = recorded.pathname.replace(/^\/{2,}/, '/');
  target.search = recorded.search;
  target.hash = '';
  if (target.origin !== new URL(baseUrl).origin) throw new Error(`refusing to send to ${target.origin}: replay only talks to ${new URL(baseUrl).origin}`);
  return target;
}

function rememberUrls(xml: string, live: Map<string, URL>): void {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch {
    return;
  }
  const walk = (e: XmlElement) => {
    for (const value of Object.values(e.attributes)) {
      if (!/^https?:\/\//i.test(value)) continue;
      try {
        const url = new URL(value);
        live.set(url.pathname, url);
      } catch {
        /* not a URL */
      }
    }
    for (const c of e.children) if (c.kind === 'element') walk(c);
  };
  walk(root);
}

function idFor(map: Map<string, string>, id: string, kind: string): string {
  let fresh = map.get(id);
  if (!fresh) {
    fresh = `${kind}-${randomBytes(4).toString('hex')}-${randomUUID()}`;
    map.set(id, fresh);
  }
  return fresh;
}

function timeShift(exchanges: Exchange[]): number {
  for (const x of exchanges) {
    const m = JSON.stringify(x.request.body ?? {}).match(ISO_TIME);
    if (m?.[0]) return Date.now() - Date.parse(m[0]);
  }
  return 0;
}

function headerOf(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Human-readable report: one line per callback (details for mismatches) and a summary line. */
export function formatReplay(result: ReplayResult, options: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  for (const o of result.outcomes) {
    const head = `step ${o.seq} ${o.route}`;
    if (o.problems.length === 0) {
      if (options.verbose) lines.push(`  ok    ${head} (${o.status ?? '-'})`);
      continue;
    }
    lines.push(`  FAIL  ${head}: ${o.problems[0]}`);
    for (const p of o.problems.slice(1)) lines.push(`        ${head}: ${p}`);
  }
  const failed = result.outcomes.filter((o) => o.problems.length > 0).length;
  const passed = result.outcomes.length - failed;
  lines.push(
    `${result.ok ? 'PASS' : 'FAIL'} ${result.file}: ${passed}/${result.outcomes.length} callbacks matched` +
      (failed ? `, ${failed} mismatched` : '') +
      (result.skipped ? ` (${result.skipped} ws/rest steps not replayed)` : ''),
  );
  return `${lines.join('\n')}\n`;
}

export { routeOf };
