import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The README's replay section, run as typed: its commands in a shell (`npx switchboard` is the built CLI, and
 * `http://localhost:3000` the port a zero-config `npm start` got: tests listen on port 0), from a directory
 * that has the project's fixtures and nothing else — no .env, no variables but PATH and HOME — and the
 * results it promises, quoted from the README itself, checked against what the commands print.
 */
const ROOT = path.join(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function section(): string {
  const start = README.indexOf('### Record, replay, and the dev tunnel');
  const end = README.indexOf('\n### ', start + 10);
  const endLayout = README.indexOf('\nLayout:', start);
  return README.slice(start, Math.min(...[end, endLayout].filter((i) => i > start)));
}

/** The `sh` blocks of the section, each as its command lines. */
function shellBlocks(text: string): string[][] {
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.split('\n').filter((l) => l.trim()));
}

function sh(command: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('README: replay the shipped scenarios', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-readme-'));
    fs.symlinkSync(path.join(ROOT, 'fixtures'), path.join(dir, 'fixtures'));
  });
  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const text = section();
  const block = shellBlocks(text).find((lines) => lines.some((l) => l.startsWith('npm start')));
  const command = (line: string) => line.replace(/\s+#.*$/, '').replace(/^npx switchboard /, `"${process.execPath}" "${CLI}" `);

  it('the section has the commands it describes', () => {
    expect(block).toEqual([
      'npx switchboard replay fixtures/replay/*.json',
      expect.stringMatching(/^npm start\s+#/),
      'npx switchboard replay fixtures/replay/*.json --url http://localhost:3000',
    ]);
  });

  it('offline, every scenario replays green, as the README says', async () => {
    const r = await sh(command(block![0]!), dir);
    expect(text).toContain('`PASS: 11/11 scenarios replayed green`');
    expect(r.stdout).toContain('PASS: 11/11 scenarios replayed green');
    expect(r.stdout.match(/^PASS fixtures\/replay\/.*\.json/gm)).toHaveLength(11);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(fs.readdirSync(dir)).toEqual(['fixtures']); // its servers left nothing behind here
  });

  it('against a zero-config `npm start`, 7 replay green and 4 name the setting they need, as the README says', async () => {
    // `npm start` is the build, then `node dist/cli/main.js serve`: the suite built it already.
    server = spawn(process.execPath, [CLI, 'serve'], { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let banner = '';
    const port = await new Promise<string>((resolve, reject) => {
      server!.stdout!.on('data', (chunk: Buffer) => {
        banner += chunk.toString();
        const m = /Switchboard is listening on http:\/\/[^:]+:(\d+)/.exec(banner);
        if (m) resolve(m[1]!);
      });
      server!.once('exit', (code) => reject(new Error(`the server exited (${code}): ${banner}`)));
    });
    const r = await sh(command(block![2]!).replace('http://localhost:3000', `http://localhost:${port}`), dir);
    expect(r.stdout.match(/^PASS fixtures\/replay\/.*\.json/gm)).toHaveLength(7);
    const needs = r.stdout.match(/^FAIL (fixtures\/replay\/\S+\.json): the target lacks settings/gm)!.map((l) => l.split(' ')[1]!.replace(/:$/, ''));
    expect(needs).toEqual([
      'fixtures/replay/fallback-transfer-answered.json',
      'fixtures/replay/fallback-transfer-busy.json',
      'fixtures/replay/fallback-transfer-no-answer.json',
      'fixtures/replay/sip-forward-answered.json',
    ]);
    expect(r.stdout).not.toMatch(/expected <|missing; expected/); // no BXML diff: the check spoke first
    // What the README quotes is what the command prints.
    const quoted = /```\n(  NEEDS [\s\S]*?)```/.exec(text)![1]!;
    expect(r.stdout).toContain(quoted);
    expect(r.stdout).toContain('NEEDS to fix: start the target with AGENT_MODE=sip-forward, AGENT_SIP_TARGET=sip:agent@ai.example.com (');
    expect(text).toContain('`FAIL: 7/11 scenarios replayed green`');
    expect(r.stdout).toContain('FAIL: 7/11 scenarios replayed green');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('switchboard replay: 4 of 11 scenarios did not replay green (see above)\n');
  });
});
