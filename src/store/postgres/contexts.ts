import { StoreStalledError } from '../group-commit';
import { contextFromRow, contextUseFromRow, nowIso } from '../rows';
import { unexpired, UncommittedContexts } from '../uncommitted-contexts';
import type { CallbackContextInput, CallbackContextRecord, CallbackContextsRepository, ContextUse } from '../types';
import type { PgShared } from './shared';
import { one, run } from './sql';

/**
 * Callback contexts (DESIGN §4.6), with sqlite/contexts.ts's rules: written through the call tables' write
 * queue, put() settles once committed, the first B-leg bound wins and a one-shot context is consumed once,
 * across instances too (the row's lock decides: a second UPDATE … WHERE … IS NULL waits, then matches nothing).
 */
export class PgCallbackContexts implements CallbackContextsRepository {
  /** Contexts submitted and not committed yet (a callback answered meanwhile may name one), and the sweep of expired ones. */
  private readonly uncommitted = new UncommittedContexts();

  constructor(private readonly shared: PgShared) {}

  put(context: CallbackContextInput, options: { ifAbsent?: boolean } = {}): Promise<void> {
    const { now, sweep, track } = this.uncommitted.begin(context, options);
    return track(
      this.shared.submit(async (tx) => {
        if (sweep) await run(tx, 'DELETE FROM callback_contexts WHERE expires_at <= ?', [now]);
        await run(tx, `INSERT INTO callback_contexts (id, call_id, purpose, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)${options.ifAbsent ? ' ON CONFLICT (id) DO NOTHING' : ''}`, [
          context.id,
          context.callId,
          context.purpose,
          JSON.stringify(context.data),
          now,
          context.expiresAt,
        ]);
      }),
    );
  }

  async get(id: string): Promise<CallbackContextRecord | undefined> {
    // Taken before the read: a commit that lands while the read runs is not in the read's snapshot.
    const waiting = this.uncommitted.waitingFor(id);
    let row;
    try {
      row = await this.shared.one('SELECT * FROM callback_contexts WHERE id = ? AND expires_at > ?', [id, nowIso()]);
    } catch (err) {
      // The database cannot be reached: a context this instance is still waiting to write is answered all the same.
      if (waiting && err instanceof StoreStalledError) return unexpired(waiting, nowIso());
      throw err;
    }
    return row ? contextFromRow(row) : unexpired(waiting, nowIso());
  }

  async bindLeg(id: string, legCallId: string): Promise<string> {
    // Decided inside the write; a write retried after a transient failure runs again, so the outcome is set on every run.
    let bound = legCallId;
    await this.shared.submit(async (tx) => {
      await run(tx, 'UPDATE callback_contexts SET leg_call_id = ? WHERE id = ? AND leg_call_id IS NULL', [legCallId, id]);
      const row = await one(tx, 'SELECT leg_call_id FROM callback_contexts WHERE id = ?', [id]);
      bound = row && row.leg_call_id !== null ? String(row.leg_call_id) : legCallId;
    });
    return bound;
  }

  async consume(id: string, usedBy: string): Promise<ContextUse> {
    let use: ContextUse = { first: true };
    await this.shared.submit(async (tx) => {
      const changed = await run(tx, 'UPDATE callback_contexts SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL', [nowIso(), usedBy, id]);
      use = changed === 1 ? { first: true } : contextUseFromRow(await one(tx, 'SELECT used_by, answer FROM callback_contexts WHERE id = ?', [id]));
    });
    return use;
  }

  remember(id: string, answer: unknown): Promise<void> {
    return this.shared.submit(async (tx) => void (await run(tx, 'UPDATE callback_contexts SET answer = ? WHERE id = ?', [JSON.stringify(answer), id])));
  }
}
