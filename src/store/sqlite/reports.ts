import { REPORT_GIVE_UP_AFTER_MS, REPORT_LEGS_WAIT_MS, REPORT_SETTLE_MS } from '../../constants';
import { addMs, FINAL_STATES_SQL, newReportId, reportFromRow, reportListQuery } from '../rows';
import type { ReportAttempt, ReportListFilter, ReportRecord, ReportsRepository } from '../types';
import { type Row, type SqliteShared } from './shared';

/**
 * The post-call report outbox (docs/architecture.md, post-call reports). Its writes go through the call
 * tables' group commit: they never wait for a lock on the event loop, and a report is enqueued inside the
 * very write that ends its call.
 */
export class SqliteReports implements ReportsRepository {
  constructor(private readonly shared: SqliteShared) {}

  /**
   * Inside the write that changed leg `legId`: when its call has ended (the caller's leg, or the leg with
   * no parent, in a final state with its outcome set), enqueue the call's report, once. It is due
   * REPORT_SETTLE_MS after the last of its legs ended; while a leg started from it is still live it waits
   * up to REPORT_LEGS_WAIT_MS for that leg's end, so a leg whose end is lost never holds the report back
   * for ever. Cheap when the call is live: one indexed read.
   */
  enqueueIfEndedSync(legId: string, now: string): void {
    const leg = this.shared.stmt('SELECT parent_call_id FROM calls WHERE id = ?').get(legId) as Row | undefined;
    if (!leg) return;
    const callId = leg.parent_call_id ? String(leg.parent_call_id) : legId;
    const ended = this.shared
      .stmt(
        `SELECT EXISTS (SELECT 1 FROM calls l WHERE l.parent_call_id = c.id AND l.state NOT IN (${FINAL_STATES_SQL})) AS live_legs
           FROM calls c WHERE c.id = ? AND c.state IN (${FINAL_STATES_SQL}) AND c.outcome IS NOT NULL`,
      )
      .get(callId) as Row | undefined;
    if (!ended) return;
    const settledAt = addMs(now, REPORT_SETTLE_MS);
    this.shared
      .stmt(
        `INSERT OR IGNORE INTO report_outbox (id, call_id, event, status, attempts, next_attempt_at, give_up_at, created_at, updated_at)
         VALUES (?, ?, 'call.ended', 'pending', 0, ?, ?, ?, ?)`,
      )
      .run(newReportId(), callId, Number(ended.live_legs) ? addMs(now, REPORT_LEGS_WAIT_MS) : settledAt, addMs(now, REPORT_GIVE_UP_AFTER_MS), now, now);
    if (Number(ended.live_legs)) return;
    // The last leg has ended: a report still waiting for it (not built yet) is due once it has settled.
    this.shared
      .stmt(
        `UPDATE report_outbox SET next_attempt_at = ?, updated_at = ?
          WHERE call_id = ? AND event = 'call.ended' AND status = 'pending' AND attempts = 0 AND body IS NULL AND next_attempt_at > ?`,
      )
      .run(settledAt, now, callId, settledAt);
  }

  /**
   * Inside the write that gave caller leg `legId` its agent: if the agent asks for a `call.started` notice
   * (its report settings, src/agents/post-call-report.ts), enqueue it, once, due at once.
   */
  enqueueStartedSync(legId: string, now: string): void {
    const wanted = this.shared
      .stmt(
        `SELECT 1 AS wanted FROM calls c JOIN agents a ON a.id = c.agent_id
          WHERE c.id = ? AND c.parent_call_id IS NULL AND c.state NOT IN (${FINAL_STATES_SQL}) AND json_extract(a.settings, '$.report.callStarted') = 1`,
      )
      .get(legId) as Row | undefined;
    if (!wanted) return;
    this.shared
      .stmt(
        `INSERT OR IGNORE INTO report_outbox (id, call_id, event, status, attempts, next_attempt_at, give_up_at, created_at, updated_at)
         VALUES (?, ?, 'call.started', 'pending', 0, ?, ?, ?, ?)`,
      )
      .run(newReportId(), legId, now, addMs(now, REPORT_GIVE_UP_AFTER_MS), now, now);
  }

  async due(nowIso: string, limit: number): Promise<ReportRecord[]> {
    await this.shared.readable();
    return (this.shared.stmt("SELECT * FROM report_outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?").all(nowIso, limit) as Row[]).map(reportFromRow);
  }

  async get(id: string): Promise<ReportRecord | undefined> {
    await this.shared.readable();
    const row = this.shared.stmt('SELECT * FROM report_outbox WHERE id = ?').get(id) as Row | undefined;
    return row ? reportFromRow(row) : undefined;
  }

  async list(filter: ReportListFilter): Promise<ReportRecord[]> {
    await this.shared.readable();
    const { sql, args } = reportListQuery(filter);
    return (this.shared.db.prepare(sql).all(...args) as Row[]).map(reportFromRow);
  }

  setBody(id: string, body: string): Promise<void> {
    return this.shared.writes.submit(() => void this.shared.stmt('UPDATE report_outbox SET body = ? WHERE id = ? AND body IS NULL').run(body, id));
  }

  attempted(id: string, attempt: ReportAttempt, atIso: string): Promise<void> {
    return this.shared.writes.submit(() => {
      this.shared
        .stmt(
          `UPDATE report_outbox SET status = ?, attempts = attempts + ?, last_status = ?, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at),
             delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, updated_at = ? WHERE id = ?`,
        )
        .run(attempt.status, attempt.sent ? 1 : 0, attempt.lastStatus, attempt.lastError, attempt.nextAttemptAt ?? null, attempt.status, atIso, atIso, id);
    });
  }

  async resend(id: string, nowIso: string): Promise<ReportRecord | undefined> {
    await this.shared.writes.submit(() => {
      this.shared
        .stmt("UPDATE report_outbox SET status = 'pending', next_attempt_at = ?, give_up_at = ?, updated_at = ? WHERE id = ?")
        .run(nowIso, addMs(nowIso, REPORT_GIVE_UP_AFTER_MS), nowIso, id);
    });
    return this.get(id);
  }
}
