import { Pool, type PoolConfig } from 'pg';
import { PG_CONNECT_TIMEOUT_MS, PG_POOL_MAX, PG_QUERY_TIMEOUT_MS, STORE_BUSY_TIMEOUT_MS, STORE_READ_WAIT_MS } from '../constants';
import { createLogger, type Logger } from '../log';
import type { CommitObserver } from './group-commit';
import { StoreHealth } from './health';
import { PgAgents } from './postgres/agents';
import { callTablesQueue } from './postgres/call-tables-commit';
import { PgCalls } from './postgres/calls';
import { connectionFailure, postgresTarget } from './postgres/connection';
import { PgCallbackContexts } from './postgres/contexts';
import { PgConsoleSessions } from './postgres/console-sessions';
import { PgDestinations } from './postgres/destinations';
import { PgEvents } from './postgres/events';
import { PgHandOffs } from './postgres/hand-offs';
import { PgMediaTokens } from './postgres/media-tokens';
import { migratePostgres } from './postgres/migrations';
import { ChangeAnnouncer, PgInstanceBus, PgListener } from './postgres/notifications';
import { PgNumbers } from './postgres/numbers';
import { PgReports } from './postgres/reports';
import { PgShared } from './postgres/shared';
import { PgTranscripts } from './postgres/transcripts';
import type { PgWriteQueue } from './postgres/write-queue';
import type {
  AgentsRepository,
  CallbackContextsRepository,
  CallsRepository,
  ChangeFeed,
  ConsoleSessionsRepository,
  DestinationsRepository,
  EventsRepository,
  HandOffsRepository,
  InstanceBus,
  MediaTokensRepository,
  NumbersRepository,
  ReportsRepository,
  Store,
  TranscriptsRepository,
} from './types';

/**
 * The store for several instances behind one address (DESIGN §4.12, §6): PostgreSQL through a `pg` Pool. The
 * repositories (`postgres/`) keep the SQLite backend's exact behaviour (one contract suite checks both,
 * test/store/contract/); the call tables' writes go through a write queue that never makes a live call wait
 * for the database (docs/reliability.md), and the change feed and the instance bus travel over LISTEN/NOTIFY.
 */
export class PostgresStore implements Store {
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
  readonly mediaTokens: MediaTokensRepository;
  readonly consoleSessions: ConsoleSessionsRepository;
  readonly bus: PgInstanceBus;

  private readonly shared: PgShared;
  private readonly writes: PgWriteQueue;
  private readonly listener: PgListener;
  private closing: Promise<void> | undefined;

  get changes(): ChangeFeed {
    return this.shared.changes;
  }

  private constructor(
    private readonly pool: Pool,
    clientConfig: PoolConfig,
    private readonly logger: Logger,
    readWaitMs: number,
    onCommit: CommitObserver | undefined,
  ) {
    this.health = new StoreHealth(logger);
    const announcer = new ChangeAnnouncer();
    this.writes = callTablesQueue(pool, this.health, announcer, onCommit);
    this.shared = new PgShared(pool, this.writes, readWaitMs, announcer);
    const events = new PgEvents(this.shared);
    const reports = new PgReports(this.shared);
    this.events = events;
    this.reports = reports;
    this.calls = new PgCalls(this.shared, events, reports);
    this.transcripts = new PgTranscripts(this.shared);
    this.handOffs = new PgHandOffs(this.shared);
    this.contexts = new PgCallbackContexts(this.shared);
    this.agents = new PgAgents(this.shared);
    this.destinations = new PgDestinations(this.shared);
    this.numbers = new PgNumbers(this.shared);
    this.mediaTokens = new PgMediaTokens(pool);
    this.consoleSessions = new PgConsoleSessions(this.shared);
    this.bus = new PgInstanceBus(pool);
    this.listener = new PgListener(clientConfig, this.shared.changes, announcer, this.bus, logger);
  }

  /**
   * Connect, migrate (under an advisory lock: instances starting together take turns) and start listening.
   * A database that cannot be opened refuses the start with what is wrong: unreachable, credentials refused,
   * no such database (postgres/connection.ts), never with the password. `onCommit`: told the duration of each
   * call-tables commit (src/metrics), as SqliteStore.open is.
   */
  static async open(url: string, options: { logger?: Logger; readWaitMs?: number; onCommit?: CommitObserver } = {}): Promise<PostgresStore> {
    const target = postgresTarget(url);
    const logger = options.logger ?? createLogger('silent');
    const config: PoolConfig = {
      connectionString: url,
      max: PG_POOL_MAX,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      query_timeout: PG_QUERY_TIMEOUT_MS,
      application_name: 'switchboard',
      keepAlive: true,
    };
    const pool = new Pool(config);
    // An idle connection the server dropped (a restart, a failover) is the pool's to replace, not a crash.
    pool.on('error', (err) => logger.warn({ err: err.message }, 'a PostgreSQL connection was lost; the pool opens another'));
    const password = decodeURIComponent(new URL(url).password);
    let store: PostgresStore | undefined;
    try {
      const client = await pool.connect().catch((err: unknown) => Promise.reject(connectionFailure(err, target, password)));
      try {
        await migratePostgres(client);
      } finally {
        client.release();
      }
      store = new PostgresStore(pool, config, logger, options.readWaitMs ?? STORE_READ_WAIT_MS, options.onCommit);
      await store.listener.start();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    logger.info({ database: target.redacted }, 'the store is PostgreSQL');
    return store;
  }

  /** Connections the listener made (1 until it lost one): a reader can tell it may have missed changes. */
  get listenConnections(): number {
    return this.listener.connections;
  }

  /** Ready as far as the store goes: writing (not stalled), listening for the other instances, and answering. */
  async ping(): Promise<boolean> {
    if (this.closing || !this.health.ready || !this.listener.connected) return false;
    try {
      return (await this.pool.query('SELECT 1 AS ok')).rows[0]?.ok === 1;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.listener.close();
      const lost = await this.writes.close(STORE_BUSY_TIMEOUT_MS);
      if (lost > 0) this.logger.error({ lost }, 'closed with writes the database never took: they are lost');
      await this.pool.end().catch(() => undefined);
    })();
    return this.closing;
  }
}
