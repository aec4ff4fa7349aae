import net from 'node:net';
import { HTTP_HEADERS_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS } from '../src/constants';
import { startTestServer } from './helpers/server';

/** A client that sends part of a request and then nothing: how long does it hold a socket? */
function halfSend(url: string, text: string): Promise<{ reply: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('close', () => resolve({ reply }));
    socket.on('error', reject);
  });
}

describe('slow clients lose their sockets', () => {
  it('has explicit limits by default, tighter than Node’s (60 s headers, 300 s request)', async () => {
    const server = await startTestServer();
    try {
      expect(server.app.server.headersTimeout).toBe(HTTP_HEADERS_TIMEOUT_MS);
      expect(server.app.server.requestTimeout).toBe(HTTP_REQUEST_TIMEOUT_MS);
      expect(server.app.server.keepAliveTimeout).toBe(HTTP_KEEP_ALIVE_TIMEOUT_MS);
      expect(HTTP_HEADERS_TIMEOUT_MS).toBeLessThan(60_000);
      expect(HTTP_REQUEST_TIMEOUT_MS).toBeLessThan(300_000);
    } finally {
      await server.close();
    }
  });

  it('half-sent headers and half-sent bodies are answered 408 and closed', async () => {
    const server = await startTestServer({}, { httpTimeouts: { headersTimeout: 150, requestTimeout: 300, connectionsCheckingInterval: 25 } });
    try {
      const headers = await halfSend(server.url, 'POST /bandwidth/voice/initiate HTTP/1.1\r\nHost: x\r\nContent-Type: app');
      expect(headers.reply).toMatch(/^HTTP\/1\.1 408/);
      // Authenticated, so the server waits for the body (without credentials it answers 401 at once).
      const body = await halfSend(server.url, `POST /bandwidth/voice/initiate HTTP/1.1\r\nHost: x\r\nAuthorization: ${server.auth}\r\nContent-Length: 500\r\n\r\n{"eventType":`);
      expect(body.reply).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await server.close();
    }
  });
});
