/**
 * The OpenAI Realtime stand-in (src/sim/realtime-server.ts, from dist/) for bench/greeting, in its own
 * process so that its timers do not share an event loop with the caller being timed. Unlike
 * bench/lib/standin.mjs it wraps nothing: the few sessions of a greeting run are read from the stand-in's
 * own logs (`upgrades`, each session's `received` and `sent`), timed by a clock that reads the shared one.
 *
 * Options from the environment: BENCH_CONNECT_DELAY_MS (upgrade answered after this long, default 300)
 * and BENCH_FIRST_DELTA_MS (`response.created` → first audio delta, default 500).
 *
 * IPC (process.send): → {type:'ready', url}; ← {type:'report'} → {type:'report', sessions: [...]};
 * ← {type:'exit'}. Session times are µs of CLOCK_MONOTONIC (bench/lib/marker.mjs nowUs), comparable with
 * the orchestrator's.
 */
import { createRequire } from 'node:module';
import { nowUs } from './marker.mjs';

const require = createRequire(import.meta.url);
const { startRealtimeStandIn } = require('../../dist/sim/realtime-server.js');
const { systemClock } = require('../../dist/clock.js');

const CONNECT_DELAY_MS = Number(process.env.BENCH_CONNECT_DELAY_MS ?? 300);
const FIRST_DELTA_MS = Number(process.env.BENCH_FIRST_DELTA_MS ?? 500);

// The system clock's timers, with its time read as the µs every bench process shares (CLOCK_MONOTONIC), so
// the stand-in's logs need no conversion: an offset to performance.now() estimated from two reads is off by
// however long the process was descheduled between them (tens of ms on a busy machine).
const clock = {
  now: () => nowUs() / 1000,
  setTimeout: (fn, delayMs) => systemClock.setTimeout(fn, delayMs),
  setInterval: (fn, intervalMs) => systemClock.setInterval(fn, intervalMs),
  clear: (handle) => systemClock.clear(handle),
};

const standIn = await startRealtimeStandIn({
  clock,
  connectDelayMs: CONNECT_DELAY_MS,
  firstDeltaLatencyMs: FIRST_DELTA_MS,
  // 'all' keeps the audio deltas in each session's `sent`: the first one's time is the model's first audio.
  record: 'all',
});

const toUs = (ms) => (ms === undefined ? null : Math.round(ms * 1000));

function sessionTimes(session, upgrade) {
  const received = (type) => session.received.find((e) => e.type === type)?.atMs;
  const sent = (type) => session.sent.find((e) => e.type === type)?.atMs;
  return {
    id: session.id,
    upgradeRequestedUs: toUs(upgrade?.requestedAtMs),
    connectedUs: toUs(session.connectedAtMs),
    sessionUpdateUs: toUs(received('session.update')),
    sessionUpdatedUs: toUs(sent('session.updated')),
    responseCreateUs: toUs(received('response.create')),
    responseCreatedUs: toUs(sent('response.created')),
    firstDeltaUs: toUs(sent('response.output_audio.delta')),
  };
}

process.on('message', (msg) => {
  if (msg.type === 'report') {
    // An accepted upgrade is logged just before its session is made, so the n-th 101 is the n-th session.
    const accepted = standIn.upgrades.filter((u) => u.status === 101);
    process.send({
      type: 'report',
      connectDelayMs: CONNECT_DELAY_MS,
      firstDeltaLatencyMs: FIRST_DELTA_MS,
      refusedUpgrades: standIn.upgrades.length - accepted.length,
      internalErrors: standIn.sessions.reduce((n, s) => n + s.internalErrors.length, 0),
      sessions: standIn.sessions.map((s, i) => sessionTimes(s, accepted[i])),
    });
  } else if (msg.type === 'exit') {
    void standIn.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  }
});

process.send({ type: 'ready', url: standIn.url, pid: process.pid });
