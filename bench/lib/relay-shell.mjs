/**
 * What the naive and floor relays share (bench/naive-relay.mjs, bench/floor-relay.mjs): everything but
 * the per-message path. `initiate` is answered with a StartStream BXML (no callback auth, no store, no
 * routing); a media socket is accepted as it comes (no token, no Basic auth) and an OpenAI Realtime socket
 * is opened for it when it connects (no pre-warm), configured with PCMU both ways, server VAD and
 * transcription, then asked for the greeting; caller messages wait in an array until that socket is open.
 *
 * Each relay supplies its two translations:
 * - `toOpenAI(data)`: a Bandwidth message → the text to send to OpenAI, 'stop' to end, or undefined;
 * - `toCaller(data)`: an OpenAI event → the text to send to the caller, or undefined.
 * Both receive the raw message (a Buffer) and may return a string or a Buffer (sent as a text frame).
 *
 *   PORT=0 HOST=127.0.0.1 OPENAI_BASE_URL=ws://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test node bench/<name>-relay.mjs
 *
 * Behind a TLS terminator: PUBLIC_BASE_URL=https://HOST:PORT names the stream destination (wss://…), and a
 * wss:// OPENAI_BASE_URL with a private CA is trusted through NODE_EXTRA_CA_CERTS, as for Switchboard.
 *
 * Prints `<name> relay listening on http://HOST:PORT` when ready (bench/lib/procs.mjs waits for it).
 */
import http from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';

export function startBaselineRelay(name, { toOpenAI, toCaller }) {
  const PORT = Number(process.env.PORT ?? 0);
  const HOST = process.env.HOST ?? '127.0.0.1';
  const OPENAI_BASE_URL = (process.env.OPENAI_BASE_URL ?? 'wss://api.openai.com/v1').replace(/^http/, 'ws').replace(/\/+$/, '');
  const OPENAI_API_KEY = process.env.OPENAI_API_KEY ?? '';
  const MODEL = process.env.AGENT_MODEL ?? 'gpt-realtime-2.1';
  const GREETING = process.env.AGENT_GREETING ?? 'Hello! Thanks for calling. How can I help you today?';
  const text = { binary: false };
  // Behind a TLS terminator (the bench's --tls runs) the stream destination is its wss:// address.
  const PUBLIC_BASE_URL = process.env.PUBLIC_BASE_URL?.replace(/\/+$/, '');

  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/bandwidth/voice/initiate')) {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const callId = JSON.parse(body).callId;
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Response><StartStream name="ai-agent" mode="bidirectional" tracks="inbound" destination="${PUBLIC_BASE_URL ? PUBLIC_BASE_URL.replace(/^http/, 'ws') : `ws://${req.headers.host}`}/media/${callId}"/><Pause duration="86400"/></Response>`,
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
      for (const message of pending.splice(0)) openai.send(message, text);
    });
    openai.on('message', (data) => {
      if (bw.readyState !== WebSocket.OPEN) return;
      const message = toCaller(data);
      if (message !== undefined) bw.send(message, text);
    });
    openai.on('error', () => bw.close());
    openai.on('close', () => bw.close());
    bw.on('message', (data) => {
      const message = toOpenAI(data);
      if (message === 'stop') openai.close();
      else if (message === undefined) return;
      else if (openai.readyState === WebSocket.OPEN) openai.send(message, text);
      else pending.push(message);
    });
    bw.on('close', () => openai.close());
    bw.on('error', () => openai.close());
  });

  server.listen(PORT, HOST, () => {
    const { port } = server.address();
    process.stdout.write(`${name} relay listening on http://${HOST}:${port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
