import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  agentSettingsSchema,
  transferDestinationSchema,
  type Agent,
  type AgentWithDestinations,
  type TransferDestination,
} from '../agents/agent';
import {
  CALLBACK_CONTEXT_SWEEP_INTERVAL_MS,
  CHECKPOINTER_RESTART_DELAY_MS,
  COMMIT_MAX_RETRY_DELAY_MS,
  COMMIT_RETRY_DELAY_MS,
  ROUTING_CACHE_MAX_ENTRIES,
  STORE_BUSY_TIMEOUT_MS,
  STORE_LOOP_BUSY_TIMEOUT_MS,
  STORE_MAX_PENDING_WRITES,
  STORE_READ_WAIT_MS,
  WAL_AUTOCHECKPOINT_PAGES,
  WAL_BACKSTOP_PAGES,
  WAL_CHECKPOINT_INTERVAL_MS,
  WAL_RESTART_PAGES,
} from '../constants';
import { makePrivate, PRIVATE_DIR_MODE } from '../files';
import { SwitchboardError } from '../errors';
import { MIGRATIONS } from './migrations';
import { WalCheckpointer } from './checkpointer';
import { GroupCommit, StoreStalledError } from './group-commit';
import { StoreHealth } from './health';
import { createLogger, type Logger } from '../log';
import { RoutingCache } from './routing-cache';
import {
  CALL_STATES,
  FINAL_CALL_STATES,
  type AgentSource,
  type CallbackContextInput,
  type CallbackContextRecord,
  type ContextUse,
  type CallEventInput,
  type CallEventRecord,
  type CallListFilter,
  type CallPage,
  type CallRecord,
  type CallUpdate,
  type PhoneNumberRecord,
  type HandOffIntent,
  type OrphanCloseOut,
  type Store,
  type StoredAgent,
  type TranscriptItemInput,
  type TranscriptItemRecord,
} from './types';

type Row = Record<string, unknown>;

/**
 * One write to the call tables (a callback's legs and its event, an event, a transcript item, usage),
 * all or nothing; it carries its own timestamp, taken when it was submitted.
 */
type CallTablesWrite = () => void;

const CALL_COLUMNS: Record<keyof Omit<CallRecord, 'createdAt' | 'updatedAt' | 'usage' | 'id'>, string> = {
  parentCallId: 'parent_call_id',
  leg: 'leg',
  direction: 'direction',
  from: 'from_number',
  to: 'to_number',
  accountId: 'account_id',
  applicationId: 'application_id',
  agentId: 'agent_id',
  mode: 'mode',
  state: 'state',
  cause: 'cause',
  errorMessage: 'error_message',
  tag: 'tag',
  startedAt: 'started_at',
  answeredAt: 'answered_at',
  endedAt: 'ended_at',
  recordingPath: 'recording_path',
  mediaOwner: 'media_owner',
};

/** The columns an update may set besides `state` (which every insert needs), in a fixed order. */
const CALL_UPDATE_KEYS = (Object.keys(CALL_COLUMNS) as (keyof typeof CALL_COLUMNS)[]).filter((key) => key !== 'state');
const FINAL_STATES_SQL = FINAL_CALL_STATES.map((state) => `'${state}'`).join(', ');

const nowIso = () => new Date().toISOString();

/** The embedded default store: better-sqlite3 in WAL mode (DESIGN §6). */
export class SqliteStore implements Store {
  private readonly db: Database.Database;

  /** Prepared statements, compiled once per SQL text (better-sqlite3 does not cache them itself). */
  private readonly statements = new Map<string, Database.Statement>();

  /** Call upserts, one per set of columns an update sets (a bit per CALL_UPDATE_KEYS entry, and one for state). */
  private readonly callUpserts = new Map<number, Database.Statement>();

  /** Writes to calls, events and transcripts, committed together per turn of the event loop. */
  private readonly writes: GroupCommit<CallTablesWrite>;

  private readonly routing: RoutingCache;

  /** Started once the database is migrated (file databases only). */
  private checkpointer: WalCheckpointer | undefined;
  private closing: Promise<void> | undefined;

  /** When expired callback contexts were last deleted (ms since the epoch). */
  private contextsSweptAtMs = 0;

  readonly health: StoreHealth;

  private constructor(
    db: Database.Database,
    logger: Logger,
    private readonly readWaitMs: number,
  ) {
    this.db = db;
    this.health = new StoreHealth(logger);
    // One write is all or nothing; inside a batch's transaction it is a savepoint.
    const writeOne = db.transaction((write: CallTablesWrite) => write());
    const writeBatch = db.transaction((writes: CallTablesWrite[]) =>
      writes.map((write) => {
        try {
          writeOne(write);
          return undefined;
        } catch (err) {
          // A full disk or an I/O error is the store's, not this write's (and SQLite may have rolled the
          // whole transaction back): fail the batch, so that it is kept and tried again.
          if (isTransientSqliteError(err)) throw err;
          return err instanceof Error ? err : new Error(String(err));
        }
      }),
    );
    const noLockWait = db.prepare('PRAGMA busy_timeout = 0');
    const loopLockWait = db.prepare(`PRAGMA busy_timeout = ${STORE_LOOP_BUSY_TIMEOUT_MS}`);
    // BEGIN IMMEDIATE: a taken write lock shows at BEGIN, before any write's savepoint, and fails the batch as a whole.
    // On the event loop a commit never waits for the lock (the batch is retried later instead); only close() does.
    this.writes = new GroupCommit<CallTablesWrite>(
      (writes, wait) => {
        if (!wait) noLockWait.get();
        try {
          if (writes.length > 1) return writeBatch.immediate(writes);
          writeOne.immediate(writes[0]!);
          return [undefined];
        } finally {
          if (!wait) loopLockWait.get();
        }
      },
      {
        isTransient: isTransientSqliteError,
        retryDelayMs: COMMIT_RETRY_DELAY_MS,
        maxRetryDelayMs: COMMIT_MAX_RETRY_DELAY_MS,
        maxPending: STORE_MAX_PENDING_WRITES,
        now: Date.now,
        onStall: (err) => this.health.stalled(err),
        onRecover: (stalledMs) => this.health.recovered(stalledMs),
      },
    );
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.routing = new RoutingCache(() => dataVersion.get() as number, ROUTING_CACHE_MAX_ENTRIES);
  }

  /** Run a write to agents, destinations or numbers; the routing cache forgets what it knew, whatever the outcome. */
  /**
   * Before a read: the writes submitted before it are committed (read-your-writes). While the store cannot
   * write, that wait ends after `readWaitMs` and the read sees what is committed: a slightly stale answer,
   * rather than a callback that misses Bandwidth's timeout.
   */
  private async readable(): Promise<void> {
    try {
      await this.writes.settled(this.readWaitMs);
    } catch (err) {
      if (!(err instanceof StoreStalledError)) throw err;
    }
  }

  private async routingWrite<T>(write: () => T): Promise<T> {
    const deadline = Date.now() + this.readWaitMs;
    for (let delayMs = COMMIT_RETRY_DELAY_MS; ; delayMs = Math.min(COMMIT_MAX_RETRY_DELAY_MS, delayMs * 2)) {
      await this.readable();
      try {
        return write();
      } catch (err) {
        // Another process holds the write lock: try again without holding up the event loop.
        if (!isTransientSqliteError(err)) throw err;
        if (Date.now() + delayMs > deadline) throw new StoreStalledError(`the store cannot write: ${(err as Error).message}`);
      } finally {
        this.routing.clear();
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Open (creating directories as needed) and migrate. `:memory:` gives a private in-memory store. */
  static open(file: string, options: { logger?: Logger; readWaitMs?: number } = {}): SqliteStore {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    const db = new Database(file);
    // SQLite gives the WAL and shared-memory files the database file's mode: make it private before they exist,
    // and mend files left by an older version.
    if (file !== ':memory:') for (const f of [file, `${file}-wal`, `${file}-shm`]) makePrivate(f);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // WAL + NORMAL: durable across application crashes, fast commits
    db.pragma('foreign_keys = ON');
    // Reads and the admin API's writes wait at most this long for another connection's lock; the call
    // tables' writes never wait (GroupCommit). close() waits longer (STORE_BUSY_TIMEOUT_MS).
    db.pragma(`busy_timeout = ${STORE_LOOP_BUSY_TIMEOUT_MS}`);
    const store = new SqliteStore(db, options.logger ?? createLogger('silent'), options.readWaitMs ?? STORE_READ_WAIT_MS);
    store.migrate();
    if (file !== ':memory:') store.startCheckpointer(file);
    return store;
  }

  /** Checkpoints move to a thread of their own; inline checkpoints stay as a backstop, and come back if it fails. */
  private startCheckpointer(file: string, restartDelayMs = CHECKPOINTER_RESTART_DELAY_MS): void {
    this.db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
    this.checkpointer = WalCheckpointer.start({
      file,
      intervalMs: WAL_CHECKPOINT_INTERVAL_MS,
      restartFrames: WAL_RESTART_PAGES,
      busyTimeoutMs: STORE_BUSY_TIMEOUT_MS,
      onFailure: (err) => {
        if (!this.db.open || this.closing) return;
        // Inline checkpoints meanwhile; the thread comes back after a delay that doubles while it keeps dying.
        this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
        this.health.checkpointerFailed(err);
        setTimeout(() => {
          if (!this.db.open || this.closing) return;
          this.startCheckpointer(file, Math.min(60_000, restartDelayMs * 2));
          this.health.checkpointerRestarted();
        }, restartDelayMs).unref();
      },
    });
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new SwitchboardError('store_failed', `database schema version ${current} is newer than this Switchboard (${latest}); upgrade Switchboard`);
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sql);
        this.db.pragma(`user_version = ${migration.version}`);
      })();
    }
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  // ---- calls -------------------------------------------------------------------------------------

  readonly calls = {
    record: (update: CallUpdate, event?: CallEventInput): Promise<void> => this.calls.recordMany([update], event),
    recordMany: (updates: CallUpdate[], event?: CallEventInput): Promise<void> => {
      const now = nowIso(); // one clock reading: the legs' updated_at and the event's time agree
      return this.writes.submit(() => {
        for (const update of updates) this.upsertCallSync(update, now);
        if (event) this.appendEventSync(event, now);
      });
    },
    get: async (id: string): Promise<CallRecord | undefined> => {
      await this.readable();
      return this.getCallSync(id);
    },
    list: async (filter: CallListFilter): Promise<CallPage> => {
      await this.readable();
      const where: string[] = [];
      const args: unknown[] = [];
      if (!filter.allLegs) where.push("leg = 'caller'");
      if (filter.agentId) (where.push('agent_id = ?'), args.push(filter.agentId));
      if (filter.number) (where.push('(from_number = ? OR to_number = ?)'), args.push(filter.number, filter.number));
      if (filter.since) (where.push('created_at >= ?'), args.push(filter.since));
      if (filter.until) (where.push('created_at < ?'), args.push(filter.until));
      if (filter.state) (where.push('state = ?'), args.push(filter.state));
      if (filter.cause) (where.push('cause = ?'), args.push(filter.cause));
      if (filter.cursor) {
        const c = decodeCursor(filter.cursor);
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        args.push(c.createdAt, c.createdAt, c.id);
      }
      const sql = `SELECT * FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
      const rows = (this.db.prepare(sql).all(...args, filter.limit + 1) as Row[]).map(callFromRow);
      const items = rows.slice(0, filter.limit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
    },
    children: async (parentCallId: string): Promise<CallRecord[]> => {
      await this.readable();
      return (this.stmt('SELECT * FROM calls WHERE parent_call_id = ? ORDER BY created_at, id').all(parentCallId) as Row[]).map(callFromRow);
    },
    closeOutOrphans: async (owner: string, closeOut: OrphanCloseOut): Promise<CallRecord[]> => {
      await this.readable();
      const now = nowIso();
      return this.db.transaction(() => {
        const orphans = (this.stmt(`SELECT * FROM calls WHERE media_owner = ? AND state NOT IN (${FINAL_STATES_SQL}) ORDER BY created_at, id`).all(owner) as Row[]).map(callFromRow);
        for (const call of orphans) {
          this.stmt("UPDATE calls SET state = 'completed', cause = ?, error_message = ?, ended_at = COALESCE(ended_at, ?), media_owner = NULL, updated_at = ? WHERE id = ?").run(
            closeOut.cause,
            closeOut.errorMessage,
            closeOut.endedAt,
            now,
            call.id,
          );
          this.appendEventSync({ callId: call.id, source: 'switchboard', type: closeOut.eventType, data: { cause: closeOut.cause, reason: closeOut.errorMessage, stateBefore: call.state } }, now);
        }
        // Ownership of calls that ended normally meanwhile but kept the mark (a write lost in the crash).
        this.stmt('UPDATE calls SET media_owner = NULL WHERE media_owner = ?').run(owner);
        return orphans;
      })();
    },
    addUsage: (id: string, usage: Record<string, number>): Promise<void> => {
      const now = nowIso();
      return this.writes.submit(() => {
        const row = this.stmt('SELECT usage FROM calls WHERE id = ?').get(id) as Row | undefined;
        if (!row) return;
        const total = (row.usage ? JSON.parse(String(row.usage)) : {}) as Record<string, number>;
        for (const [k, v] of Object.entries(usage)) total[k] = (total[k] ?? 0) + v;
        this.stmt('UPDATE calls SET usage = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(total), now, id);
      });
    },
  };

  /**
   * Insert or update a call leg in one statement. Undefined fields keep the stored value; a final state
   * is final: a late callback never reopens a finished call. Nothing is read back: turning the row into
   * objects cost more than writing it.
   */
  private upsertCallSync(update: CallUpdate, now: string): void {
    if (update.state !== undefined && !CALL_STATES.includes(update.state)) {
      throw new SwitchboardError('store_failed', `unknown call state ${update.state}`);
    }
    const values: unknown[] = [update.id, update.state ?? 'initiated', now, now];
    let columnSet = update.state === undefined ? 0 : 1;
    for (let i = 0; i < CALL_UPDATE_KEYS.length; i++) {
      const v = update[CALL_UPDATE_KEYS[i]!];
      if (v === undefined) continue;
      columnSet |= 2 << i;
      values.push(v);
    }
    this.callUpsert(columnSet).run(...values);
  }

  private callUpsert(columnSet: number): Database.Statement {
    let statement = this.callUpserts.get(columnSet);
    if (!statement) {
      const columns = CALL_UPDATE_KEYS.filter((_key, i) => columnSet & (2 << i)).map((key) => CALL_COLUMNS[key]);
      const sets = columns.map((column) => `${column} = excluded.${column}`);
      if (columnSet & 1) sets.push(`state = CASE WHEN state IN (${FINAL_STATES_SQL}) THEN state ELSE excluded.state END`);
      sets.push('updated_at = excluded.updated_at');
      statement = this.db.prepare(
        `INSERT INTO calls (id, state, created_at, updated_at${columns.map((c) => `, ${c}`).join('')})
         VALUES (?, ?, ?, ?${', ?'.repeat(columns.length)})
         ON CONFLICT(id) DO UPDATE SET ${sets.join(', ')}`,
      );
      this.callUpserts.set(columnSet, statement);
    }
    return statement;
  }

  private getCallSync(id: string): CallRecord | undefined {
    const row = this.stmt('SELECT * FROM calls WHERE id = ?').get(id) as Row | undefined;
    return row ? callFromRow(row) : undefined;
  }

  // ---- events and transcripts -------------------------------------------------------------------

  readonly events = {
    append: (event: CallEventInput): Promise<void> => {
      const at = event.at ?? nowIso();
      return this.writes.submit(() => this.appendEventSync(event, at));
    },
    list: async (callId: string): Promise<CallEventRecord[]> => {
      await this.readable();
      return (this.stmt('SELECT * FROM call_events WHERE call_id = ? ORDER BY id').all(callId) as Row[]).map((r) => ({
        id: Number(r.id),
        callId: String(r.call_id),
        at: String(r.at),
        source: r.source as CallEventRecord['source'],
        type: String(r.type),
        data: r.data === null ? null : JSON.parse(String(r.data)),
      }));
    },
  };

  private appendEventSync(event: CallEventInput, now: string): void {
    this
      .stmt('INSERT INTO call_events (call_id, at, source, type, data) VALUES (?, ?, ?, ?, ?)')
      .run(event.callId, event.at ?? now, event.source, event.type, event.data === undefined ? null : JSON.stringify(event.data));
  }

  readonly transcripts = {
    append: (item: TranscriptItemInput): Promise<void> => {
      const at = item.at ?? nowIso();
      return this.writes.submit(() => {
        this
          .stmt('INSERT INTO transcript_items (call_id, role, text, item_id, heard_ms, truncated, position, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(item.callId, item.role, item.text, item.itemId ?? null, item.heardMs ?? null, item.truncated ? 1 : 0, item.position ?? null, at);
      });
    },
    list: async (callId: string): Promise<TranscriptItemRecord[]> => {
      await this.readable();
      return (this.stmt('SELECT * FROM transcript_items WHERE call_id = ? ORDER BY position IS NULL, position, id').all(callId) as Row[]).map((r) => {
        const item: TranscriptItemRecord = {
          id: Number(r.id),
          callId: String(r.call_id),
          role: r.role as TranscriptItemRecord['role'],
          text: String(r.text),
          truncated: r.truncated === 1,
          at: String(r.at),
        };
        if (r.item_id !== null) item.itemId = String(r.item_id);
        if (r.heard_ms !== null) item.heardMs = Number(r.heard_ms);
        if (r.position !== null) item.position = Number(r.position);
        return item;
      });
    },
  };

  // ---- callback contexts (DESIGN §4.6) -------------------------------------------------------------

  /** Hand-off intents go through the call tables' group commit, in order with the session's events. */
  readonly handOffs = {
    set: (callId: string, intent: HandOffIntent): Promise<void> => {
      const now = nowIso();
      return this.writes.submit(() => {
        this.stmt('INSERT INTO hand_off_intents (call_id, intent, created_at) VALUES (?, ?, ?) ON CONFLICT(call_id) DO UPDATE SET intent = excluded.intent, created_at = excluded.created_at').run(callId, JSON.stringify(intent), now);
      });
    },
    get: async (callId: string): Promise<HandOffIntent | undefined> => {
      await this.readable();
      const row = this.stmt('SELECT intent FROM hand_off_intents WHERE call_id = ?').get(callId) as Row | undefined;
      return row ? (JSON.parse(String(row.intent)) as HandOffIntent) : undefined;
    },
    clear: (callId: string): Promise<void> => this.writes.submit(() => void this.stmt('DELETE FROM hand_off_intents WHERE call_id = ?').run(callId)),
  };

  /**
   * Contexts go through the call tables' group commit: a transfer's context and the callback's own
   * record land in one transaction, and put() settles only once it is committed.
   */
  readonly contexts = {
    put: (context: CallbackContextInput, options: { ifAbsent?: boolean } = {}): Promise<void> => {
      const nowMs = Date.now();
      const now = new Date(nowMs).toISOString();
      const sweep = nowMs - this.contextsSweptAtMs >= CALLBACK_CONTEXT_SWEEP_INTERVAL_MS;
      if (sweep) this.contextsSweptAtMs = nowMs;
      return this.writes.submit(() => {
        if (sweep) this.stmt('DELETE FROM callback_contexts WHERE expires_at <= ?').run(now);
        this
          .stmt(`INSERT ${options.ifAbsent ? 'OR IGNORE ' : ''}INTO callback_contexts (id, call_id, purpose, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`)
          .run(context.id, context.callId, context.purpose, JSON.stringify(context.data), now, context.expiresAt);
      });
    },
    get: async (id: string): Promise<CallbackContextRecord | undefined> => {
      await this.readable();
      const row = this.stmt('SELECT * FROM callback_contexts WHERE id = ? AND expires_at > ?').get(id, nowIso()) as Row | undefined;
      if (!row) return undefined;
      return {
        id: String(row.id),
        callId: String(row.call_id),
        purpose: String(row.purpose),
        data: JSON.parse(String(row.data)) as unknown,
        legCallId: row.leg_call_id === null ? null : String(row.leg_call_id),
        createdAt: String(row.created_at),
        expiresAt: String(row.expires_at),
      };
    },
    bindLeg: async (id: string, legCallId: string): Promise<string> => {
      // Decided inside the write, so of two legs answering in one turn exactly one is bound. A write
      // retried after a transient failure runs again, so the outcome is set on every run.
      let bound = legCallId;
      await this.writes.submit(() => {
        this.stmt('UPDATE callback_contexts SET leg_call_id = ? WHERE id = ? AND leg_call_id IS NULL').run(legCallId, id);
        const row = this.stmt('SELECT leg_call_id FROM callback_contexts WHERE id = ?').get(id) as Row | undefined;
        bound = row && row.leg_call_id !== null ? String(row.leg_call_id) : legCallId;
      });
      return bound;
    },
    consume: async (id: string, usedBy: string): Promise<ContextUse> => {
      let use: ContextUse = { first: true };
      await this.writes.submit(() => {
        const changed = this.stmt('UPDATE callback_contexts SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL').run(nowIso(), usedBy, id).changes;
        if (changed === 1) {
          use = { first: true };
          return;
        }
        const row = this.stmt('SELECT used_by, answer FROM callback_contexts WHERE id = ?').get(id) as Row | undefined;
        use = { first: false, usedBy: row?.used_by == null ? null : String(row.used_by), answer: row?.answer == null ? null : (JSON.parse(String(row.answer)) as unknown) };
      });
      return use;
    },
    remember: (id: string, answer: unknown): Promise<void> =>
      this.writes.submit(() => {
        this.stmt('UPDATE callback_contexts SET answer = ? WHERE id = ?').run(JSON.stringify(answer), id);
      }),
  };

  // ---- agents, destinations, numbers ---------------------------------------------------------------

  readonly agents = {
    get: async (id: string): Promise<StoredAgent | undefined> => this.routing.agent(id, (key) => this.getAgentSync(key)),
    list: async (): Promise<StoredAgent[]> =>
      (this.stmt('SELECT id FROM agents ORDER BY id').all() as Row[]).map((r) => this.getAgentSync(String(r.id))!),
    upsert: async (agent: Agent, source: AgentSource, destinationIds?: string[]): Promise<StoredAgent> =>
      this.routingWrite(this.db.transaction(() => {
        const now = nowIso();
        const { id, name, ...settings } = agent;
        this
          .stmt(
            `INSERT INTO agents (id, name, mode, settings, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, mode = excluded.mode, settings = excluded.settings,
               source = excluded.source, updated_at = excluded.updated_at`,
          )
          .run(id, name, agent.mode, JSON.stringify(settings), source, now, now);
        if (destinationIds) {
          this.stmt('DELETE FROM agent_destinations WHERE agent_id = ?').run(id);
          const insert = this.stmt('INSERT INTO agent_destinations (agent_id, destination_id, position) VALUES (?, ?, ?)');
          destinationIds.forEach((destinationId, position) => {
            if (!this.stmt('SELECT 1 FROM transfer_destinations WHERE id = ?').get(destinationId)) {
              throw new SwitchboardError('not_found', `transfer destination ${destinationId} does not exist`);
            }
            insert.run(id, destinationId, position);
          });
        }
        return this.getAgentSync(id)!;
      })),
    delete: async (id: string): Promise<boolean> =>
      this.routingWrite(this.db.transaction(() => {
        const numbers = this.stmt('SELECT COUNT(*) AS n FROM phone_numbers WHERE agent_id = ?').get(id) as Row;
        if (Number(numbers.n) > 0) {
          throw new SwitchboardError('conflict', `agent ${id} still has ${Number(numbers.n)} phone number(s) assigned; unassign or reassign them first`);
        }
        return this.stmt('DELETE FROM agents WHERE id = ?').run(id).changes > 0;
      })),
  };

  private getAgentSync(id: string): StoredAgent | undefined {
    const row = this.stmt('SELECT * FROM agents WHERE id = ?').get(id) as Row | undefined;
    if (!row) return undefined;
    const settings = agentSettingsSchema.safeParse(JSON.parse(String(row.settings)));
    if (!settings.success) {
      throw new SwitchboardError('store_failed', `agent ${id} has invalid stored settings: ${settings.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    }
    const destinations = (
      this
        .stmt(
          `SELECT d.settings FROM agent_destinations ad JOIN transfer_destinations d ON d.id = ad.destination_id
           WHERE ad.agent_id = ? ORDER BY ad.position, d.name`,
        )
        .all(id) as Row[]
    ).map((r) => transferDestinationSchema.parse(JSON.parse(String(r.settings))));
    const agent: AgentWithDestinations = { ...settings.data, id: String(row.id), name: String(row.name), destinations };
    return { agent, source: row.source as AgentSource, createdAt: String(row.created_at), updatedAt: String(row.updated_at) };
  }

  readonly destinations = {
    get: async (id: string): Promise<TransferDestination | undefined> => {
      const row = this.stmt('SELECT settings FROM transfer_destinations WHERE id = ?').get(id) as Row | undefined;
      return row ? transferDestinationSchema.parse(JSON.parse(String(row.settings))) : undefined;
    },
    list: async (): Promise<TransferDestination[]> =>
      (this.stmt('SELECT settings FROM transfer_destinations ORDER BY name').all() as Row[]).map((r) =>
        transferDestinationSchema.parse(JSON.parse(String(r.settings))),
      ),
    upsert: async (destination: TransferDestination): Promise<TransferDestination> =>
      this.routingWrite(() => {
        const now = nowIso();
        try {
          this
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
      }),
    delete: async (id: string): Promise<boolean> => this.routingWrite(() => this.stmt('DELETE FROM transfer_destinations WHERE id = ?').run(id).changes > 0),
  };

  readonly numbers = {
    assign: async (number: string, agentId: string): Promise<PhoneNumberRecord> =>
      this.routingWrite(this.db.transaction(() => {
        if (!this.stmt('SELECT 1 FROM agents WHERE id = ?').get(agentId)) {
          throw new SwitchboardError('not_found', `agent ${agentId} does not exist`);
        }
        const existing = this.stmt('SELECT * FROM phone_numbers WHERE number = ?').get(number) as Row | undefined;
        if (existing && existing.agent_id !== agentId) {
          throw new SwitchboardError('conflict', `${number} is already assigned to agent ${String(existing.agent_id)}`);
        }
        if (!existing) this.stmt('INSERT INTO phone_numbers (number, agent_id, created_at) VALUES (?, ?, ?)').run(number, agentId, nowIso());
        const row = this.stmt('SELECT * FROM phone_numbers WHERE number = ?').get(number) as Row;
        return { number: String(row.number), agentId: String(row.agent_id), createdAt: String(row.created_at) };
      })),
    unassign: async (number: string): Promise<boolean> => this.routingWrite(() => this.stmt('DELETE FROM phone_numbers WHERE number = ?').run(number).changes > 0),
    agentIdFor: async (number: string): Promise<string | undefined> =>
      this.routing.agentIdFor(number, (key) => {
        const row = this.stmt('SELECT agent_id FROM phone_numbers WHERE number = ?').get(key) as Row | undefined;
        return row ? String(row.agent_id) : undefined;
      }),
    list: async (agentId?: string): Promise<PhoneNumberRecord[]> =>
      (
        (agentId
          ? this.stmt('SELECT * FROM phone_numbers WHERE agent_id = ? ORDER BY number').all(agentId)
          : this.stmt('SELECT * FROM phone_numbers ORDER BY number').all()) as Row[]
      ).map((r) => ({ number: String(r.number), agentId: String(r.agent_id), createdAt: String(r.created_at) })),
  };

  /** Ready as far as the store goes: open, readable, writing (not stalled), its checkpointer running. */
  async ping(): Promise<boolean> {
    try {
      return this.db.open && this.health.ready && (this.stmt('SELECT 1 AS ok').get() as Row).ok === 1;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.db.open) return;
      this.db.pragma(`busy_timeout = ${STORE_BUSY_TIMEOUT_MS}`); // closing: waiting for a lock is fine now
      this.writes.flushSync();
      await this.checkpointer?.stop();
      this.writes.flushSync(); // anything written while the checkpointer stopped
      this.db.close(); // the last connection out checkpoints what is left
    })();
    return this.closing;
  }
}

/** Failures that can pass: another connection's lock, a full disk, an I/O error. Worth trying again later. */
export function isTransientSqliteError(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|PROTOCOL)/.test(code);
}

function callFromRow(row: Row): CallRecord {
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: String(row.id),
    parentCallId: s(row.parent_call_id),
    leg: row.leg as CallRecord['leg'],
    direction: s(row.direction) as CallRecord['direction'],
    from: s(row.from_number),
    to: s(row.to_number),
    accountId: s(row.account_id),
    applicationId: s(row.application_id),
    agentId: s(row.agent_id),
    mode: s(row.mode) as CallRecord['mode'],
    state: row.state as CallRecord['state'],
    cause: s(row.cause),
    errorMessage: s(row.error_message),
    tag: s(row.tag),
    startedAt: s(row.started_at),
    answeredAt: s(row.answered_at),
    endedAt: s(row.ended_at),
    usage: row.usage ? (JSON.parse(String(row.usage)) as Record<string, number>) : null,
    recordingPath: s(row.recording_path),
    mediaOwner: s(row.media_owner),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

/** Page cursors are opaque to API users: base64url of the last row's sort key. */
function encodeCursor(call: CallRecord): string {
  return Buffer.from(JSON.stringify([call.createdAt, call.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt === 'string' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new SwitchboardError('invalid_request', 'the cursor is not valid (use nextCursor from a previous page)');
}
