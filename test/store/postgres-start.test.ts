import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { isSwitchboardError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { startSwitchboard } from '../../src/main';
import { PostgresStore } from '../../src/store/postgres';
import { SqliteStore } from '../../src/store/sqlite';
import { postgresServerAvailable, startPostgresServer, type PostgresServer } from '../helpers/postgres';

const PASSWORD = 'Corr3ct-h0rse-battery';
const WRONG = 'wr0ng-Pa55word-zebra';

/** Start Switchboard with `databaseUrl`; what it printed and logged is returned beside the outcome. */
async function start(databaseUrl: string | undefined): Promise<{ error: unknown; output: string; app?: Awaited<ReturnType<typeof startSwitchboard>> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pg-start-'));
  let output = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  try {
    const app = await startSwitchboard({
      env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'debug', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
      print: (text) => (output += text),
      logger: createLogger('debug', sink),
    });
    return { error: undefined, output, app };
  } catch (error) {
    return { error, output };
  } finally {
    setImmediate(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  }
}

async function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * DATABASE_URL selects PostgreSQL; a wrong one refuses the start with a message naming the problem, and never
 * the password (the issue's "Bad input"). SQLite stays the default without it.
 */
describe('choosing the store at start', () => {
  it('without DATABASE_URL the store is SQLite in the data directory', async () => {
    const { error, app } = await start(undefined);
    expect(error).toBeUndefined();
    try {
      expect(app!.store).toBeInstanceOf(SqliteStore);
    } finally {
      await app!.close(0);
    }
  });

  it('refuses a URL that is not a postgres:// URL, naming the variable and never the password', async () => {
    for (const url of [`mysql://admin:${WRONG}@db.example.com/switchboard`, `not a url ${WRONG}`, `postgres://admin:${WRONG}@/nohost`]) {
      const { error, output } = await start(url);
      expect(isSwitchboardError(error, 'config_invalid')).toBe(true);
      expect((error as Error).message).toMatch(/DATABASE_URL: .*(postgres:\/\/|not a URL|no host)/);
      expect(`${(error as Error).message}${output}`).not.toContain(WRONG);
    }
  });

  it('refuses an unreachable server, naming host and port', async () => {
    const port = await unusedPort();
    const { error, output } = await start(`postgres://switchboard:${WRONG}@127.0.0.1:${port}/switchboard`);
    expect(isSwitchboardError(error, 'store_failed')).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    expect(`${(error as Error).message}${JSON.stringify((error as { details?: unknown }).details)}${output}`).not.toContain(WRONG);
  });

  it('refuses a host that does not resolve', async () => {
    const { error } = await start(`postgres://switchboard:${WRONG}@no-such-host.invalid:5432/switchboard`);
    expect(isSwitchboardError(error, 'store_failed')).toBe(true);
    expect((error as Error).message).toMatch(/cannot reach PostgreSQL: the host no-such-host\.invalid does not resolve/);
    expect((error as Error).message).not.toContain(WRONG);
  });
});

const describeWithOwnServer = postgresServerAvailable() ? describe : describe.skip;

describeWithOwnServer('choosing the store at start: a server that asks for a password', () => {
  let pg: PostgresServer;
  beforeAll(async () => {
    pg = await startPostgresServer({ password: PASSWORD });
  }, 60_000);
  afterAll(() => pg?.destroy());

  const url = (password: string | undefined, database = 'postgres') => `postgres://postgres${password === undefined ? '' : `:${encodeURIComponent(password)}`}@127.0.0.1:${pg.port}/${database}`;

  it('refuses a wrong password: authentication failed, naming the user, never the password', async () => {
    const { error, output } = await start(url(WRONG));
    expect(isSwitchboardError(error, 'store_failed')).toBe(true);
    expect((error as Error).message).toMatch(/refused the credentials of user postgres \(authentication failed\)/);
    expect(`${(error as Error).message}${JSON.stringify((error as { details?: unknown }).details)}${output}`).not.toContain(WRONG);
  });

  it('refuses a URL without the password the server asks for', async () => {
    const { error } = await start(url(undefined));
    expect(isSwitchboardError(error, 'store_failed')).toBe(true);
    expect((error as Error).message).toMatch(/authentication failed/);
  });

  it('refuses a database that does not exist, naming it', async () => {
    const { error, output } = await start(url(PASSWORD, 'no_such_db'));
    expect(isSwitchboardError(error, 'store_failed')).toBe(true);
    expect((error as Error).message).toMatch(/the database no_such_db does not exist on PostgreSQL at 127\.0\.0\.1:\d+/);
    expect(`${(error as Error).message}${output}`).not.toContain(PASSWORD);
  });

  it('starts on the right credentials, and prints and logs no password', async () => {
    const { error, output, app } = await start(url(PASSWORD));
    expect(error).toBeUndefined();
    try {
      expect(app!.store).toBeInstanceOf(PostgresStore);
      expect(await app!.store.ping()).toBe(true);
      expect(output).toContain('the store is PostgreSQL');
      expect(output).not.toContain(PASSWORD);
      expect(output).not.toContain(encodeURIComponent(PASSWORD));
    } finally {
      await app!.close(0);
    }
  });
});
