import { transcriptFromRow } from '../rows';
import type { TranscriptItemInput, TranscriptItemRecord, TranscriptsRepository } from '../types';
import { nowIso, type Row, type SqliteShared } from './shared';

/** A call's transcript; appended through the call tables' group commit. */
export class SqliteTranscripts implements TranscriptsRepository {
  constructor(private readonly shared: SqliteShared) {}

  append(item: TranscriptItemInput): Promise<void> {
    const at = item.at ?? nowIso();
    const written = this.shared.writes.submit(() => {
      this.shared
        .stmt('INSERT INTO transcript_items (call_id, role, text, item_id, heard_ms, truncated, position, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(item.callId, item.role, item.text, item.itemId ?? null, item.heardMs ?? null, item.truncated ? 1 : 0, item.position ?? null, at);
    });
    return this.shared.changes.after(written, [{ kind: 'transcript', callId: item.callId }]);
  }

  async list(callId: string): Promise<TranscriptItemRecord[]> {
    await this.shared.readable();
    return (this.shared.stmt('SELECT * FROM transcript_items WHERE call_id = ? ORDER BY position IS NULL, position, id').all(callId) as Row[]).map(transcriptFromRow);
  }
}
