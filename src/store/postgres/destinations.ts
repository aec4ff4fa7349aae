import type { TransferDestination } from '../../agents/agent';
import { SwitchboardError } from '../../errors';
import { destinationFromRow, nowIso } from '../rows';
import type { DestinationsRepository } from '../types';
import type { PgShared } from './shared';
import { run } from './sql';

/** PostgreSQL's unique_violation (Appendix A). */
export const UNIQUE_VIOLATION = '23505';

/** Transfer destinations (as sqlite/destinations.ts). */
export class PgDestinations implements DestinationsRepository {
  constructor(private readonly shared: PgShared) {}

  async get(id: string): Promise<TransferDestination | undefined> {
    const row = await this.shared.one('SELECT settings FROM transfer_destinations WHERE id = ?', [id]);
    return row ? destinationFromRow(row) : undefined;
  }

  async list(): Promise<TransferDestination[]> {
    return (await this.shared.rows('SELECT settings FROM transfer_destinations ORDER BY name')).map(destinationFromRow);
  }

  async upsert(destination: TransferDestination): Promise<TransferDestination> {
    const now = nowIso();
    try {
      await this.shared.transaction((tx) =>
        run(
          tx,
          `INSERT INTO transfer_destinations (id, name, kind, value, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind, value = excluded.value,
             settings = excluded.settings, updated_at = excluded.updated_at`,
          [destination.id, destination.name, destination.kind, destination.value ?? null, JSON.stringify(destination), now, now],
        ),
      );
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new SwitchboardError('conflict', `a transfer destination named ${destination.name} already exists`);
      }
      throw err;
    }
    return destination;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.shared.transaction((tx) => run(tx, 'DELETE FROM transfer_destinations WHERE id = ?', [id]))) > 0;
  }
}
