/**
 * One simulated Bandwidth call for bench/greeting, timed from the `initiate` POST to the first `playAudio`:
 *
 *   POST {base}/bandwidth/voice/initiate (Basic auth; fixtures/bandwidth/callbacks/initiate.json with this call's id)
 *   → the BXML's <StartStream destination=… destinationUsername=… destinationPassword=…> and its StreamParams
 *   → `streamAfterMs` after the POST (Bandwidth's own stream setup), the media WebSocket, the `start` frame
 *     (fixtures/bandwidth/ws/start.json with this call's ids), then a 160-byte μ-law silence `media` frame
 *     every 20 ms
 *   ← the first `playAudio`: the caller hears the greeting. The socket is then closed (the call is over).
 *
 * Times are µs of CLOCK_MONOTONIC (nowUs), so they can be set against the stand-in's.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { SaxesParser } from 'saxes';
import WebSocket from 'ws';
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE, nowUs } from './marker.mjs';
import { ROOT } from './procs.mjs';

const fixture = (file) => JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures', 'bandwidth', file), 'utf8'));
const INITIATE = fixture('callbacks/initiate.json');
const START = fixture('ws/start.json');
const MEDIA = fixture('ws/media-inbound.json');
const SILENCE_BASE64 = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE).toString('base64');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const basic = (user, pass) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** The fixture's initiate, re-addressed to `callId` and stamped now. */
function initiateBody(callId) {
  const iso = new Date().toISOString();
  return { ...INITIATE, callId, callUrl: INITIATE.callUrl.replace(INITIATE.callId, callId), eventTime: iso, startTime: iso };
}

/** What Bandwidth takes from the answer: StartStream's attributes and its StreamParams. */
export function startStreamOf(bxml) {
  let stream;
  const parser = new SaxesParser();
  parser.on('opentag', (tag) => {
    if (tag.name === 'StartStream') stream = { attributes: { ...tag.attributes }, params: {} };
    else if (tag.name === 'StreamParam' && stream) stream.params[tag.attributes.name] = tag.attributes.value ?? '';
  });
  parser.write(bxml).close();
  if (!stream?.attributes.destination) throw new Error(`initiate answered no StartStream destination: ${bxml.slice(0, 200)}`);
  return stream;
}

function post(url, body, authorization) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    // A fresh connection per call, as Bandwidth's callbacks arrive: keep-alive would hide connection setup.
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Place one call. Resolves with its times (µs): postUs, initiateAnsweredUs, streamRequestedUs (the media
 * socket's upgrade sent), streamOpenUs, firstPlayAudioUs; rejects when no playAudio comes within `timeoutMs`.
 */
export async function greetingCall({ baseUrl, username, password, callId, streamAfterMs = 400, timeoutMs = 10_000 }) {
  const t = { callId, postUs: nowUs() };
  const res = await post(`${baseUrl}/bandwidth/voice/initiate`, initiateBody(callId), basic(username, password));
  t.initiateAnsweredUs = nowUs();
  if (res.status !== 200) throw new Error(`initiate answered ${res.status}: ${res.text.slice(0, 200)}`);
  const stream = startStreamOf(res.text);
  const waitMs = streamAfterMs - (nowUs() - t.postUs) / 1000;
  if (waitMs > 0) await sleep(waitMs);

  const { destination, destinationUsername: user, destinationPassword: pass } = stream.attributes;
  t.streamRequestedUs = nowUs();
  const ws = new WebSocket(destination, { headers: user !== undefined ? { Authorization: basic(user, pass ?? '') } : {}, perMessageDeflate: false });
  let ticker;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no playAudio within ${timeoutMs} ms of the stream request`)), timeoutMs);
      const fail = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, r) => fail(new Error(`media socket refused: HTTP ${r.statusCode}`)));
      ws.once('close', (code) => fail(new Error(`media socket closed (${code}) before any playAudio`)));
      ws.on('message', (data) => {
        if (t.firstPlayAudioUs !== undefined) return;
        const at = nowUs();
        let eventType;
        try {
          eventType = JSON.parse(data.toString()).eventType;
        } catch {
          return; // not a Bandwidth message: Bandwidth would ignore it too
        }
        if (eventType !== 'playAudio') return;
        t.firstPlayAudioUs = at;
        clearTimeout(timer);
        resolve();
      });
      ws.once('open', () => {
        t.streamOpenUs = nowUs();
        const streamId = `s-${callId.slice(2)}`;
        const metadata = { ...START.metadata, callId, streamId };
        ws.send(JSON.stringify({ eventType: 'start', metadata, streamParams: stream.params }));
        let seq = 0;
        const sendSilence = () => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ ...MEDIA, payload: SILENCE_BASE64, sequenceNumber: String(++seq) }));
        sendSilence();
        ticker = setInterval(sendSilence, FRAME_MS);
      });
    });
  } finally {
    clearInterval(ticker);
    ws.removeAllListeners('close');
    ws.on('error', () => undefined);
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
  }
  return t;
}
