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
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** User and system (kernel) CPU time of a process so far, ms (all threads). */
export function cpuTimes(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / CLK_TCK, system: (Number(fields[12]) * 1000) / CLK_TCK };
}

/** Resident set size, MiB. */
export function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Whole-machine CPU from /proc/stat, in jiffies: busy (user, nice, system, irq, softirq), steal (time the
 * hypervisor gave this VM's vCPUs to someone else) and total (all of it, idle and iowait included; the
 * guest fields are already inside user).
 */
export function machineCpu() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

/**
 * The machine's own timer jitter: how late a 1 ms setTimeout loop in an otherwise idle process fires
 * (ms). On a VM this includes the hypervisor's scheduling; it is a floor under every tail latency here.
 */
export async function timerJitter(seconds = 5) {
  const lags = [];
  await new Promise((resolve) => {
    const end = performance.now() + seconds * 1000;
    let due = performance.now() + 1;
    const tick = () => {
      const now = performance.now();
      lags.push(now - due);
      due = now + 1;
      if (now < end) setTimeout(tick, 1);
      else resolve();
    };
    setTimeout(tick, 1);
  });
  lags.sort((a, b) => a - b);
  const at = (q) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))];
  return { samples: lags.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: lags[lags.length - 1] };
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
 * fresh DATA_DIR on disk), 'naive' (bench/naive-relay.mjs) or 'floor' (bench/floor-relay.mjs). Its
 * stdout/stderr go to `logFile`.
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
      // The benchmarks measure past the default MAX_CONCURRENT_CALLS (they are where its number comes from):
      // no call of theirs may be turned away as busy.
      MAX_CONCURRENT_CALLS: '1000000',
      ...env,
    };
  } else if (kind === 'naive' || kind === 'floor') {
    args = [path.join(BENCH_DIR, `${kind}-relay.mjs`)];
    childEnv = { ...common, ...env };
  } else {
    throw new Error(`unknown server kind ${kind}`);
  }
  // Only what the server needs: no inherited .env surprises (cwd is the data directory).
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' };
  const probeFile = path.join(dataDir, 'loop-probe.json');
  childEnv = { ...childEnv, BENCH_LOOP_PROBE_FILE: probeFile };
  const probe = ['-r', path.join(BENCH_DIR, 'lib', 'loop-probe.cjs')];
  const child = spawn(process.execPath, [...execArgv, ...probe, ...args], { cwd: dataDir, env: { ...base, ...childEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const m = /"localUrl":"(http:\/\/[^"]+)"/.exec(buffered) ?? /(?:naive|floor) relay listening on (http:\/\/\S+)/.exec(buffered);
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
    /** The event-loop probe: the first call starts its window, the second ends it and returns {p50, p99, max} ms. */
    async loopProbe() {
      child.kill('SIGUSR2');
      for (let i = 0; i < 40; i++) {
        await sleep(50);
        if (fs.existsSync(probeFile)) return JSON.parse(fs.readFileSync(probeFile, 'utf8'));
      }
      return undefined;
    },
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

/** Cores busy, and cores stolen by the hypervisor, over `ms` (from /proc/stat). */
export async function machineBusyCores(ms = 1000) {
  const a = machineCpu();
  await sleep(ms);
  const b = machineCpu();
  const cores = machineInfo().nproc;
  const span = b.total - a.total;
  return { busy: ((b.busy - a.busy) / span) * cores, steal: ((b.steal - a.steal) / span) * cores };
}

/**
 * Wait (up to `maxWaitMs`, default BENCH_QUIET_WAIT_S or 60 s) until the machine is quiet for a second:
 * less than `maxCores` busy (other work on the machine, a build or a test run, takes cores from the
 * processes being measured) and less than `maxSteal` cores stolen by the hypervisor (on a shared host,
 * steal comes with inflated CPU accounting and long scheduling stalls). Returns the last reading.
 */
export async function waitForQuiet({ maxCores = 0.15, maxSteal = 0.1, maxWaitMs = Number(process.env.BENCH_QUIET_WAIT_S ?? 60) * 1000 } = {}) {
  const deadline = Date.now() + maxWaitMs;
  let m = await machineBusyCores();
  let warned = false;
  while ((m.busy > maxCores || m.steal > maxSteal) && Date.now() < deadline) {
    if (!warned) process.stderr.write(`  (waiting for a quiet machine: ${m.busy.toFixed(2)} cores busy, ${m.steal.toFixed(2)} stolen)\n`);
    warned = true;
    m = await machineBusyCores();
  }
  return m;
}
