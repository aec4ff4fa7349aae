import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * The load balancer in front of several Switchboard instances (docs/architecture.md, "Several instances"),
 * small enough to read: HTTP requests and WebSocket upgrades go round-robin to the instances that are up,
 * skipping one that refuses connections (a dead instance), except under `/instances/{name}/`, which goes to
 * that instance only with the prefix removed. That prefix is each instance's INSTANCE_PUBLIC_URL, so a media
 * socket lands on the instance that pre-warmed its call. `misroute` sends a prefixed request to the other
 * instances instead (a proxy that gets it wrong), to show an instance answering a stream it did not pre-warm.
 */
export interface ProxiedRequest {
  backend: string;
  method: string;
  /** The path as the instance saw it (prefix removed). */
  path: string;
  upgrade: boolean;
}

const INSTANCE_PREFIX = /^\/instances\/([A-Za-z0-9_-]+)(\/.*)$/;

export class RoundRobinProxy {
  /** Every request passed on, in order, with the instance that took it. */
  readonly served: ProxiedRequest[] = [];
  /** Send every request round-robin, prefix or not. */
  misroute = false;
  private readonly backends = new Map<string, { host: string; port: number } | undefined>();
  private readonly sockets = new Set<Duplex>();
  private turn = 0;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    names: readonly string[],
  ) {
    for (const name of names) this.backends.set(name, undefined);
  }

  static async start(names: readonly string[]): Promise<RoundRobinProxy> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new RoundRobinProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, names);
    server.on('connection', (socket) => proxy.track(socket));
    server.on('request', (req, res) => void proxy.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => proxy.onUpgrade(req, socket, head));
    return proxy;
  }

  /** Where instance `name` is reached through this proxy: its INSTANCE_PUBLIC_URL. */
  instanceUrl(name: string): string {
    return `${this.url}/instances/${name}`;
  }

  /** Point `name` at an instance's local URL (after it starts, or restarts on another port). */
  setBackend(name: string, localUrl: string): void {
    const target = new URL(localUrl);
    this.backends.set(name, { host: target.hostname, port: Number(target.port) });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The instances to try for a request, in order: the prefixed one alone, or every one from the next turn on. */
  private route(url: string): { names: string[]; path: string } {
    const prefixed = INSTANCE_PREFIX.exec(url);
    const path = prefixed ? prefixed[2]! : url;
    const names = [...this.backends.keys()];
    if (prefixed && !this.misroute) return { names: [prefixed[1]!], path };
    if (prefixed) return { names: names.filter((name) => name !== prefixed[1]), path };
    const start = this.turn++ % names.length;
    return { names: [...names.slice(start), ...names.slice(0, start)], path };
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const { names, path } = this.route(req.url ?? '/');
    for (const name of names) {
      const target = this.backends.get(name);
      if (!target) continue;
      const upstream = await this.forward(target, req, path, body);
      if (upstream === 'refused') continue;
      this.served.push({ backend: name, method: req.method ?? 'GET', path, upgrade: false });
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
      return;
    }
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'no instance is up' } }));
  }

  /** One try: the response, or 'refused' when the instance is not listening (only then is another tried). */
  private forward(target: { host: string; port: number }, req: http.IncomingMessage, path: string, body: Buffer): Promise<http.IncomingMessage | 'refused'> {
    return new Promise((resolve) => {
      const upstream = http.request({ host: target.host, port: target.port, method: req.method, path, headers: { ...req.headers, connection: 'close' }, agent: false }, resolve);
      upstream.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : errorResponse(err)));
      upstream.end(body);
    });
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const { names, path } = this.route(req.url ?? '/');
    const tryNext = (i: number): void => {
      const name = names[i];
      if (name === undefined) {
        socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const target = this.backends.get(name);
      if (!target) return tryNext(i + 1);
      const upstream = net.connect(target.port, target.host);
      this.track(upstream);
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') return tryNext(i + 1);
        socket.destroy();
      });
      upstream.once('connect', () => {
        this.served.push({ backend: name, method: req.method ?? 'GET', path, upgrade: true });
        let head0 = `${req.method} ${path} HTTP/1.1\r\n`;
        for (let h = 0; h < req.rawHeaders.length; h += 2) head0 += `${req.rawHeaders[h]}: ${req.rawHeaders[h + 1]}\r\n`;
        upstream.write(`${head0}\r\n`);
        if (head.length > 0) upstream.write(head);
        // Raw bytes both ways from here: the instance answers the upgrade itself (101, or its refusal).
        upstream.pipe(socket);
        socket.pipe(upstream);
        upstream.on('error', () => socket.destroy());
        upstream.on('close', () => socket.destroy());
        socket.on('close', () => upstream.destroy());
      });
    };
    tryNext(0);
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

/** An instance that failed mid-request (reset, not refused): a 502, as a load balancer answers. */
function errorResponse(err: Error): http.IncomingMessage {
  const res = new http.IncomingMessage(new net.Socket());
  res.statusCode = 502;
  res.headers = { 'content-type': 'application/json' };
  res.push(JSON.stringify({ error: { message: `instance failed: ${err.message}` } }));
  res.push(null);
  return res;
}
