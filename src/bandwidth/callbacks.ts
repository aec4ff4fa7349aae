import { z } from 'zod';

/**
 * Bandwidth Voice callback bodies (BW §1.4–§1.5, §3). Lenient where Bandwidth is: every documented
 * field is optional, unknown fields are kept (the raw body is stored anyway), `eventType` is an open
 * string. Strict on what the code relies on: `eventType` and `callId` must be non-empty strings, and a
 * route can demand more (initiate needs `from` and `to`).
 *
 * Bodies arrive as JSON (POST) or as query strings (GET, when a verb's *Method is GET, BW §1.1), so
 * booleans may arrive as "true"/"false".
 */
const str = z.string();
const optStr = str.optional();
const nullableStr = str.nullable().optional();
const boolish = z
  .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
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
  eventType: str.trim().min(1, 'eventType is required'),
  callId: str.trim().min(1, 'callId is required').max(200, 'callId is too long'),
  eventTime: optStr,
  accountId: optStr,
  applicationId: optStr,
  from: optStr,
  to: optStr,
  direction: optStr,
  callUrl: optStr,
  enqueuedTime: nullableStr,
  startTime: optStr,
  answerTime: nullableStr,
  endTime: nullableStr,
  tag: optStr,
  cause: optStr,
  errorMessage: nullableStr,
  errorId: nullableStr,
  parentCallId: nullableStr,
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

export class CallbackValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'CallbackValidationError';
  }
}

/**
 * Validate a callback body. `required` lists fields this route cannot work without. Throws
 * CallbackValidationError whose message names every offending field.
 */
export function parseCallback(body: unknown, required: readonly (keyof Callback)[] = []): Callback {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new CallbackValidationError(['body must be a JSON object']);
  }
  const parsed = callbackSchema.safeParse(body);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path.join('.') || '(body)';
      const message = issue.code === 'invalid_type' && issue.input === undefined ? `${field} is required` : `${field}: ${issue.message}`;
      problems.push(message.startsWith(field) ? message : `${field}: ${message}`);
    }
  }
  const raw = body as Record<string, unknown>;
  for (const field of required) {
    const v = raw[field];
    if (v === undefined || v === null || v === '') problems.push(`${String(field)} is required`);
  }
  if (problems.length > 0 || !parsed.success) throw new CallbackValidationError([...new Set(problems)]);
  return parsed.data;
}

/** BW §1.6: causes that mean a transfer or AI SIP leg never connected. */
const FAILED_LEG_CAUSES = new Set([
  'busy',
  'timeout',
  'cancel',
  'rejected',
  'callback-error',
  'invalid-bxml',
  'application-error',
  'account-limit',
  'node-capacity-exceeded',
  'error',
  'unknown',
]);

/**
 * Did the leg a transferComplete describes fail to connect? `hangup` is the normal end of a bridged
 * call (BW §1.6). Its `answerTime` is the A-leg's, so it cannot tell us whether the human answered.
 * The cause list is explicitly not exhaustive: any cause other than `hangup` counts as a failure, so an
 * unknown new cause brings the caller back instead of dropping them.
 */
export function transferFailed(callback: Callback): boolean {
  return (callback.cause ?? 'unknown') !== 'hangup';
}

export function isFailureCause(cause: string | undefined): boolean {
  return cause !== undefined && FAILED_LEG_CAUSES.has(cause);
}
