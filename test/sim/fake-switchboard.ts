import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { settleIo } from '../../src/clock';
import { basicAuthHeader, type CallbackAuth } from '../../src/sim/bandwidth-caller';

/**
 * A small fake Switchboard for the stand-in tests: express callbacks under /bandwidth/voice/:route
 * (Basic auth checked per route, answers scripted per route) and a ws media endpoint under /media/…
 * with Basic auth on the upgrade. It records every hit and every media connection.
 */
export const CALLBACK: CallbackAuth = { username: 'bw-callbacks', password: 's3cr3t-Callback-Pass' };
export const MEDIA: CallbackAuth = { username: 'bw-media', password: 'Med1a-WS-Pass' };
export const CALL_ID = 'c-6f2a91d4-8b3c17e0-4a5d-4c1e-9f7b-2d6e8a0c4b13';
export const EPOCH_MS = Date.parse('2026-11-20T15:04:05.141Z');

export interface Hit {
  route: string;
  method: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, any>;
}

export interface Reply {
  status?: number;
  type?: string;
  body?: string;
}

/** XML string = 200 application/xml; undefined = 204. */
export type RouteHandler = (hit: Hit, fake: FakeSwitchboard) => Reply | string | undefined;

export interface MediaConnection {
  url: string;
  authorization: string | undefined;
  socket: WebSocket;
  frames: Record<string, any>[];
  closeCode?: number;
}

export class FakeSwitchboard {
  url = '';
  readonly hits: Hit[] = [];
  /** Requests answered 401 (not in `hits`). */
  readonly refused: Hit[] = [];
  /** The `WWW-Authenticate` value on a 401; undefined sends none (a server Bandwidth would not retry). */
  challenge: string | undefined = 'Basic realm="x"';
  readonly connections: MediaConnection[] = [];
  /** Credentials expected per route (default CALLBACK). */
  readonly auth = new Map<string, CallbackAuth>();
  private readonly routes = new Map<string, RouteHandler>();
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor() {
    const app = express();
    app.use(express.json());
    const handle = (req: express.Request<{ route: string }>, res: express.Response) => {
      const route = req.params.route;
      const hit: Hit = {
        route,
        method: req.method,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: (req.method === 'GET' ? { ...req.query } : req.body) as Record<string, any>,
      };
      // Refused requests (the stand-in's challenge-first attempts, BW §1.8) are kept apart from the callbacks served.
      if (req.headers.authorization !== basicAuthHeader(this.auth.get(route) ?? CALLBACK)) {
        this.refused.push(hit);
        const challenge = this.challenge === undefined ? {} : { 'www-authenticate': this.challenge };
        res.status(401).set(challenge).json({ error: 'auth' });
        return;
      }
      this.hits.push(hit);
      const handler = this.routes.get(route) ?? (route === 'initiate' ? () => this.streamBxml() : undefined);
      const reply = handler?.(hit, this);
      if (reply === undefined) {
        res.status(204).end();
      } else if (typeof reply === 'string') {
        res.status(200).type('application/xml; charset=utf-8').send(reply);
      } else {
        res.status(reply.status ?? 200).type(reply.type ?? 'application/xml; charset=utf-8').send(reply.body ?? '');
      }
    };
    app.post('/bandwidth/voice/:route', handle);
    app.get('/bandwidth/voice/:route', handle);
    this.server = http.createServer(app);
    this.server.on('upgrade', (req, sock, head) => {
      const ok = req.url?.startsWith('/media/') && req.headers.authorization === basicAuthHeader(MEDIA);
      if (!ok) {
        sock.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, sock, head, (ws) => {
        const conn: MediaConnection = { url: req.url ?? '', authorization: req.headers.authorization, socket: ws, frames: [] };
        this.connections.push(conn);
        ws.on('message', (data) => conn.frames.push(JSON.parse(data.toString()) as Record<string, any>));
        ws.on('close', (code) => (conn.closeCode = code));
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Script a route's answer. */
  on(route: string, handler: RouteHandler | Reply | string): this {
    this.routes.set(route, typeof handler === 'function' ? handler : () => handler);
    return this;
  }

  /** The initiate-style document: StartStream (bidirectional), StopStream wait, Redirect to stream-ended. */
  streamBxml(name = 'ai-agent', token = 'tok-1'): string {
    const wsUrl = `${this.url.replace(/^http/, 'ws')}/media/${token}`;
    return `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <StartStream name="${name}" mode="bidirectional" tracks="inbound" destination="${wsUrl}" destinationUsername="${MEDIA.username}" destinationPassword="${MEDIA.password}" streamEventUrl="${this.url}/bandwidth/voice/stream-events" username="${CALLBACK.username}" password="${CALLBACK.password}">
    <StreamParam name="callId" value="${CALL_ID}"/>
  </StartStream>
  <StopStream name="${name}" wait="true"/>
  <Redirect redirectUrl="${this.url}/bandwidth/voice/stream-ended" username="${CALLBACK.username}" password="${CALLBACK.password}"/>
</Response>`;
  }

  hitsTo(route: string): Hit[] {
    return this.hits.filter((h) => h.route === route);
  }

  streamEvents(eventType: string): Hit[] {
    return this.hitsTo('stream-events').filter((h) => h.body.eventType === eventType);
  }

  /** eventTypes of every hit, in arrival order. */
  get eventTypes(): string[] {
    return this.hits.map((h) => String(h.body.eventType));
  }

  media(conn: MediaConnection | undefined): Record<string, any>[] {
    return (conn?.frames ?? []).filter((f) => f.eventType === 'media');
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Let loopback I/O run until `cond` holds (real time, bounded; the clock does not move). */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await settleIo(2);
    if (i > 50) await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Bytes with a recognisable pattern (never 0xFF). */
export function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) % 200;
  return b;
}

export function joinedPayloads(frames: Record<string, any>[]): Buffer {
  return Buffer.concat(frames.map((f) => Buffer.from(f.payload as string, 'base64')));
}
