/**
 * Numbered schema migrations, applied in order inside one transaction each; the schema version is kept
 * in SQLite's `user_version`. Never edit a released migration: add the next one.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE agents (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        mode        TEXT NOT NULL,
        settings    TEXT NOT NULL,              -- JSON, validated by agentSettingsSchema on read
        source      TEXT NOT NULL DEFAULT 'api',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE TABLE transfer_destinations (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL CHECK (kind IN ('phone', 'sip', 'hangup')),
        value       TEXT,
        settings    TEXT NOT NULL,              -- JSON: the whole destination
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE TABLE agent_destinations (
        agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        destination_id  TEXT NOT NULL REFERENCES transfer_destinations(id) ON DELETE CASCADE,
        position        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (agent_id, destination_id)
      );
      CREATE TABLE phone_numbers (
        number      TEXT PRIMARY KEY,
        agent_id    TEXT NOT NULL REFERENCES agents(id),
        created_at  TEXT NOT NULL
      );
      CREATE INDEX phone_numbers_agent ON phone_numbers(agent_id);

      -- One row per call leg. No foreign keys: history outlives agents, and a callback for a call we
      -- never saw is still recorded.
      CREATE TABLE calls (
        id              TEXT PRIMARY KEY,
        parent_call_id  TEXT,
        leg             TEXT NOT NULL DEFAULT 'caller',
        direction       TEXT,
        from_number     TEXT,
        to_number       TEXT,
        account_id      TEXT,
        application_id  TEXT,
        agent_id        TEXT,
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
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
      );
      CREATE INDEX calls_created ON calls(created_at);
      CREATE INDEX calls_agent_created ON calls(agent_id, created_at);
      CREATE INDEX calls_parent ON calls(parent_call_id);

      CREATE TABLE call_events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id  TEXT NOT NULL,
        at       TEXT NOT NULL,
        source   TEXT NOT NULL,
        type     TEXT NOT NULL,
        data     TEXT                           -- JSON
      );
      CREATE INDEX call_events_call ON call_events(call_id, id);

      CREATE TABLE transcript_items (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id     TEXT NOT NULL,
        role        TEXT NOT NULL,
        text        TEXT NOT NULL,
        item_id     TEXT,
        heard_ms    INTEGER,
        truncated   INTEGER NOT NULL DEFAULT 0,
        position    INTEGER,                    -- place in the conversation (a caller's transcript can
                                                -- complete after the agent's reply to it)
        at          TEXT NOT NULL
      );
      CREATE INDEX transcript_items_call ON transcript_items(call_id, position, id);
    `,
  },
  {
    version: 2,
    name: 'callback contexts',
    sql: `
      -- What a signed callback URL refers to (DESIGN §4.6): the token carries ids, a purpose and an
      -- expiry; the context (a transfer's destination, reason and summary, a redirect's action) lives
      -- here under a random id, so every URL stays short whatever the summary's length or script.
      CREATE TABLE callback_contexts (
        id           TEXT PRIMARY KEY,
        call_id      TEXT NOT NULL,            -- the A-leg the context is bound to
        purpose      TEXT NOT NULL,
        data         TEXT NOT NULL,            -- JSON, validated by its purpose's schema on read
        leg_call_id  TEXT,                     -- a transfer's B-leg, once Bandwidth has named it
        created_at   TEXT NOT NULL,
        expires_at   TEXT NOT NULL
      );
      CREATE INDEX callback_contexts_expires ON callback_contexts(expires_at);
    `,
  },
  {
    version: 3,
    name: 'media owner',
    sql: `
      -- The instance holding a call's live media socket (DESIGN §4.12): after a crash, the restarted
      -- instance closes out exactly the calls it held, never another instance's.
      ALTER TABLE calls ADD COLUMN media_owner TEXT;
      CREATE INDEX calls_media_owner ON calls(media_owner) WHERE media_owner IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'one-shot callback contexts',
    sql: `
      -- A context that drives a one-shot action (a redirect's action, a transfer's completion) is
      -- consumed on first use (DESIGN §4.6), so a replayed URL cannot act again. used_by names the
      -- callback that consumed it (callId, eventType, eventTime) and answer keeps what it was told, so
      -- Bandwidth's own retry of that same callback (BW §1.7) gets the same answer, not a refusal.
      ALTER TABLE callback_contexts ADD COLUMN used_at TEXT;
      ALTER TABLE callback_contexts ADD COLUMN used_by TEXT;
      ALTER TABLE callback_contexts ADD COLUMN answer TEXT;   -- JSON, validated by the route on read
    `,
  },
  {
    version: 5,
    name: 'hand-off intents',
    sql: `
      -- What the end of a call's media stream must do (a transfer or a hang-up the agent asked for) when
      -- there was no Calls API to do it at once: /stream-ended reads it (docs/architecture.md, hand-off).
      CREATE TABLE hand_off_intents (
        call_id     TEXT PRIMARY KEY,
        intent      TEXT NOT NULL,            -- JSON HandOffIntent
        created_at  TEXT NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'call outcomes',
    sql: `
      -- How each call ended, from the closed set of src/outcomes.ts, and why (docs/architecture.md, call outcomes).
      ALTER TABLE calls ADD COLUMN outcome TEXT;
      ALTER TABLE calls ADD COLUMN outcome_reason TEXT;
      CREATE INDEX calls_outcome ON calls (outcome, created_at);
    `,
  },
  {
    version: 7,
    name: 'report outbox',
    sql: `
      -- Post-call reports waiting to be delivered, and what became of them (docs/architecture.md, post-call
      -- reports). A row is inserted in the same transaction as the write that ends its call, so a report is
      -- never lost between the end and a crash; the dispatcher resumes pending rows at start.
      CREATE TABLE report_outbox (
        id               TEXT PRIMARY KEY,        -- the Standard Webhooks webhook-id, the same on every attempt
        call_id          TEXT NOT NULL,
        event            TEXT NOT NULL,           -- call.ended
        status           TEXT NOT NULL,           -- pending, delivered, failed, skipped
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT NOT NULL,
        give_up_at       TEXT NOT NULL,
        last_status      INTEGER,                 -- the endpoint's HTTP status at the last attempt
        last_error       TEXT,
        body             TEXT,                    -- the JSON sent, built at the first attempt and kept for the others
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        delivered_at     TEXT,
        UNIQUE (call_id, event)
      );
      CREATE INDEX report_outbox_due ON report_outbox (status, next_attempt_at);
      CREATE INDEX report_outbox_created ON report_outbox (created_at);
    `,
  },
  {
    version: 8,
    name: 'console sessions',
    sql: `
      -- Console sessions (docs/console.md, "Security model"), held by the store rather than one process so
      -- they follow the browser to every instance. id_hash is the SHA-256 of the cookie's session id: the id
      -- itself is never stored. seq orders sessions by creation, so the oldest is evicted first at the cap.
      CREATE TABLE console_sessions (
        seq         INTEGER PRIMARY KEY,
        id_hash     TEXT NOT NULL UNIQUE,
        csrf_token  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL
      );
      CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
    `,
  },
];
