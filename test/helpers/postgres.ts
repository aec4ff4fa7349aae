import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/**
 * A real PostgreSQL for the tests that need one, the way a user runs one:
 * - PG_TEST_URL set (as `.ci/run` does, or pointing at your own server): each call creates a fresh database on
 *   that server and drops it on close; the URL's user must be allowed to CREATE DATABASE.
 * - Otherwise, where PostgreSQL's `initdb` and `pg_ctl` are installed: a throwaway server per test file,
 *   in a temporary directory on a free loopback port, stopped on close.
 * - Neither: `undefined`, and the test file says it was skipped (describeWithPostgres).
 */
export interface TestDatabase {
  /** postgres://… naming a fresh, empty database. */
  url: string;
  /** Another fresh database on the same server (two instances need one shared database; other tests, their own). */
  another(): Promise<TestDatabase>;
  close(): Promise<void>;
}

const PG_BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin', '/usr/local/bin', '/usr/bin'];

function findPgBin(name: string): string | undefined {
  for (const dir of PG_BIN_DIRS) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

/** True where the tests can reach a PostgreSQL: PG_TEST_URL, or initdb and pg_ctl to start one. */
export function postgresAvailable(): boolean {
  return Boolean(process.env.PG_TEST_URL) || Boolean(findPgBin('initdb') && findPgBin('pg_ctl'));
}

/** `describe` where a PostgreSQL is reachable; otherwise one skipped test that says why. */
export function describeWithPostgres(name: string, body: () => void): void {
  if (postgresAvailable()) return describe(name, body);
  describe(name, () => it.skip('needs PostgreSQL: set PG_TEST_URL, or install PostgreSQL (initdb, pg_ctl)', () => undefined));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs as the postgres user when we are root (PostgreSQL refuses to run as root). */
function asServerUser(file: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

async function createDatabase(serverUrl: string): Promise<TestDatabase> {
  const name = `sb_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    another: () => createDatabase(serverUrl),
    async close() {
      const client = new Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A throwaway PostgreSQL server of a test's own, which the test may stop and start again (a database outage). */
export interface PostgresServer {
  /** postgres://… naming its `postgres` database (with the password when password auth is on). */
  url: string;
  port: number;
  /** Stop it (`pg_ctl stop`, fast: connections are cut, as in an outage). */
  stop(): void;
  /** Start it again on the same port and data. */
  start(): void;
  /** Stop it for good and delete its files. */
  destroy(): void;
}

/** True where a test can start a server of its own (initdb and pg_ctl installed): PG_TEST_URL alone is not enough. */
export function postgresServerAvailable(): boolean {
  return Boolean(findPgBin('initdb') && findPgBin('pg_ctl'));
}

/**
 * A throwaway server in a temporary directory on a free loopback port. With `password`, it asks for one
 * (scram-sha-256 for every connection, user postgres), as a production server does.
 */
export async function startPostgresServer(options: { password?: string } = {}): Promise<PostgresServer> {
  const initdb = findPgBin('initdb')!;
  const pgCtl = findPgBin('pg_ctl')!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-pg-'));
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const auth = ['-A', 'trust'];
  if (options.password) {
    const pwfile = path.join(dir, 'pwfile');
    fs.writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres', pwfile]);
    auth.splice(0, 2, '-A', 'scram-sha-256', `--pwfile=${pwfile}`);
  }
  execFileSync(...asServerUser(initdb, ['-D', data, ...auth, '-U', 'postgres', '--no-sync']), { stdio: 'ignore' });
  // Loopback only, no unix socket in a shared directory, fsync off: a throwaway server for tests.
  const serverOptions = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories='' -c fsync=off -c full_page_writes=off`;
  const start = () => execFileSync(...asServerUser(pgCtl, ['-D', data, '-o', serverOptions, '-w', '-l', path.join(dir, 'server.log'), 'start']), { stdio: 'ignore' });
  const stop = (mode: 'fast' | 'immediate') => execFileSync(...asServerUser(pgCtl, ['-D', data, '-m', mode, '-w', 'stop']), { stdio: 'ignore' });
  start();
  const credentials = options.password ? `postgres:${encodeURIComponent(options.password)}` : 'postgres';
  return {
    url: `postgres://${credentials}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => stop('fast'),
    start,
    destroy() {
      try {
        stop('immediate');
      } catch {
        // Already stopped.
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A fresh database (see above). Close it in afterAll: with a server of the file's own, closing the first
 * database also stops the server.
 */
export async function testDatabase(): Promise<TestDatabase | undefined> {
  if (process.env.PG_TEST_URL) return createDatabase(process.env.PG_TEST_URL);
  if (!postgresAvailable()) return undefined;
  const server = await startPostgresServer();
  try {
    const db = await createDatabase(server.url);
    return {
      ...db,
      async close() {
        server.destroy();
      },
    };
  } catch (err) {
    server.destroy();
    throw err;
  }
}

