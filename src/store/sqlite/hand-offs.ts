import type { HandOffIntent, HandOffsRepository } from '../types';
import { nowIso, type Row, type SqliteShared } from './shared';

/** Hand-off intents go through the call tables' group commit, in order with the session's events. */
export class SqliteHandOffs implements HandOffsRepository {
  /**
   * Intents (and clears: null) submitted and not committed yet, newest per call. While the store cannot
   * write, the session ends its stream anyway and /stream-ended must still find what it asked for.
   */
  private readonly uncommitted = new Map<string, HandOffIntent | null>();

  constructor(private readonly shared: SqliteShared) {}

  set(callId: string, intent: HandOffIntent): Promise<void> {
    const now = nowIso();
    return this.pending(callId, intent, () => {
      this.shared.stmt('INSERT INTO hand_off_intents (call_id, intent, created_at) VALUES (?, ?, ?) ON CONFLICT(call_id) DO UPDATE SET intent = excluded.intent, created_at = excluded.created_at').run(callId, JSON.stringify(intent), now);
    });
  }

  async get(callId: string): Promise<HandOffIntent | undefined> {
    await this.shared.readable();
    if (this.uncommitted.has(callId)) return this.uncommitted.get(callId) ?? undefined;
    const row = this.shared.stmt('SELECT intent FROM hand_off_intents WHERE call_id = ?').get(callId) as Row | undefined;
    return row ? (JSON.parse(String(row.intent)) as HandOffIntent) : undefined;
  }

  clear(callId: string): Promise<void> {
    return this.pending(callId, null, () => void this.shared.stmt('DELETE FROM hand_off_intents WHERE call_id = ?').run(callId));
  }

  private pending(callId: string, value: HandOffIntent | null, write: () => void): Promise<void> {
    this.uncommitted.set(callId, value);
    const written = this.shared.writes.submit(write);
    const settled = () => {
      if (this.uncommitted.get(callId) === value) this.uncommitted.delete(callId);
    };
    written.then(settled, settled);
    return written;
  }
}
