/**
 * Preloaded into the server under test (`node -r bench/lib/loop-probe.cjs …`) to see its event loop from
 * inside, without touching its code: a perf_hooks event-loop-delay histogram (10 ms resolution).
 * SIGUSR2 the first time: reset (the measurement window starts); the second time: write
 * {p50, p99, max} in ms, beyond the 10 ms sampling interval, to $BENCH_LOOP_PROBE_FILE.
 */
'use strict';
const fs = require('node:fs');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const file = process.env.BENCH_LOOP_PROBE_FILE;
if (file) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let signals = 0;
  process.on('SIGUSR2', () => {
    signals++;
    if (signals === 1) {
      h.reset();
      return;
    }
    const beyond = (ns) => Math.max(0, ns / 1e6 - 10);
    // Written aside and renamed: the bench polls for the file and must never read it half-written.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ p50: beyond(h.percentile(50)), p99: beyond(h.percentile(99)), max: beyond(h.max) }));
    fs.renameSync(`${file}.tmp`, file);
  });
}
