/**
 * Opening the media WebSocket as Bandwidth does (BW §4.1): the `ws` client, Basic credentials on the
 * upgrade, no compression, no redirects, a real-time handshake limit.
 */
import WebSocket from 'ws';
import { basicAuthHeader, type CallbackAuth } from './callback-delivery';

export interface SocketHandlers {
  message(data: WebSocket.RawData, isBinary: boolean): void;
  close(code: number, reason: Buffer): void;
}

export type ConnectResult = { ok: true; ws: WebSocket; attach: (handlers: SocketHandlers) => void } | { ok: false; error: string };

/**
 * Open the media socket. Messages or a close that arrive before `attach` are held and replayed, so
 * nothing the server sends right after the upgrade is lost.
 */
export function connectMediaSocket(destination: string, auth: CallbackAuth | undefined, connectTimeoutMs: number): Promise<ConnectResult> {
  if (!/^wss?:\/\//i.test(destination)) return Promise.resolve({ ok: false, error: `destination must be a ws:// or wss:// URL` });
  return new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(destination, {
        headers: auth ? { Authorization: basicAuthHeader(auth) } : {},
        handshakeTimeout: connectTimeoutMs,
        perMessageDeflate: false,
        followRedirects: false,
      });
    } catch (err) {
      resolve({ ok: false, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    let settled = false;
    let handlers: SocketHandlers | undefined;
    const early: [WebSocket.RawData, boolean][] = [];
    let earlyClose: [number, Buffer] | undefined;
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => (handlers ? handlers.message(data, isBinary) : early.push([data, isBinary])));
    ws.on('close', (code: number, reason: Buffer) => (handlers ? handlers.close(code, reason) : (earlyClose = [code, reason])));
    const attach = (h: SocketHandlers): void => {
      handlers = h;
      for (const [data, isBinary] of early.splice(0)) h.message(data, isBinary);
      if (earlyClose) h.close(...earlyClose);
    };
    ws.once('open', () => {
      settled = true;
      resolve({ ok: true, ws, attach });
    });
    ws.on('error', (err: Error) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      resolve({ ok: false, error: err.message });
    });
  });
}
