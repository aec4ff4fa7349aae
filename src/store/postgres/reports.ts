import { REPORT_GIVE_UP_AFTER_MS, REPORT_LEGS_WAIT_MS, REPORT_SETTLE_MS } from '../../constants';
import { addMs, FINAL_STATES_SQL, newReportId, reportFromRow, reportListQuery } from '../rows';
import type { ReportAttempt, ReportListFilter, ReportRecord, ReportsRepository } from '../types';
import type { PgShared } from './shared';
import { one, run, type Tx } from './sql';

/**
 * The post-call report outbox (docs/architecture.md, post-call reports), with sqlite/reports.ts's rules: a
 * report is enqueued inside the very write that ends its call, once (UNIQUE (call_id, event)), and its writes
 * go through the call tables' write queue.
 */
export class PgReports implements ReportsRepository {
  constructor(private readonly shared: PgShared) {}

  /** Inside the write that changed leg `legId`: enqueue its call's report once the call has ended (sqlite/reports.ts). */
  async enqueueIfEnded(tx: Tx, legId: string, now: string): Promise<void> {
    const leg = await one(tx, 'SELECT parent_call_id FROM calls WHERE id = ?', [legId]);
    if (!leg) return;
    const callId = leg.parent_call_id ? String(leg.parent_call_id) : legId;
    const ended = await one(
      tx,
      `SELECT EXISTS (SELECT 1 FROM calls l WHERE l.parent_call_id = c.id AND l.state NOT IN (${FINAL_STATES_SQL})) AS live_legs
         FROM calls c WHERE c.id = ? AND c.state IN (${FINAL_STATES_SQL}) AND c.outcome IS NOT NULL`,
      [callId],
    );
    if (!ended) return;
    const liveLegs = ended.live_legs === true;
    const settledAt = addMs(now, REPORT_SETTLE_MS);
    await run(
      tx,
      `INSERT INTO report_outbox (id, call_id, event, status, attempts, next_attempt_at, give_up_at, created_at, updated_at)
       VALUES (?, ?, 'call.ended', 'pending', 0, ?, ?, ?, ?) ON CONFLICT (call_id, event) DO NOTHING`,
      [newReportId(), callId, liveLegs ? addMs(now, REPORT_LEGS_WAIT_MS) : settledAt, addMs(now, REPORT_GIVE_UP_AFTER_MS), now, now],
    );
    if (liveLegs) return;
    // The last leg has ended: a report still waiting for it (not built yet) is due once it has settled.
    await run(
      tx,
      `UPDATE report_outbox SET next_attempt_at = ?, updated_at = ?
        WHERE call_id = ? AND event = 'call.ended' AND status = 'pending' AND attempts = 0 AND body IS NULL AND next_attempt_at > ?`,
      [settledAt, now, callId, settledAt],
    );
  }

  /** Inside the write that gave caller leg `legId` its agent: its `call.started` notice, if the agent asks for one. */
  async enqueueStarted(tx: Tx, legId: string, now: string): Promise<void> {
    const wanted = await one(
      tx,
      `SELECT 1 AS wanted FROM calls c JOIN agents a ON a.id = c.agent_id
        WHERE c.id = ? AND c.parent_call_id IS NULL AND c.state NOT IN (${FINAL_STATES_SQL}) AND (a.settings::jsonb #> '{report,callStarted}') = 'true'::jsonb`,
      [legId],
    );
    if (!wanted) return;
    await run(
      tx,
      `INSERT INTO report_outbox (id, call_id, event, status, attempts, next_attempt_at, give_up_at, created_at, updated_at)
       VALUES (?, ?, 'call.started', 'pending', 0, ?, ?, ?, ?) ON CONFLICT (call_id, event) DO NOTHING`,
      [newReportId(), legId, now, addMs(now, REPORT_GIVE_UP_AFTER_MS), now, now],
    );
  }

  async due(nowIso: string, limit: number): Promise<ReportRecord[]> {
    return (await this.shared.rows("SELECT * FROM report_outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?", [nowIso, limit])).map(reportFromRow);
  }

  async get(id: string): Promise<ReportRecord | undefined> {
    const row = await this.shared.one('SELECT * FROM report_outbox WHERE id = ?', [id]);
    return row ? reportFromRow(row) : undefined;
  }

  async list(filter: ReportListFilter): Promise<ReportRecord[]> {
    const { sql, args } = reportListQuery(filter);
    return (await this.shared.rows(sql, args)).map(reportFromRow);
  }

  setBody(id: string, body: string): Promise<void> {
    return this.shared.submit(async (tx) => void (await run(tx, 'UPDATE report_outbox SET body = ? WHERE id = ? AND body IS NULL', [body, id])));
  }

  attempted(id: string, attempt: ReportAttempt, atIso: string): Promise<void> {
    return this.shared.submit(async (tx) => {
      await run(
        tx,
        `UPDATE report_outbox SET status = ?, attempts = attempts + ?, last_status = ?, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at),
           delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, updated_at = ? WHERE id = ?`,
        [attempt.status, attempt.sent ? 1 : 0, attempt.lastStatus, attempt.lastError, attempt.nextAttemptAt ?? null, attempt.status, atIso, atIso, id],
      );
    });
  }

  async resend(id: string, nowIso: string): Promise<ReportRecord | undefined> {
    await this.shared.submit(async (tx) => {
      await run(tx, "UPDATE report_outbox SET status = 'pending', next_attempt_at = ?, give_up_at = ?, updated_at = ? WHERE id = ?", [nowIso, addMs(nowIso, REPORT_GIVE_UP_AFTER_MS), nowIso, id]);
    });
    return this.get(id);
  }
}
