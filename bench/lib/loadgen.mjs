/**
 * A lean load generator of N simulated Bandwidth callers, in its own process. It speaks the same protocol
 * as src/sim/bandwidth-caller.ts (SimulatedCall), without its per-call recording:
 *
 *   POST {base}/bandwidth/voice/initiate (Basic auth, a Bandwidth-shaped JSON body)
 *   → BXML <StartStream destination=… destinationUsername=… destinationPassword=…>
 *   → WebSocket to destination with Authorization: Basic, `start` frame, then one `media` frame of
 *     160 bytes of μ-law (20 ms) per call every 20 ms, at real-time pace, `sequenceNumber` from "1";
 *   ← playAudio / clear.
 *
 * Each caller says 1.5 s of speech-like audio, then is silent, on a 6 s cycle (after 3.5 s of silence
 * while the greeting plays), so the stand-in's VAD ends a turn and the model answers once per cycle. The
 * calls' 20 ms beats and their speech cycles are spread evenly so load is even over time.
 *
 * Every outgoing frame carries a marker with its send time (bench/lib/marker.mjs); every playAudio is
 * searched for the stand-in's delta markers: outbound latency (first delta of each response, when no
 * earlier audio is still playing, so pacing cannot add to it), drops, reordering and lateness (a delta
 * that arrives after the moment it should start playing, counted from the response's first audio).
 *
 * IPC: ← {type:'dial', ...config} → {type:'dialed', ok, failed, errors}; ← measure-start / measure-stop
 * {atUs}; ← {type:'stop-audio'}; ← {type:'report'} → {type:'report', ...}; ← {type:'hangup'} → {type:'hung-up'}.
 */
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import {
  FRAME_BYTES,
  FRAME_MS,
  MULAW_SILENCE,
  OUT_MAGIC,
  OUT_MARKER_BYTES,
  Samples,
  elapsedUs,
  nowUs,
  readOutMarker,
  writeInMarker,
} from './marker.mjs';

const require = createRequire(import.meta.url);
const { synthesizeSpeech, PCMU } = require('../../dist/sim/realtime-audio.js');

const FRAME_US = FRAME_MS * 1000;

let config;
const calls = [];
let sending = false;
let windowStartUs = Infinity;
let windowStopUs = Infinity;
const outboundFirst = new Samples();
const generatorLagMs = new Samples(1 << 16);
const counters = {
  framesSent: 0,
  playAudio: 0,
  playBytes: 0,
  clears: 0,
  markers: 0,
  firstDeltas: 0,
  firstDeltasBehindAudio: 0,
  outOfOrder: 0,
  deltaGaps: 0,
  deltasMissing: 0,
  lateInWindow: 0,
  deltasInWindow: 0,
  invalidMessages: 0,
  socketsClosedEarly: 0,
};

const windowCounts = { framesSent: 0, playAudio: 0, clears: 0 };
let speechFrames;
const silenceFrame = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);

function basic(user, pass) {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

function xmlAttr(xml, name) {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(xml);
  if (!m) return undefined;
  return m[1].replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
/** For https:// (the relay bench's --tls runs): trusts only the bench's test CA (config.ca), set on dial. */
let tlsAgent;

function postJson(url, body, auth) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const secure = url.startsWith('https:');
    const req = (secure ? https : http).request(
      url,
      { method: 'POST', agent: secure ? tlsAgent : agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: auth } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** One call: initiate, then the media socket. Resolves when the `start` frame is sent. */
async function dial(index) {
  const callId = `c-bench-${config.runId}-${String(index).padStart(5, '0')}`;
  const iso = new Date().toISOString();
  const body = {
    eventType: 'initiate',
    eventTime: iso,
    accountId: '9901234',
    applicationId: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47',
    from: `+1919555${String(1000 + (index % 9000)).padStart(4, '0')}`,
    to: '+19195550100',
    direction: 'inbound',
    callId,
    callUrl: `https://voice.bandwidth.com/api/v2/accounts/9901234/calls/${callId}`,
    startTime: iso,
    privacy: false,
    callerDisplayName: '',
  };
  const res = await postJson(`${config.baseUrl}/bandwidth/voice/initiate`, body, basic(config.username, config.password));
  if (res.status !== 200) throw new Error(`initiate answered ${res.status}: ${res.text.slice(0, 200)}`);
  const destination = xmlAttr(res.text, 'destination');
  if (!destination) throw new Error(`initiate BXML has no StartStream destination: ${res.text.slice(0, 200)}`);
  const user = xmlAttr(res.text, 'destinationUsername');
  const pass = xmlAttr(res.text, 'destinationPassword');
  const ws = new WebSocket(destination, {
    headers: user !== undefined ? { Authorization: basic(user, pass ?? '') } : {},
    perMessageDeflate: false,
    handshakeTimeout: 10_000,
    ...(config.ca ? { ca: config.ca } : {}),
  });
  const call = {
    index,
    callId,
    ws,
    open: false,
    startUs: 0,
    nextSeq: 1,
    nextDueUs: 0,
    phaseMs: 0,
    scratch: Buffer.alloc(FRAME_BYTES),
    // outbound
    tail: Buffer.alloc(0),
    playEndUs: 0,
    responseSeq: 0,
    lastDelta: -1,
    firstArrivalUs: 0,
    markers: 0,
    clears: 0,
  };
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, r) => reject(new Error(`media socket refused: HTTP ${r.statusCode}`)));
  });
  ws.on('error', () => undefined);
  ws.on('message', (data) => onMessage(call, data));
  ws.on('close', () => {
    if (call.open && sending) counters.socketsClosedEarly++;
    call.open = false;
  });
  const streamId = `s-${callId.slice(2)}`;
  ws.send(
    JSON.stringify({
      metadata: {
        accountId: '9901234',
        callId,
        streamId,
        streamName: 'ai-agent',
        tracks: [{ name: 'inbound', mediaFormat: { encoding: 'PCMU', sampleRate: 8000 } }],
      },
      streamParams: { callId, agentId: 'default' },
      eventType: 'start',
    }),
  );
  call.open = true;
  // Spread the calls' 20 ms beats over the 20 ms, and their speech cycles over the cycle.
  const now = nowUs();
  call.startUs = now + Math.round(((index % config.n) * FRAME_US) / config.n);
  call.nextDueUs = call.startUs;
  call.phaseMs = Math.round(((index % config.n) * config.cycleMs) / config.n / FRAME_MS) * FRAME_MS;
  return call;
}

/** The μ-law frame `seq` (1-based) of a call: its place in the silence / speech cycle. */
function frameAudio(call, seq) {
  const tMs = (seq - 1) * FRAME_MS;
  const lead = config.firstSpeechMs + call.phaseMs;
  if (tMs < lead) return silenceFrame;
  const u = (tMs - lead) % config.cycleMs;
  if (u < config.speechMs) return speechFrames[Math.floor(u / FRAME_MS)] ?? silenceFrame;
  return silenceFrame;
}

function sendDueFrames() {
  if (!sending) return;
  const now = nowUs();
  for (const call of calls) {
    if (!call.open) continue;
    let guard = 0;
    while (call.nextDueUs <= now && guard++ < 10) {
      const seq = call.nextSeq++;
      const scheduledUs = call.nextDueUs;
      call.nextDueUs += FRAME_US;
      const buf = call.scratch;
      frameAudio(call, seq).copy(buf);
      const sentUs = nowUs();
      writeInMarker(buf, 0, call.index, seq, sentUs);
      call.ws.send(`{"track":"inbound","payload":"${buf.toString('base64')}","sequenceNumber":"${seq}","eventType":"media"}`);
      counters.framesSent++;
      if (sentUs >= windowStartUs && sentUs < windowStopUs) generatorLagMs.push((sentUs - scheduledUs) / 1000);
    }
  }
  setTimeout(sendDueFrames, 1);
}

function onMessage(call, data) {
  const atUs = nowUs();
  const text = data.toString('latin1');
  if (text.includes('"eventType":"clear"')) {
    counters.clears++;
    call.clears++;
    call.playEndUs = atUs;
    call.tail = Buffer.alloc(0);
    return;
  }
  const p = text.indexOf('"payload":"');
  if (!text.includes('"playAudio"') || p < 0) {
    counters.invalidMessages++;
    return;
  }
  const bytes = Buffer.from(text.slice(p + 11, text.indexOf('"', p + 11)), 'base64');
  counters.playAudio++;
  counters.playBytes += bytes.length;
  // Was earlier audio of this call still playing when this message arrived? (8 bytes per ms)
  const busyUntilUs = call.playEndUs;
  call.playEndUs = Math.max(call.playEndUs, atUs) + bytes.length * 125;
  const hay = call.tail.length > 0 ? Buffer.concat([call.tail, bytes]) : bytes;
  let from = 0;
  for (;;) {
    const at = hay.indexOf(OUT_MAGIC, from);
    if (at < 0) break;
    const m = readOutMarker(hay, at);
    if (!m) {
      // Cut by the message boundary: the rest arrives with the next playAudio.
      if (at + OUT_MARKER_BYTES > hay.length) break;
      from = at + 1;
      continue;
    }
    onMarker(call, m, atUs, busyUntilUs);
    from = at + OUT_MARKER_BYTES;
  }
  const keepFrom = Math.max(from, hay.length - (OUT_MARKER_BYTES - 1));
  call.tail = keepFrom < hay.length ? Buffer.from(hay.subarray(keepFrom)) : Buffer.alloc(0);
}

/** The first few outbound gaps, for the JSON report: which call, response and delta, and when. */
const gapSamples = [];
function noteGap(call, m, expectedDelta, atUs) {
  if (gapSamples.length < 20) gapSamples.push({ call: call.index, responseSeq: m.responseSeq, expectedDelta, gotDelta: m.deltaIndex, msAfterWindowStart: windowStartUs ? Math.round((atUs - windowStartUs) / 1000) : null });
}

function onMarker(call, m, atUs, busyUntilUs) {
  counters.markers++;
  call.markers++;
  const latencyUs = elapsedUs(atUs, m.sentLow);
  const sentUs = atUs - latencyUs;
  const inWindow = sentUs >= windowStartUs && sentUs < windowStopUs;
  if (m.responseSeq > call.responseSeq) {
    call.responseSeq = m.responseSeq;
    call.lastDelta = m.deltaIndex;
    call.firstArrivalUs = atUs - m.deltaIndex * config.chunkMs * 1000;
    if (m.deltaIndex !== 0) {
      counters.deltaGaps++;
      counters.deltasMissing += m.deltaIndex;
      noteGap(call, m, 0, atUs);
    }
    if (m.deltaIndex === 0 && inWindow) {
      counters.firstDeltas++;
      // Pacing only adds nothing when no earlier audio of this call is still queued or playing.
      if (busyUntilUs > sentUs) counters.firstDeltasBehindAudio++;
      else outboundFirst.push(latencyUs / 1000);
    }
  } else if (m.responseSeq === call.responseSeq && m.deltaIndex > call.lastDelta) {
    if (m.deltaIndex !== call.lastDelta + 1) {
      counters.deltaGaps++;
      counters.deltasMissing += m.deltaIndex - call.lastDelta - 1;
      noteGap(call, m, call.lastDelta + 1, atUs);
    }
    call.lastDelta = m.deltaIndex;
  } else {
    counters.outOfOrder++;
    return;
  }
  if (inWindow) {
    counters.deltasInWindow++;
    // Delta k starts k × chunkMs into the response: it is late if it arrives after that moment.
    const playsAtUs = call.firstArrivalUs + m.deltaIndex * config.chunkMs * 1000;
    if (atUs > playsAtUs + 1000) counters.lateInWindow++;
  }
}

async function dialAll() {
  speechFrames = [];
  const speech = synthesizeSpeech(PCMU, config.speechMs);
  for (let o = 0; o + FRAME_BYTES <= speech.length; o += FRAME_BYTES) speechFrames.push(Buffer.from(speech.subarray(o, o + FRAME_BYTES)));
  sending = true;
  setTimeout(sendDueFrames, 1);
  const errors = [];
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < config.n) {
      const index = next++;
      try {
        calls.push(await dial(index));
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push(String(err?.message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: config.dialConcurrency }, worker));
  return { ok: calls.length, failed, errors };
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

process.on('message', async (msg) => {
  switch (msg.type) {
    case 'dial':
      config = msg;
      if (config.ca) tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: config.ca });
      process.send({ type: 'dialed', ...(await dialAll()) });
      return;
    case 'measure-start':
      windowStartUs = msg.atUs;
      windowCounts.framesSent = -counters.framesSent;
      windowCounts.playAudio = -counters.playAudio;
      windowCounts.clears = -counters.clears;
      loopDelay.reset();
      return;
    case 'measure-stop':
      windowStopUs = msg.atUs;
      windowCounts.framesSent += counters.framesSent;
      windowCounts.playAudio += counters.playAudio;
      windowCounts.clears += counters.clears;
      return;
    case 'stop-audio':
      sending = false;
      return;
    case 'report': {
      const perCall = {};
      for (const c of calls) perCall[c.index] = { sent: c.nextSeq - 1, markers: c.markers, clears: c.clears, open: c.open, lastResponseSeq: c.responseSeq, lastDelta: c.lastDelta };
      process.send({
        type: 'report',
        counters,
        window: { ...windowCounts },
        outboundFirst: outboundFirst.summary(),
        generatorLagMs: generatorLagMs.summary(),
        // The histogram counts the whole 10 ms sampling interval; report the delay beyond it.
        eventLoopDelayMs: { p99: Math.max(0, loopDelay.percentile(99) / 1e6 - 10), max: Math.max(0, loopDelay.max / 1e6 - 10) },
        perCall,
        gapSamples,
      });
      return;
    }
    case 'hangup':
      sending = false;
      for (const c of calls) {
        if (c.ws.readyState === WebSocket.OPEN) {
          c.ws.send(JSON.stringify({ metadata: { callId: c.callId, streamName: 'ai-agent' }, eventType: 'stop' }));
          c.ws.close(1000);
        }
      }
      setTimeout(() => {
        for (const c of calls) c.ws.terminate();
        process.send({ type: 'hung-up' });
      }, 500);
      return;
    case 'exit':
      process.exit(0);
  }
});

process.send({ type: 'ready', pid: process.pid });
