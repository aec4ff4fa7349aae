import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The scenario format shared by the hand-written protocol fixtures (fixtures/bandwidth/scenarios/*.json)
 * and by recorded calls (RECORD_DIR, fixtures/replay/*.json): a JSON array of steps, in order.
 *
 *   {seq, from, to, transport, kind, request | response | message, result?, note?}
 *
 * Kinds Switchboard writes and replays:
 * - `meta` (seq 0, optional, first): what the file is; `meta.env` is the server configuration the scenario
 *   was recorded with (non-secret variables only), used by the fixture replay test to start a matching server.
 * - `callback` (bandwidth → app, http): `request` = {method, url, headers, body | rawBody, auth?, sealed?, atMs?}.
 * - `callback-response` (app → bandwidth, http): `response` = {status, headers?, body?, durationMs?}.
 * Every other kind (ws-upgrade, ws-message, rest-request, …) is kept and shown but not replayed.
 *
 * In recorded files secrets never appear: no Authorization header, `REDACTED` for username/password
 * values, `SEALED` for sealed tokens (`?t=…`, `/media/…`). `request.sealed` carries what a callback's
 * token said ({purpose, data}) and the stored context it named (`context`), so a replay can store that
 * context again and mint an equivalent token with the target's secret.
 */
export const SEALED = 'SEALED';
export const REDACTED = 'REDACTED';

const headersSchema = z.record(z.string(), z.string());

export const callbackRequestSchema = z
  .object({
    method: z.string().default('POST'),
    url: z.string(),
    headers: headersSchema.optional(),
    body: z.unknown().optional(),
    /** Sent verbatim instead of `body` (malformed-body scenarios). */
    rawBody: z.string().optional(),
    /** Replay's Authorization: the target's credentials (default), none, or deliberately wrong ones. */
    auth: z.enum(['target', 'none', 'invalid']).optional(),
    /** What the recorded `t` token carried, for re-minting it on replay. */
    sealed: z.object({ purpose: z.string(), data: z.unknown(), context: z.unknown().optional() }).optional(),
    /** Milliseconds since the first callback of the file. */
    atMs: z.number().optional(),
  })
  .passthrough();
export type CallbackRequest = z.infer<typeof callbackRequestSchema>;

export const callbackResponseSchema = z
  .object({
    status: z.number().int(),
    headers: headersSchema.optional(),
    body: z.string().optional(),
    durationMs: z.number().optional(),
  })
  .passthrough();
export type CallbackResponse = z.infer<typeof callbackResponseSchema>;

export const stepSchema = z
  .object({
    seq: z.number().int(),
    from: z.string(),
    to: z.string(),
    transport: z.string(),
    kind: z.string(),
    request: z.unknown().optional(),
    response: z.unknown().optional(),
    message: z.unknown().optional(),
    result: z.unknown().optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
    note: z.string().optional(),
  })
  .passthrough();
export type Step = z.infer<typeof stepSchema>;

export const scenarioSchema = z.array(stepSchema);
export type Scenario = Step[];

export interface ScenarioMeta {
  description?: string;
  callId?: string;
  recordedAt?: string;
  /** Non-secret server configuration the scenario expects (fixtures). */
  env?: Record<string, string>;
  [key: string]: unknown;
}

/** A callback to replay: the request step and the response recorded for it (if any). */
export interface Exchange {
  seq: number;
  /** seq of the recorded response step (what a diff names), else the request's. */
  responseSeq: number;
  route: string;
  request: CallbackRequest;
  expected: CallbackResponse | undefined;
}

export function parseScenario(json: unknown, file = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`${file} is not a scenario: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function readScenario(file: string): Scenario {
  return parseScenario(JSON.parse(fs.readFileSync(file, 'utf8')) as unknown, path.basename(file));
}

export function scenarioMeta(steps: Scenario): ScenarioMeta {
  const first = steps[0];
  return first?.kind === 'meta' ? ((first.meta ?? {}) as ScenarioMeta) : {};
}

/** The route name of a callback URL (`/bandwidth/voice/transfer-complete?t=…` → `transfer-complete`). */
export function routeOf(url: string): string {
  const pathname = new URL(url, 'http://x').pathname;
  return pathname.replace(/\/+$/, '').split('/').pop() ?? '';
}

/** Pairs every `callback` step with the `callback-response` that follows it (before the next callback). */
export function exchangesOf(steps: Scenario): { exchanges: Exchange[]; skipped: number } {
  const exchanges: Exchange[] = [];
  let skipped = 0;
  let open: Exchange | undefined;
  for (const step of steps) {
    if (step.kind === 'meta') continue;
    if (step.kind === 'callback' && step.transport === 'http') {
      const request = callbackRequestSchema.parse(step.request);
      open = { seq: step.seq, responseSeq: step.seq, route: routeOf(request.url), request, expected: undefined };
      exchanges.push(open);
    } else if (step.kind === 'callback-response' && open && !open.expected) {
      open.expected = callbackResponseSchema.parse(step.response);
      open.responseSeq = step.seq;
    } else {
      skipped++;
    }
  }
  return { exchanges, skipped };
}

/** Write a file atomically: a reader sees the old file or the new one, never half of one. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}
