import { PG_LAST_KNOWN_MAX_ENTRIES } from '../../constants';
import { SwitchboardError } from '../../errors';
import { nowIso } from '../rows';
import type { NumbersRepository, PhoneNumberRecord } from '../types';
import { UNIQUE_VIOLATION } from './destinations';
import { LastKnown } from './last-known';
import type { PgShared } from './shared';
import { one, run } from './sql';

/** Phone number assignments (as sqlite/numbers.ts): a number belongs to one agent, whichever instance assigns it first. */
export class PgNumbers implements NumbersRepository {
  /** Assignments as last read: routing answers from here while the database is away. */
  private readonly known = new LastKnown<string>(PG_LAST_KNOWN_MAX_ENTRIES);

  constructor(private readonly shared: PgShared) {}

  async assign(number: string, agentId: string): Promise<PhoneNumberRecord> {
    const assign = () =>
      this.shared.transaction(async (tx) => {
        // FOR SHARE: the agent cannot be deleted before this commits (agents.delete locks it FOR UPDATE).
        if (!(await one(tx, 'SELECT 1 FROM agents WHERE id = ? FOR SHARE', [agentId]))) {
          throw new SwitchboardError('not_found', `agent ${agentId} does not exist`);
        }
        const existing = await one(tx, 'SELECT * FROM phone_numbers WHERE number = ?', [number]);
        if (existing && existing.agent_id !== agentId) {
          throw new SwitchboardError('conflict', `${number} is already assigned to agent ${String(existing.agent_id)}`);
        }
        if (!existing) await run(tx, 'INSERT INTO phone_numbers (number, agent_id, created_at) VALUES (?, ?, ?)', [number, agentId, nowIso()]);
        const row = (await one(tx, 'SELECT * FROM phone_numbers WHERE number = ?', [number]))!;
        return { number: String(row.number), agentId: String(row.agent_id), createdAt: String(row.created_at) };
      });
    try {
      return await assign();
    } catch (err) {
      // Another instance assigned it between our read and our insert: decide again on what it committed.
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return assign();
      throw err;
    }
  }

  async unassign(number: string): Promise<boolean> {
    return (await this.shared.transaction((tx) => run(tx, 'DELETE FROM phone_numbers WHERE number = ?', [number]))) > 0;
  }

  async agentIdFor(number: string): Promise<string | undefined> {
    return this.known.read(number, async () => {
      const row = await this.shared.one('SELECT agent_id FROM phone_numbers WHERE number = ?', [number]);
      return row ? String(row.agent_id) : undefined;
    });
  }

  async list(agentId?: string): Promise<PhoneNumberRecord[]> {
    const found = agentId
      ? await this.shared.rows('SELECT * FROM phone_numbers WHERE agent_id = ? ORDER BY number', [agentId])
      : await this.shared.rows('SELECT * FROM phone_numbers ORDER BY number');
    return found.map((r) => ({ number: String(r.number), agentId: String(r.agent_id), createdAt: String(r.created_at) }));
  }
}
