import { PG_LAST_KNOWN_MAX_ENTRIES } from '../../constants';
import { nowIso } from '../rows';
import type { HandOffIntent, HandOffsRepository } from '../types';
import { LastKnown } from './last-known';
import type { PgShared } from './shared';
import { run, type Tx } from './sql';

/** Hand-off intents go through the call tables' write queue, in order with the session's events (as sqlite/hand-offs.ts). */
export class PgHandOffs implements HandOffsRepository {
  /**
   * Intents (and clears: null) submitted and not committed yet, newest per call. While the database cannot be
   * reached, the session ends its stream anyway and /stream-ended must still find what it asked for: this
   * instance answers from here without asking the database.
   */
  private readonly uncommitted = new Map<string, HandOffIntent | null>();
  /** Intents as last read or committed here: /stream-ended finds them while the database is away. */
  private readonly known = new LastKnown<HandOffIntent>(PG_LAST_KNOWN_MAX_ENTRIES);

  constructor(private readonly shared: PgShared) {}

  set(callId: string, intent: HandOffIntent): Promise<void> {
    const now = nowIso();
    return this.pending(callId, intent, (tx) =>
      run(tx, 'INSERT INTO hand_off_intents (call_id, intent, created_at) VALUES (?, ?, ?) ON CONFLICT(call_id) DO UPDATE SET intent = excluded.intent, created_at = excluded.created_at', [
        callId,
        JSON.stringify(intent),
        now,
      ]),
    );
  }

  async get(callId: string): Promise<HandOffIntent | undefined> {
    // Newer than anything committed (writes run in order): no need to ask the database.
    if (this.uncommitted.has(callId)) return this.uncommitted.get(callId) ?? undefined;
    return this.known.read(callId, async () => {
      const row = await this.shared.one('SELECT intent FROM hand_off_intents WHERE call_id = ?', [callId]);
      return row ? (JSON.parse(String(row.intent)) as HandOffIntent) : undefined;
    });
  }

  clear(callId: string): Promise<void> {
    return this.pending(callId, null, (tx) => run(tx, 'DELETE FROM hand_off_intents WHERE call_id = ?', [callId]));
  }

  private pending(callId: string, value: HandOffIntent | null, write: (tx: Tx) => Promise<unknown>): Promise<void> {
    this.uncommitted.set(callId, value);
    const written = this.shared.submit(async (tx) => void (await write(tx)));
    const settled = () => {
      if (this.uncommitted.get(callId) === value) this.uncommitted.delete(callId);
    };
    written.then(() => (this.known.set(callId, value ?? undefined), settled()), settled);
    return written;
  }
}
