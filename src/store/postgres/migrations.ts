import type { PoolClient } from 'pg';
import { SwitchboardError } from '../../errors';

/**
 * PostgreSQL's numbered schema migrations, in order; the version applied is kept in `schema_migrations`.
 * Never edit a released migration: add the next one. The schema is SQLite's (src/store/migrations.ts: its
 * versions 1–7 are version 1 here, its version 8 is version 2) in PostgreSQL's words, with the same
 * representation, so both backends return the same records: times are ISO-8601 UTC text (they sort as times),
 * JSON is text, and text compares byte by byte (COLLATE "C", as SQLite does: ids and times page the same way
 * whatever the server's locale).
 */
export const PG_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE agents (
        id          TEXT COLLATE "C" PRIMARY KEY,
        name        TEXT COLLATE "C" NOT NULL,
        mode        TEXT NOT NULL,
        settings    TEXT NOT NULL,              -- JSON, validated by agentSettingsSchema on read
        source      TEXT NOT NULL DEFAULT 'api',
        created_at  TEXT COLLATE "C" NOT NULL,
        updated_at  TEXT COLLATE "C" NOT NULL
      );
      CREATE TABLE transfer_destinations (
        id          TEXT COLLATE "C" PRIMARY KEY,
        name        TEXT COLLATE "C" NOT NULL UNIQUE,
        kind        TEXT NOT NULL CHECK (kind IN ('phone', 'sip', 'hangup')),
        value       TEXT,
        settings    TEXT NOT NULL,              -- JSON: the whole destination
        created_at  TEXT COLLATE "C" NOT NULL,
        updated_at  TEXT COLLATE "C" NOT NULL
      );
      CREATE TABLE agent_destinations (
        agent_id        TEXT COLLATE "C" NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        destination_id  TEXT COLLATE "C" NOT NULL REFERENCES transfer_destinations(id) ON DELETE CASCADE,
        position        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (agent_id, destination_id)
      );
      CREATE TABLE phone_numbers (
        number      TEXT COLLATE "C" PRIMARY KEY,
        agent_id    TEXT COLLATE "C" NOT NULL REFERENCES agents(id),
        created_at  TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX phone_numbers_agent ON phone_numbers(agent_id);

      -- One row per call leg. No foreign keys: history outlives agents, and a callback for a call we
      -- never saw is still recorded.
      CREATE TABLE calls (
        id              TEXT COLLATE "C" PRIMARY KEY,
        parent_call_id  TEXT COLLATE "C",
        leg             TEXT NOT NULL DEFAULT 'caller',
        direction       TEXT,
        from_number     TEXT COLLATE "C",
        to_number       TEXT COLLATE "C",
        account_id      TEXT,
        application_id  TEXT,
        agent_id        TEXT COLLATE "C",
        mode            TEXT,
        state           TEXT NOT NULL,
        cause           TEXT,
        error_message   TEXT,
        tag             TEXT,
        started_at      TEXT,
        answered_at     TEXT,
        ended_at        TEXT,
        usage           TEXT,                   -- JSON: summed token usage
        recording_path  TEXT,
        media_owner     TEXT COLLATE "C",       -- the instance holding the live media (DESIGN §4.12)
        outcome         TEXT,                   -- src/outcomes.ts
        outcome_reason  TEXT,
        created_at      TEXT COLLATE "C" NOT NULL,
        updated_at      TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX calls_created ON calls(created_at, id);
      CREATE INDEX calls_agent_created ON calls(agent_id, created_at);
      CREATE INDEX calls_parent ON calls(parent_call_id);
      CREATE INDEX calls_media_owner ON calls(media_owner) WHERE media_owner IS NOT NULL;
      CREATE INDEX calls_outcome ON calls(outcome, created_at);

      CREATE TABLE call_events (
        id       BIGSERIAL PRIMARY KEY,
        call_id  TEXT COLLATE "C" NOT NULL,
        at       TEXT NOT NULL,
        source   TEXT NOT NULL,
        type     TEXT NOT NULL,
        data     TEXT                           -- JSON
      );
      CREATE INDEX call_events_call ON call_events(call_id, id);

      CREATE TABLE transcript_items (
        id          BIGSERIAL PRIMARY KEY,
        call_id     TEXT COLLATE "C" NOT NULL,
        role        TEXT NOT NULL,
        text        TEXT NOT NULL,
        item_id     TEXT,
        heard_ms    INTEGER,
        truncated   INTEGER NOT NULL DEFAULT 0,
        position    INTEGER,
        at          TEXT NOT NULL
      );
      CREATE INDEX transcript_items_call ON transcript_items(call_id, position, id);

      -- What a signed callback URL refers to (DESIGN §4.6); one-shot contexts are consumed once (used_*).
      CREATE TABLE callback_contexts (
        id           TEXT COLLATE "C" PRIMARY KEY,
        call_id      TEXT COLLATE "C" NOT NULL,
        purpose      TEXT NOT NULL,
        data         TEXT NOT NULL,
        leg_call_id  TEXT,
        created_at   TEXT COLLATE "C" NOT NULL,
        expires_at   TEXT COLLATE "C" NOT NULL,
        used_at      TEXT,
        used_by      TEXT,
        answer       TEXT
      );
      CREATE INDEX callback_contexts_expires ON callback_contexts(expires_at);

      CREATE TABLE hand_off_intents (
        call_id     TEXT COLLATE "C" PRIMARY KEY,
        intent      TEXT NOT NULL,            -- JSON HandOffIntent
        created_at  TEXT NOT NULL
      );

      CREATE TABLE report_outbox (
        id               TEXT COLLATE "C" PRIMARY KEY,
        call_id          TEXT COLLATE "C" NOT NULL,
        event            TEXT NOT NULL,
        status           TEXT NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT COLLATE "C" NOT NULL,
        give_up_at       TEXT NOT NULL,
        last_status      INTEGER,
        last_error       TEXT,
        body             TEXT,
        created_at       TEXT COLLATE "C" NOT NULL,
        updated_at       TEXT NOT NULL,
        delivered_at     TEXT,
        UNIQUE (call_id, event)
      );
      CREATE INDEX report_outbox_due ON report_outbox (status, next_attempt_at);
      CREATE INDEX report_outbox_created ON report_outbox (created_at);

      -- One-time media tokens spent by any instance (DESIGN §4.5), kept until they expire.
      CREATE TABLE media_tokens (
        id          TEXT COLLATE "C" PRIMARY KEY,
        expires_at  TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX media_tokens_expires ON media_tokens(expires_at);
    `,
  },
  {
    version: 2,
    name: 'console sessions',
    sql: `
      -- SQLite's version 8: console sessions shared by every instance, found by the SHA-256 of their id.
      CREATE TABLE console_sessions (
        seq         BIGSERIAL PRIMARY KEY,
        id_hash     TEXT COLLATE "C" NOT NULL UNIQUE,
        csrf_token  TEXT NOT NULL,
        created_at  TEXT COLLATE "C" NOT NULL,
        expires_at  TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX console_sessions_expires ON console_sessions(expires_at);
    `,
  },
];

/** One number for Switchboard's schema lock, whatever else shares the database's advisory locks. */
const MIGRATION_LOCK_KEY = 0x5357_4244; // "SWBD"

/**
 * Bring the schema up to date in one transaction that holds an advisory lock: two instances starting at once
 * take turns, and the second finds the work done. A schema newer than this code is refused.
 */
export async function migratePostgres(client: PoolClient): Promise<number> {
  const latest = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]?.version ?? 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const current = Number((await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations')).rows[0]?.v ?? 0);
    if (current > latest) {
      throw new SwitchboardError('store_failed', `database schema version ${current} is newer than this Switchboard (${latest}); upgrade Switchboard`);
    }
    for (const migration of PG_MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, new Date().toISOString()]);
    }
    await client.query('COMMIT');
    return latest;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
