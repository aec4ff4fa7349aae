import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  CHECKPOINTER_MAX_RESTART_DELAY_MS,
  CHECKPOINTER_RESTART_DELAY_MS,
  STORE_BUSY_TIMEOUT_MS,
  STORE_LOOP_BUSY_TIMEOUT_MS,
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
import type { CommitObserver, GroupCommit } from './group-commit';
import { StoreHealth } from './health';
import { createLogger, type Logger } from '../log';
import { SqliteAgents } from './sqlite/agents';
import { callTablesCommit, type CallTablesWrite } from './sqlite/call-tables-commit';
import { SqliteCalls } from './sqlite/calls';
import { SqliteCallbackContexts } from './sqlite/contexts';
import { SqliteConsoleSessions } from './sqlite/console-sessions';
import { SqliteDestinations } from './sqlite/destinations';
import { SqliteEvents } from './sqlite/events';
import { SqliteHandOffs } from './sqlite/hand-offs';
import { SqliteNumbers } from './sqlite/numbers';
import { SqliteReports } from './sqlite/reports';
import { SqliteShared, type Row } from './sqlite/shared';
import { SqliteTranscripts } from './sqlite/transcripts';
import { LocalInstanceBus, LocalMediaTokens } from './local-feeds';
import type {
  AgentsRepository,
  CallbackContextsRepository,
  CallsRepository,
  DestinationsRepository,
  EventsRepository,
  HandOffsRepository,
  NumbersRepository,
  ReportsRepository,
  ChangeFeed,
  ConsoleSessionsRepository,
  InstanceBus,
  MediaTokensRepository,
  Store,
  TranscriptsRepository,
} from './types';

export { isTransientSqliteError } from './sqlite/errors';

/**
 * The embedded default store: better-sqlite3 in WAL mode (DESIGN §6). This class opens, migrates, watches
 * and closes the database; the repositories (`sqlite/`) share its connection, statements, group commit and
 * routing cache through one SqliteShared.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;

  /** Writes to calls, events and transcripts, committed together per turn of the event loop. */
  private readonly writes: GroupCommit<CallTablesWrite>;

  private readonly shared: SqliteShared;

  /** Started once the database is migrated (file databases only). */
  private checkpointer: WalCheckpointer | undefined;
  private closing: Promise<void> | undefined;

  readonly health: StoreHealth;

  readonly calls: CallsRepository;
  readonly events: EventsRepository;
  readonly transcripts: TranscriptsRepository;
  readonly handOffs: HandOffsRepository;
  readonly contexts: CallbackContextsRepository;
  readonly agents: AgentsRepository;
  readonly destinations: DestinationsRepository;
  readonly numbers: NumbersRepository;
  readonly reports: ReportsRepository;
  readonly mediaTokens: MediaTokensRepository = new LocalMediaTokens();
  readonly bus: InstanceBus = new LocalInstanceBus();
  readonly consoleSessions: ConsoleSessionsRepository;

  get changes(): ChangeFeed {
    return this.shared.changes;
  }

  private constructor(db: Database.Database, logger: Logger, readWaitMs: number, onCommit?: CommitObserver) {
    this.db = db;
    this.health = new StoreHealth(logger);
    this.writes = callTablesCommit(db, this.health, onCommit);
    this.shared = new SqliteShared(db, this.writes, readWaitMs);
    const events = new SqliteEvents(this.shared);
    this.events = events;
    const reports = new SqliteReports(this.shared);
    this.reports = reports;
    this.calls = new SqliteCalls(this.shared, events, reports);
    this.transcripts = new SqliteTranscripts(this.shared);
    this.handOffs = new SqliteHandOffs(this.shared);
    this.contexts = new SqliteCallbackContexts(this.shared);
    this.agents = new SqliteAgents(this.shared);
    this.destinations = new SqliteDestinations(this.shared);
    this.numbers = new SqliteNumbers(this.shared);
    this.consoleSessions = new SqliteConsoleSessions(this.shared);
  }

  /** Open (creating directories as needed) and migrate. `:memory:` gives a private in-memory store. */
  /** `onCommit`: told the duration of each call-tables commit (src/metrics). */
  static open(file: string, options: { logger?: Logger; readWaitMs?: number; onCommit?: CommitObserver } = {}): SqliteStore {
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
    const store = new SqliteStore(db, options.logger ?? createLogger('silent'), options.readWaitMs ?? STORE_READ_WAIT_MS, options.onCommit);
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
          this.startCheckpointer(file, Math.min(CHECKPOINTER_MAX_RESTART_DELAY_MS, restartDelayMs * 2));
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

  /** Ready as far as the store goes: open, readable, writing (not stalled), its checkpointer running. */
  async ping(): Promise<boolean> {
    try {
      return this.db.open && this.health.ready && (this.shared.stmt('SELECT 1 AS ok').get() as Row).ok === 1;
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
