#!/usr/bin/env node
/**
 * bench/codec: throughput of the codec module (src/bridge/codec.ts, from dist/) as multiples of real time
 * on one core: audio seconds processed per CPU second of this (single-threaded) process, measured with
 * process.cpuUsage() over about a second per operation after a warm-up. Input is speech-like audio from the
 * stand-in's synthesiser, in the chunk sizes the bridge sees: 20 ms caller frames, 100 ms model deltas.
 *
 * The last two rows are the whole `pcm24k` audio path of one call (src/bridge/audio-path.ts), base64 in and
 * out included, as the bridge runs it: caller → model (μ-law 8 kHz → PCM16 24 kHz) and model → caller
 * (PCM16 24 kHz → μ-law 8 kHz). The default `pcmu` path does none of this (zero-transcode).
 *
 *   node bench/codec.mjs [--seconds 1] [--json FILE]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { machineInfo, waitForQuiet } from './lib/procs.mjs';

const require = createRequire(import.meta.url);
const codec = require('../dist/bridge/codec.js');
const { AudioPath } = require('../dist/bridge/audio-path.js');
const { synthesizeSpeech, speechSamples, voiceFor, PCMU } = require('../dist/sim/realtime-audio.js');

function parseArgs(argv) {
  const opts = { seconds: 1, json: undefined, out: path.join(os.tmpdir(), 'switchboard-bench') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--seconds') opts.seconds = Number(v());
    else if (a === '--json') opts.json = v();
    else if (a === '--out') opts.out = v();
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

const cpuNowMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Run `step` (which processes `audioMsPerStep` of audio) repeatedly for ~`seconds` of CPU; returns × real time. */
function measure(step, audioMsPerStep, seconds) {
  // Warm-up: let the JIT settle on this function.
  const warmEnd = cpuNowMs() + 300;
  while (cpuNowMs() < warmEnd) for (let i = 0; i < 50; i++) step(i);
  let steps = 0;
  const start = cpuNowMs();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) step(steps + i);
    steps += 50;
    now = cpuNowMs();
  }
  const cpuMs = now - start;
  const audioMs = steps * audioMsPerStep;
  return { realTimeFactor: audioMs / cpuMs, cpuUsPerAudioSecond: (cpuMs * 1000) / (audioMs / 1000), steps };
}

export async function runCodecBench(opts) {
  await waitForQuiet();
  const seconds = opts.seconds;
  // 10 s of speech-like μ-law at 8 kHz, cut in 20 ms frames; and the same voice as PCM16 at 24 kHz in 100 ms deltas.
  const mulaw = synthesizeSpeech(PCMU, 10_000);
  const frames = [];
  for (let o = 0; o + 160 <= mulaw.length; o += 160) frames.push(new Uint8Array(mulaw.subarray(o, o + 160)));
  const pcm8kFrames = frames.map((f) => codec.mulawToPcm16(f));
  const total24k = 24_000 * 10;
  const pcm24k = speechSamples(voiceFor('marin'), 24_000, 0, total24k, total24k);
  const deltas24k = [];
  for (let o = 0; o + 2400 <= pcm24k.length; o += 2400) deltas24k.push(pcm24k.slice(o, o + 2400));
  // Odd chunk sizes (chunks that end mid-pair and mid-group of 3): 161 samples at 8 kHz, 2401 at 24 kHz.
  const pcm8k = codec.mulawToPcm16(mulaw);
  const odd8k = [];
  for (let o = 0; o + 161 <= pcm8k.length; o += 161) odd8k.push(pcm8k.slice(o, o + 161));
  const odd24k = [];
  for (let o = 0; o + 2401 <= pcm24k.length; o += 2401) odd24k.push(pcm24k.slice(o, o + 2401));
  const frameB64 = frames.map((f) => Buffer.from(f).toString('base64'));
  const deltaB64 = deltas24k.map((d) => codec.pcm16ToBytes(d).toString('base64'));
  let sink = 0;

  const rows = [];
  const run = (name, chunk, step, audioMsPerStep) => {
    const r = measure(step, audioMsPerStep, seconds);
    rows.push({ name, chunk, ...r });
    process.stderr.write(`  ${name}: ${r.realTimeFactor.toFixed(0)}× real time\n`);
  };

  run('μ-law → PCM16 (8 kHz)', '20 ms (160 B)', (i) => (sink += codec.mulawToPcm16(frames[i % frames.length]).length), 20);
  run('PCM16 → μ-law (8 kHz)', '20 ms (160 samples)', (i) => (sink += codec.pcm16ToMulaw(pcm8kFrames[i % pcm8kFrames.length]).length), 20);
  {
    const up = new codec.Resampler('8k->24k');
    run('resample 8 → 24 kHz', '20 ms (160 → 480 samples)', (i) => (sink += up.process(pcm8kFrames[i % pcm8kFrames.length]).length), 20);
  }
  {
    const down = new codec.Resampler('24k->8k');
    run('resample 24 → 8 kHz', '100 ms (2400 → 800 samples)', (i) => (sink += down.process(deltas24k[i % deltas24k.length]).length), 100);
  }
  {
    const up = new codec.Resampler('8k->24k');
    run('resample 8 → 24 kHz', 'odd: 161 samples (20.125 ms)', (i) => (sink += up.process(odd8k[i % odd8k.length]).length), 161 / 8);
  }
  {
    const down = new codec.Resampler('24k->8k');
    run('resample 24 → 8 kHz', 'odd: 2401 samples (100.04 ms)', (i) => (sink += down.process(odd24k[i % odd24k.length]).length), 2401 / 24);
  }
  {
    const p = new AudioPath('pcm24k');
    run('pcm24k path, caller → model (base64 μ-law 8k → base64 PCM16 24k)', '20 ms frame', (i) => (sink += p.toModel({ base64: frameB64[i % frameB64.length], bytes: 160 }).bytes), 20);
  }
  {
    const p = new AudioPath('pcm24k');
    run('pcm24k path, model → caller (base64 PCM16 24k → μ-law 8k)', '100 ms delta', (i) => (sink += p.toCaller({ base64: deltaB64[i % deltaB64.length], bytes: 4800 }).length), 100);
  }
  if (sink < 0) process.stderr.write('');
  const inbound = rows[rows.length - 2];
  const outbound = rows[rows.length - 1];
  // A call has caller audio all the time and model audio some of the time; count both directions in full.
  const pcm24kCallsPerCore = 1 / (1 / inbound.realTimeFactor + 1 / outbound.realTimeFactor);
  return { machine: machineInfo(), options: opts, rows, pcm24kCallsPerCore };
}

const f = (v, d = 0) => Number(v).toFixed(d);

export function codecTable(report) {
  const lines = ['| operation | chunk | × real time per core | CPU µs per audio second |', '| --- | --- | ---: | ---: |'];
  for (const r of report.rows) lines.push(`| ${r.name} | ${r.chunk} | ${f(r.realTimeFactor)}× | ${f(r.cpuUsPerAudioSecond, 1)} |`);
  lines.push('');
  lines.push(`A \`pcm24k\` call transcoding both directions full time: ${f(report.pcm24kCallsPerCore)} calls per core for the codec work alone.`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.out, { recursive: true });
  const report = await runCodecBench(opts);
  const json = opts.json ?? path.join(opts.out, 'codec.json');
  fs.writeFileSync(json, JSON.stringify(report, null, 2));
  process.stdout.write(`\n${codecTable(report)}\n\nFull results: ${json}\n`);
}
