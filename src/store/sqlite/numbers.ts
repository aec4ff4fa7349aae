import { SwitchboardError } from '../../errors';
import type { NumbersRepository, PhoneNumberRecord } from '../types';
import { nowIso, type Row, type SqliteShared } from './shared';

/** Phone number assignments; lookups go through the routing cache, writes clear it. */
export class SqliteNumbers implements NumbersRepository {
  constructor(private readonly shared: SqliteShared) {}

  async assign(number: string, agentId: string): Promise<PhoneNumberRecord> {
    return this.shared.routingWrite(this.shared.db.transaction(() => {
      if (!this.shared.stmt('SELECT 1 FROM agents WHERE id = ?').get(agentId)) {
        throw new SwitchboardError('not_found', `agent ${agentId} does not exist`);
      }
      const existing = this.shared.stmt('SELECT * FROM phone_numbers WHERE number = ?').get(number) as Row | undefined;
      if (existing && existing.agent_id !== agentId) {
        throw new SwitchboardError('conflict', `${number} is already assigned to agent ${String(existing.agent_id)}`);
      }
      if (!existing) this.shared.stmt('INSERT INTO phone_numbers (number, agent_id, created_at) VALUES (?, ?, ?)').run(number, agentId, nowIso());
      const row = this.shared.stmt('SELECT * FROM phone_numbers WHERE number = ?').get(number) as Row;
      return { number: String(row.number), agentId: String(row.agent_id), createdAt: String(row.created_at) };
    }));
  }

  async unassign(number: string): Promise<boolean> {
    return this.shared.routingWrite(() => this.shared.stmt('DELETE FROM phone_numbers WHERE number = ?').run(number).changes > 0);
  }

  async agentIdFor(number: string): Promise<string | undefined> {
    return this.shared.routing.agentIdFor(number, (key) => {
      const row = this.shared.stmt('SELECT agent_id FROM phone_numbers WHERE number = ?').get(key) as Row | undefined;
      return row ? String(row.agent_id) : undefined;
    });
  }

  async list(agentId?: string): Promise<PhoneNumberRecord[]> {
    return (
      (agentId
        ? this.shared.stmt('SELECT * FROM phone_numbers WHERE agent_id = ? ORDER BY number').all(agentId)
        : this.shared.stmt('SELECT * FROM phone_numbers ORDER BY number').all()) as Row[]
    ).map((r) => ({ number: String(r.number), agentId: String(r.agent_id), createdAt: String(r.created_at) }));
  }
}
