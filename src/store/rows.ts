import crypto from 'node:crypto';
import { agentSettingsSchema, transferDestinationSchema, type AgentWithDestinations, type TransferDestination } from '../agents/agent';
import { SwitchboardError } from '../errors';
import { isCallOutcome, mergeOutcome, type CallOutcome } from '../outcomes';
import {
  CALL_STATES,
  FINAL_CALL_STATES,
  REPORT_EVENTS,
  REPORT_STATES,
  type AgentSource,
  type CallbackContextRecord,
  type CallEventRecord,
  type CallListFilter,
  type CallRecord,
  type CallUpdate,
  type ContextUse,
  type ReportListFilter,
  type ReportRecord,
  type ReportState,
  type StoredAgent,
  type TranscriptItemRecord,
} from './types';

/**
 * What the SQLite and PostgreSQL backends share, because it does not depend on the database: the column
 * names, turning rows into records, page cursors, the WHERE clauses of list filters (with `?` placeholders;
 * PostgreSQL numbers them, see postgres/sql.ts), and the outcome rule. Both backends store times as ISO
 * text and JSON as text, so a record reads the same whichever store it came from.
 */

/** A row as a driver returns it: SQLite integers are numbers, PostgreSQL bigints strings, so numbers go through Number(). */
export type Row = Record<string, unknown>;

export const CALL_COLUMNS: Record<keyof Omit<CallRecord, 'createdAt' | 'updatedAt' | 'usage' | 'id' | 'outcome' | 'outcomeReason'>, string> = {
  parentCallId: 'parent_call_id',
  leg: 'leg',
  direction: 'direction',
  from: 'from_number',
  to: 'to_number',
  accountId: 'account_id',
  applicationId: 'application_id',
  agentId: 'agent_id',
  mode: 'mode',
  state: 'state',
  cause: 'cause',
  errorMessage: 'error_message',
  tag: 'tag',
  startedAt: 'started_at',
  answeredAt: 'answered_at',
  endedAt: 'ended_at',
  recordingPath: 'recording_path',
  mediaOwner: 'media_owner',
};

/** The columns an update may set besides `state` (which every insert needs), in a fixed order. */
export const CALL_UPDATE_KEYS = (Object.keys(CALL_COLUMNS) as (keyof typeof CALL_COLUMNS)[]).filter((key) => key !== 'state');
export const FINAL_STATES_SQL = FINAL_CALL_STATES.map((state) => `'${state}'`).join(', ');

export const nowIso = () => new Date().toISOString();
export const addMs = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

/** A write of an unknown state fails alone (inside its write), before it touches the database. */
export function checkCallState(update: CallUpdate): void {
  if (update.state !== undefined && !CALL_STATES.includes(update.state)) {
    throw new SwitchboardError('store_failed', `unknown call state ${update.state}`);
  }
}

/**
 * An update as one upsert: which columns it sets (a bit per CALL_UPDATE_KEYS entry, and bit 0 for state), and
 * the values in the order of callUpsertSql's placeholders. Undefined fields keep the stored value.
 */
export function callUpsert(update: CallUpdate, now: string): { columnSet: number; values: unknown[] } {
  checkCallState(update);
  const values: unknown[] = [update.id, update.state ?? 'initiated', now, now];
  let columnSet = update.state === undefined ? 0 : 1;
  for (let i = 0; i < CALL_UPDATE_KEYS.length; i++) {
    const v = update[CALL_UPDATE_KEYS[i]!];
    if (v === undefined) continue;
    columnSet |= 2 << i;
    values.push(v);
  }
  return { columnSet, values };
}

/** The upsert for one column set (SQL both backends accept): a final state is final, a late callback never reopens a call. */
export function callUpsertSql(columnSet: number): string {
  const columns = CALL_UPDATE_KEYS.filter((_key, i) => columnSet & (2 << i)).map((key) => CALL_COLUMNS[key]);
  const sets = columns.map((column) => `${column} = excluded.${column}`);
  if (columnSet & 1) sets.push(`state = CASE WHEN calls.state IN (${FINAL_STATES_SQL}) THEN calls.state ELSE excluded.state END`);
  sets.push('updated_at = excluded.updated_at');
  return `INSERT INTO calls (id, state, created_at, updated_at${columns.map((c) => `, ${c}`).join('')})
         VALUES (?, ?, ?, ?${', ?'.repeat(columns.length)})
         ON CONFLICT(id) DO UPDATE SET ${sets.join(', ')}`;
}

/**
 * `record` after `update`, computed in memory by the rules the upsert applies in the database (callUpsertSql):
 * undefined fields keep their value, a final state is final. The outcome is left to withOutcome (it may belong
 * to another leg's record). For a store that answers from what it knows while its database is away.
 */
export function applyCallUpdate(record: CallRecord | undefined, update: CallUpdate, now: string): CallRecord {
  checkCallState(update);
  const next: CallRecord = record
    ? { ...record }
    : {
        ...(Object.fromEntries(CALL_UPDATE_KEYS.map((key) => [key, null])) as Omit<CallRecord, 'id' | 'leg' | 'state' | 'usage' | 'outcome' | 'outcomeReason' | 'createdAt' | 'updatedAt'>),
        id: update.id,
        leg: 'caller',
        state: 'initiated',
        usage: null,
        outcome: null,
        outcomeReason: null,
        createdAt: now,
        updatedAt: now,
      };
  const fields = next as unknown as Record<string, unknown>;
  for (const key of CALL_UPDATE_KEYS) if (update[key] !== undefined) fields[key] = update[key];
  if (update.state !== undefined && !(record && FINAL_CALL_STATES.includes(record.state))) next.state = update.state;
  next.updatedAt = now;
  return next;
}

/** `record` with `proposed` merged into its outcome (outcomeToStore's rule). */
export function withOutcome(record: CallRecord, proposed: CallOutcome): CallRecord {
  const kept = outcomeToStore({ outcome: record.outcome, outcome_reason: record.outcomeReason }, proposed);
  return kept ? { ...record, outcome: kept.outcome, outcomeReason: kept.reason } : record;
}

/** Whether `update` sets a final state: only such a write can end a leg (endsLeg), so only it reads the state before. */
export function setsFinalState(update: CallUpdate): boolean {
  return update.state !== undefined && FINAL_CALL_STATES.includes(update.state);
}

/**
 * Whether the upsert of `update` moves the leg into a final state, given the state its row had before (undefined:
 * no row yet). A final state is final (callUpsertSql), so this is true of one write per leg: StoreChange's `ended`.
 */
export function endsLeg(update: CallUpdate, stateBefore: unknown): boolean {
  return setsFinalState(update) && !(typeof stateBefore === 'string' && (FINAL_CALL_STATES as readonly string[]).includes(stateBefore));
}

/** Only a final state or an outcome can end a call; an agent being set may start one (its call.started notice). */
export function updateEndsOrStarts(update: CallUpdate): 'ends' | 'starts' | undefined {
  if (update.outcome || (update.state !== undefined && FINAL_CALL_STATES.includes(update.state))) return 'ends';
  return update.agentId !== undefined ? 'starts' : undefined;
}

/**
 * The outcome a call keeps when `proposed` arrives, by the rule of src/outcomes.ts; undefined when the stored one
 * stands. `row` is the call's `outcome, outcome_reason`, read in the same transaction as the write that follows.
 */
export function outcomeToStore(row: Row | undefined, proposed: CallOutcome): CallOutcome | undefined {
  if (!isCallOutcome(proposed.outcome)) throw new SwitchboardError('store_failed', `unknown call outcome ${String(proposed.outcome)}`);
  const stored = row && isCallOutcome(row.outcome) ? { outcome: row.outcome, reason: String(row.outcome_reason ?? '') } : undefined;
  const kept = mergeOutcome(stored, proposed);
  return kept === stored ? undefined : kept;
}

/** Summed token usage, as the JSON text both backends keep in `calls.usage`. */
export function addedUsage(storedJson: unknown, usage: Record<string, number>): string {
  const total = (storedJson ? JSON.parse(String(storedJson)) : {}) as Record<string, number>;
  for (const [k, v] of Object.entries(usage)) total[k] = (total[k] ?? 0) + v;
  return JSON.stringify(total);
}

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

export function callFromRow(row: Row): CallRecord {
  return {
    id: String(row.id),
    parentCallId: text(row.parent_call_id),
    leg: row.leg as CallRecord['leg'],
    direction: text(row.direction) as CallRecord['direction'],
    from: text(row.from_number),
    to: text(row.to_number),
    accountId: text(row.account_id),
    applicationId: text(row.application_id),
    agentId: text(row.agent_id),
    mode: text(row.mode) as CallRecord['mode'],
    state: row.state as CallRecord['state'],
    cause: text(row.cause),
    errorMessage: text(row.error_message),
    tag: text(row.tag),
    startedAt: text(row.started_at),
    answeredAt: text(row.answered_at),
    endedAt: text(row.ended_at),
    usage: row.usage ? (JSON.parse(String(row.usage)) as Record<string, number>) : null,
    recordingPath: text(row.recording_path),
    mediaOwner: text(row.media_owner),
    outcome: isCallOutcome(row.outcome) ? row.outcome : null,
    outcomeReason: text(row.outcome_reason),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

/** Page cursors are opaque to API users: base64url of the last row's sort key. */
export function encodeCursor(call: CallRecord): string {
  return Buffer.from(JSON.stringify([call.createdAt, call.id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt === 'string' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new SwitchboardError('invalid_request', 'the cursor is not valid (use nextCursor from a previous page)');
}

/** The calls list query, newest first, one row more than the page to know whether another follows. */
export function callListQuery(filter: CallListFilter): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.topLevel) where.push('parent_call_id IS NULL');
  else if (!filter.allLegs) where.push("leg = 'caller'");
  if (filter.agentId) (where.push('agent_id = ?'), args.push(filter.agentId));
  if (filter.number) (where.push('(from_number = ? OR to_number = ?)'), args.push(filter.number, filter.number));
  if (filter.since) (where.push('created_at >= ?'), args.push(filter.since));
  if (filter.until) (where.push('created_at < ?'), args.push(filter.until));
  if (filter.state) (where.push('state = ?'), args.push(filter.state));
  if (filter.cause) (where.push('cause = ?'), args.push(filter.cause));
  if (filter.outcome) (where.push('outcome = ?'), args.push(filter.outcome));
  if (filter.direction) (where.push('direction = ?'), args.push(filter.direction));
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    where.push('(created_at < ? OR (created_at = ? AND id < ?))');
    args.push(c.createdAt, c.createdAt, c.id);
  }
  args.push(filter.limit + 1);
  return { sql: `SELECT * FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`, args };
}

/** A page from the rows of callListQuery (one more than the limit when another page follows). */
export function callPage(rows: Row[], limit: number): { items: CallRecord[]; nextCursor: string | null } {
  const items = rows.slice(0, limit).map(callFromRow);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

export function eventFromRow(r: Row): CallEventRecord {
  return {
    id: Number(r.id),
    callId: String(r.call_id),
    at: String(r.at),
    source: r.source as CallEventRecord['source'],
    type: String(r.type),
    data: r.data === null ? null : JSON.parse(String(r.data)),
  };
}

export function transcriptFromRow(r: Row): TranscriptItemRecord {
  const item: TranscriptItemRecord = {
    id: Number(r.id),
    callId: String(r.call_id),
    role: r.role as TranscriptItemRecord['role'],
    text: String(r.text),
    truncated: Number(r.truncated) === 1,
    at: String(r.at),
  };
  if (r.item_id !== null) item.itemId = String(r.item_id);
  if (r.heard_ms !== null) item.heardMs = Number(r.heard_ms);
  if (r.position !== null) item.position = Number(r.position);
  return item;
}

export function contextFromRow(row: Row): CallbackContextRecord {
  return {
    id: String(row.id),
    callId: String(row.call_id),
    purpose: String(row.purpose),
    data: JSON.parse(String(row.data)) as unknown,
    legCallId: row.leg_call_id === null ? null : String(row.leg_call_id),
    createdAt: String(row.created_at),
    expiresAt: String(row.expires_at),
  };
}

/** What a callback that did not consume a context learns: who did, and the answer kept for it (`used_by, answer`). */
export function contextUseFromRow(row: Row | undefined): ContextUse {
  return { first: false, usedBy: row?.used_by == null ? null : String(row.used_by), answer: row?.answer == null ? null : (JSON.parse(String(row.answer)) as unknown) };
}

/** A Standard Webhooks message id: unique per report, stable across its attempts. */
export function newReportId(): string {
  return `msg_${crypto.randomBytes(16).toString('base64url')}`;
}

export function reportFromRow(row: Row): ReportRecord {
  const status = String(row.status);
  return {
    id: String(row.id),
    callId: String(row.call_id),
    event: ((REPORT_EVENTS as readonly string[]).includes(String(row.event)) ? row.event : 'call.ended') as ReportRecord['event'],
    status: ((REPORT_STATES as readonly string[]).includes(status) ? status : 'failed') as ReportState,
    attempts: Number(row.attempts),
    nextAttemptAt: String(row.next_attempt_at),
    giveUpAt: String(row.give_up_at),
    lastStatus: row.last_status === null || row.last_status === undefined ? null : Number(row.last_status),
    lastError: text(row.last_error),
    body: text(row.body),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
    deliveredAt: text(row.delivered_at),
  };
}

/** The reports list query, newest first. */
export function reportListQuery(filter: ReportListFilter): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.status) (where.push('status = ?'), args.push(filter.status));
  if (filter.callId) (where.push('call_id = ?'), args.push(filter.callId));
  args.push(filter.limit);
  return { sql: `SELECT * FROM report_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`, args };
}

/** A stored destination (its `settings` JSON), validated. */
export function destinationFromRow(row: Row): TransferDestination {
  return transferDestinationSchema.parse(JSON.parse(String(row.settings)));
}

/** An agent row and its destinations' rows (in their order), validated: settings that no longer parse are the store's failure. */
export function storedAgentFromRows(row: Row, destinationRows: Row[]): StoredAgent {
  const id = String(row.id);
  const settings = agentSettingsSchema.safeParse(JSON.parse(String(row.settings)));
  if (!settings.success) {
    throw new SwitchboardError('store_failed', `agent ${id} has invalid stored settings: ${settings.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  }
  const agent: AgentWithDestinations = { ...settings.data, id, name: String(row.name), destinations: destinationRows.map(destinationFromRow) };
  return { agent, source: row.source as AgentSource, createdAt: String(row.created_at), updatedAt: String(row.updated_at) };
}
