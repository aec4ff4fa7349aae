import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SwitchboardError } from '../errors';
import { CARRIER_TOKEN_PURPOSES } from '../security/signing';
import { scenarioRequiresSchema, type ScenarioRequires } from './scenario-settings';

/**
 * The scenario format shared by the hand-written protocol fixtures (fixtures/bandwidth/scenarios/*.json)
 * and by recorded calls (RECORD_DIR, fixtures/replay/*.json): a JSON array of steps, in order.
 *
 *   {seq, from, to, transport, kind, request | response | message, result?, note?}
 *
 * Kinds Switchboard writes and replays:
 * - `meta` (seq 0, optional, first): what the file is; `meta.requires` is what the replaying server must be
 *   configured with: the agent that answers and the settings its answers depend on (scenario-settings.ts).
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

const HTTP_METHODS = ['GET', 'POST'] as const;

export const callbackRequestSchema = z
  .object({
    method: z
      .string({ message: 'expected a string (GET or POST)' })
      .refine((m) => (HTTP_METHODS as readonly string[]).includes(m.toUpperCase()), 'expected GET or POST')
      .default('POST'),
    // Only the path and query of a recorded URL are ever used (replay.ts): the host is the target's.
    url: z.string({ message: 'expected a string' }).regex(/^(?:https?:\/\/[^/?#\s]+)?\/\S*$/i, 'expected an http(s) URL or a path starting with /'),
    headers: headersSchema.optional(),
    body: z.unknown().optional(),
    /** Sent verbatim instead of `body` (malformed-body scenarios). */
    rawBody: z.string({ message: 'expected a string' }).optional(),
    /** Replay's Authorization: the target's credentials (default), none, or deliberately wrong ones. */
    auth: z.enum(['target', 'none', 'invalid']).optional(),
    /** What the recorded `t` token carried, for re-minting it on replay. */
    sealed: z.object({ purpose: z.enum(CARRIER_TOKEN_PURPOSES), data: z.unknown(), context: z.unknown().optional() }).optional(),
    /** Milliseconds since the first callback of the file. */
    atMs: z.number().optional(),
  })
  .passthrough();
export type CallbackRequest = z.infer<typeof callbackRequestSchema>;

export const callbackResponseSchema = z
  .object({
    status: z.number({ message: 'expected a number (the HTTP status)' }).int().min(100).max(599),
    headers: headersSchema.optional(),
    body: z.string({ message: 'expected a string' }).optional(),
    durationMs: z.number().optional(),
  })
  .passthrough();
export type CallbackResponse = z.infer<typeof callbackResponseSchema>;

export const stepSchema = z
  .object({
    seq: z.number({ message: 'expected a number' }).int().min(0),
    from: z.string({ message: 'expected a string' }),
    to: z.string({ message: 'expected a string' }),
    transport: z.string({ message: 'expected a string' }),
    kind: z.string({ message: 'expected a string' }),
    request: z.unknown().optional(),
    response: z.unknown().optional(),
    message: z.unknown().optional(),
    result: z.unknown().optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
    note: z.string().optional(),
  })
  .passthrough();
export type Step = z.infer<typeof stepSchema>;

export const scenarioMetaSchema = z
  .object({
    description: z.string().optional(),
    callId: z.string().optional(),
    recordedAt: z.string().optional(),
    redacted: z.boolean().optional(),
    /** What the replaying server must be configured with (scenario-settings.ts). */
    requires: scenarioRequiresSchema.optional(),
  })
  .passthrough()
  .superRefine((meta, ctx) => {
    // Scenarios once kept their server's variables in meta.env, read by one test only: a file that still
    // does would replay against the wrong configuration without a word.
    if ('env' in meta) ctx.addIssue({ code: 'custom', path: ['env'], message: 'is no longer read: state the agent settings this scenario needs as meta.requires (README, "Record, replay")' });
  });
export type ScenarioMeta = z.infer<typeof scenarioMetaSchema>;

export type Scenario = Step[];

/** A callback to replay: the request step and the response recorded for it (if any). */
export interface Exchange {
  seq: number;
  /** seq of the recorded response step (what a diff names), else the request's. */
  responseSeq: number;
  route: string;
  request: CallbackRequest;
  expected: CallbackResponse | undefined;
}

/** The schema of the part of a step that its kind gives a meaning to (other kinds are kept as they are). */
const PAYLOAD: Record<string, { field: 'meta' | 'request' | 'response'; schema: z.ZodType }> = {
  meta: { field: 'meta', schema: scenarioMetaSchema },
  callback: { field: 'request', schema: callbackRequestSchema },
  'callback-response': { field: 'response', schema: callbackResponseSchema },
};

/** How many problems one report lists before it says how many more there are. */
const MAX_REPORTED_PROBLEMS = 10;

/**
 * Validate a parsed scenario. Every problem names its step (`step 3 (callback)`, or its index when the step
 * has no usable seq) and the field (`request.url`), so an edited or truncated file can be fixed by hand.
 * Throws SwitchboardError('scenario_invalid') listing them all.
 */
export function parseScenario(json: unknown, file = 'scenario'): Scenario {
  if (!Array.isArray(json)) {
    throw new SwitchboardError('scenario_invalid', `${file} is not a scenario: expected a JSON array of steps, got ${describe(json)}`);
  }
  const problems: string[] = [];
  const steps: Step[] = [];
  let lastSeq = -1;
  json.forEach((raw: unknown, index) => {
    const name = stepName(raw, index);
    const parsed = stepSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(...issues(name, parsed.error));
      return;
    }
    const step = parsed.data;
    if (step.seq <= lastSeq) problems.push(`${name}: seq: ${step.seq} does not follow seq ${lastSeq} (steps are in order, each seq larger than the last)`);
    lastSeq = Math.max(lastSeq, step.seq);
    if (step.kind === 'meta' && index !== 0) problems.push(`${name}: a meta step can only be the first step`);
    const payload = PAYLOAD[step.kind];
    if (payload && !(step.kind === 'callback' && step.transport !== 'http')) {
      const checked = payload.schema.safeParse(step[payload.field] ?? (payload.field === 'meta' ? {} : undefined));
      if (!checked.success) problems.push(...issues(name, checked.error, payload.field));
      else steps.push({ ...step, [payload.field]: checked.data });
      return;
    }
    steps.push(step);
  });
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_REPORTED_PROBLEMS);
    if (problems.length > listed.length) listed.push(`… and ${problems.length - listed.length} more`);
    throw new SwitchboardError('scenario_invalid', `${file} is not a valid scenario:\n${listed.map((p) => `  ${p}`).join('\n')}`, { problems });
  }
  return steps;
}

/** Read and validate a scenario file; a JSON syntax error says where (line and column). */
export function readScenario(file: string): Scenario {
  const name = path.basename(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SwitchboardError('scenario_invalid', `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (err) {
    throw new SwitchboardError('scenario_invalid', `${name} is not JSON: ${jsonErrorWhere(text, (err as Error).message)}`);
  }
  return parseScenario(json, name);
}

/** The scenario's meta step, validated by parseScenario (an empty one when the file has none). */
export function scenarioMeta(steps: Scenario): ScenarioMeta {
  const first = steps[0];
  return first?.kind === 'meta' ? ((first.meta ?? {}) as ScenarioMeta) : {};
}

/**
 * What the scenario needs of the server that replays it (meta.requires); undefined when it does not say
 * (a plain recording): then its own server has the defaults and a target is not checked.
 */
export function scenarioRequires(steps: Scenario): ScenarioRequires | undefined {
  return scenarioMeta(steps).requires;
}

function stepName(raw: unknown, index: number): string {
  const step = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const seq = typeof step.seq === 'number' && Number.isInteger(step.seq) ? step.seq : undefined;
  const kind = typeof step.kind === 'string' && step.kind.length <= 40 ? step.kind : undefined;
  const where = seq === undefined ? `step at index ${index}` : `step ${seq}`;
  return kind ? `${where} (${kind})` : where;
}

function issues(name: string, error: z.ZodError, prefix?: string): string[] {
  return error.issues.map((i) => {
    const field = [...(prefix ? [prefix] : []), ...i.path.map(String)].join('.');
    return `${name}: ${field || '(the step)'}: ${i.message.replace(/^Invalid (?:input|option): /, '')}`;
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Node's JSON errors give a character position: turn it into line:column, and say when the text ends early. */
export function jsonErrorWhere(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  const reason = message.replace(/\s*in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
  const position = m ? Number(m[1]) : /end of JSON input/i.test(message) ? text.length : undefined;
  if (position === undefined) return message;
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  const truncated = text.slice(position).trim() === '' ? ' (the file ends there: is it truncated?)' : '';
  return `line ${line}, column ${column}: ${reason}${truncated}`;
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
