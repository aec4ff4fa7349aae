import { nowIso, transcriptFromRow } from '../rows';
import type { TranscriptItemInput, TranscriptItemRecord, TranscriptsRepository } from '../types';
import type { PgShared } from './shared';
import { run } from './sql';

/** A call's transcript; appended through the call tables' write queue. */
export class PgTranscripts implements TranscriptsRepository {
  constructor(private readonly shared: PgShared) {}

  append(item: TranscriptItemInput): Promise<void> {
    const at = item.at ?? nowIso();
    return this.shared.submit(async (tx) => {
      await run(tx, 'INSERT INTO transcript_items (call_id, role, text, item_id, heard_ms, truncated, position, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        item.callId,
        item.role,
        item.text,
        item.itemId ?? null,
        item.heardMs ?? null,
        item.truncated ? 1 : 0,
        item.position ?? null,
        at,
      ]);
    }, [{ kind: 'transcript', callId: item.callId }]);
  }

  async list(callId: string): Promise<TranscriptItemRecord[]> {
    return (await this.shared.rows('SELECT * FROM transcript_items WHERE call_id = ? ORDER BY position IS NULL, position, id', [callId])).map(transcriptFromRow);
  }
}
