/**
 * How a call ended, from a closed set: one outcome per call, with a reason (docs/architecture.md,
 * "Call outcomes"). Whoever decides how a call ends proposes an outcome when it decides (the hand-off
 * module, the call flows, the watchdogs); the store keeps one per call by the rule below, so nothing is
 * inferred twice in two places.
 *
 * The rule, by how firmly an outcome holds (its tier):
 * - 2, decided: something chose how the call ends (the agent hung up, a transfer reached a human, the
 *   caller stayed silent, the time limit, voicemail, the fallback, no agent). Never replaced: the first
 *   decision stands.
 * - 1, provisional: a transfer failed and the caller came back to the agent. A later decision replaces it
 *   (the agent ends the call, a second transfer succeeds); the caller hanging up does not.
 * - 0, at the end: what the carrier reported when the call ended with nothing decided (the caller hung up,
 *   or an error). Only fills an empty outcome.
 */
export const CALL_OUTCOMES = [
  'completed-by-agent',
  'caller-hung-up',
  'transferred',
  'transfer-failed-returned',
  'no-input',
  'time-limit',
  'voicemail',
  'fallback',
  'rejected',
  'ended-by-operator',
  'no-answer',
  'error',
] as const;
export type CallOutcomeKind = (typeof CALL_OUTCOMES)[number];

export interface CallOutcome {
  outcome: CallOutcomeKind;
  reason: string;
}

export type OutcomeTier = 0 | 1 | 2;

export const OUTCOME_TIERS: Readonly<Record<CallOutcomeKind, OutcomeTier>> = {
  'caller-hung-up': 0,
  'no-answer': 0,
  error: 0,
  'transfer-failed-returned': 1,
  'completed-by-agent': 2,
  transferred: 2,
  'no-input': 2,
  'time-limit': 2,
  voicemail: 2,
  fallback: 2,
  rejected: 2,
  'ended-by-operator': 2,
};

/** The outcome a call keeps when `proposed` arrives while it has `stored` (the rule above). */
export function mergeOutcome(stored: CallOutcome | undefined, proposed: CallOutcome): CallOutcome {
  if (!stored) return proposed;
  const held = OUTCOME_TIERS[stored.outcome];
  const next = OUTCOME_TIERS[proposed.outcome];
  if (held === 2) return stored;
  if (held === 1) return next === 2 || next === 1 ? proposed : stored;
  return next >= 1 ? proposed : stored;
}

/**
 * The outcome of a call that ended with nothing decided, from the carrier's cause (bandwidth.yml, `cause`):
 * a hang-up is the caller's (a hang-up the agent asked for was decided when it asked), and so is a call
 * its originator cancelled while it rang; a call the other side never took (busy, no answer, refused) is
 * `no-answer`; any other cause is an error, with the carrier's message when it gave one. Bandwidth says the
 * list of causes is not exhaustive: an unknown one is an error, never a quiet hang-up.
 */
export function outcomeAtEnd(cause: string | null | undefined, message?: string | null): CallOutcome {
  if (!cause || cause === 'hangup') return { outcome: 'caller-hung-up', reason: 'the caller hung up' };
  const unanswered = whyNotAnswered(cause);
  if (cause === 'cancel') return { outcome: 'caller-hung-up', reason: unanswered! };
  if (unanswered) return { outcome: 'no-answer', reason: unanswered };
  return { outcome: 'error', reason: message ? `${cause}: ${message}` : cause };
}

/**
 * Why a call (or a transfer's leg) was never answered, in words, from the carrier's cause; undefined for
 * any other cause. A Map: a cause is the carrier's (or anyone's) string, never a key into an object's prototype.
 */
export function whyNotAnswered(cause: string | null | undefined): string | undefined {
  return cause ? NOT_ANSWERED.get(cause) : undefined;
}

const NOT_ANSWERED: ReadonlyMap<string, string> = new Map([
  ['busy', 'the line was busy'],
  ['timeout', 'nobody answered before the call timed out'],
  ['rejected', 'the called party rejected the call'],
  ['cancel', 'the call was cancelled while it rang'],
]);

export function isCallOutcome(value: unknown): value is CallOutcomeKind {
  return typeof value === 'string' && (CALL_OUTCOMES as readonly string[]).includes(value);
}
