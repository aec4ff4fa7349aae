import type { TransferDestination } from '../../agents/agent';
import { destinationFromRow } from '../rows';
import { SwitchboardError } from '../../errors';
import type { DestinationsRepository } from '../types';
import { nowIso, type Row, type SqliteShared } from './shared';

/** Transfer destinations; writes clear the routing cache (agents carry their destinations). */
export class SqliteDestinations implements DestinationsRepository {
  constructor(private readonly shared: SqliteShared) {}

  async get(id: string): Promise<TransferDestination | undefined> {
    const row = this.shared.stmt('SELECT settings FROM transfer_destinations WHERE id = ?').get(id) as Row | undefined;
    return row ? destinationFromRow(row) : undefined;
  }

  async list(): Promise<TransferDestination[]> {
    return (this.shared.stmt('SELECT settings FROM transfer_destinations ORDER BY name').all() as Row[]).map(destinationFromRow);
  }

  async upsert(destination: TransferDestination): Promise<TransferDestination> {
    return this.shared.routingWrite(() => {
      const now = nowIso();
      try {
        this.shared
          .stmt(
            `INSERT INTO transfer_destinations (id, name, kind, value, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind, value = excluded.value,
               settings = excluded.settings, updated_at = excluded.updated_at`,
          )
          .run(destination.id, destination.name, destination.kind, destination.value ?? null, JSON.stringify(destination), now, now);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new SwitchboardError('conflict', `a transfer destination named ${destination.name} already exists`);
        }
        throw err;
      }
      return destination;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.shared.routingWrite(() => this.shared.stmt('DELETE FROM transfer_destinations WHERE id = ?').run(id).changes > 0);
  }
}
