import { MEDIA_TOKEN_SWEEP_INTERVAL_MS } from '../../constants';
import type { MediaTokensRepository } from '../types';
import { one, run, unavailable, type Queryable } from './sql';

/**
 * One-time media tokens spent across every instance (DESIGN §4.5): the first INSERT of a token id wins; a row
 * whose token has expired may be taken again (as LocalMediaTokens forgets it), and expired rows are swept at
 * most every MEDIA_TOKEN_SWEEP_INTERVAL_MS.
 */
export class PgMediaTokens implements MediaTokensRepository {
  private sweptAtMs = 0;

  constructor(
    private readonly db: Queryable,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async use(tokenId: string, expiresAt: string): Promise<boolean> {
    const nowMs = this.nowMs();
    const now = new Date(nowMs).toISOString();
    try {
      if (nowMs - this.sweptAtMs >= MEDIA_TOKEN_SWEEP_INTERVAL_MS) {
        this.sweptAtMs = nowMs;
        await run(this.db, 'DELETE FROM media_tokens WHERE expires_at <= ?', [now]);
      }
      const spent = await one(
        this.db,
        `INSERT INTO media_tokens (id, expires_at) VALUES (?, ?)
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE media_tokens.expires_at <= ?
         RETURNING id`,
        [tokenId, expiresAt, now],
      );
      return spent !== undefined;
    } catch (err) {
      throw unavailable(err);
    }
  }
}
