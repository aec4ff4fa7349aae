import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * The `switchboard` command as a user runs it: a child process per command, so what is checked is the
 * exit code and stderr the shell sees (a process that exits before its error is reported exits 0 and
 * prints nothing, which an in-process test cannot see). Runs the built CLI: `npm test` builds it first.
 * Exit codes (README, admin commands): 0 done, 1 refused, 2 usage or input file, 3 unreachable,
 * 78 invalid configuration.
 */
const CLI = path.join(__dirname, '../../dist/cli/main.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function switchboard(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    // Only what the test sets: no .env or OPENAI/BANDWIDTH settings leak in from the machine.
    const childEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', ...env };
    execFile(process.execPath, [CLI, ...args], { env: childEnv, cwd: env.DATA_DIR, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('switchboard exit codes and messages (child process)', () => {
  // Each case starts the CLI several times (about a second of CPU each): on a loaded two-core machine the
  // project's 15 s default is too close. The cases assert exit codes and messages, not speed.
  jest.setTimeout(45_000);
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  });
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-exit-'));
    env = { DATA_DIR: dataDir };
  });
  afterEach(() => {
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refusals by the API exit 1 with the API message on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['agents', 'show', 'missing'], /agent missing does not exist/],
      [['calls', 'show', 'missing'], /call missing does not exist/],
      [['numbers', 'assign', '555', '--agent', 'default'], /E\.164/],
      [['numbers', 'assign', '+19195550100', '--agent', 'missing'], /agent missing does not exist/],
      [['call', '+19195550100', '--agent', 'default'], /Bandwidth REST credentials are not configured/],
    ];
    for (const [args, message] of cases) {
      const r = await switchboard(args, env);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(message);
    }
    expect((await switchboard(['agents', 'create', 'x', '--name', 'X'], env)).code).toBe(0);
    const dup = await switchboard(['agents', 'create', 'x', '--name', 'X'], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/agent x already exists/);
  });

  it('bad usage and bad input files exit 2', async () => {
    const missingOption = await switchboard(['numbers', 'assign', '+19195550100'], env);
    expect(missingOption.code).toBe(2);
    expect(missingOption.stderr).toMatch(/required option '--agent <id>'/);
    expect((await switchboard(['agents', 'import', path.join(dataDir, 'nope.yaml')], env)).stderr).toMatch(/ENOENT/);
    fs.writeFileSync(path.join(dataDir, 'bad.json'), '{bad');
    const bad = await switchboard(['agents', 'import', path.join(dataDir, 'bad.json')], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.json/);
    expect((await switchboard(['--help'], env)).code).toBe(0);
    const version = await switchboard(['--version'], env);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('an unreachable server exits 3', async () => {
    const r = await switchboard(['calls', 'list', '--url', 'http://127.0.0.1:9', '--token', 't'], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('serve refuses a bad configuration with exit 78 and every problem in one report', async () => {
    const tools = path.join(dataDir, 'tools.json');
    fs.writeFileSync(tools, JSON.stringify([{ name: 'lookup', description: 'x', url: 'ftp://nope' }]));
    const r = await switchboard(['serve'], { ...env, PORT: 'eighty', AGENT_SIP_TARGET: 'bogus', AGENT_TOOLS_FILE: tools });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/PORT:/);
    expect(r.stderr).toMatch(/AGENT_SIP_TARGET: must be a SIP URI/);
    expect(r.stderr).toMatch(/AGENT_TOOLS_FILE .*tools\.json: \[0\.url\]/);
    const missing = await switchboard(['serve'], { ...env, PORT: '0', AGENT_TOOLS_FILE: path.join(dataDir, 'none.json') });
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/AGENT_TOOLS_FILE .*none\.json: ENOENT/);
    const corrupt = path.join(dataDir, 'corrupt.db');
    fs.writeFileSync(corrupt, 'this is not a database, it is a text file that is long enough to be read as one');
    const broken = await switchboard(['serve'], { ...env, PORT: '0', DATABASE_PATH: corrupt });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/could not start: .*not a database/);
    // A password with a bare % (not percent-encoded) is a configuration mistake, not a crash; never echoed.
    const percent = await switchboard(['serve'], { ...env, PORT: '0', DATABASE_URL: 'postgresql://bob:S3cret%PW@127.0.0.1:1/db' });
    expect(percent.code).toBe(78);
    expect(percent.stderr).toMatch(/DATABASE_URL: password is not percent-encoded.*percent-encode the password/);
    expect(`${percent.stdout}${percent.stderr}`).not.toContain('S3cret');
    fs.writeFileSync(tools, '[{');
    const notJson = await switchboard(['serve'], { ...env, PORT: '0', AGENT_TOOLS_FILE: tools });
    expect(notJson.code).toBe(78);
    expect(notJson.stderr).toMatch(/AGENT_TOOLS_FILE .*tools\.json: .*JSON/);
  });

  it('serve on a port in use exits 78 with one line, not a stack', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await switchboard(['serve'], { ...env, PORT: String(port), HOST: '127.0.0.1' });
      expect(r.code).toBe(78);
      expect(r.stderr.trim().split('\n')).toEqual([`switchboard: PORT ${port} is already in use on 127.0.0.1: stop the other process or set PORT (or --port) to a free port`]);
    } finally {
      blocker.close();
    }
  });

  it('a second server on the same DATA_DIR is refused (it would close out the first one\'s live calls); a stale lock is taken over', async () => {
    fs.writeFileSync(path.join(dataDir, 'server.lock'), '4194303\n'); // a pid no process has: left by a crash
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    blocker.close();
    const first = spawn(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' }, stdio: 'ignore' });
    try {
      for (let i = 0; i < 200; i++) {
        if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(fs.readFileSync(path.join(dataDir, 'server.lock'), 'utf8').trim()).toBe(String(first.pid));
      const second = await switchboard(['serve'], { ...env, PORT: '0', HOST: '127.0.0.1' });
      expect(second.code).toBe(78);
      expect(second.stderr).toMatch(new RegExp(`is in use by another Switchboard \\(pid ${first.pid}\\)`));
      // A CLI command on the same directory is not a server: it works beside it.
      expect((await switchboard(['agents', 'list'], env)).code).toBe(0);
    } finally {
      first.kill('SIGTERM');
      await new Promise((resolve) => first.once('exit', resolve));
    }
    expect(fs.existsSync(path.join(dataDir, 'server.lock'))).toBe(false); // released on a clean stop
  });
});
