/**
 * Process plumbing for the benchmarks: start Switchboard (the real CLI, `node dist/cli/main.js serve`) or
 * the naive relay as child processes, fork the harness children, and read a process's CPU time and RSS
 * from /proc (Linux). CPU time is utime + stime of every thread of the process (the main thread, libuv's
 * pool, V8's GC and compiler threads), in clock ticks.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time of a process so far, ms (all threads). */
export function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

/** Resident set size, MiB. */
export function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Whole-machine CPU: busy and total jiffies (for the harness's saturation check). */
export function machineCpu() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export function machineInfo() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const mhz = /cpu MHz\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim();
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    /* keep os's count */
  }
  return {
    nproc,
    cpuModel: model,
    cpuMHz: mhz ? Number(mhz) : undefined,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    clkTck: CLK_TCK,
  };
}

/** A forked harness child (bench/lib/*.mjs) with a "wait for message of type" helper. */
export function forkChild(file, env = {}, execArgv = []) {
  const child = fork(path.join(BENCH_DIR, 'lib', file), [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox = [];
  const waiters = [];
  child.on('message', (msg) => {
    const i = waiters.findIndex((w) => w.type === msg.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
    else inbox.push(msg);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    pid: child.pid,
    exited,
    send: (msg) => child.connected && child.send(msg),
    next(type, timeoutMs = 120_000) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${file}: no '${type}' message within ${timeoutMs} ms`)), timeoutMs);
        const onExit = (code) => reject(new Error(`${file} exited (${code}) while waiting for '${type}'`));
        child.once('exit', onExit);
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            child.off('exit', onExit);
            resolve(m);
          },
        });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      this.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Bench credentials for Bandwidth callbacks (set through the environment, so no file is generated for them). */
export const CALLBACK_USER = 'bench-bandwidth';
export const CALLBACK_PASSWORD = 'bench-callback-password-0123456789';

/**
 * Start a server process and wait for its listening URL. `kind` is 'switchboard' (the real CLI with a
 * fresh DATA_DIR on disk) or 'naive' (bench/naive-relay.mjs). Its stdout/stderr go to `logFile`.
 */
export async function startServer(kind, { openaiUrl, dataDir, logFile, env = {}, execArgv = [] }) {
  const common = { PORT: '0', HOST: '127.0.0.1', OPENAI_BASE_URL: openaiUrl, OPENAI_API_KEY: 'sk-test' };
  let args;
  let childEnv;
  if (kind === 'switchboard') {
    args = [path.join(ROOT, 'dist', 'cli', 'main.js'), 'serve'];
    childEnv = {
      ...common,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      BANDWIDTH_CALLBACK_USERNAME: CALLBACK_USER,
      BANDWIDTH_CALLBACK_PASSWORD: CALLBACK_PASSWORD,
      AGENT_GREETING: 'Hello! Thanks for calling. How can I help you today?',
      ...env,
    };
  } else {
    args = [path.join(BENCH_DIR, 'naive-relay.mjs')];
    childEnv = { ...common, ...env };
  }
  // Only what the server needs: no inherited .env surprises (cwd is the data directory).
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' };
  const child = spawn(process.execPath, [...execArgv, ...args], { cwd: dataDir, env: { ...base, ...childEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = fs.createWriteStream(logFile);
  child.stderr.pipe(log);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    let buffered = '';
    let found = false;
    const timer = setTimeout(() => reject(new Error(`${kind} did not report its URL within 20 s (see ${logFile})`)), 20_000);
    child.stdout.on('data', (chunk) => {
      log.write(chunk);
      if (found) return;
      buffered += chunk.toString('utf8');
      const m = /"localUrl":"(http:\/\/[^"]+)"/.exec(buffered) ?? /naive relay listening on (http:\/\/\S+)/.exec(buffered);
      if (m) {
        found = true;
        clearTimeout(timer);
        buffered = '';
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited with ${code} before it was ready (see ${logFile})`));
    });
  });
  return {
    kind,
    child,
    pid: child.pid,
    url,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      await new Promise((resolve) => log.end(resolve));
    },
  };
}

/** Count pino lines at warn (40) or above in a log file, with the most frequent messages. */
export function logProblems(file) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { count: 0, top: [] };
  }
  const counts = new Map();
  let count = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line);
      if (typeof j.level === 'number' && j.level >= 40) {
        count++;
        counts.set(j.msg, (counts.get(j.msg) ?? 0) + 1);
      }
    } catch {
      /* not a log line */
    }
  }
  return { count, top: [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([msg, n]) => `${n}× ${msg}`) };
}

/** Cores busy over `ms`, from /proc/stat. */
export async function machineBusyCores(ms = 1000) {
  const a = machineCpu();
  await sleep(ms);
  const b = machineCpu();
  const cores = machineInfo().nproc;
  return ((b.busy - a.busy) / (b.total - a.total)) * cores;
}

/**
 * Wait (up to `maxWaitMs`) until the machine is quiet: less than `maxCores` busy over a second. Other work
 * on the machine (a build, a test run) takes cores from the processes being measured.
 */
export async function waitForQuiet({ maxCores = 0.15, maxWaitMs = 60_000 } = {}) {
  const deadline = Date.now() + maxWaitMs;
  let busy = await machineBusyCores();
  let warned = false;
  while (busy > maxCores && Date.now() < deadline) {
    if (!warned) process.stderr.write(`  (waiting for the machine to be quiet: ${busy.toFixed(2)} cores busy)\n`);
    warned = true;
    busy = await machineBusyCores();
  }
  return busy;
}
