import type { HandOffIntent, HandOffsRepository } from '../types';
import { nowIso, type Row, type SqliteShared } from './shared';

/** Hand-off intents go through the call tables' group commit, in order with the session's events. */
export class SqliteHandOffs implements HandOffsRepository {
  constructor(private readonly shared: SqliteShared) {}

  set(callId: string, intent: HandOffIntent): Promise<void> {
    const now = nowIso();
    return this.shared.writes.submit(() => {
      this.shared.stmt('INSERT INTO hand_off_intents (call_id, intent, created_at) VALUES (?, ?, ?) ON CONFLICT(call_id) DO UPDATE SET intent = excluded.intent, created_at = excluded.created_at').run(callId, JSON.stringify(intent), now);
    });
  }

  async get(callId: string): Promise<HandOffIntent | undefined> {
    await this.shared.readable();
    const row = this.shared.stmt('SELECT intent FROM hand_off_intents WHERE call_id = ?').get(callId) as Row | undefined;
    return row ? (JSON.parse(String(row.intent)) as HandOffIntent) : undefined;
  }

  clear(callId: string): Promise<void> {
    return this.shared.writes.submit(() => void this.shared.stmt('DELETE FROM hand_off_intents WHERE call_id = ?').run(callId));
  }
}
