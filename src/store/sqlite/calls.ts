import type Database from 'better-sqlite3';
import { SwitchboardError } from '../../errors';
import { isCallOutcome, mergeOutcome, type CallOutcome } from '../../outcomes';
import {
  CALL_STATES,
  FINAL_CALL_STATES,
  type CallEventInput,
  type CallListFilter,
  type CallPage,
  type CallRecord,
  type CallsRepository,
  type CallUpdate,
  type OrphanCloseOut,
  type StoreChange,
} from '../types';
import type { SqliteEvents } from './events';
import type { SqliteReports } from './reports';
import { nowIso, type Row, type SqliteShared } from './shared';

const CALL_COLUMNS: Record<keyof Omit<CallRecord, 'createdAt' | 'updatedAt' | 'usage' | 'id' | 'outcome' | 'outcomeReason'>, string> = {
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
const CALL_UPDATE_KEYS = (Object.keys(CALL_COLUMNS) as (keyof typeof CALL_COLUMNS)[]).filter((key) => key !== 'state');
const FINAL_STATES_SQL = FINAL_CALL_STATES.map((state) => `'${state}'`).join(', ');

/**
 * Call legs. A state change and its event are one call-tables write (docs/reliability.md, the durability
 * rule), so `events` writes inside this repository's writes.
 */
export class SqliteCalls implements CallsRepository {
  /** Call upserts, one per set of columns an update sets (a bit per CALL_UPDATE_KEYS entry, and one for state). */
  private readonly callUpserts = new Map<number, Database.Statement>();

  constructor(
    private readonly shared: SqliteShared,
    private readonly events: SqliteEvents,
    /** A call's report is enqueued in the write that ends it (docs/architecture.md, post-call reports). */
    private readonly reports: SqliteReports,
  ) {}

  record(update: CallUpdate, event?: CallEventInput): Promise<void> {
    return this.recordMany([update], event);
  }

  recordMany(updates: CallUpdate[], event?: CallEventInput): Promise<void> {
    const now = nowIso(); // one clock reading: the legs' updated_at and the event's time agree
    const written = this.shared.writes.submit(() => {
      for (const update of updates) this.upsertSync(update, now);
      if (event) this.events.appendSync(event, now);
    });
    const changes: StoreChange[] = updates.map((update) => ({ kind: 'call', callId: update.id }));
    if (event) changes.push({ kind: 'event', callId: event.callId, type: event.type });
    return this.shared.changes.after(written, changes);
  }

  async get(id: string): Promise<CallRecord | undefined> {
    await this.shared.readable();
    const row = this.shared.stmt('SELECT * FROM calls WHERE id = ?').get(id) as Row | undefined;
    return row ? callFromRow(row) : undefined;
  }

  async list(filter: CallListFilter): Promise<CallPage> {
    await this.shared.readable();
    const where: string[] = [];
    const args: unknown[] = [];
    if (!filter.allLegs) where.push("leg = 'caller'");
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
    const sql = `SELECT * FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    const rows = (this.shared.db.prepare(sql).all(...args, filter.limit + 1) as Row[]).map(callFromRow);
    const items = rows.slice(0, filter.limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
  }

  async children(parentCallId: string): Promise<CallRecord[]> {
    await this.shared.readable();
    return (this.shared.stmt('SELECT * FROM calls WHERE parent_call_id = ? ORDER BY created_at, id').all(parentCallId) as Row[]).map(callFromRow);
  }

  async closeOutOrphans(owner: string, closeOut: OrphanCloseOut): Promise<CallRecord[]> {
    await this.shared.readable();
    const now = nowIso();
    const closedOut = this.shared.db.transaction(() => {
      const orphans = (this.shared.stmt(`SELECT * FROM calls WHERE media_owner = ? AND state NOT IN (${FINAL_STATES_SQL}) ORDER BY created_at, id`).all(owner) as Row[]).map(callFromRow);
      for (const call of orphans) {
        this.shared.stmt("UPDATE calls SET state = 'completed', cause = ?, error_message = ?, ended_at = COALESCE(ended_at, ?), media_owner = NULL, updated_at = ? WHERE id = ?").run(
          closeOut.cause,
          closeOut.errorMessage,
          closeOut.endedAt,
          now,
          call.id,
        );
        this.proposeOutcomeSync(call.id, { outcome: 'error', reason: closeOut.errorMessage });
        this.events.appendSync({ callId: call.id, source: 'switchboard', type: closeOut.eventType, data: { cause: closeOut.cause, reason: closeOut.errorMessage, stateBefore: call.state } }, now);
        this.reports.enqueueIfEndedSync(call.id, now);
      }
      // Ownership of calls that ended normally meanwhile but kept the mark (a write lost in the crash).
      this.shared.stmt('UPDATE calls SET media_owner = NULL WHERE media_owner = ?').run(owner);
      return orphans;
    })();
    this.shared.changes.emit(closedOut.flatMap((call): StoreChange[] => [{ kind: 'call', callId: call.id }, { kind: 'event', callId: call.id, type: closeOut.eventType }]));
    return closedOut;
  }

  addUsage(id: string, usage: Record<string, number>): Promise<void> {
    const now = nowIso();
    const written = this.shared.writes.submit(() => {
      const row = this.shared.stmt('SELECT usage FROM calls WHERE id = ?').get(id) as Row | undefined;
      if (!row) return;
      const total = (row.usage ? JSON.parse(String(row.usage)) : {}) as Record<string, number>;
      for (const [k, v] of Object.entries(usage)) total[k] = (total[k] ?? 0) + v;
      this.shared.stmt('UPDATE calls SET usage = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(total), now, id);
    });
    return this.shared.changes.after(written, [{ kind: 'call', callId: id }]);
  }

  /**
   * Insert or update a call leg in one statement. Undefined fields keep the stored value; a final state
   * is final: a late callback never reopens a finished call. Nothing is read back: turning the row into
   * objects cost more than writing it.
   */
  private upsertSync(update: CallUpdate, now: string): void {
    if (update.state !== undefined && !CALL_STATES.includes(update.state)) {
      throw new SwitchboardError('store_failed', `unknown call state ${update.state}`);
    }
    const values: unknown[] = [update.id, update.state ?? 'initiated', now, now];
    let columnSet = update.state === undefined ? 0 : 1;
    for (let i = 0; i < CALL_UPDATE_KEYS.length; i++) {
      const v = update[CALL_UPDATE_KEYS[i]!];
      if (v === undefined) continue;
      columnSet |= 2 << i;
      values.push(v);
    }
    this.upsertStatement(columnSet).run(...values);
    if (update.outcome) this.proposeOutcomeSync(update.id, update.outcome);
    // Only a final state or an outcome can end a call: other writes skip the check.
    if (update.outcome || (update.state !== undefined && FINAL_CALL_STATES.includes(update.state))) this.reports.enqueueIfEndedSync(update.id, now);
    else if (update.agentId !== undefined) this.reports.enqueueStartedSync(update.id, now);
  }

  /**
   * Keep the call's outcome by the rule of src/outcomes.ts; read and written in the caller's transaction.
   * A leg's outcome is its call's: a proposal for a transfer or AI SIP leg goes to the caller's leg it
   * belongs to, so a call has one outcome whichever leg decided it.
   */
  private proposeOutcomeSync(legId: string, proposed: CallOutcome): void {
    if (!isCallOutcome(proposed.outcome)) throw new SwitchboardError('store_failed', `unknown call outcome ${String(proposed.outcome)}`);
    const parent = this.shared.stmt('SELECT parent_call_id FROM calls WHERE id = ?').get(legId) as Row | undefined;
    const id = parent?.parent_call_id ? String(parent.parent_call_id) : legId;
    const row = this.shared.stmt('SELECT outcome, outcome_reason FROM calls WHERE id = ?').get(id) as Row | undefined;
    const stored = row && isCallOutcome(row.outcome) ? { outcome: row.outcome, reason: String(row.outcome_reason ?? '') } : undefined;
    const kept = mergeOutcome(stored, proposed);
    if (kept === stored) return;
    this.shared.stmt('UPDATE calls SET outcome = ?, outcome_reason = ? WHERE id = ?').run(kept.outcome, kept.reason, id);
  }

  private upsertStatement(columnSet: number): Database.Statement {
    let statement = this.callUpserts.get(columnSet);
    if (!statement) {
      const columns = CALL_UPDATE_KEYS.filter((_key, i) => columnSet & (2 << i)).map((key) => CALL_COLUMNS[key]);
      const sets = columns.map((column) => `${column} = excluded.${column}`);
      if (columnSet & 1) sets.push(`state = CASE WHEN state IN (${FINAL_STATES_SQL}) THEN state ELSE excluded.state END`);
      sets.push('updated_at = excluded.updated_at');
      statement = this.shared.db.prepare(
        `INSERT INTO calls (id, state, created_at, updated_at${columns.map((c) => `, ${c}`).join('')})
         VALUES (?, ?, ?, ?${', ?'.repeat(columns.length)})
         ON CONFLICT(id) DO UPDATE SET ${sets.join(', ')}`,
      );
      this.callUpserts.set(columnSet, statement);
    }
    return statement;
  }
}

function callFromRow(row: Row): CallRecord {
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: String(row.id),
    parentCallId: s(row.parent_call_id),
    leg: row.leg as CallRecord['leg'],
    direction: s(row.direction) as CallRecord['direction'],
    from: s(row.from_number),
    to: s(row.to_number),
    accountId: s(row.account_id),
    applicationId: s(row.application_id),
    agentId: s(row.agent_id),
    mode: s(row.mode) as CallRecord['mode'],
    state: row.state as CallRecord['state'],
    cause: s(row.cause),
    errorMessage: s(row.error_message),
    tag: s(row.tag),
    startedAt: s(row.started_at),
    answeredAt: s(row.answered_at),
    endedAt: s(row.ended_at),
    usage: row.usage ? (JSON.parse(String(row.usage)) as Record<string, number>) : null,
    recordingPath: s(row.recording_path),
    mediaOwner: s(row.media_owner),
    outcome: isCallOutcome(row.outcome) ? row.outcome : null,
    outcomeReason: s(row.outcome_reason),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

/** Page cursors are opaque to API users: base64url of the last row's sort key. */
function encodeCursor(call: CallRecord): string {
  return Buffer.from(JSON.stringify([call.createdAt, call.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt === 'string' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new SwitchboardError('invalid_request', 'the cursor is not valid (use nextCursor from a previous page)');
}
