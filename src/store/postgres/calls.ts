import type { CallOutcome } from '../../outcomes';
import { PG_LAST_KNOWN_MAX_ENTRIES } from '../../constants';
import { addedUsage, applyCallUpdate, callFromRow, callListQuery, callPage, callUpsert, callUpsertSql, endsLeg, FINAL_STATES_SQL, nowIso, outcomeToStore, setsFinalState, updateEndsOrStarts, withOutcome } from '../rows';
import type { CallEventInput, CallListFilter, CallPage, CallRecord, CallsRepository, CallUpdate, ChangedRow, OrphanCloseOut } from '../types';
import type { PgEvents } from './events';
import { LastKnown } from './last-known';
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
  /** Legs as this instance last read or wrote them, its writes not yet committed included: get() answers from it while the database is away. */
  private readonly known = new LastKnown<CallRecord>(PG_LAST_KNOWN_MAX_ENTRIES);

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
    this.remember(updates, now);
    return this.shared.submit(async (tx) => {
      const changes: ChangedRow[] = [];
      for (const update of updates) changes.push({ kind: 'call', callId: update.id, ended: await this.upsert(tx, update, now) });
      if (event) await this.events.appendIn(tx, event, now);
      if (event) changes.push({ kind: 'event', callId: event.callId, type: event.type });
      return changes;
    });
  }

  async get(id: string): Promise<CallRecord | undefined> {
    return this.known.read(id, async () => {
      const row = await this.shared.one('SELECT * FROM calls WHERE id = ?', [id]);
      return row ? callFromRow(row) : undefined;
    });
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
      // Each was read non-final, locked, and made 'completed' here: the commit that ends it.
      (orphans) => orphans.flatMap((call): ChangedRow[] => [{ kind: 'call', callId: call.id, ended: true }, { kind: 'event', callId: call.id, type: closeOut.eventType }]),
    );
  }

  addUsage(id: string, usage: Record<string, number>): Promise<void> {
    const now = nowIso();
    const known = this.known.get(id);
    if (known) this.known.set(id, { ...known, usage: JSON.parse(addedUsage(known.usage ? JSON.stringify(known.usage) : null, usage)) as Record<string, number>, updatedAt: now });
    return this.shared.submit(
      async (tx) => {
        const row = await one(tx, 'SELECT usage FROM calls WHERE id = ? FOR UPDATE', [id]);
        if (!row) return;
        await run(tx, 'UPDATE calls SET usage = ?, updated_at = ? WHERE id = ?', [addedUsage(row.usage, usage), now, id]);
      },
      [{ kind: 'call', callId: id, ended: false }],
    );
  }

  /** What the writes will make of the legs, applied to what this instance knows (a write that will fail changes nothing here). */
  private remember(updates: CallUpdate[], now: string): void {
    try {
      const next = new Map<string, CallRecord>();
      const current = (id: string) => next.get(id) ?? this.known.get(id);
      for (const update of updates) {
        const before = current(update.id);
        // A leg this instance never saw, and an update that does not say its state: too little to answer from.
        if (!before && update.state === undefined) continue;
        let record = applyCallUpdate(before, update, now);
        next.set(update.id, record);
        if (!update.outcome) continue;
        const parent = record.parentCallId ? current(record.parentCallId) : undefined;
        if (record.parentCallId && !parent) continue; // the call's record is not known here: the database decides
        if (parent) next.set(parent.id, withOutcome(parent, update.outcome));
        else next.set(record.id, (record = withOutcome(record, update.outcome)));
      }
      for (const [id, record] of next) this.known.set(id, record);
    } catch {
      // An invalid update: the write fails on its own, and what is known stays as it was.
    }
  }

  /**
   * Returns whether this write ended the leg (StoreChange's `ended`). Only a write setting a final state reads the
   * state before, locked (FOR UPDATE): another instance ending the same leg waits for this commit, then sees it
   * final. (Two instances inserting a leg that did not exist yet, both in a final state, could both say it;
   * a leg is created by its first callback, non-final.)
   */
  private async upsert(tx: Tx, update: CallUpdate, now: string): Promise<boolean> {
    const before = setsFinalState(update) ? await one(tx, 'SELECT state FROM calls WHERE id = ? FOR UPDATE', [update.id]) : undefined;
    const ended = endsLeg(update, before?.state);
    const { columnSet, values } = callUpsert(update, now);
    await run(tx, callUpsertSql(columnSet), values);
    if (update.outcome) await this.proposeOutcome(tx, update.id, update.outcome);
    // Only a final state or an outcome can end a call: other writes skip the check.
    const ends = updateEndsOrStarts(update);
    if (ends === 'ends') await this.reports.enqueueIfEnded(tx, update.id, now);
    else if (ends === 'starts') await this.reports.enqueueStarted(tx, update.id, now);
    return ended;
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
