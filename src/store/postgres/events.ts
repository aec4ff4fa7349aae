import { eventFromRow, nowIso } from '../rows';
import type { CallEventInput, CallEventRecord, EventsRepository } from '../types';
import type { PgShared } from './shared';
import { run, type Tx } from './sql';

/** A call's timeline; appended through the call tables' write queue. */
export class PgEvents implements EventsRepository {
  constructor(private readonly shared: PgShared) {}

  append(event: CallEventInput): Promise<void> {
    const at = event.at ?? nowIso();
    return this.shared.submit((tx) => this.appendIn(tx, event, at), [{ kind: 'event', callId: event.callId, type: event.type }]);
  }

  async list(callId: string): Promise<CallEventRecord[]> {
    return (await this.shared.rows('SELECT * FROM call_events WHERE call_id = ? ORDER BY id', [callId])).map(eventFromRow);
  }

  /** Inside a call-tables write: the event lands in the same transaction as the write that calls this. */
  async appendIn(tx: Tx, event: CallEventInput, now: string): Promise<void> {
    await run(tx, 'INSERT INTO call_events (call_id, at, source, type, data) VALUES (?, ?, ?, ?, ?)', [
      event.callId,
      event.at ?? now,
      event.source,
      event.type,
      event.data === undefined ? null : JSON.stringify(event.data),
    ]);
  }
}
