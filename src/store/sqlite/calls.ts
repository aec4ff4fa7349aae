import type Database from 'better-sqlite3';
import type { CallOutcome } from '../../outcomes';
import { addedUsage, callFromRow, callListQuery, callPage, callUpsert, callUpsertSql, endsLeg, FINAL_STATES_SQL, outcomeToStore, setsFinalState, updateEndsOrStarts } from '../rows';
import {
  type CallEventInput,
  type CallListFilter,
  type CallPage,
  type CallRecord,
  type CallsRepository,
  type CallUpdate,
  type ChangedRow,
  type OrphanCloseOut,
} from '../types';
import type { SqliteEvents } from './events';
import type { SqliteReports } from './reports';
import { nowIso, type Row, type SqliteShared } from './shared';

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
    let ended: boolean[] = [];
    const written = this.shared.writes.submit(() => {
      // Computed afresh each run: a batch that failed as a whole runs its writes again.
      ended = updates.map((update) => this.upsertSync(update, now));
      if (event) this.events.appendSync(event, now);
    });
    return this.shared.changes.after(written, () => {
      const changes: ChangedRow[] = updates.map((update, i) => ({ kind: 'call', callId: update.id, ended: ended[i] === true }));
      if (event) changes.push({ kind: 'event', callId: event.callId, type: event.type });
      return changes;
    });
  }

  async get(id: string): Promise<CallRecord | undefined> {
    await this.shared.readable();
    const row = this.shared.stmt('SELECT * FROM calls WHERE id = ?').get(id) as Row | undefined;
    return row ? callFromRow(row) : undefined;
  }

  async list(filter: CallListFilter): Promise<CallPage> {
    await this.shared.readable();
    const { sql, args } = callListQuery(filter);
    return callPage(this.shared.db.prepare(sql).all(...args) as Row[], filter.limit);
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
    // Each was read non-final and made 'completed' in this transaction: the commit that ends it.
    this.shared.changes.emit(closedOut.flatMap((call): ChangedRow[] => [{ kind: 'call', callId: call.id, ended: true }, { kind: 'event', callId: call.id, type: closeOut.eventType }]));
    return closedOut;
  }

  addUsage(id: string, usage: Record<string, number>): Promise<void> {
    const now = nowIso();
    const written = this.shared.writes.submit(() => {
      const row = this.shared.stmt('SELECT usage FROM calls WHERE id = ?').get(id) as Row | undefined;
      if (!row) return;
      this.shared.stmt('UPDATE calls SET usage = ?, updated_at = ? WHERE id = ?').run(addedUsage(row.usage, usage), now, id);
    });
    return this.shared.changes.after(written, [{ kind: 'call', callId: id, ended: false }]);
  }

  /**
   * Insert or update a call leg in one statement. Undefined fields keep the stored value; a final state
   * is final: a late callback never reopens a finished call. Nothing is read back: turning the row into
   * objects cost more than writing it. Returns whether this write ended the leg (StoreChange's `ended`): only a
   * write setting a final state reads the state before.
   */
  private upsertSync(update: CallUpdate, now: string): boolean {
    const before = setsFinalState(update) ? (this.shared.stmt('SELECT state FROM calls WHERE id = ?').get(update.id) as Row | undefined) : undefined;
    const ended = endsLeg(update, before?.state);
    const { columnSet, values } = callUpsert(update, now);
    this.upsertStatement(columnSet).run(...values);
    if (update.outcome) this.proposeOutcomeSync(update.id, update.outcome);
    // Only a final state or an outcome can end a call: other writes skip the check.
    const ends = updateEndsOrStarts(update);
    if (ends === 'ends') this.reports.enqueueIfEndedSync(update.id, now);
    else if (ends === 'starts') this.reports.enqueueStartedSync(update.id, now);
    return ended;
  }

  /**
   * Keep the call's outcome by the rule of src/outcomes.ts; read and written in the caller's transaction.
   * A leg's outcome is its call's: a proposal for a transfer or AI SIP leg goes to the caller's leg it
   * belongs to, so a call has one outcome whichever leg decided it.
   */
  private proposeOutcomeSync(legId: string, proposed: CallOutcome): void {
    const parent = this.shared.stmt('SELECT parent_call_id FROM calls WHERE id = ?').get(legId) as Row | undefined;
    const id = parent?.parent_call_id ? String(parent.parent_call_id) : legId;
    const kept = outcomeToStore(this.shared.stmt('SELECT outcome, outcome_reason FROM calls WHERE id = ?').get(id) as Row | undefined, proposed);
    if (!kept) return;
    this.shared.stmt('UPDATE calls SET outcome = ?, outcome_reason = ? WHERE id = ?').run(kept.outcome, kept.reason, id);
  }

  private upsertStatement(columnSet: number): Database.Statement {
    let statement = this.callUpserts.get(columnSet);
    if (!statement) {
      statement = this.shared.db.prepare(callUpsertSql(columnSet));
      this.callUpserts.set(columnSet, statement);
    }
    return statement;
  }
}
