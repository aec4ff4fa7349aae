import type { Agent } from '../../agents/agent';
import { storedAgentFromRows } from '../rows';
import { SwitchboardError } from '../../errors';
import type { AgentSource, AgentsRepository, StoredAgent } from '../types';
import { nowIso, type Row, type SqliteShared } from './shared';

/** Agents with their transfer destinations; reads go through the routing cache, writes clear it. */
export class SqliteAgents implements AgentsRepository {
  constructor(private readonly shared: SqliteShared) {}

  async get(id: string): Promise<StoredAgent | undefined> {
    return this.shared.routing.agent(id, (key) => this.getSync(key));
  }

  async list(): Promise<StoredAgent[]> {
    return (this.shared.stmt('SELECT id FROM agents ORDER BY id').all() as Row[]).map((r) => this.getSync(String(r.id))!);
  }

  async upsert(agent: Agent, source: AgentSource, destinationIds?: string[]): Promise<StoredAgent> {
    return this.shared.routingWrite(this.shared.db.transaction(() => {
      const now = nowIso();
      const { id, name, ...settings } = agent;
      this.shared
        .stmt(
          `INSERT INTO agents (id, name, mode, settings, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, mode = excluded.mode, settings = excluded.settings,
             source = excluded.source, updated_at = excluded.updated_at`,
        )
        .run(id, name, agent.mode, JSON.stringify(settings), source, now, now);
      if (destinationIds) {
        this.shared.stmt('DELETE FROM agent_destinations WHERE agent_id = ?').run(id);
        const insert = this.shared.stmt('INSERT INTO agent_destinations (agent_id, destination_id, position) VALUES (?, ?, ?)');
        destinationIds.forEach((destinationId, position) => {
          if (!this.shared.stmt('SELECT 1 FROM transfer_destinations WHERE id = ?').get(destinationId)) {
            throw new SwitchboardError('not_found', `transfer destination ${destinationId} does not exist`);
          }
          insert.run(id, destinationId, position);
        });
      }
      return this.getSync(id)!;
    }));
  }

  async delete(id: string): Promise<boolean> {
    return this.shared.routingWrite(this.shared.db.transaction(() => {
      const numbers = this.shared.stmt('SELECT COUNT(*) AS n FROM phone_numbers WHERE agent_id = ?').get(id) as Row;
      if (Number(numbers.n) > 0) {
        throw new SwitchboardError('conflict', `agent ${id} still has ${Number(numbers.n)} phone number(s) assigned; unassign or reassign them first`);
      }
      return this.shared.stmt('DELETE FROM agents WHERE id = ?').run(id).changes > 0;
    }));
  }

  private getSync(id: string): StoredAgent | undefined {
    const row = this.shared.stmt('SELECT * FROM agents WHERE id = ?').get(id) as Row | undefined;
    if (!row) return undefined;
    const destinations = this.shared
      .stmt(
        `SELECT d.settings FROM agent_destinations ad JOIN transfer_destinations d ON d.id = ad.destination_id
         WHERE ad.agent_id = ? ORDER BY ad.position, d.name`,
      )
      .all(id) as Row[];
    return storedAgentFromRows(row, destinations);
  }
}
