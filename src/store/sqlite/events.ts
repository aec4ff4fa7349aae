import type { CallEventInput, CallEventRecord, EventsRepository } from '../types';
import { eventFromRow } from '../rows';
import { nowIso, type Row, type SqliteShared } from './shared';

/** A call's timeline; appended through the call tables' group commit. */
export class SqliteEvents implements EventsRepository {
  constructor(private readonly shared: SqliteShared) {}

  append(event: CallEventInput): Promise<void> {
    const at = event.at ?? nowIso();
    return this.shared.changes.after(this.shared.writes.submit(() => this.appendSync(event, at)), [{ kind: 'event', callId: event.callId, type: event.type }]);
  }

  async list(callId: string): Promise<CallEventRecord[]> {
    await this.shared.readable();
    return (this.shared.stmt('SELECT * FROM call_events WHERE call_id = ? ORDER BY id').all(callId) as Row[]).map(eventFromRow);
  }

  /** Inside a call-tables write: the event lands in the same transaction as the write that calls this. */
  appendSync(event: CallEventInput, now: string): void {
    this.shared
      .stmt('INSERT INTO call_events (call_id, at, source, type, data) VALUES (?, ?, ?, ?, ?)')
      .run(event.callId, event.at ?? now, event.source, event.type, event.data === undefined ? null : JSON.stringify(event.data));
  }
}
