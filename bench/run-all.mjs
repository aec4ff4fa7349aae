#!/usr/bin/env node
/**
 * `npm run bench`: codec, webhooks, relay and greeting benchmarks in sequence (a few minutes on the 2-core machine),
 * then one Markdown report with the machine, the commands and every table, written to
 * $TMPDIR/switchboard-bench/report.md (and each benchmark's JSON beside it) and printed. BENCHMARKS.md
 * holds a copy of a full run with its reading; paste a new report there when the numbers change.
 *
 *   node bench/run-all.mjs [--out DIR] [--quick]
 *
 * --quick: shorter windows and smaller N (a smoke test of the harness, not numbers to publish).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { codecTable, runCodecBench } from './codec.mjs';
import { greetingSetupText, greetingTables, runGreetingBench } from './greeting.mjs';
import { jitterText, maxKeptText, messageTable, relayRatios, relayTables, runRelayBench } from './relay.mjs';
import { machineInfo } from './lib/procs.mjs';
import { runWebhooksBench, webhookTable } from './webhooks.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const outIndex = argv.indexOf('--out');
const out = outIndex >= 0 ? argv[outIndex + 1] : path.join(os.tmpdir(), 'switchboard-bench');
fs.mkdirSync(out, { recursive: true });

const started = Date.now();
const machine = machineInfo();
process.stderr.write(`bench: ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}; results in ${out}\n`);

const codec = await runCodecBench({ seconds: quick ? 0.3 : 1 });
fs.writeFileSync(path.join(out, 'codec.json'), JSON.stringify(codec, null, 2));

const webhooks = await runWebhooksBench({ connections: 10, duration: quick ? 3 : 10, amount: quick ? 500 : 3000, out });
fs.writeFileSync(path.join(out, 'webhooks.json'), JSON.stringify(webhooks, null, 2));

const relay = await runRelayBench({
  targets: ['switchboard', 'naive', 'floor'],
  n: quick ? [20, 50] : [50, 200, 500],
  // The floor relay is a measuring stick for the ratio, not a contender: two sizes are enough.
  onlyAt: { floor: quick ? [20] : [50, 200] },
  seconds: quick ? 5 : 12,
  search: quick ? [] : [750, 1000],
  bisect: quick ? 0 : 2,
  searchTargets: ['switchboard'],
  drainMs: 4500,
  out,
});
fs.writeFileSync(path.join(out, 'relay.json'), JSON.stringify(relay, null, 2));

const greeting = await runGreetingBench({ calls: quick ? 5 : 20, out });
fs.writeFileSync(path.join(out, 'greeting.json'), JSON.stringify(greeting, null, 2));

const minutes = (Date.now() - started) / 60_000;
const report = `# Switchboard benchmarks — ${new Date().toISOString()}

Machine: ${machine.nproc} × ${machine.cpuModel}${machine.cpuMHz ? ` (${machine.cpuMHz} MHz)` : ''}, ${machine.memGiB} GiB, Linux ${machine.kernel}, node ${machine.node}.
Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (${minutes.toFixed(1)} minutes).

## Relay: ${relay.options.seconds} s measured per run, caller frames 20 ms PCMU, responses ${relay.options.responseMs} ms in ${relay.options.chunkMs} ms deltas at 4× real time

${jitterText(relay.timerJitterMs)}

${relayTables(relay.results)}

Messages per call-second during the window:

${messageTable(relay.results)}

${relayRatios(relay.results)}

${maxKeptText(relay.maxKept)}

## Greeting latency: initiate → first playAudio at the caller

${greetingSetupText(greeting)}

${greetingTables(greeting)}

## Webhooks: autocannon against initiate

${webhookTable(webhooks.results)}

## Codec

${codecTable(codec)}
`;
fs.writeFileSync(path.join(out, 'report.md'), report);
process.stdout.write(`\n${report}\nReport: ${path.join(out, 'report.md')}\n`);
