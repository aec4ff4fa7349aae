#!/usr/bin/env node
/**
 * bench/greeting: how long a caller waits for the greeting. The target: from `initiate` to the first
 * greeting frame at the caller, with the caller opening the stream 400 ms after `initiate` and the model
 * taking 300 ms to connect and 500 ms to its first audio, ≤ 860 ms (the model's own 800 ms plus at most
 * 60 ms). A relay that connects only when the stream starts pays the stream setup on top: ≈ 1,200 ms.
 *
 * One run per target = three processes, all traffic on 127.0.0.1:
 *   - the server under test: Switchboard (`node dist/cli/main.js serve`, SQLite store on disk in a fresh
 *     DATA_DIR) or the naive relay (bench/naive-relay.mjs), started by bench/lib/procs.mjs as for bench/relay;
 *   - the OpenAI Realtime stand-in with its connect and first-audio delays (bench/lib/greeting-standin.mjs);
 *   - this process, the caller (bench/lib/greeting-caller.mjs): POST initiate, the media socket
 *     `--stream-after-ms` after the POST, `start`, silence every 20 ms, until the first playAudio.
 *
 * Calls start `--interval-ms` apart (each lasts about one greeting latency, so at most two overlap: a
 * latency measurement, not a load test), after `--warmup` unmeasured calls that let both servers load
 * and compile their code paths. Each call's milestones are read on one clock (CLOCK_MONOTONIC, shared
 * by the processes): the caller's, and the stand-in's for the OpenAI side.
 *
 *   node bench/greeting.mjs [--targets switchboard,naive] [--calls 20] [--interval-ms 600] [--warmup 1]
 *                           [--stream-after-ms 400] [--connect-delay-ms 300] [--first-delta-ms 500]
 *                           [--quiet-wait-s 5] [--out DIR] [--json FILE]
 *
 * Build first (`npm run build`): it runs dist/. `npm run bench:greeting` does both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { greetingCall } from './lib/greeting-caller.mjs';
import { Samples, nowUs } from './lib/marker.mjs';
import { CALLBACK_PASSWORD, CALLBACK_USER, ROOT, forkChild, logProblems, machineCpu, machineInfo, sleep, startServer, waitForQuiet } from './lib/procs.mjs';

/** The target's allowance above the model's own connect + first-audio time. */
const ALLOWANCE_MS = 60;

export function defaultGreetingOptions() {
  return {
    targets: ['switchboard', 'naive'],
    calls: 20,
    intervalMs: 600,
    warmup: 1,
    streamAfterMs: 400,
    connectDelayMs: 300,
    firstDeltaMs: 500,
    // Waiting for a quiet machine is bounded tightly: the latencies here are timers, not CPU, and the run must stay short.
    quietWaitMs: 5_000,
    out: path.join(os.tmpdir(), 'switchboard-bench'),
    json: undefined,
  };
}

function parseArgs(argv) {
  const opts = defaultGreetingOptions();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--targets') opts.targets = v().split(',');
    else if (a === '--calls') opts.calls = Number(v());
    else if (a === '--interval-ms') opts.intervalMs = Number(v());
    else if (a === '--warmup') opts.warmup = Number(v());
    else if (a === '--stream-after-ms') opts.streamAfterMs = Number(v());
    else if (a === '--connect-delay-ms') opts.connectDelayMs = Number(v());
    else if (a === '--first-delta-ms') opts.firstDeltaMs = Number(v());
    else if (a === '--quiet-wait-s') opts.quietWaitMs = Number(v()) * 1000;
    else if (a === '--out') opts.out = v();
    else if (a === '--json') opts.json = v();
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

/** Percentiles of a list of ms (milestones a call never reached, null, left out). */
function stats(values) {
  const samples = new Samples(Math.max(1, values.length));
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) samples.push(v);
  return samples.summary();
}

/** The stand-in session each call opened: the first unused one whose upgrade came after its POST and before its greeting. */
function matchSessions(calls, sessions) {
  const free = [...sessions].filter((s) => s.upgradeRequestedUs !== null).sort((a, b) => a.upgradeRequestedUs - b.upgradeRequestedUs);
  for (const call of calls) {
    const until = call.firstPlayAudioUs ?? Infinity;
    const i = free.findIndex((s) => s.upgradeRequestedUs >= call.postUs && s.upgradeRequestedUs <= until);
    if (i >= 0) call.session = free.splice(i, 1)[0];
  }
}

/** Milestones of one call, ms after its initiate POST (null when not observed). */
const MILESTONES = [
  ['initiateAnswered', 'initiate answered (caller)', (c) => c.initiateAnsweredUs],
  ['openaiRequested', 'OpenAI upgrade requested (stand-in)', (c) => c.session?.upgradeRequestedUs],
  ['openaiOpen', 'OpenAI socket open, 101 sent (stand-in)', (c) => c.session?.connectedUs],
  ['sessionUpdated', 'session.updated sent (stand-in)', (c) => c.session?.sessionUpdatedUs],
  ['greetingRequested', 'greeting asked for: response.create read (stand-in)', (c) => c.session?.responseCreateUs],
  ['streamRequested', 'media stream requested (caller)', (c) => c.streamRequestedUs],
  ['streamOpen', 'media stream open (caller)', (c) => c.streamOpenUs],
  ['firstDelta', 'first greeting delta sent (stand-in)', (c) => c.session?.firstDeltaUs],
  ['firstPlayAudio', 'first playAudio read (caller): the greeting latency', (c) => c.firstPlayAudioUs],
];

function breakdown(call) {
  const b = {};
  for (const [key, , get] of MILESTONES) {
    const us = get(call);
    b[key] = typeof us === 'number' ? (us - call.postUs) / 1000 : null;
  }
  b.relayMs = b.firstPlayAudio !== null && b.firstDelta !== null ? b.firstPlayAudio - b.firstDelta : null;
  return b;
}

async function runTarget(target, opts) {
  const quiet = await waitForQuiet({ maxWaitMs: opts.quietWaitMs });
  const dir = fs.mkdtempSync(path.join(opts.out, `greeting-${target}-`));
  const standin = forkChild('greeting-standin.mjs', { BENCH_CONNECT_DELAY_MS: String(opts.connectDelayMs), BENCH_FIRST_DELTA_MS: String(opts.firstDeltaMs) });
  let server;
  try {
    const { url: openaiUrl } = await standin.next('ready');
    server = await startServer(target, { openaiUrl, dataDir: dir, logFile: path.join(dir, 'server.log') });
    const runId = `${target.slice(0, 2)}-${Date.now().toString(36)}`;
    const call = (index) =>
      greetingCall({ baseUrl: server.url, username: CALLBACK_USER, password: CALLBACK_PASSWORD, callId: `c-greeting-${runId}-${String(index).padStart(3, '0')}`, streamAfterMs: opts.streamAfterMs }).then(
        (t) => ({ index, ok: true, ...t }),
        (err) => ({ index, ok: false, error: err.message }),
      );

    const warmups = [];
    for (let i = 0; i < opts.warmup; i++) warmups.push(await call(-1 - i));

    const cpu0 = machineCpu();
    const startUs = nowUs();
    const pending = [];
    for (let i = 0; i < opts.calls; i++) {
      const waitMs = (startUs + i * opts.intervalMs * 1000 - nowUs()) / 1000;
      if (waitMs > 0) await sleep(waitMs);
      pending.push(call(i));
    }
    const calls = await Promise.all(pending);
    const cpu1 = machineCpu();

    standin.send({ type: 'report' });
    const rt = await standin.next('report');
    matchSessions([...warmups, ...calls], rt.sessions);
    for (const c of [...warmups, ...calls]) if (c.ok) c.breakdownMs = breakdown(c);

    await server.stop();
    server = undefined;
    const cores = machineInfo().nproc;
    const span = cpu1.total - cpu0.total;
    const measured = calls.filter((c) => c.ok);
    const summary = {};
    for (const key of [...MILESTONES.map(([k]) => k), 'relayMs']) summary[key] = stats(measured.map((c) => c.breakdownMs[key]));
    return {
      target,
      calls: calls.length,
      ok: measured.length,
      failed: calls.filter((c) => !c.ok).map((c) => ({ index: c.index, error: c.error })),
      unmatchedSessions: measured.filter((c) => !c.session).length,
      greetingMs: summary.firstPlayAudio,
      withinTarget: measured.filter((c) => c.breakdownMs.firstPlayAudio <= opts.targetMs).length,
      breakdownMs: summary,
      standIn: { sessions: rt.sessions.length, refusedUpgrades: rt.refusedUpgrades, internalErrors: rt.internalErrors },
      machine: {
        quietBeforeCores: quiet.busy,
        stealBeforeCores: quiet.steal,
        busyCores: ((cpu1.busy - cpu0.busy) / span) * cores,
        stealCores: ((cpu1.steal - cpu0.steal) / span) * cores,
      },
      serverLogProblems: logProblems(path.join(dir, 'server.log')),
      warmups: warmups.map((c) => ({ ok: c.ok, error: c.error, breakdownMs: c.breakdownMs })),
      perCall: calls.map((c) => ({ index: c.index, ok: c.ok, error: c.error, callId: c.callId, breakdownMs: c.breakdownMs })),
      logDir: dir,
    };
  } finally {
    await server?.stop();
    await standin.stop();
  }
}

export async function runGreetingBench(options = {}) {
  const opts = { ...defaultGreetingOptions(), ...options };
  opts.targetMs = opts.connectDelayMs + opts.firstDeltaMs + ALLOWANCE_MS;
  fs.mkdirSync(opts.out, { recursive: true });
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const results = [];
  for (const target of opts.targets) {
    process.stderr.write(`greeting: ${target}, ${opts.calls} calls ${opts.intervalMs} ms apart…\n`);
    const r = await runTarget(target, opts);
    results.push(r);
    process.stderr.write(`  ${target}: greeting p50 ${f(r.greetingMs.p50)} / p90 ${f(r.greetingMs.p90)} / max ${f(r.greetingMs.max)} ms, ${r.withinTarget}/${r.ok} within ${opts.targetMs} ms${r.failed.length ? `, ${r.failed.length} failed` : ''}\n`);
  }
  return { machine: machineInfo(), options: opts, results };
}

const f = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(d));
const triple = (s, d = 0) => `${f(s.p50, d)} / ${f(s.p90, d)} / ${f(s.max, d)}`;

export function greetingTables(report) {
  const { options: o, results } = report;
  const lines = [];
  lines.push(`| server | calls | greeting latency p50 / p90 / max ms | calls ≤ ${o.targetMs} ms | target met (max ≤ ${o.targetMs} ms) |`);
  lines.push('| --- | ---: | --- | ---: | --- |');
  for (const r of results) {
    lines.push(`| ${r.target} | ${r.ok}${r.failed.length ? ` (+${r.failed.length} failed)` : ''} | ${triple(r.greetingMs)} | ${r.withinTarget}/${r.ok} | ${r.ok > 0 && r.greetingMs.max <= o.targetMs ? 'yes' : 'no'} |`);
  }
  lines.push('');
  lines.push(`Where the time goes, ms after the initiate POST (p50 / p90 / max):`);
  lines.push('');
  lines.push(`| milestone | ${results.map((r) => r.target).join(' | ')} |`);
  lines.push(`| --- | ${results.map(() => '---').join(' | ')} |`);
  for (const [key, label] of MILESTONES) lines.push(`| ${label} | ${results.map((r) => triple(r.breakdownMs[key], 1)).join(' | ')} |`);
  lines.push(`| first playAudio − first delta: the relay's own share | ${results.map((r) => triple(r.breakdownMs.relayMs, 1)).join(' | ')} |`);
  return lines.join('\n');
}

export function greetingSetupText(report) {
  const o = report.options;
  const load = report.results.map((r) => `${r.target} ${f(r.machine.busyCores, 2)} busy / ${f(r.machine.stealCores, 2)} stolen`).join(', ');
  return (
    `${o.calls} calls per server, ${o.intervalMs} ms apart after ${o.warmup} unmeasured warm-up call(s); the caller opens the media stream ${o.streamAfterMs} ms after the initiate POST; ` +
    `the stand-in answers the OpenAI upgrade after ${o.connectDelayMs} ms and sends the first audio ${o.firstDeltaMs} ms after response.created. ` +
    `Target ${o.targetMs} ms = ${o.connectDelayMs + o.firstDeltaMs} ms of the model's own + ${ALLOWANCE_MS} ms; connecting at stream start ≈ ${o.streamAfterMs + o.connectDelayMs + o.firstDeltaMs} ms. ` +
    `Machine during the calls (cores): ${load}.`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts = parseArgs(process.argv.slice(2));
  const report = await runGreetingBench(opts);
  const json = opts.json ?? path.join(report.options.out, 'greeting.json');
  fs.writeFileSync(json, JSON.stringify(report, null, 2));
  process.stdout.write(`\n${greetingSetupText(report)}\n\n${greetingTables(report)}\n\nFull results: ${json}\n`);
}
