import { contextFromRow, contextUseFromRow } from '../rows';
import { unexpired, UncommittedContexts } from '../uncommitted-contexts';
import type { CallbackContextInput, CallbackContextRecord, CallbackContextsRepository, ContextUse } from '../types';
import { nowIso, type Row, type SqliteShared } from './shared';

/**
 * Callback contexts (DESIGN §4.6). They go through the call tables' group commit: a transfer's context
 * and the callback's own record land in one transaction, and put() settles only once it is committed.
 */
export class SqliteCallbackContexts implements CallbackContextsRepository {
  /** Contexts submitted and not committed yet, and the sweep of expired ones. */
  private readonly uncommitted = new UncommittedContexts();

  constructor(private readonly shared: SqliteShared) {}

  put(context: CallbackContextInput, options: { ifAbsent?: boolean } = {}): Promise<void> {
    const { now, sweep, track } = this.uncommitted.begin(context, options);
    return track(
      this.shared.writes.submit(() => {
        if (sweep) this.shared.stmt('DELETE FROM callback_contexts WHERE expires_at <= ?').run(now);
        this.shared
          .stmt(`INSERT ${options.ifAbsent ? 'OR IGNORE ' : ''}INTO callback_contexts (id, call_id, purpose, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`)
          .run(context.id, context.callId, context.purpose, JSON.stringify(context.data), now, context.expiresAt);
      }),
    );
  }

  async get(id: string): Promise<CallbackContextRecord | undefined> {
    await this.shared.readable();
    const row = this.shared.stmt('SELECT * FROM callback_contexts WHERE id = ? AND expires_at > ?').get(id, nowIso()) as Row | undefined;
    return row ? contextFromRow(row) : unexpired(this.uncommitted.waitingFor(id), nowIso());
  }

  async bindLeg(id: string, legCallId: string): Promise<string> {
    // Decided inside the write, so of two legs answering in one turn exactly one is bound. A write
    // retried after a transient failure runs again, so the outcome is set on every run.
    let bound = legCallId;
    await this.shared.writes.submit(() => {
      this.shared.stmt('UPDATE callback_contexts SET leg_call_id = ? WHERE id = ? AND leg_call_id IS NULL').run(legCallId, id);
      const row = this.shared.stmt('SELECT leg_call_id FROM callback_contexts WHERE id = ?').get(id) as Row | undefined;
      bound = row && row.leg_call_id !== null ? String(row.leg_call_id) : legCallId;
    });
    return bound;
  }

  async consume(id: string, usedBy: string): Promise<ContextUse> {
    let use: ContextUse = { first: true };
    await this.shared.writes.submit(() => {
      const changed = this.shared.stmt('UPDATE callback_contexts SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL').run(nowIso(), usedBy, id).changes;
      if (changed === 1) {
        use = { first: true };
        return;
      }
      use = contextUseFromRow(this.shared.stmt('SELECT used_by, answer FROM callback_contexts WHERE id = ?').get(id) as Row | undefined);
    });
    return use;
  }

  remember(id: string, answer: unknown): Promise<void> {
    return this.shared.writes.submit(() => {
      this.shared.stmt('UPDATE callback_contexts SET answer = ? WHERE id = ?').run(JSON.stringify(answer), id);
    });
  }
}
