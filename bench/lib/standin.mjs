/**
 * The OpenAI Realtime stand-in (src/sim/realtime-server.ts, from dist/) in its own process, instrumented
 * for the relay benchmark. Nothing in the stand-in's behaviour changes; two prototype methods are wrapped:
 *
 * - `onFrame` (every client frame): before the stand-in handles an `input_audio_buffer.append`, the
 *   arrival time is read and every 160-byte frame boundary of the session's audio is checked for the
 *   caller's marker (bench/lib/marker.mjs): added inbound latency, drops (sequence gaps), reordering,
 *   frames of one call arriving on another call's session.
 * - `send` (every server event): each `response.output_audio.delta` gets a marker over its first bytes
 *   with the time it is handed to the socket, its response number and its index in the response.
 *
 * Three shortcuts keep the stand-in's own CPU small enough to share the 2-core machine with the server and
 * the load generator (without them it was the bottleneck at 200 calls, see BENCHMARKS.md). Neither changes a
 * byte on the wire:
 *
 * - the speech synthesiser (`speechSamples`, a pure function of its arguments) is memoized: every
 *   response has the same voice and length, so each 100 ms chunk is computed once, not once per response;
 * - a frame that is exactly `{"type":"input_audio_buffer.append","audio":"…"}` (what both relays send)
 *   goes straight to the session's append handler, skipping JSON.parse and the zod schema; anything else
 *   takes the normal path;
 * - the session's input audio buffer forgets audio once it is committed (the stand-in otherwise keeps
 *   every appended byte of every session for tests that read it back, a heap that grows by 8 KB per call
 *   per second and makes every major GC slower).
 *
 * IPC (process.send): → {type:'ready', url}; ← {type:'measure-start', atUs} / {type:'measure-stop', atUs};
 * ← {type:'report'} → {type:'report', ...}.
 *
 * Options come from the environment: BENCH_RESPONSE_MS (audio per response, default 3000),
 * BENCH_CHUNK_MS (default 100), BENCH_SPEED_FACTOR (default 4), BENCH_FIRST_DELTA_MS (default 300),
 * BENCH_LATE_MS (inbound "late" threshold, default 100); BENCH_TLS_CERT_FILE and BENCH_TLS_KEY_FILE serve
 * wss:// instead of ws://.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FRAME_BYTES, IN_MARKER_BYTES, OUT_MARKER_BYTES, Samples, elapsedUs, nowUs, readInMarker, writeOutMarker } from './marker.mjs';

const require = createRequire(import.meta.url);
const { startRealtimeStandIn, RealtimeSimSession } = require('../../dist/sim/realtime-server.js');
const audioModule = require('../../dist/sim/realtime-audio.js');
const { InputAudioBuffer } = require('../../dist/sim/realtime-input.js');

// Committed audio is never read again in a benchmark (no item retrieval): keep only what a later commit can slice.
const originalConsumeTo = InputAudioBuffer.prototype.consumeTo;
InputAudioBuffer.prototype.consumeTo = function consumeTo(ms) {
  originalConsumeTo.call(this, ms);
  let keep = 0;
  while (keep < this.segments.length && this.segments[keep].endMs <= ms) keep++;
  if (keep > 0) this.segments.splice(0, keep);
  this.chunks.length = 0;
};

// realtime-response.js calls `realtime_audio_1.speechSamples(...)` through the exports object: replace it there.
const synthesize = audioModule.speechSamples;
const synthesized = new Map();
audioModule.speechSamples = function memoizedSpeechSamples(voice, sampleRate, startSample, count, totalSamples) {
  const key = `${voice.f0Hz}/${voice.syllableHz}/${voice.peak}/${sampleRate}/${startSample}/${count}/${totalSamples}`;
  let samples = synthesized.get(key);
  if (!samples) {
    samples = synthesize(voice, sampleRate, startSample, count, totalSamples);
    if (synthesized.size < 10_000) synthesized.set(key, samples);
  }
  return samples; // callers only read it (encodeFromPcm)
};

const RESPONSE_MS = Number(process.env.BENCH_RESPONSE_MS ?? 3000);
const CHUNK_MS = Number(process.env.BENCH_CHUNK_MS ?? 100);
const SPEED_FACTOR = Number(process.env.BENCH_SPEED_FACTOR ?? 4);
const FIRST_DELTA_MS = Number(process.env.BENCH_FIRST_DELTA_MS ?? 300);
const LATE_US = Number(process.env.BENCH_LATE_MS ?? 100) * 1000;

/** Per session: audio not yet a whole frame, which call it carries, responses seen. */
const sessionState = new WeakMap();
const allSessions = [];
/** Per call index (from the markers): what arrived. */
const calls = new Map();
const inbound = new Samples(1 << 16);
let windowStartUs = Infinity;
let windowStopUs = Infinity;
let lateInWindow = 0;
let framesInWindow = 0;
let misrouted = 0;
let corrupt = 0;
let appends = 0;
let serverEvents = 0;
const windowCounts = { appends: 0, serverEvents: 0 };

function stateOf(session) {
  let st = sessionState.get(session);
  if (!st) {
    st = { carry: undefined, callIndex: -1, responses: new Map(), responseSeq: 0, deltasSent: 0, responsesStarted: 0 };
    sessionState.set(session, st);
    allSessions.push(st);
  }
  return st;
}

function callStats(index) {
  let c = calls.get(index);
  if (!c) {
    c = { received: 0, lastSeq: 0, gaps: 0, missing: 0, outOfOrder: 0 };
    calls.set(index, c);
  }
  return c;
}

function onFrameAudio(st, bytes, atUs) {
  let buf = bytes;
  if (st.carry) buf = Buffer.concat([st.carry, bytes]);
  let offset = 0;
  for (; offset + FRAME_BYTES <= buf.length; offset += FRAME_BYTES) {
    const m = readInMarker(buf, offset);
    if (!m) {
      corrupt++;
      continue;
    }
    if (st.callIndex < 0) st.callIndex = m.callIndex;
    else if (st.callIndex !== m.callIndex) misrouted++;
    const c = callStats(m.callIndex);
    c.received++;
    if (m.seq === c.lastSeq + 1) c.lastSeq = m.seq;
    else if (m.seq > c.lastSeq + 1) {
      c.gaps++;
      c.missing += m.seq - c.lastSeq - 1;
      c.lastSeq = m.seq;
    } else c.outOfOrder++;
    const latencyUs = elapsedUs(atUs, m.sentLow);
    const sentUs = atUs - latencyUs;
    if (sentUs >= windowStartUs && sentUs < windowStopUs) {
      framesInWindow++;
      inbound.push(latencyUs / 1000);
      if (latencyUs > LATE_US) lateInWindow++;
    }
  }
  st.carry = offset < buf.length ? Buffer.from(buf.subarray(offset)) : undefined;
}

const APPEND = 'input_audio_buffer.append';
const PLAIN_APPEND = '{"type":"input_audio_buffer.append","audio":"';
const originalOnFrame = RealtimeSimSession.prototype.onFrame;
RealtimeSimSession.prototype.onFrame = function onFrame(text) {
  const atUs = nowUs();
  if (typeof text === 'string') {
    const t = text.indexOf(APPEND);
    if (t >= 0 && t < 64) {
      const a = text.indexOf('"audio":"');
      if (a >= 0) {
        const end = text.indexOf('"', a + 9);
        const audio = text.slice(a + 9, end);
        appends++;
        onFrameAudio(stateOf(this), Buffer.from(audio, 'base64'), atUs);
        if (text.startsWith(PLAIN_APPEND) && end === text.length - 2 && text.endsWith('"}')) {
          // What onFrame → parseClientEvent → dispatch would do for a valid append, without the parse.
          return this.turns.onAppend(audio, null);
        }
      }
    }
  }
  return originalOnFrame.call(this, text);
};

const originalSend = RealtimeSimSession.prototype.send;
RealtimeSimSession.prototype.send = function send(body) {
  serverEvents++;
  if (body && body.type === 'response.output_audio.delta' && typeof body.delta === 'string') {
    const st = stateOf(this);
    let r = st.responses.get(body.response_id);
    if (!r) {
      r = { seq: ++st.responseSeq, deltas: 0 };
      st.responses.set(body.response_id, r);
      st.responsesStarted++;
    }
    const bytes = Buffer.from(body.delta, 'base64');
    if (bytes.length >= OUT_MARKER_BYTES) {
      writeOutMarker(bytes, 0, r.seq, r.deltas, nowUs());
      body = { ...body, delta: bytes.toString('base64') };
    }
    r.deltas++;
    st.deltasSent++;
  }
  return originalSend.call(this, body);
};

const standIn = await startRealtimeStandIn({
  // Every response is the same length so the load generator knows how many deltas to expect.
  script: () => ({ text: 'Sure, I can help with that. Let me look it up for you right away.', audioMs: RESPONSE_MS }),
  chunkMs: CHUNK_MS,
  speedFactor: SPEED_FACTOR,
  firstDeltaLatencyMs: FIRST_DELTA_MS,
  record: 'control',
  // --tls runs: wss:// with the bench's test certificate (src/sim/test-certificate.ts).
  ...(process.env.BENCH_TLS_CERT_FILE ? { tls: { cert: fs.readFileSync(process.env.BENCH_TLS_CERT_FILE), key: fs.readFileSync(process.env.BENCH_TLS_KEY_FILE) } } : {}),
});

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

process.on('message', (msg) => {
  if (msg.type === 'measure-start') {
    windowStartUs = msg.atUs;
    windowCounts.appends = -appends;
    windowCounts.serverEvents = -serverEvents;
    loopDelay.reset();
  } else if (msg.type === 'measure-stop') {
    windowStopUs = msg.atUs;
    windowCounts.appends += appends;
    windowCounts.serverEvents += serverEvents;
  } else if (msg.type === 'report') {
    let missing = 0;
    let gaps = 0;
    let outOfOrder = 0;
    let received = 0;
    const perCall = {};
    for (const [index, c] of calls) {
      missing += c.missing;
      gaps += c.gaps;
      outOfOrder += c.outOfOrder;
      received += c.received;
      perCall[index] = { received: c.received, lastSeq: c.lastSeq };
    }
    const deltasPerCall = {};
    let deltasSent = 0;
    let responses = 0;
    for (const st of allSessions) {
      deltasSent += st.deltasSent;
      responses += st.responsesStarted;
      if (st.callIndex >= 0) deltasPerCall[st.callIndex] = (deltasPerCall[st.callIndex] ?? 0) + st.deltasSent;
    }
    process.send({
      type: 'report',
      sessions: standIn.sessions.length,
      openSessions: standIn.sessions.filter((s) => s.open).length,
      internalErrors: standIn.sessions.reduce((n, s) => n + s.internalErrors.length, 0),
      appends,
      // Messages during the measurement window: appends read, server events (all types) written.
      window: { ...windowCounts },
      inbound: { ...inbound.summary(), framesInWindow, lateInWindow, received, missing, gaps, outOfOrder, misrouted, corrupt },
      outbound: { deltasSent, responses, deltasPerCall },
      perCall,
      // The histogram counts the whole 10 ms sampling interval; report the delay beyond it.
      eventLoopDelayMs: { p99: Math.max(0, loopDelay.percentile(99) / 1e6 - 10), max: Math.max(0, loopDelay.max / 1e6 - 10) },
    });
  } else if (msg.type === 'exit') {
    void standIn.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  }
});

process.send({ type: 'ready', url: standIn.url, pid: process.pid });
