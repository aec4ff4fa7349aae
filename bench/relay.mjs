#!/usr/bin/env node
/**
 * bench/relay: the media bridge under N concurrent calls, Switchboard, the naive relay and the floor relay
 * side by side.
 *
 * One run = four processes on this machine, all traffic on 127.0.0.1:
 *   - the server under test: Switchboard (`node dist/cli/main.js serve`, SQLite store on disk), the
 *     naive relay (bench/naive-relay.mjs) or the floor relay (bench/floor-relay.mjs: no JSON work at all);
 *   - the OpenAI Realtime stand-in (src/sim/realtime-server.ts via bench/lib/standin.mjs);
 *   - the load generator of N simulated Bandwidth callers (bench/lib/loadgen.mjs);
 *   - this orchestrator, which only reads /proc and passes messages.
 *
 * For each N: dial N calls, let them settle, measure for `--seconds`, stop the callers' audio, let the
 * last responses drain, then collect: server CPU ms per call-second and RSS per call (from /proc), added
 * latency inbound (frame sent by the caller → its append read by the stand-in) and outbound (first delta of a
 * response handed to the stand-in's socket → the playAudio carrying it read by the caller), and frames
 * dropped, late or out of order.
 *
 *   node bench/relay.mjs [--targets switchboard,naive,floor] [--n 50,200,500] [--seconds 15]
 *                        [--search-targets switchboard] [--search 750,1000] [--bisect 2]
 *                        [--out DIR] [--json FILE] [--profile server,standin,loadgen]
 *                        [--server-node-args "--trace-gc …"]  (extra node flags for the server under test)
 *                        [--only-at floor=50,200]  (run a target at some of the N only)
 *                        [--tls | --transports plain,tls]  (--tls = both, plain and TLS, in one run)
 *                        [--repeat 3]  (each run R times, interleaved; the summary keeps the median)
 *                        [--attempts 2]  (a run spoiled by other load or steal is run again, up to this many times)
 *                        [--server-env KEY=VALUE]  (repeatable: e.g. WS_NO_BUFFER_UTIL=1 for the server under test)
 *
 * TLS runs are production shape on both sockets. The OpenAI Realtime stand-in serves wss:// with a
 * certificate from a throwaway CA issued at bench start (src/sim/test-certificate.ts, openssl), and the
 * server under test trusts that CA through NODE_EXTRA_CA_CERTS, as a deployment with a private CA would.
 * The media socket goes through a TLS terminator in its own process (bench/lib/tls-terminator.mjs), as
 * users deploy Switchboard (behind a proxy or tunnel holding PUBLIC_BASE_URL's certificate): initiate is
 * POSTed over https and the StartStream destination is wss://. The terminator's CPU is reported beside
 * the server's. The naive and floor relays run behind the same terminator, with the same CA.
 *
 * The largest N that keeps every frame: for each of --search-targets, if every N kept every frame, try
 * the --search values upwards until one does not; otherwise bisect (--bisect steps) between the largest
 * N that kept every frame and the smallest that did not.
 *
 * Build first (`npm run build`): it runs dist/. `npm run bench:relay` does both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { nowUs } from './lib/marker.mjs';
import {
  CALLBACK_PASSWORD,
  CALLBACK_USER,
  ROOT,
  cpuMs,
  cpuTimes,
  forkChild,
  logProblems,
  machineCpu,
  machineInfo,
  rssMiB,
  sleep,
  startServer,
  timerJitter,
  waitForQuiet,
} from './lib/procs.mjs';

const require = createRequire(import.meta.url);

const RESPONSE_MS = 3000;
const CHUNK_MS = 100;
const LATE_MS = 100;
/** Each caller: silent while the greeting plays, then 1.5 s of speech every 6 s (the model answers each). */
const FIRST_SPEECH_MS = 3500;
const SPEECH_MS = 1500;
const CYCLE_MS = 6000;

function parseArgs(argv) {
  const opts = { targets: ['switchboard', 'naive', 'floor'], n: [50, 200, 500], seconds: 15, search: [750, 1000], bisect: 2, searchTargets: ['switchboard'], out: path.join(os.tmpdir(), 'switchboard-bench'), json: undefined, settleMs: undefined, drainMs: 4500, transports: ['plain'], repeat: 1, serverEnv: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--targets') opts.targets = v().split(',');
    else if (a === '--n') opts.n = v().split(',').map(Number);
    else if (a === '--seconds') opts.seconds = Number(v());
    else if (a === '--search') opts.search = v() === 'none' ? [] : v().split(',').map(Number);
    else if (a === '--bisect') opts.bisect = Number(v());
    else if (a === '--search-targets') opts.searchTargets = v() === 'none' ? [] : v().split(',');
    else if (a === '--out') opts.out = v();
    else if (a === '--json') opts.json = v();
    else if (a === '--settle-ms') opts.settleMs = Number(v());
    else if (a === '--drain-ms') opts.drainMs = Number(v());
    else if (a === '--profile') opts.profile = v().split(',');
    else if (a === '--only-at') {
      // --only-at floor=50,200: run that target at those N only
      const [target, ns] = v().split('=');
      opts.onlyAt = { ...opts.onlyAt, [target]: ns.split(',').map(Number) };
    }
    else if (a === '--server-node-args') opts.serverNodeArgs = v().split(' ').filter(Boolean);
    else if (a === '--tls') opts.transports = ['plain', 'tls'];
    else if (a === '--transports') opts.transports = v().split(',');
    else if (a === '--repeat') opts.repeat = Number(v());
    else if (a === '--attempts') opts.attempts = Number(v());
    else if (a === '--server-env') {
      const [key, ...value] = v().split('=');
      opts.serverEnv = { ...opts.serverEnv, [key]: value.join('=') };
    }
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

/**
 * Run once; run again (once) when other processes took more than 0.25 cores over the window or more than
 * 0.5 cores in any one second of it, or the hypervisor stole more than 0.15 cores (steal time).
 */
async function runOne(target, n, opts, transport = 'plain') {
  let r;
  const attempts = opts.attempts ?? 2;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    r = await runOnce(target, n, opts, transport);
    r.attempt = attempt;
    if (r.cpu.otherCores <= 0.25 && r.cpu.maxOtherCores1s <= 0.5 && r.cpu.stealCores <= 0.15) break;
    process.stderr.write(
      `  other processes used ${r.cpu.otherCores.toFixed(2)} cores during the window (${r.cpu.maxOtherCores1s.toFixed(2)} in its busiest second), the hypervisor stole ${r.cpu.stealCores.toFixed(2)}: ${attempt < attempts ? 'running again' : 'keeping this run'}\n`,
    );
  }
  return r;
}

async function runOnce(target, n, opts, transport) {
  const quietBefore = await waitForQuiet();
  const runId = `${target.slice(0, 2)}${n}-${Date.now().toString(36)}`;
  const dir = fs.mkdtempSync(path.join(opts.out, `${target}-${n}-${transport}-`));
  // --profile server,standin,loadgen: a V8 CPU profile of those processes (.cpuprofile in the run's directory).
  const prof = (who) => (opts.profile?.includes(who) ? ['--cpu-prof', '--cpu-prof-dir', path.join(dir, `profile-${who}`)] : []);
  const cert = transport === 'tls' ? opts.certificate : undefined;
  const certEnv = cert ? { BENCH_TLS_CERT_FILE: cert.certFile, BENCH_TLS_KEY_FILE: cert.keyFile } : {};
  const standin = forkChild('standin.mjs', { BENCH_RESPONSE_MS: String(RESPONSE_MS), BENCH_CHUNK_MS: String(CHUNK_MS), BENCH_LATE_MS: String(LATE_MS), ...certEnv }, prof('standin'));
  const terminator = cert ? forkChild('tls-terminator.mjs', certEnv) : undefined;
  let server;
  let loadgen;
  try {
    const { url: openaiUrl } = await standin.next('ready');
    let publicUrl;
    let tlsEnv = {};
    if (terminator) {
      const { port } = await terminator.next('ready');
      publicUrl = `https://127.0.0.1:${port}`;
      tlsEnv = { PUBLIC_BASE_URL: publicUrl, NODE_EXTRA_CA_CERTS: cert.caFile };
    }
    server = await startServer(target, { openaiUrl, dataDir: dir, logFile: path.join(dir, 'server.log'), env: { ...opts.serverEnv, ...tlsEnv }, execArgv: [...prof('server'), ...(opts.serverNodeArgs ?? [])] });
    if (terminator) {
      terminator.send({ type: 'upstream', port: Number(new URL(server.url).port) });
      await terminator.next('upstream-set');
    }
    const termCpu = () => (terminator ? cpuMs(terminator.pid) : 0);
    await sleep(1000);
    const rssIdle = rssMiB(server.pid);
    loadgen = forkChild('loadgen.mjs', {}, prof('loadgen'));
    await loadgen.next('ready');
    const dialStart = Date.now();
    loadgen.send({
      type: 'dial',
      runId,
      baseUrl: publicUrl ?? server.url,
      ca: cert?.ca,
      username: CALLBACK_USER,
      password: CALLBACK_PASSWORD,
      n,
      dialConcurrency: 16,
      speechMs: SPEECH_MS,
      cycleMs: CYCLE_MS,
      firstSpeechMs: FIRST_SPEECH_MS,
      chunkMs: CHUNK_MS,
    });
    const dialed = await loadgen.next('dialed', 180_000);
    const dialMs = Date.now() - dialStart;
    // By default, wait until the last call dialed has had its greeting and its first turn (the calls'
    // cycles are spread over CYCLE_MS), so every call is in its steady cycle for the whole window.
    await sleep(opts.settleMs ?? FIRST_SPEECH_MS + CYCLE_MS);

    const startUs = nowUs();
    const sys0 = cpuTimes(server.pid).system;
    const sysH0 = { standin: cpuTimes(standin.pid).system, loadgen: cpuTimes(loadgen.pid).system };
    const cpu0 = { server: cpuMs(server.pid), standin: cpuMs(standin.pid), loadgen: cpuMs(loadgen.pid), terminator: termCpu(), machine: machineCpu() };
    void server.loopProbe(); // starts the server's event-loop window (returns nothing yet)
    standin.send({ type: 'measure-start', atUs: startUs });
    loadgen.send({ type: 'measure-start', atUs: startUs });
    let rssPeak = rssMiB(server.pid);
    const windowEnd = Date.now() + opts.seconds * 1000;
    // Each second: the busiest second of everything else on the machine (a build or a test run elsewhere).
    const cores = machineInfo().nproc;
    let maxOtherCores = 0;
    let last = { ...cpu0, at: Date.now() };
    while (Date.now() < windowEnd) {
      await sleep(Math.min(1000, windowEnd - Date.now()));
      rssPeak = Math.max(rssPeak, rssMiB(server.pid));
      const now = { server: cpuMs(server.pid), standin: cpuMs(standin.pid), loadgen: cpuMs(loadgen.pid), terminator: termCpu(), machine: machineCpu(), at: Date.now() };
      const seconds = (now.at - last.at) / 1000;
      if (seconds > 0.5) {
        const machine = ((now.machine.busy - last.machine.busy) / (now.machine.total - last.machine.total)) * cores;
        const own = (now.server - last.server + now.standin - last.standin + now.loadgen - last.loadgen + now.terminator - last.terminator) / 1000 / seconds;
        maxOtherCores = Math.max(maxOtherCores, machine - own);
      }
      last = now;
    }
    const stopUs = nowUs();
    const sys1 = cpuTimes(server.pid).system;
    const sysH1 = { standin: cpuTimes(standin.pid).system, loadgen: cpuTimes(loadgen.pid).system };
    const cpu1 = { server: cpuMs(server.pid), standin: cpuMs(standin.pid), loadgen: cpuMs(loadgen.pid), terminator: termCpu(), machine: machineCpu() };
    const rssEnd = rssMiB(server.pid);
    const serverLoop = await server.loopProbe();
    standin.send({ type: 'measure-stop', atUs: stopUs });
    loadgen.send({ type: 'measure-stop', atUs: stopUs });
    loadgen.send({ type: 'stop-audio' });
    await sleep(opts.drainMs);
    standin.send({ type: 'report' });
    loadgen.send({ type: 'report' });
    const [rt, lg] = await Promise.all([standin.next('report'), loadgen.next('report')]);
    loadgen.send({ type: 'hangup' });
    await loadgen.next('hung-up').catch(() => undefined);

    const windowS = (stopUs - startUs) / 1e6;
    const live = dialed.ok;
    const callSeconds = live * windowS;
    // Inbound frames that never arrived: sent by the caller, never seen by the stand-in (gaps and tails).
    let inboundUndelivered = 0;
    let outboundUndelivered = 0;
    let callsWithClears = 0;
    const undeliveredSamples = [];
    for (const [index, c] of Object.entries(lg.perCall)) {
      const got = rt.perCall[index];
      inboundUndelivered += Math.max(0, c.sent - (got?.received ?? 0));
      if (c.clears > 0) {
        callsWithClears++;
        continue;
      }
      const missing = Math.max(0, (rt.outbound.deltasPerCall[index] ?? 0) - c.markers);
      outboundUndelivered += missing;
      if (missing > 0 && undeliveredSamples.length < 20) undeliveredSamples.push({ call: Number(index), deltasSent: rt.outbound.deltasPerCall[index], markersReceived: c.markers, lastResponseSeq: c.lastResponseSeq, lastDelta: c.lastDelta });
    }
    const machineBusy = (cpu1.machine.busy - cpu0.machine.busy) / (cpu1.machine.total - cpu0.machine.total);
    const ownCores = (cpu1.server - cpu0.server + cpu1.standin - cpu0.standin + cpu1.loadgen - cpu0.loadgen + cpu1.terminator - cpu0.terminator) / 1000 / windowS;
    const result = {
      target,
      n,
      transport,
      serverEnv: opts.serverEnv,
      dialed: dialed.ok,
      dialFailed: dialed.failed,
      dialErrors: dialed.errors,
      dialSeconds: dialMs / 1000,
      windowSeconds: windowS,
      // CLOCK_MONOTONIC µs, the clock of V8's .cpuprofile timestamps too: a profile can be cut to the window.
      windowUs: { start: startUs, stop: stopUs },
      callSeconds,
      cpu: {
        serverMs: cpu1.server - cpu0.server,
        serverMsPerCallSecond: (cpu1.server - cpu0.server) / callSeconds,
        serverCores: (cpu1.server - cpu0.server) / 1000 / windowS,
        serverSystemShare: (sys1 - sys0) / Math.max(1, cpu1.server - cpu0.server),
        standinCores: (cpu1.standin - cpu0.standin) / 1000 / windowS,
        loadgenCores: (cpu1.loadgen - cpu0.loadgen) / 1000 / windowS,
        // The TLS terminator in front of the media socket (TLS runs; 0 otherwise).
        terminatorMsPerCallSecond: (cpu1.terminator - cpu0.terminator) / callSeconds,
        terminatorCores: (cpu1.terminator - cpu0.terminator) / 1000 / windowS,
        standinSystemShare: (sysH1.standin - sysH0.standin) / Math.max(1, cpu1.standin - cpu0.standin),
        loadgenSystemShare: (sysH1.loadgen - sysH0.loadgen) / Math.max(1, cpu1.loadgen - cpu0.loadgen),
        machineBusy,
        // Everything else on the machine during the window (this orchestrator, the kernel's softirq work
        // for loopback traffic not charged to a process, and any unrelated process).
        otherCores: Math.max(0, machineBusy * cores - ownCores),
        maxOtherCores1s: Math.max(0, maxOtherCores),
        // vCPU time the hypervisor gave to other VMs (steal), in cores.
        stealCores: ((cpu1.machine.steal - cpu0.machine.steal) / (cpu1.machine.total - cpu0.machine.total)) * cores,
        quietBeforeCores: quietBefore.busy,
        stealBeforeCores: quietBefore.steal,
      },
      rss: { idleMiB: rssIdle, endMiB: rssEnd, peakMiB: rssPeak, perCallKiB: ((rssEnd - rssIdle) * 1024) / Math.max(1, live) },
      inbound: {
        latencyMs: { n: rt.inbound.n, p50: rt.inbound.p50, p99: rt.inbound.p99, max: rt.inbound.max },
        framesSent: lg.counters.framesSent,
        framesInWindow: rt.inbound.framesInWindow,
        late: rt.inbound.lateInWindow,
        dropped: inboundUndelivered,
        gaps: rt.inbound.gaps,
        outOfOrder: rt.inbound.outOfOrder,
        misrouted: rt.inbound.misrouted,
        corrupt: rt.inbound.corrupt,
      },
      outbound: {
        firstFrameLatencyMs: lg.outboundFirst,
        firstDeltasInWindow: lg.counters.firstDeltas,
        firstDeltasBehindAudio: lg.counters.firstDeltasBehindAudio,
        deltasSent: rt.outbound.deltasSent,
        markersReceived: lg.counters.markers,
        deltasInWindow: lg.counters.deltasInWindow,
        late: lg.counters.lateInWindow,
        dropped: outboundUndelivered,
        gaps: lg.counters.deltaGaps,
        gapSamples: lg.gapSamples,
        undeliveredSamples,
        outOfOrder: lg.counters.outOfOrder,
        playAudioMessages: lg.counters.playAudio,
        clears: lg.counters.clears,
        callsWithClears,
        responses: rt.outbound.responses,
      },
      // Messages per call-second during the window, as each side of the server saw them.
      messagesPerCallSecond: {
        callerFramesIn: lg.window.framesSent / callSeconds,
        appendsOut: rt.window.appends / callSeconds,
        modelEventsIn: rt.window.serverEvents / callSeconds,
        playAudioOut: lg.window.playAudio / callSeconds,
        clearsOut: lg.window.clears / callSeconds,
      },
      serverLoopDelayMs: serverLoop ?? null,
      harness: {
        generatorLagMs: lg.generatorLagMs,
        loadgenLoopDelayMs: lg.eventLoopDelayMs,
        standinLoopDelayMs: rt.eventLoopDelayMs,
        standinSessions: rt.sessions,
        standinInternalErrors: rt.internalErrors,
        socketsClosedEarly: lg.counters.socketsClosedEarly,
        invalidMessages: lg.counters.invalidMessages,
      },
      logDir: dir,
    };
    await server.stop();
    server = undefined;
    result.serverLogProblems = logProblems(path.join(dir, 'server.log'));
    result.keptEveryFrame =
      result.dialFailed === 0 &&
      result.inbound.dropped === 0 &&
      result.inbound.gaps === 0 &&
      result.inbound.outOfOrder === 0 &&
      result.inbound.late === 0 &&
      result.inbound.misrouted === 0 &&
      result.inbound.corrupt === 0 &&
      result.outbound.dropped === 0 &&
      result.outbound.gaps === 0 &&
      result.outbound.outOfOrder === 0 &&
      result.outbound.late === 0 &&
      result.harness.socketsClosedEarly === 0;
    return result;
  } finally {
    await loadgen?.stop();
    await server?.stop();
    await terminator?.stop();
    await standin.stop();
  }
}

const f = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(d));
const label = (r) => `${r.target}${r.transport === 'tls' ? ' TLS' : ''}`;

export function relayTables(results) {
  const lines = [];
  lines.push('| server | calls | CPU ms / call-s | server cores (kernel share) | RSS / call | inbound p50 / p99 / max ms | outbound 1st frame p50 / p99 / max ms | server loop delay p99 / max ms | dropped in/out | late in/out | out of order in/out | every frame kept |');
  lines.push('| --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const i = r.inbound.latencyMs;
    const o = r.outbound.firstFrameLatencyMs;
    lines.push(
      `| ${label(r)} | ${r.dialed}${r.dialFailed ? ` (+${r.dialFailed} failed)` : ''} | ${f(r.cpu.serverMsPerCallSecond, 3)} | ${f(r.cpu.serverCores, 2)} (${f(r.cpu.serverSystemShare * 100, 0)} %) | ${f(r.rss.perCallKiB, 0)} KiB | ${f(i.p50, 2)} / ${f(i.p99, 2)} / ${f(i.max, 1)} | ${f(o.p50, 2)} / ${f(o.p99, 2)} / ${f(o.max, 1)} | ${f(r.serverLoopDelayMs?.p99, 1)} / ${f(r.serverLoopDelayMs?.max, 1)} | ${r.inbound.dropped + r.inbound.gaps}/${r.outbound.dropped + r.outbound.gaps} | ${r.inbound.late}/${r.outbound.late} | ${r.inbound.outOfOrder}/${r.outbound.outOfOrder} | ${r.keptEveryFrame ? 'yes' : 'NO'} |`,
    );
  }
  lines.push('');
  lines.push('Harness health (the load generator and stand-in share the 2 cores with the server):');
  lines.push('');
  lines.push('| server | calls | dial s | machine busy | steal cores | stand-in cores | load gen cores | TLS terminator cores | other cores (busiest s) | generator lag p99 / max ms | load gen loop delay p99 ms (beyond 10 ms) | stand-in loop delay p99 ms (beyond 10 ms) | frames in window (in) | 1st deltas measured (skipped: audio still playing) | playAudio msgs | clears | server warn+ log lines |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |');
  for (const r of results) {
    const g = r.harness.generatorLagMs;
    lines.push(
      `| ${label(r)} | ${r.dialed} | ${f(r.dialSeconds, 1)} | ${f(r.cpu.machineBusy * 100, 0)} % | ${f(r.cpu.stealCores, 2)} | ${f(r.cpu.standinCores, 2)} | ${f(r.cpu.loadgenCores, 2)} | ${r.transport === 'tls' ? f(r.cpu.terminatorCores, 2) : '–'} | ${f(r.cpu.otherCores, 2)} (${f(r.cpu.maxOtherCores1s, 2)}) | ${f(g.p99, 1)} / ${f(g.max, 1)} | ${f(r.harness.loadgenLoopDelayMs.p99, 1)} | ${f(r.harness.standinLoopDelayMs.p99, 1)} | ${r.inbound.framesInWindow} | ${r.outbound.firstFrameLatencyMs.n} (${r.outbound.firstDeltasBehindAudio}) | ${r.outbound.playAudioMessages} | ${r.outbound.clears} | ${r.serverLogProblems.count}${r.serverLogProblems.top.length ? `: ${r.serverLogProblems.top.join('; ')}` : ''} |`,
    );
  }
  return lines.join('\n');
}

export function messageTable(results) {
  const lines = [
    '| server | calls | caller frames in | appends out | model events in | playAudio out | clear out |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    const m = r.messagesPerCallSecond;
    lines.push(`| ${label(r)} | ${r.dialed} | ${f(m.callerFramesIn, 1)} | ${f(m.appendsOut, 1)} | ${f(m.modelEventsIn, 1)} | ${f(m.playAudioOut, 1)} | ${f(m.clearsOut, 2)} |`);
  }
  return lines.join('\n');
}

export function relayRatios(results) {
  const cost = (target, n) => results.find((r) => r.target === target && r.n === n && (r.transport ?? 'plain') === 'plain')?.cpu.serverMsPerCallSecond;
  const lines = [
    '| calls | Switchboard CPU ms / call-s | naive relay | floor relay | naive ÷ Switchboard | floor ÷ naive |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const ns = [...new Set(results.map((r) => r.n))].sort((a, b) => a - b);
  for (const n of ns) {
    const sb = cost('switchboard', n);
    const nv = cost('naive', n);
    const fl = cost('floor', n);
    if ([sb, nv, fl].filter((v) => v !== undefined).length < 2) continue;
    const ratio = (a, b) => (a !== undefined && b !== undefined ? `${f(a / b, 2)}×` : '—');
    lines.push(`| ${n} | ${f(sb, 3)} | ${f(nv, 3)} | ${f(fl, 3)} | ${ratio(nv, sb)} | ${ratio(fl, nv)} |`);
  }
  return lines.join('\n');
}

const median = (values) => {
  const v = values.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/**
 * Per transport, target and N, the median over the repetitions (--repeat) of each figure, and per
 * transport and target the marginal cost of one more call between each two consecutive N: the growth
 * of the server's CPU (cores, from the medians) divided by the calls added, in ms per call-second.
 */
export function relaySummary(results) {
  const groups = new Map();
  for (const r of results.filter((x) => !x.search)) {
    const key = `${r.transport ?? 'plain'}|${r.target}|${r.n}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const rows = [...groups.values()].map((runs) => ({
    transport: runs[0].transport ?? 'plain',
    target: runs[0].target,
    n: runs[0].n,
    runs: runs.length,
    calls: median(runs.map((r) => r.dialed)),
    msPerCallSecond: median(runs.map((r) => r.cpu.serverMsPerCallSecond)),
    msPerCallSecondAll: runs.map((r) => r.cpu.serverMsPerCallSecond),
    serverCores: median(runs.map((r) => r.cpu.serverCores)),
    terminatorMsPerCallSecond: median(runs.map((r) => r.cpu.terminatorMsPerCallSecond ?? 0)),
    terminatorCores: median(runs.map((r) => r.cpu.terminatorCores ?? 0)),
    rssPerCallKiB: median(runs.map((r) => r.rss.perCallKiB)),
    rssGrowthMiB: median(runs.map((r) => r.rss.endMiB - r.rss.idleMiB)),
    inboundP99Ms: median(runs.map((r) => r.inbound.latencyMs.p99)),
    outboundP99Ms: median(runs.map((r) => r.outbound.firstFrameLatencyMs.p99)),
    stealCores: median(runs.map((r) => r.cpu.stealCores)),
    otherCores: median(runs.map((r) => r.cpu.otherCores)),
    keptEveryFrame: runs.filter((r) => r.keptEveryFrame).length,
  }));
  for (const row of rows) {
    const smaller = rows.filter((o) => o.transport === row.transport && o.target === row.target && o.n < row.n).sort((a, b) => b.n - a.n)[0];
    if (smaller) {
      row.marginalFromN = smaller.n;
      row.marginalMsPerCallSecond = ((row.serverCores - smaller.serverCores) * 1000) / (row.calls - smaller.calls);
      row.marginalRssKiB = ((row.rssGrowthMiB - smaller.rssGrowthMiB) * 1024) / (row.calls - smaller.calls);
      row.marginalWithTerminatorMsPerCallSecond = ((row.serverCores + row.terminatorCores - smaller.serverCores - smaller.terminatorCores) * 1000) / (row.calls - smaller.calls);
    }
  }
  const order = { switchboard: 0, naive: 1, floor: 2 };
  rows.sort((a, b) => (a.transport === b.transport ? 0 : a.transport === 'plain' ? -1 : 1) || a.n - b.n || (order[a.target] ?? 9) - (order[b.target] ?? 9));
  return rows;
}

export function summaryTable(rows) {
  const lines = [
    '| transport | server | calls | runs | CPU ms / call-s (median; each run) | marginal ms / call-s per added call | + TLS terminator ms / call-s | RSS / call (marginal) | inbound p99 ms | outbound 1st frame p99 ms | runs that kept every frame | other load, cores (steal) |',
    '| --- | --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const marginal = r.marginalMsPerCallSecond === undefined ? '–' : `${f(r.marginalMsPerCallSecond, 3)} (${r.marginalFromN}→${r.n})${r.transport === 'tls' ? `; with terminator ${f(r.marginalWithTerminatorMsPerCallSecond, 3)}` : ''}`;
    lines.push(
      `| ${r.transport} | ${r.target} | ${r.calls} | ${r.runs} | ${f(r.msPerCallSecond, 3)} (${r.msPerCallSecondAll.map((v) => f(v, 3)).join(', ')}) | ${marginal} | ${r.transport === 'tls' ? f(r.terminatorMsPerCallSecond, 3) : '–'} | ${f(r.rssPerCallKiB, 0)} KiB${r.marginalRssKiB === undefined ? '' : ` (${f(r.marginalRssKiB, 0)})`} | ${f(r.inboundP99Ms, 2)} | ${f(r.outboundP99Ms, 2)} | ${r.keptEveryFrame}/${r.runs} | ${f(r.otherCores, 2)} (${f(r.stealCores, 2)}) |`,
    );
  }
  return lines.join('\n');
}

/** Switchboard against the naive relay, per transport and N, from the summary's medians: the issue's three targets. */
export function targetsTable(rows) {
  const lines = [
    '| transport | calls | Switchboard ÷ naive, CPU per call-s (target ≤ 1) | floor ÷ naive | Switchboard ÷ naive, marginal per added call (target ≤ 0.8) | Switchboard RSS / call (target ≤ 300 KiB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const get = (transport, target, n) => rows.find((r) => r.transport === transport && r.target === target && r.n === n);
  for (const sb of rows.filter((r) => r.target === 'switchboard')) {
    const nv = get(sb.transport, 'naive', sb.n);
    const fl = get(sb.transport, 'floor', sb.n);
    const ratio = (a, b) => (a !== undefined && b !== undefined && b !== 0 ? `${f(a / b, 2)}×` : '–');
    lines.push(
      `| ${sb.transport} | ${sb.n} | ${ratio(sb.msPerCallSecond, nv?.msPerCallSecond)} | ${ratio(fl?.msPerCallSecond, nv?.msPerCallSecond)} | ${sb.marginalMsPerCallSecond !== undefined ? `${sb.marginalMsPerCallSecond > 0 && nv?.marginalMsPerCallSecond > 0 ? ratio(sb.marginalMsPerCallSecond, nv.marginalMsPerCallSecond) : 'no ratio: CPU fell as calls were added (a saturated machine)'} (${f(sb.marginalMsPerCallSecond, 3)} vs ${f(nv?.marginalMsPerCallSecond, 3)}; ${sb.marginalFromN}→${sb.n})` : '–'} | ${f(sb.rssPerCallKiB, 0)} KiB |`,
    );
  }
  return lines.join('\n');
}

export function jitterText(j) {
  return `Timer jitter of this machine, idle (a 1 ms setTimeout loop, 5 s): p50 ${f(j.p50, 2)} ms, p99 ${f(j.p99, 2)} ms, p99.9 ${f(j.p999, 1)} ms, max ${f(j.max, 1)} ms.`;
}

export function maxKeptText(maxKept) {
  return Object.entries(maxKept)
    .map(([t, m]) => `Largest N that kept every frame (${t}): ${m.kept}${m.lost ? ` (${m.lost} did not)` : ' (the largest tried)'}`)
    .join('\n');
}

export async function runRelayBench(opts) {
  fs.mkdirSync(opts.out, { recursive: true });
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  await waitForQuiet();
  const jitter = await timerJitter(5);
  process.stderr.write(`relay: this machine's timer jitter (idle, 1 ms timer): p50 ${f(jitter.p50, 2)} / p99 ${f(jitter.p99, 2)} / max ${f(jitter.max, 1)} ms\n`);
  const results = [];
  const transports = opts.transports ?? ['plain'];
  const repeat = opts.repeat ?? 1;
  if (transports.includes('tls')) {
    const { makeTestCertificate } = require('../dist/sim/test-certificate.js');
    opts.certificate = makeTestCertificate(path.join(opts.out, 'tls'));
  }
  const log = (r) =>
    process.stderr.write(
      `  ${label(r)} N=${r.n}: ${r.dialed} calls, ${f(r.cpu.serverMsPerCallSecond, 3)} ms CPU/call-s, in p99 ${f(r.inbound.latencyMs.p99, 2)} ms, out p99 ${f(r.outbound.firstFrameLatencyMs.p99, 2)} ms, kept every frame: ${r.keptEveryFrame}\n`,
    );
  // Repetitions outermost, so a slow drift of the machine's load touches every configuration alike.
  for (let round = 1; round <= repeat; round++) {
    for (const transport of transports) {
      for (const n of opts.n) {
        for (const target of opts.targets) {
          if (opts.onlyAt?.[target] && !opts.onlyAt[target].includes(n)) continue;
          process.stderr.write(`relay: ${target} with ${n} calls, ${transport}${repeat > 1 ? `, round ${round}/${repeat}` : ''}…\n`);
          const r = await runOne(target, n, opts, transport);
          r.round = round;
          results.push(r);
          log(r);
        }
      }
    }
  }
  // The largest N that keeps every frame, per target in --search-targets: above the largest N while it
  // holds (--search), else bisect between the largest N kept and the smallest N lost (--bisect steps,
  // rounded to 25 calls).
  const maxKept = {};
  for (const target of opts.searchTargets.filter((t) => opts.targets.includes(t))) {
    const mine = () => results.filter((r) => r.target === target);
    const kept = () => Math.max(0, ...mine().filter((r) => r.keptEveryFrame).map((r) => r.n));
    const lost = () => Math.min(Infinity, ...mine().filter((r) => !r.keptEveryFrame && r.n > kept()).map((r) => r.n));
    const tryN = async (n) => {
      process.stderr.write(`relay: search — ${target} with ${n} calls…\n`);
      const r = await runOne(target, n, opts);
      r.search = true;
      results.push(r);
      log(r);
      return r.keptEveryFrame;
    };
    if (lost() === Infinity) {
      for (const n of opts.search.filter((x) => x > kept())) if (!(await tryN(n))) break;
    } else {
      for (let step = 0; step < opts.bisect; step++) {
        const mid = Math.round((kept() + lost()) / 2 / 25) * 25;
        if (mid <= kept() || mid >= lost()) break;
        await tryN(mid);
      }
    }
    maxKept[target] = { kept: kept(), lost: lost() === Infinity ? null : lost() };
  }
  const { certificate: _certificate, ...optsOut } = opts;
  return { machine: machineInfo(), timerJitterMs: jitter, summary: relaySummary(results), options: { ...optsOut, responseMs: RESPONSE_MS, chunkMs: CHUNK_MS, lateMs: LATE_MS, speechMs: SPEECH_MS, cycleMs: CYCLE_MS, firstSpeechMs: FIRST_SPEECH_MS }, results, maxKept };
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--tables-from') {
  // Print the tables of a saved run again (relay.json), e.g. after the table code changed.
  const report = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const summary = relaySummary(report.results);
  process.stdout.write(`${jitterText(report.timerJitterMs)}\n\nMedians (${report.options.repeat ?? 1} run(s) each):\n\n${summaryTable(summary)}\n\n${targetsTable(summary)}\n\nEvery run:\n\n${relayTables(report.results)}\n\nMessages per call-second during the window:\n\n${messageTable(report.results)}\n`);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const opts = parseArgs(process.argv.slice(2));
  const report = await runRelayBench(opts);
  const json = opts.json ?? path.join(opts.out, 'relay.json');
  fs.writeFileSync(json, JSON.stringify(report, null, 2));
  process.stdout.write(`\nCommand: \`node bench/relay.mjs ${process.argv.slice(2).join(' ')}\`\n\n${jitterText(report.timerJitterMs)}\n\nMedians (${opts.repeat} run${opts.repeat > 1 ? 's' : ''} each):\n\n${summaryTable(report.summary)}\n\n${targetsTable(report.summary)}\n\nEvery run:\n\n${relayTables(report.results)}\n\nMessages per call-second during the window:\n\n${messageTable(report.results)}\n\n${relayRatios(report.results)}\n\n${maxKeptText(report.maxKept)}\nFull results: ${json}\n`);
}
