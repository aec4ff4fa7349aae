import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * `switchboard replay` failures as the shell sees them (child process): a non-zero exit code and a message
 * on stderr, never a stack trace. 1 not green, 2 usage or a bad file, 3 unreachable (README).
 */
const ROOT = path.join(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const FIXTURE = path.join(ROOT, 'fixtures/replay/stream-rejected.json');

function replay(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'replay', ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('switchboard replay: failures exit non-zero with a message on stderr', () => {
  let dir: string;
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-replay-exit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a bad scenario file exits 2 naming the step and field, and nothing is replayed', async () => {
    const steps = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { request?: { url?: unknown } }[];
    steps[3]!.request!.url = 42;
    fs.writeFileSync(path.join(dir, 'edited.json'), JSON.stringify(steps));
    fs.writeFileSync(path.join(dir, 'cut.json'), fs.readFileSync(FIXTURE, 'utf8').slice(0, 300));
    const r = await replay([FIXTURE, 'edited.json', 'cut.json'], dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('switchboard replay: edited.json is not a valid scenario:\n  step 3 (callback): request.url: expected a string');
    expect(r.stderr).toMatch(/switchboard replay: cut\.json is not JSON: line \d+, column \d+: .*\(the file ends there: is it truncated\?\)/);
    expect(r.stderr).toContain('nothing was replayed');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('bad usage exits 2; an unreachable target exits 3', async () => {
    const both = await replay([FIXTURE, '--self', '--url', 'http://127.0.0.1:1'], dir);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('switchboard replay: --self and --url exclude each other: replay on a server of its own, or against the one at --url\n');
    const stray = await replay([FIXTURE, '--token', 't', '--no-check'], dir);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toBe('switchboard replay: --token, --no-check only apply with --url: without it, replay uses a server of its own with its own credentials\n');
    const notUrl = await replay([FIXTURE, '--url', 'ftp://example.com'], dir);
    expect(notUrl.code).toBe(2);
    expect(notUrl.stderr).toMatch(/--url ftp:\/\/example\.com is not an http/);
    const noToken = await replay([FIXTURE, '--url', 'http://127.0.0.1:1', '--username', 'u', '--password', 'p'], dir);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/needs its admin token: --token, ADMIN_TOKEN, or --data-dir/);

    const port = await freePort();
    const down = await replay([FIXTURE, '--url', `http://127.0.0.1:${port}`, '--username', 'u', '--password', 'p', '--token', 't'], dir);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(new RegExp(`^switchboard replay: cannot reach http://127\\.0\\.0\\.1:${port}`));
    const unchecked = await replay([FIXTURE, '--url', `http://127.0.0.1:${port}`, '--username', 'u', '--password', 'p', '--no-check'], dir);
    expect(unchecked.code).toBe(3);
    expect(unchecked.stderr).toMatch(/cannot reach/);
  });

  it('a scenario that does not replay green exits 1 with a line on stderr', async () => {
    // Expect a different apology than the one this server (the scenario's own settings) gives.
    const steps = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { kind: string; response?: { body?: string } }[];
    const fallback = steps.find((s) => s.kind === 'callback-response' && s.response?.body?.includes('Sorry'))!;
    fallback.response!.body = fallback.response!.body!.replace('Sorry', 'Apologies');
    fs.writeFileSync(path.join(dir, 'changed.json'), JSON.stringify(steps));
    const r = await replay(['changed.json'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL  step \d+ stream-ended: <Response>\/<SpeakSentence>: text differs; expected "Apologies/);
    expect(r.stderr).toBe('switchboard replay: 1 of 1 scenario did not replay green (see above)\n');
    expect(r.stdout).not.toContain('note:');
    // The same file without meta.requires: the report says its server had the defaults.
    (steps[0] as { meta?: Record<string, unknown> }).meta = { description: 'a plain recording' };
    fs.writeFileSync(path.join(dir, 'plain.json'), JSON.stringify(steps));
    const plain = await replay(['plain.json'], dir);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain('  note: plain.json does not say which agent settings it needs (meta.requires), so its server had the defaults');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
