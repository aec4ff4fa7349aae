#!/usr/bin/env node
/**
 * Per-frame cost of whole-call recording on the relay path (src/record/call-recorder.ts): N rounds of a
 * caller media frame in, a playAudio out, a Realtime append out and an audio delta in, through one call's
 * taps, on the system clock; then the same past the call's size budget. A measurement to compare two
 * builds, not a benchmark of the suite: `npm run build && node bench/record-cost.mjs [rounds]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dist = process.env.SWITCHBOARD_DIST ?? new URL('../dist', import.meta.url).pathname;
const { CallRecorder } = require(path.join(dist, 'record/call-recorder.js'));
const { PhoneRedactor } = require(path.join(dist, 'record/redact.js'));
const { systemClock } = require(path.join(dist, 'clock.js'));

// Count the file calls the recorder makes (the same fs object its compiled modules use): a by-path append
// is an open, a write and a close; nested calls (appendFileSync uses openSync/writeSync) are not counted twice.
const fileCalls = { open: 0, write: 0 };
let inside = false;
for (const [name, opens] of [['openSync', 1], ['appendFileSync', 1], ['writeFileSync', 1], ['writeSync', 0]]) {
  const original = fs[name];
  fs[name] = (...args) => {
    if (inside) return original.apply(fs, args);
    inside = true;
    try {
      if (name !== 'openSync') fileCalls.write++;
      fileCalls.open += opens;
      return original.apply(fs, args);
    } finally {
      inside = false;
    }
  };
}

const rounds = Number(process.argv[2] ?? 10_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-record-cost-'));
const secrets = ['sk-measure-secret-1', 'callback-password-xyz', 'admin-token-abcdef', 'signing-secret-123456'];
const payload = Buffer.alloc(160, 0x7f).toString('base64');

async function run(label, budgetBytes, redact) {
  const phones = new PhoneRedactor();
  const rec = new CallRecorder({ dir: path.join(dir, label), clock: systemClock, secrets, redact, budgetBytes, phoneRedactorFor: () => phones });
  const callId = `c-measure-${label}`;
  const media = rec.mediaTap(callId);
  const rt = rec.realtimeTap(callId);
  fileCalls.open = fileCalls.write = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    media.received(`{"eventType":"media","track":"inbound","payload":"${payload}","sequenceNumber":"${i + 1}"}`);
    media.sent(`{"eventType":"playAudio","media":{"contentType":"audio/pcmu","payload":"${payload}"}}`);
    rt.sent(`{"type":"input_audio_buffer.append","audio":"${payload}"}`);
    rt.received(`{"type":"response.output_audio.delta","event_id":"event_${i}","response_id":"resp_1","item_id":"item_1","output_index":0,"content_index":0,"delta":"${payload}"}`);
    // Socket frames arrive over many event-loop turns: let each turn end now and then, as the relay does.
    if (i % 25 === 24) await new Promise((r) => setImmediate(r));
  }
  rec.close?.();
  const ns = Number(process.hrtime.bigint() - started);
  const frames = rounds * 4;
  process.stdout.write(`${label.padEnd(22)} ${frames} frames in ${(ns / 1e6).toFixed(0).padStart(6)} ms: ${(ns / frames / 1000).toFixed(2).padStart(6)} µs per frame, ${fileCalls.open} file opens, ${fileCalls.write} writes\n`);
}

await run('within budget', 1 << 30, false);
await run('within budget, redact', 1 << 30, true);
await run('over budget', 64 * 1024, false);
fs.rmSync(dir, { recursive: true, force: true });
