import http from 'node:http';
import type { Duplex } from 'node:stream';

/** Answer an upgrade request with a plain HTTP status and close, before any WebSocket exists. */
export function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: { message } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      (status === 401 ? 'WWW-Authenticate: Basic realm="Switchboard media"\r\n' : '') +
      'Connection: close\r\n\r\n' +
      body,
  );
}
