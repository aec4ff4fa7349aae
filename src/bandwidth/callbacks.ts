import { SwitchboardError } from '../errors';
import { z } from 'zod';
import { CALL_ID_MAX_CHARS } from '../constants';

/**
 * Bandwidth Voice callback bodies (BW §1.4–§1.5, §3). Lenient where Bandwidth is: every documented
 * field is optional, unknown fields are kept (the raw body is stored anyway), `eventType` is an open
 * string, and a `null` anywhere means "not set" (BW §1.5 "Nulls": the SDK's bandwidth.yml marks many
 * callback fields nullable, and a null must never fail a callback), so nulls are dropped before
 * validation and handlers see one shape. Strict on what the code relies on: `eventType` and `callId`
 * must be non-empty strings, a field that is present must have its documented type, and a route can
 * demand more (initiate needs `from` and `to`).
 *
 * Bodies arrive as JSON (POST) or as query strings (GET, when a verb's *Method is GET, BW §1.1), so
 * booleans may arrive as "true"/"false".
 */
const str = z.string();
const optStr = str.optional();
const boolish = z
  .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'expected a boolean (or "true"/"false")' })
  .optional();

/** Diversion header facts (BW §1.5 initiate): `origTo` always, other keys tolerated. */
const diversionSchema = z.looseObject({
  origTo: optStr,
  reason: optStr,
  privacy: optStr,
  screen: optStr,
  counter: optStr,
  limit: optStr,
  unknown: optStr,
});

const stirShakenSchema = z.looseObject({
  verstat: optStr,
  attestationIndicator: optStr,
  originatingId: optStr,
});

/** BW §3: the stream described by mediaStream* callbacks. */
const mediaStreamSchema = z.looseObject({
  id: optStr,
  name: optStr,
  destination: optStr,
  startTime: optStr,
  tracks: z.array(str).optional(),
  type: optStr,
  duration: optStr,
});

export const callbackSchema = z.looseObject({
  eventType: str.trim().min(1, 'expected a non-empty string'),
  callId: str.trim().min(1, 'expected a non-empty string').max(CALL_ID_MAX_CHARS, `expected at most ${CALL_ID_MAX_CHARS} characters`),
  eventTime: optStr,
  accountId: optStr,
  applicationId: optStr,
  from: optStr,
  to: optStr,
  direction: optStr,
  callUrl: optStr,
  enqueuedTime: optStr,
  startTime: optStr,
  answerTime: optStr,
  endTime: optStr,
  tag: optStr,
  cause: optStr,
  errorMessage: optStr,
  errorId: optStr,
  parentCallId: optStr,
  transferCallerId: optStr,
  transferTo: optStr,
  privacy: boolish,
  callerDisplayName: optStr,
  diversion: diversionSchema.optional(),
  stirShaken: stirShakenSchema.optional(),
  uui: optStr,
  mediaStream: mediaStreamSchema.optional(),
  originalMediaStream: mediaStreamSchema.optional(),
  machineDetectionResult: z.looseObject({ value: optStr, duration: optStr }).optional(),
  /** dtmf (bandwidth.yml dtmfCallback): the one key pressed. */
  digit: optStr,
});
export type Callback = z.infer<typeof callbackSchema>;

/** Event types Switchboard understands (BW §1.3 enum plus the stream events of §3). */
export const KNOWN_EVENT_TYPES = new Set([
  'initiate',
  'answer',
  'disconnect',
  'redirect',
  'transferAnswer',
  'transferComplete',
  'transferDisconnect',
  'mediaStreamStarted',
  'mediaStreamRejected',
  'mediaStreamStopped',
  'bridgeComplete',
  'bridgeTargetComplete',
  'gather',
  'dtmf',
  'machineDetectionComplete',
  'recordingComplete',
  'recordingAvailable',
  'transcriptionAvailable',
  'conferenceCreated',
  'conferenceRedirect',
  'conferenceMemberJoin',
  'conferenceMemberExit',
  'conferenceCompleted',
  'conferenceRecordingAvailable',
  'referComplete',
]);

/**
 * Bandwidth's machine detection results (bandwidth.yml machineDetectionResult.value). Only the first two are
 * decisions; the others say detection could not tell.
 */
export const MACHINE_DETECTION_RESULTS = ['human', 'answering-machine', 'silence', 'timeout', 'error'] as const;

export class CallbackValidationError extends SwitchboardError {
  constructor(readonly problems: string[]) {
    super('callback_invalid', problems.join('; '), { problems });
    this.name = 'CallbackValidationError';
  }
}

/**
 * Validate a callback body. `required` lists fields this route cannot work without. Throws
 * CallbackValidationError whose message names every offending field and says what was wrong with it:
 * "X is required" only when X is absent, otherwise what was expected and what arrived.
 */
/** A callback whose route needs fields `K`: they are present (and not null) once it has been parsed. */
export type CallbackWith<K extends keyof Callback> = Callback & { [P in K]-?: NonNullable<Callback[P]> };

export function parseCallback<K extends keyof Callback = never>(body: unknown, required: readonly K[] = []): CallbackWith<K> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new CallbackValidationError(['body must be a JSON object']);
  }
  const parsed = callbackSchema.safeParse(withoutNulls(body));
  const problems: string[] = [];
  const reported = new Set<string>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      reported.add(String(issue.path[0]));
      problems.push(describeIssue(issue, body));
    }
  }
  const raw = body as Record<string, unknown>;
  for (const field of required) {
    if (reported.has(field)) continue;
    const v = raw[field];
    if (v === undefined) problems.push(`${field} is required`);
    else if (v === null || v === '') problems.push(`${field}: expected a non-empty string, got ${describeValue(v)}`);
  }
  if (problems.length > 0 || !parsed.success) throw new CallbackValidationError([...new Set(problems)]);
  // Every field in `required` was checked present and non-empty above.
  return parsed.data as CallbackWith<K>;
}

/** A copy of a JSON value with every null-valued object key removed, at any depth (null = not set). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== null) out[key] = withoutNulls(v);
  return out;
}

function describeIssue(issue: z.core.$ZodIssue, body: unknown): string {
  const field = issue.path.join('.') || '(body)';
  // Described from the raw body, not from what zod saw: a dropped null reached zod as absent.
  const rawValue = issue.path.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined), body);
  if (rawValue === undefined) return `${field} is required`;
  if (issue.code === 'invalid_type') return `${field}: expected ${withArticle(issue.expected)}, got ${describeValue(rawValue)}`;
  return `${field}: ${issue.message}, got ${describeValue(rawValue)}`;
}

function withArticle(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** What arrived, for an error message: the JSON type, never the value (it may be a phone number). */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v === '') return 'an empty string';
  return typeof v;
}

/**
 * Did the leg a transferComplete describes fail to connect? `hangup` is the normal end of a bridged
 * call (BW §1.6). Its `answerTime` is the A-leg's, so it cannot tell us whether the human answered.
 * The cause list is explicitly not exhaustive: any cause other than `hangup` counts as a failure, so an
 * unknown new cause brings the caller back instead of dropping them.
 */
export function transferFailed(callback: Callback): boolean {
  return (callback.cause ?? 'unknown') !== 'hangup';
}
