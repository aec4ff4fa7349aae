import type { CallOutcome } from '../../outcomes';
import { addedUsage, callFromRow, callListQuery, callPage, callUpsert, callUpsertSql, FINAL_STATES_SQL, nowIso, outcomeToStore, updateEndsOrStarts } from '../rows';
import type { CallEventInput, CallListFilter, CallPage, CallRecord, CallsRepository, CallUpdate, OrphanCloseOut, StoreChange } from '../types';
import type { PgEvents } from './events';
import type { PgReports } from './reports';
import type { PgShared } from './shared';
import { one, rows, run, type Tx } from './sql';

/**
 * Call legs, with the SQLite backend's rules (sqlite/calls.ts): a state change and its event are one write, a
 * final state is final, a leg's outcome goes to its call by the rule of src/outcomes.ts, and the write that
 * ends a call enqueues its report. Rows read to decide are locked (FOR UPDATE): another instance deciding
 * about the same call waits for this commit, then sees it.
 */
export class PgCalls implements CallsRepository {
  constructor(
    private readonly shared: PgShared,
    private readonly events: PgEvents,
    private readonly reports: PgReports,
  ) {}

  record(update: CallUpdate, event?: CallEventInput): Promise<void> {
    return this.recordMany([update], event);
  }

  recordMany(updates: CallUpdate[], event?: CallEventInput): Promise<void> {
    const now = nowIso(); // one clock reading: the legs' updated_at and the event's time agree
    const changes: StoreChange[] = updates.map((update) => ({ kind: 'call', callId: update.id }));
    if (event) changes.push({ kind: 'event', callId: event.callId, type: event.type });
    return this.shared.submit(async (tx) => {
      for (const update of updates) await this.upsert(tx, update, now);
      if (event) await this.events.appendIn(tx, event, now);
    }, changes);
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const row = await this.shared.one('SELECT * FROM calls WHERE id = ?', [id]);
    return row ? callFromRow(row) : undefined;
  }

  async list(filter: CallListFilter): Promise<CallPage> {
    const { sql, args } = callListQuery(filter);
    return callPage(await this.shared.rows(sql, args), filter.limit);
  }

  async children(parentCallId: string): Promise<CallRecord[]> {
    return (await this.shared.rows('SELECT * FROM calls WHERE parent_call_id = ? ORDER BY created_at, id', [parentCallId])).map(callFromRow);
  }

  async closeOutOrphans(owner: string, closeOut: OrphanCloseOut): Promise<CallRecord[]> {
    const now = nowIso();
    return this.shared.transaction(
      async (tx) => {
        const orphans = (await rows(tx, `SELECT * FROM calls WHERE media_owner = ? AND state NOT IN (${FINAL_STATES_SQL}) ORDER BY created_at, id FOR UPDATE`, [owner])).map(callFromRow);
        for (const call of orphans) {
          await run(tx, "UPDATE calls SET state = 'completed', cause = ?, error_message = ?, ended_at = COALESCE(ended_at, ?), media_owner = NULL, updated_at = ? WHERE id = ?", [
            closeOut.cause,
            closeOut.errorMessage,
            closeOut.endedAt,
            now,
            call.id,
          ]);
          await this.proposeOutcome(tx, call.id, { outcome: 'error', reason: closeOut.errorMessage });
          await this.events.appendIn(tx, { callId: call.id, source: 'switchboard', type: closeOut.eventType, data: { cause: closeOut.cause, reason: closeOut.errorMessage, stateBefore: call.state } }, now);
          await this.reports.enqueueIfEnded(tx, call.id, now);
        }
        // Ownership of calls that ended normally meanwhile but kept the mark (a write lost in the crash).
        await run(tx, 'UPDATE calls SET media_owner = NULL WHERE media_owner = ?', [owner]);
        return orphans;
      },
      (orphans) => orphans.flatMap((call): StoreChange[] => [{ kind: 'call', callId: call.id }, { kind: 'event', callId: call.id, type: closeOut.eventType }]),
    );
  }

  addUsage(id: string, usage: Record<string, number>): Promise<void> {
    const now = nowIso();
    return this.shared.submit(
      async (tx) => {
        const row = await one(tx, 'SELECT usage FROM calls WHERE id = ? FOR UPDATE', [id]);
        if (!row) return;
        await run(tx, 'UPDATE calls SET usage = ?, updated_at = ? WHERE id = ?', [addedUsage(row.usage, usage), now, id]);
      },
      [{ kind: 'call', callId: id }],
    );
  }

  private async upsert(tx: Tx, update: CallUpdate, now: string): Promise<void> {
    const { columnSet, values } = callUpsert(update, now);
    await run(tx, callUpsertSql(columnSet), values);
    if (update.outcome) await this.proposeOutcome(tx, update.id, update.outcome);
    // Only a final state or an outcome can end a call: other writes skip the check.
    const ends = updateEndsOrStarts(update);
    if (ends === 'ends') await this.reports.enqueueIfEnded(tx, update.id, now);
    else if (ends === 'starts') await this.reports.enqueueStarted(tx, update.id, now);
  }

  /** Keep the call's outcome by the rule of src/outcomes.ts; a leg's proposal goes to the caller's leg it belongs to. */
  private async proposeOutcome(tx: Tx, legId: string, proposed: CallOutcome): Promise<void> {
    const parent = await one(tx, 'SELECT parent_call_id FROM calls WHERE id = ?', [legId]);
    const id = parent?.parent_call_id ? String(parent.parent_call_id) : legId;
    const kept = outcomeToStore(await one(tx, 'SELECT outcome, outcome_reason FROM calls WHERE id = ? FOR UPDATE', [id]), proposed);
    if (!kept) return;
    await run(tx, 'UPDATE calls SET outcome = ?, outcome_reason = ? WHERE id = ?', [kept.outcome, kept.reason, id]);
  }
}
