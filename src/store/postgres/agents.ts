import type { Agent } from '../../agents/agent';
import { PG_LAST_KNOWN_MAX_ENTRIES } from '../../constants';
import { SwitchboardError } from '../../errors';
import { nowIso, storedAgentFromRows } from '../rows';
import type { AgentSource, AgentsRepository, StoredAgent } from '../types';
import type { PgShared } from './shared';
import { LastKnown } from './last-known';
import { one, rows, run, unavailable, type Queryable } from './sql';

/** Agents with their transfer destinations (as sqlite/agents.ts); written in a transaction of their own, outside the call tables' queue. */
export class PgAgents implements AgentsRepository {
  /** Agents as last read: every call's routing reads them, and answers from here while the database is away. */
  private readonly known = new LastKnown<StoredAgent>(PG_LAST_KNOWN_MAX_ENTRIES);

  constructor(private readonly shared: PgShared) {}

  async get(id: string): Promise<StoredAgent | undefined> {
    await this.shared.readable();
    return this.known.read(id, () => this.load(this.shared.pool, id).catch((err: unknown) => Promise.reject(unavailable(err))));
  }

  async list(): Promise<StoredAgent[]> {
    const ids = await this.shared.rows('SELECT id FROM agents ORDER BY id');
    const agents = await Promise.all(ids.map((r) => this.load(this.shared.pool, String(r.id))));
    return agents.filter((a): a is StoredAgent => a !== undefined);
  }

  upsert(agent: Agent, source: AgentSource, destinationIds?: string[]): Promise<StoredAgent> {
    return this.shared.transaction(async (tx) => {
      const now = nowIso();
      const { id, name, ...settings } = agent;
      await run(
        tx,
        `INSERT INTO agents (id, name, mode, settings, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, mode = excluded.mode, settings = excluded.settings,
           source = excluded.source, updated_at = excluded.updated_at`,
        [id, name, agent.mode, JSON.stringify(settings), source, now, now],
      );
      if (destinationIds) {
        await run(tx, 'DELETE FROM agent_destinations WHERE agent_id = ?', [id]);
        for (const [position, destinationId] of destinationIds.entries()) {
          if (!(await one(tx, 'SELECT 1 FROM transfer_destinations WHERE id = ?', [destinationId]))) {
            throw new SwitchboardError('not_found', `transfer destination ${destinationId} does not exist`);
          }
          await run(tx, 'INSERT INTO agent_destinations (agent_id, destination_id, position) VALUES (?, ?, ?)', [id, destinationId, position]);
        }
      }
      return (await this.load(tx, id))!;
    });
  }

  delete(id: string): Promise<boolean> {
    return this.shared.transaction(async (tx) => {
      // Locks the agent first: a number assigned meanwhile by another instance waits for this decision.
      await one(tx, 'SELECT 1 FROM agents WHERE id = ? FOR UPDATE', [id]);
      const numbers = Number((await one(tx, 'SELECT COUNT(*) AS n FROM phone_numbers WHERE agent_id = ?', [id]))?.n ?? 0);
      if (numbers > 0) {
        throw new SwitchboardError('conflict', `agent ${id} still has ${numbers} phone number(s) assigned; unassign or reassign them first`);
      }
      return (await run(tx, 'DELETE FROM agents WHERE id = ?', [id])) > 0;
    });
  }

  private async load(db: Queryable, id: string): Promise<StoredAgent | undefined> {
    const row = await one(db, 'SELECT * FROM agents WHERE id = ?', [id]);
    if (!row) return undefined;
    const destinations = await rows(
      db,
      `SELECT d.settings FROM agent_destinations ad JOIN transfer_destinations d ON d.id = ad.destination_id
       WHERE ad.agent_id = ? ORDER BY ad.position, d.name`,
      [id],
    );
    return storedAgentFromRows(row, destinations);
  }
}
