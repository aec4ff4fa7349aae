/**
 * The floor: the cheapest relay that still forwards every frame as its own message, kept here to show
 * what a per-frame relay cannot go below on this machine. It is the naive relay (bench/naive-relay.mjs)
 * with every byte of JSON work taken out:
 *
 * - a Bandwidth `media` frame is recognised and its payload found with `Buffer.indexOf` on the received
 *   bytes, and the `input_audio_buffer.append` is assembled by copying that payload between two constant
 *   byte strings into one Buffer, sent as a text frame: no string decoding, no JSON.parse/stringify;
 * - an OpenAI `response.output_audio.delta` becomes a playAudio the same way; every other OpenAI event is
 *   dropped unread.
 *
 * Everything left is what any relay of separate 20 ms frames must do: read each WebSocket frame from one
 * socket and write one to another (ws framing, masking toward OpenAI, one `writev` each). It is not a
 * usable product (no auth, no pacing, no barge-in, and it trusts both peers' byte layout), only a
 * measuring stick: if it costs most of what the naive relay costs, no relay that keeps one message per
 * frame can be several times cheaper than the naive one.
 *
 *   PORT=0 HOST=127.0.0.1 OPENAI_BASE_URL=ws://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test node bench/floor-relay.mjs
 *
 * Prints `floor relay listening on http://HOST:PORT` when ready.
 */
import http from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';

const PORT = Number(process.env.PORT ?? 3002);
const HOST = process.env.HOST ?? '127.0.0.1';
const OPENAI_BASE_URL = (process.env.OPENAI_BASE_URL ?? 'wss://api.openai.com/v1').replace(/^http/, 'ws').replace(/\/+$/, '');
const OPENAI_API_KEY = process.env.OPENAI_API_KEY ?? '';
const MODEL = process.env.AGENT_MODEL ?? 'gpt-realtime-2.1';
const GREETING = process.env.AGENT_GREETING ?? 'Hello! Thanks for calling. How can I help you today?';

const QUOTE = 0x22;
const MEDIA_EVENT = Buffer.from('"eventType":"media"');
const STOP_EVENT = Buffer.from('"eventType":"stop"');
const PAYLOAD_KEY = Buffer.from('"payload":"');
const APPEND_HEAD = Buffer.from('{"type":"input_audio_buffer.append","audio":"');
const APPEND_TAIL = Buffer.from('"}');
const DELTA_EVENT = Buffer.from('"type":"response.output_audio.delta"');
const DELTA_KEY = Buffer.from('"delta":"');
const PLAY_HEAD = Buffer.from('{"eventType":"playAudio","media":{"contentType":"audio/pcmu","payload":"');
const PLAY_TAIL = Buffer.from('"}}');

/** `head` + the quoted value after `key` in `frame` + `tail`, as one Buffer; undefined if there is none. */
function rewrap(frame, key, head, tail) {
  const k = frame.indexOf(key);
  if (k < 0) return undefined;
  const start = k + key.length;
  const end = frame.indexOf(QUOTE, start);
  if (end < 0) return undefined;
  const out = Buffer.allocUnsafe(head.length + (end - start) + tail.length);
  head.copy(out, 0);
  frame.copy(out, head.length, start, end);
  tail.copy(out, head.length + (end - start));
  return out;
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/bandwidth/voice/initiate')) {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const callId = JSON.parse(body).callId;
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Response><StartStream name="ai-agent" mode="bidirectional" tracks="inbound" destination="ws://${req.headers.host}/media/${callId}"/><Pause duration="86400"/></Response>`,
      );
    });
    return;
  }
  res.writeHead(204).end();
});

const wss = new WebSocketServer({ server });
wss.on('connection', (bw) => {
  const pending = [];
  const openai = new WebSocket(`${OPENAI_BASE_URL}/realtime?model=${MODEL}`, { headers: { Authorization: `Bearer ${OPENAI_API_KEY}` }, perMessageDeflate: false });
  openai.on('open', () => {
    openai.send(
      JSON.stringify({
        type: 'session.update',
        session: {
          type: 'realtime',
          instructions: 'You are a helpful phone agent.',
          output_modalities: ['audio'],
          audio: {
            input: {
              format: { type: 'audio/pcmu' },
              transcription: { model: 'gpt-4o-mini-transcribe' },
              turn_detection: { type: 'server_vad', threshold: 0.6, prefix_padding_ms: 300, silence_duration_ms: 500, create_response: true, interrupt_response: true },
            },
            output: { format: { type: 'audio/pcmu' }, voice: 'marin' },
          },
        },
      }),
    );
    openai.send(JSON.stringify({ type: 'response.create', response: { instructions: `Greet the caller: "${GREETING}"` } }));
    for (const frame of pending.splice(0)) openai.send(frame, { binary: false });
  });
  openai.on('message', (data) => {
    if (bw.readyState !== WebSocket.OPEN || data.indexOf(DELTA_EVENT) < 0) return;
    const play = rewrap(data, DELTA_KEY, PLAY_HEAD, PLAY_TAIL);
    if (play) bw.send(play, { binary: false });
  });
  openai.on('error', () => bw.close());
  openai.on('close', () => bw.close());
  bw.on('message', (data) => {
    if (data.indexOf(MEDIA_EVENT) >= 0) {
      const append = rewrap(data, PAYLOAD_KEY, APPEND_HEAD, APPEND_TAIL);
      if (!append) return;
      if (openai.readyState === WebSocket.OPEN) openai.send(append, { binary: false });
      else pending.push(append);
    } else if (data.indexOf(STOP_EVENT) >= 0) {
      openai.close();
    }
  });
  bw.on('close', () => openai.close());
  bw.on('error', () => openai.close());
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  process.stdout.write(`floor relay listening on http://${HOST}:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
