import { Client } from 'pg';
import type { StoreHealth } from '../../../src/store/health';
import { PostgresStore } from '../../../src/store/postgres';
import { SqliteStore } from '../../../src/store/sqlite';
import type { Store } from '../../../src/store/types';
import { describeWithPostgres, testDatabase, type TestDatabase } from '../../helpers/postgres';

/**
 * The contract suite runs every repository behaviour against both backends: `describeEachBackend` declares its
 * body once for SQLite and once for PostgreSQL (skipped, saying why, where no PostgreSQL is reachable).
 */
export type ContractStore = Store & { readonly health: StoreHealth };

export interface StoreBackend {
  readonly name: 'SQLite' | 'PostgreSQL';
  /**
   * Whether several instances can share the store. SQLite: no (one instance per data directory,
   * src/data-dir-lock.ts), so `peer()` is the same object; PostgreSQL: yes, `peer()` is another instance.
   */
  readonly multiInstance: boolean;
  /** A store on a fresh, empty database (closed after the test). */
  open(): Promise<ContractStore>;
  /** Another store object on the database of the last open(): another instance where the backend has several. */
  peer(): Promise<ContractStore>;
  /** Two stores opened at once on a database never migrated (PostgreSQL: racing for the migration lock). */
  openTwoAtOnce(): Promise<[ContractStore, ContractStore]>;
}

export function describeEachBackend(title: string, body: (backend: StoreBackend) => void): void {
  describe(`${title} (SQLite)`, () => body(sqliteBackend()));
  describeWithPostgres(`${title} (PostgreSQL)`, () => body(postgresBackend()));
}

/** Closes what a test opened, after it. */
function opened(): { track<T extends { close(): Promise<void> }>(store: T): T } {
  let stores: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    const closing = stores;
    stores = [];
    await Promise.all(closing.map((s) => s.close()));
  });
  return {
    track(store) {
      stores.push(store);
      return store;
    },
  };
}

function sqliteBackend(): StoreBackend {
  const stores = opened();
  let last: SqliteStore | undefined;
  return {
    name: 'SQLite',
    multiInstance: false,
    async open() {
      return (last = stores.track(SqliteStore.open(':memory:')));
    },
    async peer() {
      if (!last) throw new Error('open() first');
      return last;
    },
    async openTwoAtOnce() {
      const store = stores.track(SqliteStore.open(':memory:'));
      return [store, store];
    },
  };
}

const TABLES = 'agents, transfer_destinations, agent_destinations, phone_numbers, calls, call_events, transcript_items, callback_contexts, hand_off_intents, report_outbox, media_tokens, console_sessions';

function postgresBackend(): StoreBackend {
  const stores = opened();
  let db: TestDatabase | undefined;
  const extra: TestDatabase[] = [];
  beforeAll(async () => {
    db = await testDatabase();
  }, 60_000);
  afterAll(async () => {
    for (const d of extra.splice(0)) await d.close();
    await db?.close();
  }, 60_000);
  return {
    name: 'PostgreSQL',
    multiInstance: true,
    async open() {
      const store = stores.track(await PostgresStore.open(db!.url));
      // One database per file, emptied per test: a fresh database per test costs far more.
      const client = new Client({ connectionString: db!.url });
      await client.connect();
      try {
        await client.query(`TRUNCATE ${TABLES} RESTART IDENTITY CASCADE`);
      } finally {
        await client.end();
      }
      return store;
    },
    async peer() {
      return stores.track(await PostgresStore.open(db!.url));
    },
    async openTwoAtOnce() {
      const fresh = await db!.another();
      extra.push(fresh);
      const [a, b] = await Promise.all([PostgresStore.open(fresh.url), PostgresStore.open(fresh.url)]);
      return [stores.track(a), stores.track(b)];
    },
  };
}
