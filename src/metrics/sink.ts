import type { AgentMode } from '../agents/agent';
import type { CallOutcomeKind } from '../outcomes';

/**
 * What the service reports to its metrics (docs/operations.md, "Metrics"), wire-free and library-free: the
 * bridge and the adapters call this and never prom-client, so `src/bridge/` keeps knowing no library but its
 * own and a server without a scrape costs a no-op call. `PrometheusMetrics` (prometheus.ts) implements it.
 * Every label value passed here comes from a closed set (a route name, a failure code, an outcome), never
 * from a caller's or a model's text: each value is a time series.
 */

/** Why a call went to its agent's fallback (the decision's cause, not its free-text reason). */
export type FallbackReason =
  /** The OpenAI session failed or closed, or no agent audio came in time (CallSession's BridgeFailureCause). */
  | 'agent-audio-timeout'
  | 'model-closed'
  | 'model-failed'
  | 'openai-not-configured'
  | 'openai-refused'
  | 'openai-unreachable'
  | 'openai-rejected-session'
  | 'openai-closed'
  /** Draining for shutdown: a live call handed over, or a new stream refused. */
  | 'shutting-down'
  /** MAX_CONCURRENT_CALLS reached (the agent's busy handling is its fallback). */
  | 'at-capacity'
  /** A transfer (to a human, or to an AI SIP endpoint) failed and the agent cannot take the caller back. */
  | 'transfer-failed';

export const FALLBACK_REASONS: readonly FallbackReason[] = [
  'agent-audio-timeout',
  'model-closed',
  'model-failed',
  'openai-not-configured',
  'openai-refused',
  'openai-unreachable',
  'openai-rejected-session',
  'openai-closed',
  'shutting-down',
  'at-capacity',
  'transfer-failed',
];
const KNOWN_REASONS: ReadonlySet<string> = new Set(FALLBACK_REASONS);

/** A bridge failure's cause as a fallback reason; a cause outside the closed set counts as `model-failed`. */
export function fallbackReasonOf(cause: string): FallbackReason {
  return KNOWN_REASONS.has(cause) ? (cause as FallbackReason) : 'model-failed';
}

/** What failed on the OpenAI side. */
export type ModelErrorKind =
  /** A recoverable `error` event: the session stays open. */
  | 'event'
  /** The session could not be opened or configured (its failure code says why). */
  | 'session-failed'
  /** An open session closed without being asked to. */
  | 'session-closed';

/** How a call refused for capacity is answered: the agent's fallback BXML, a reject, or OpenAI's SIP reject. */
export type BusyHandling = 'fallback' | 'reject' | 'sip-reject';

export interface MetricsSink {
  /** Stream call: from the media stream's start frame to the first agent audio sent to the carrier. */
  firstWord(latencyMs: number): void;
  /** A Bandwidth callback answered on `route` (a VOICE_ROUTES value) after `durationMs`. */
  callback(route: string, durationMs: number): void;
  /** The caller spoke over the agent and the bridge cut the agent off (DESIGN §4.4). */
  bargeIn(): void;
  /**
   * One assistant item truncated at a barge-in: audio sent to the carrier for it minus the point it was
   * truncated at (what the carrier-timeline model says was heard, DESIGN §4.10). The caller cannot have
   * heard more than was sent, so this is how far the truncation can be wrong on the heard side.
   */
  truncation(errorBoundMs: number): void;
  fallback(reason: FallbackReason): void;
  /** `code`: a failure code of the model adapter for `session-failed`, else the kind again. */
  modelError(kind: ModelErrorKind, code?: string): void;
  /** A call's OpenAI session was replaced by a new one (SessionRenewal), or a replacement failed to open. */
  modelReconnect(result: 'renewed' | 'failed'): void;
  /** One store commit of `writes` writes took `durationMs` (the transaction, not the wait for it). */
  storeCommit(durationMs: number, writes: number): void;
  /** A new call was refused because MAX_CONCURRENT_CALLS calls were live on this instance. */
  callRefused(mode: AgentMode, handling: BusyHandling): void;
  /** A call reached its final state with this outcome (counted once per call). */
  callEnded(outcome: CallOutcomeKind | 'none', mode: AgentMode | 'none'): void;
}

/** The sink of code run without a metrics registry (unit tests, CLI commands): every report is dropped. */
export const NO_METRICS: MetricsSink = {
  firstWord: () => undefined,
  callback: () => undefined,
  bargeIn: () => undefined,
  truncation: () => undefined,
  fallback: () => undefined,
  modelError: () => undefined,
  modelReconnect: () => undefined,
  storeCommit: () => undefined,
  callRefused: () => undefined,
  callEnded: () => undefined,
};
