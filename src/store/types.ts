import type { Agent, AgentMode, AgentWithDestinations, TransferDestination } from '../agents/agent';
import type { CallOutcome, CallOutcomeKind } from '../outcomes';

/**
 * The store behind Switchboard: small enough that a PostgreSQL backend can implement it for
 * multi-instance deployments (DESIGN §6). Every method is async for that reason, even though the
 * embedded SQLite backend completes synchronously.
 */

/** One row per call leg. States only move forward; `completed` and `rejected` are final. */
export const CALL_STATES = [
  'initiated', // Bandwidth asked what to do (initiate / answer)
  'streaming', // media stream BXML sent / stream running
  'forwarded', // handed to an AI SIP endpoint with Forward
  'sip-connecting', // Transfer to an AI SIP endpoint ringing
  'sip-connected', // AI SIP leg answered
  'transferring', // transfer to a human requested or ringing
  'transferred', // bridged to a human
  'fallback', // the AI side failed; fallback BXML sent
  'rejected', // no agent; the reject template was sent
  'completed', // disconnected
] as const;
export type CallState = (typeof CALL_STATES)[number];
export const FINAL_CALL_STATES: readonly CallState[] = ['completed', 'rejected'];

export type CallLeg = 'caller' | 'transfer' | 'ai-sip';

/**
 * Who placed the call: a caller (inbound), Switchboard (outbound), or a browser test call (docs/console.md, "Test call"),
 * which reaches the agent through the same media bridge with no phone network in between.
 */
export const CALL_DIRECTIONS = ['inbound', 'outbound', 'browser'] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];

export interface CallRecord {
  id: string;
  parentCallId: string | null;
  leg: CallLeg;
  direction: CallDirection | null;
  from: string | null;
  to: string | null;
  accountId: string | null;
  applicationId: string | null;
  agentId: string | null;
  mode: AgentMode | null;
  state: CallState;
  cause: string | null;
  errorMessage: string | null;
  tag: string | null;
  startedAt: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  usage: Record<string, number> | null;
  recordingPath: string | null;
  /** The instance that holds this call's live media (DESIGN §4.12), while it holds it; null otherwise. */
  mediaOwner: string | null;
  /** How the call ended (src/outcomes.ts); null while nothing has decided it. */
  outcome: CallOutcomeKind | null;
  outcomeReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * Fields a callback may set; `undefined` leaves the stored value alone (the call keeps its last good state).
 * `outcome` is a proposal: the store keeps the call's outcome by the rule of src/outcomes.ts (mergeOutcome).
 */
export type CallUpdate = Partial<Omit<CallRecord, 'createdAt' | 'updatedAt' | 'usage' | 'outcome' | 'outcomeReason'>> & { id: string; outcome?: CallOutcome };

export type CallEventSource = 'bandwidth' | 'media' | 'openai' | 'tool' | 'switchboard';

/** The source of a bridge event, from its type's prefix (`model.…`, `tool.…`, `media.…`). */
export function eventSource(type: string): CallEventSource {
  if (type.startsWith('model.')) return 'openai';
  if (type.startsWith('tool.') || type.startsWith('mcp.')) return 'tool';
  if (type.startsWith('media.')) return 'media';
  return 'switchboard';
}

export interface CallEventInput {
  callId: string;
  source: CallEventSource;
  type: string;
  /** Stored as JSON: the raw callback body, the stream frame, the tool call… */
  data?: unknown;
  at?: string;
}
export interface CallEventRecord extends Required<Omit<CallEventInput, 'data'>> {
  id: number;
  data: unknown;
}

export type TranscriptRole = 'caller' | 'agent' | 'system' | 'tool';
export interface TranscriptItemInput {
  callId: string;
  role: TranscriptRole;
  text: string;
  itemId?: string;
  /** Assistant audio the caller heard before a barge-in, and whether the item was cut there. */
  heardMs?: number;
  truncated?: boolean;
  /** Place in the conversation; items are listed by it (then by insertion). */
  position?: number;
  at?: string;
}
export interface TranscriptItemRecord extends TranscriptItemInput {
  id: number;
  heardMs?: number;
  truncated: boolean;
  at: string;
}

export type AgentSource = 'env' | 'api' | 'import';
export interface StoredAgent {
  agent: AgentWithDestinations;
  source: AgentSource;
  createdAt: string;
  updatedAt: string;
}

export interface PhoneNumberRecord {
  number: string;
  agentId: string;
  createdAt: string;
}

export interface CallListFilter {
  agentId?: string;
  /** Either side of the call (our number or the other party). */
  number?: string;
  /** ISO times: created at or after `since`, before `until`. */
  since?: string;
  until?: string;
  state?: CallState;
  cause?: string;
  outcome?: CallOutcomeKind;
  /** Only calls placed this way (`browser`: the test calls). */
  direction?: CallDirection;
  /** Only caller legs (the default) or every leg. */
  allLegs?: boolean;
  /**
   * Every leg no other leg belongs under: the caller legs and an AI SIP leg that came without our Bandwidth
   * leg (an openai-sip call straight to OpenAI's SIP address has no caller leg). Overrides allLegs.
   */
  topLevel?: boolean;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit: number;
}

export interface CallPage {
  items: CallRecord[];
  nextCursor: string | null;
}

export interface CallsRepository {
  /** Apply a state change and append its event in one transaction (docs/reliability.md, the durability rule). */
  record(update: CallUpdate, event?: CallEventInput): Promise<void>;
  /** The same for several legs at once (a transfer's answer touches both legs). */
  recordMany(updates: CallUpdate[], event?: CallEventInput): Promise<void>;
  get(id: string): Promise<CallRecord | undefined>;
  addUsage(id: string, usage: Record<string, number>): Promise<void>;
  /** Newest first, filtered, one page at a time. */
  list(filter: CallListFilter): Promise<CallPage>;
  /** Legs started from this call (transfers, AI SIP legs). */
  children(parentCallId: string): Promise<CallRecord[]>;
  /**
   * After a crash: the calls whose media `owner` held when it died (not final, `mediaOwner` = owner) get
   * the close-out's final state, cause and message, ownership cleared and an event, in one transaction.
   * Returns them as they were before (their recordings need mending). Other instances' calls are untouched.
   */
  closeOutOrphans(owner: string, closeOut: OrphanCloseOut): Promise<CallRecord[]>;
}

export interface OrphanCloseOut {
  cause: string;
  errorMessage: string;
  endedAt: string;
  eventType: string;
}

export interface EventsRepository {
  append(event: CallEventInput): Promise<void>;
  list(callId: string): Promise<CallEventRecord[]>;
}

export interface TranscriptsRepository {
  append(item: TranscriptItemInput): Promise<void>;
  list(callId: string): Promise<TranscriptItemRecord[]>;
}

export interface AgentsRepository {
  get(id: string): Promise<StoredAgent | undefined>;
  list(): Promise<StoredAgent[]>;
  /** Insert or replace an agent and (when given) the set of destinations assigned to it. */
  upsert(agent: Agent, source: AgentSource, destinationIds?: string[]): Promise<StoredAgent>;
  delete(id: string): Promise<boolean>;
}

export interface DestinationsRepository {
  get(id: string): Promise<TransferDestination | undefined>;
  list(): Promise<TransferDestination[]>;
  upsert(destination: TransferDestination): Promise<TransferDestination>;
  delete(id: string): Promise<boolean>;
}

export interface NumbersRepository {
  /** Assign a number to an agent; throws conflict if another agent has it. */
  assign(number: string, agentId: string): Promise<PhoneNumberRecord>;
  unassign(number: string): Promise<boolean>;
  agentIdFor(number: string): Promise<string | undefined>;
  list(agentId?: string): Promise<PhoneNumberRecord[]>;
}

/**
 * The context a signed callback URL names (DESIGN §4.6): bound to one call (the A-leg), for one
 * purpose, until `expiresAt`. `data` is the purpose's JSON; the reader validates it.
 */
export interface CallbackContextInput {
  id: string;
  callId: string;
  purpose: string;
  data: unknown;
  /** ISO time after which the context is no longer served, and may be deleted. */
  expiresAt: string;
}
export interface CallbackContextRecord extends CallbackContextInput {
  /** The B-leg Bandwidth named for this transfer (transferAnswer / transferDisconnect), once it has. */
  legCallId: string | null;
  createdAt: string;
}

export interface CallbackContextsRepository {
  /**
   * Store a context. The promise settles once it is committed, so a URL naming it may go out; it is
   * committed with the call-table writes of the same turn (group commit).
   */
  put(context: CallbackContextInput, options?: { ifAbsent?: boolean }): Promise<void>;
  /** An unexpired context, or undefined. */
  get(id: string): Promise<CallbackContextRecord | undefined>;
  /**
   * Remember the B-leg of a transfer; the first leg named wins (several recipients may ring, the first
   * answer wins, BW §2.5). Settles with the leg bound once committed: `legCallId`, or the earlier winner.
   */
  bindLeg(id: string, legCallId: string): Promise<string>;
  /**
   * Consume a one-shot context atomically for the callback `usedBy` (its identity). `first` is true for
   * exactly one caller; the others learn who consumed it and the answer it was given, if remembered yet.
   */
  consume(id: string, usedBy: string): Promise<ContextUse>;
  /** Keep the answer given to the callback that consumed the context (for that callback's retries). */
  remember(id: string, answer: unknown): Promise<void>;
}

export type ContextUse = { first: true } | { first: false; usedBy: string | null; answer: unknown };

/**
 * A hand-off the carrier carries out when the agent's media stream ends (docs/architecture.md#hand-off-how-a-call-leaves-the-agent):
 * what the agent asked for when there was no Calls API to do it at once.
 */
export type HandOffIntent =
  | { kind: 'transfer'; destination: TransferDestination; reason: string; summary: string }
  | { kind: 'hangup'; reason: string };

export interface HandOffsRepository {
  /** Record what the end of the call's current stream must do (replacing an earlier one); committed with the call tables' writes. */
  set(callId: string, intent: HandOffIntent): Promise<void>;
  /** What the end of the call's current stream must do, if anything. */
  get(callId: string): Promise<HandOffIntent | undefined>;
  /** A new stream begins: nothing is pending for it. */
  clear(callId: string): Promise<void>;
}

/** A post-call report in the outbox (docs/architecture.md, post-call reports). */
export const REPORT_STATES = ['pending', 'delivered', 'failed', 'skipped'] as const;
export type ReportState = (typeof REPORT_STATES)[number];
/** call.ended: the post-call report; call.started: the optional notice when an agent takes a call. */
export const REPORT_EVENTS = ['call.ended', 'call.started'] as const;
export type ReportEvent = (typeof REPORT_EVENTS)[number];

export interface ReportRecord {
  /** The Standard Webhooks `webhook-id`: the same on every attempt, so the receiver can drop duplicates. */
  id: string;
  callId: string;
  event: ReportEvent;
  status: ReportState;
  attempts: number;
  nextAttemptAt: string;
  giveUpAt: string;
  lastStatus: number | null;
  lastError: string | null;
  /** The JSON sent, once built (the first attempt builds it; later attempts send the same bytes). */
  body: string | null;
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
}

/** What one attempt left: delivered, to be tried again at `nextAttemptAt`, or given up (failed, skipped). */
export interface ReportAttempt {
  status: ReportState;
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt?: string;
  /** True when the attempt reached (or tried to reach) the endpoint: counted in `attempts`. */
  sent: boolean;
}

export interface ReportListFilter {
  status?: ReportState;
  callId?: string;
  limit: number;
}

export interface ReportsRepository {
  /** Pending reports due at `nowIso`, oldest first. */
  due(nowIso: string, limit: number): Promise<ReportRecord[]>;
  get(id: string): Promise<ReportRecord | undefined>;
  /** Newest first. */
  list(filter: ReportListFilter): Promise<ReportRecord[]>;
  /** Keep the body built for a report, so every attempt sends the same bytes. */
  setBody(id: string, body: string): Promise<void>;
  attempted(id: string, attempt: ReportAttempt, atIso: string): Promise<void>;
  /** Deliver again (the operator's replay): pending from `nowIso`, for another REPORT_GIVE_UP_AFTER_MS. */
  resend(id: string, nowIso: string): Promise<ReportRecord | undefined>;
}

/**
 * What a commit changed in the call tables, announced after it is committed, to every instance sharing the
 * store (docs/architecture.md, "Several instances"): the console's live view and cross-instance control read
 * it. Ids only, never call content: a reader fetches what it shows (and PostgreSQL's NOTIFY payloads are small).
 */
export type ChangedRow =
  /**
   * `ended`: this commit moved the leg from a non-final state (or none) to a final one. A final state is final
   * (rows.ts, callUpsertSql), so exactly one commit in the cluster says it for a leg: a count of ended calls
   * reads it, not the row's state, which later writes (late usage, events) leave final.
   */
  | { kind: 'call'; callId: string; ended: boolean }
  | { kind: 'event'; callId: string; type: string }
  | { kind: 'transcript'; callId: string };

/**
 * A change as delivered: `local` when this store object committed it, false when another instance sharing the
 * database did (always true on SQLite, one instance per data directory). A reader that acts once per change
 * across the cluster (a counter summed over instances) acts on its local ones only.
 */
export type StoreChange = ChangedRow & { local: boolean };

export interface ChangeFeed {
  /** Called with each commit's changes, after the commit, on every instance. Returns the unsubscribe. */
  subscribe(listener: (changes: StoreChange[]) => void): () => void;
}

/**
 * A message from one instance to another (or to all, `to: '*'`), carried by the store: PostgreSQL
 * LISTEN/NOTIFY; in-process on SQLite, where only one instance can use a data directory (src/data-dir-lock.ts).
 * Small JSON only (PostgreSQL caps a notification at 8000 bytes).
 */
export interface InstanceMessage {
  to: string;
  from: string;
  kind: string;
  callId?: string;
  data?: unknown;
}

export interface InstanceBus {
  publish(message: InstanceMessage): Promise<void>;
  /** Messages addressed to `instanceId` or to '*'. Returns the unsubscribe. */
  subscribe(instanceId: string, listener: (message: InstanceMessage) => void): () => void;
}

export interface MediaTokensRepository {
  /**
   * Spend a one-time media token (DESIGN §4.5) on every instance at once: true the first time `tokenId` is
   * used, false ever after (until `expiresAt`, past which the token is refused as expired anyway).
   */
  use(tokenId: string, expiresAt: string): Promise<boolean>;
}

/**
 * Console sessions (docs/console.md, "Security model"), shared by every instance so a browser stays signed in
 * whichever instance answers it, and signing out anywhere ends the session everywhere. A session is found by
 * the SHA-256 of its id, never the id itself: reading the table hands out no live session. The CSRF token is
 * kept as is (it is worthless without the session cookie). Times are ISO text, given by the caller (its clock).
 */
export interface ConsoleSessionInput {
  /** SHA-256 of the session id (src/console/sessions.ts). */
  idHash: string;
  csrfToken: string;
  expiresAt: string;
}
export interface ConsoleSessionRecord extends ConsoleSessionInput {
  createdAt: string;
}

export interface ConsoleSessionsRepository {
  /**
   * Store a new session at `now`; in the same transaction, sweep the expired ones and keep only the newest
   * `maxLive` live sessions (the oldest are evicted first).
   */
  create(session: ConsoleSessionInput, options: { now: string; maxLive: number }): Promise<void>;
  /** The session with this id hash, if it has not expired by `now`. */
  get(idHash: string, now: string): Promise<ConsoleSessionRecord | undefined>;
  /** End a session (sign-out); true when there was one. */
  delete(idHash: string): Promise<boolean>;
  /** Delete the sessions expired by `now`; how many went. */
  sweep(now: string): Promise<number>;
  /** How many sessions are live at `now`. */
  count(now: string): Promise<number>;
}

export interface Store {
  readonly calls: CallsRepository;
  readonly events: EventsRepository;
  readonly transcripts: TranscriptsRepository;
  readonly agents: AgentsRepository;
  readonly destinations: DestinationsRepository;
  readonly numbers: NumbersRepository;
  readonly contexts: CallbackContextsRepository;
  readonly handOffs: HandOffsRepository;
  /** Post-call reports waiting to go out, and what became of them. */
  readonly reports: ReportsRepository;
  readonly mediaTokens: MediaTokensRepository;
  /** Console sessions, the same on every instance. */
  readonly consoleSessions: ConsoleSessionsRepository;
  /** What each commit changed in the call tables, on every instance. */
  readonly changes: ChangeFeed;
  /** Messages between the instances sharing this store. */
  readonly bus: InstanceBus;
  /** True when the store answers a trivial query (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
