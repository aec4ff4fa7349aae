/**
 * The baseline: the straightforward Bandwidth ⇄ OpenAI Realtime relay that peer samples implement, kept
 * here so the relay benchmark can run it in the same harness as Switchboard. Deliberately naive, and
 * deliberately doing less than Switchboard does:
 *
 * - `initiate` is answered with a StartStream BXML (no callback auth check, no store, no agent routing);
 * - the media WebSocket is accepted (no token, no Basic auth check) and an OpenAI Realtime socket is opened
 *   for it when it connects (no pre-warm); caller frames wait in an array until that socket is open;
 * - every Bandwidth frame is JSON.parse'd, and each `media` payload is sent on as
 *   JSON.stringify({type:'input_audio_buffer.append', audio});
 * - every OpenAI event is JSON.parse'd, and each `response.output_audio.delta` is sent to the caller at
 *   once as one JSON.stringify'd playAudio: no pacing, no barge-in, no truncation, no transcript.
 *
 *   PORT=0 HOST=127.0.0.1 OPENAI_BASE_URL=ws://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test node bench/naive-relay.mjs
 *
 * Prints `naive relay listening on http://HOST:PORT` when ready.
 */
import http from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';

const PORT = Number(process.env.PORT ?? 3001);
const HOST = process.env.HOST ?? '127.0.0.1';
const OPENAI_BASE_URL = (process.env.OPENAI_BASE_URL ?? 'wss://api.openai.com/v1').replace(/^http/, 'ws').replace(/\/+$/, '');
const OPENAI_API_KEY = process.env.OPENAI_API_KEY ?? '';
const MODEL = process.env.AGENT_MODEL ?? 'gpt-realtime-2.1';
const GREETING = process.env.AGENT_GREETING ?? 'Hello! Thanks for calling. How can I help you today?';

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/bandwidth/voice/initiate')) {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const callId = JSON.parse(body).callId;
      const host = req.headers.host;
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Response><StartStream name="ai-agent" mode="bidirectional" tracks="inbound" destination="ws://${host}/media/${callId}"/><Pause duration="86400"/></Response>`,
      );
    });
    return;
  }
  res.writeHead(204).end();
});

const wss = new WebSocketServer({ server, path: undefined });
wss.on('connection', (bw) => {
  const pending = [];
  const openai = new WebSocket(`${OPENAI_BASE_URL}/realtime?model=${MODEL}`, { headers: { Authorization: `Bearer ${OPENAI_API_KEY}` } });
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
    for (const text of pending.splice(0)) openai.send(text);
  });
  openai.on('message', (data) => {
    const event = JSON.parse(data.toString());
    if (event.type === 'response.output_audio.delta' && bw.readyState === WebSocket.OPEN) {
      bw.send(JSON.stringify({ eventType: 'playAudio', media: { contentType: 'audio/pcmu', payload: event.delta } }));
    }
  });
  openai.on('error', () => bw.close());
  openai.on('close', () => bw.close());
  bw.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.eventType === 'media') {
      const text = JSON.stringify({ type: 'input_audio_buffer.append', audio: msg.payload });
      if (openai.readyState === WebSocket.OPEN) openai.send(text);
      else pending.push(text);
    } else if (msg.eventType === 'stop') {
      openai.close();
    }
  });
  bw.on('close', () => openai.close());
  bw.on('error', () => openai.close());
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  process.stdout.write(`naive relay listening on http://${HOST}:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
