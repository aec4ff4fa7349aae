/**
 * The TLS terminator in front of the server under test in the relay bench's TLS runs: what a deployment
 * puts between Bandwidth and Switchboard (a load balancer or reverse proxy holding the certificate of
 * PUBLIC_BASE_URL, or the ngrok tunnel of DESIGN §1), here a TCP pass-through that ends TLS on loopback.
 * Switchboard has no HTTPS listener of its own, so this is the shape users run. The naive and floor relays
 * sit behind the same terminator, so all three are measured over the same TLS.
 *
 * It runs in its own process so its CPU is measured apart from the server's: the bench reports both. It
 * uses Node's TLS (the same OpenSSL a Node relay would use), with the bench's throwaway certificate
 * (src/sim/test-certificate.ts). Debian's nginx or haproxy would be cheaper; they are not installed here.
 *
 * Env: BENCH_TLS_CERT_FILE, BENCH_TLS_KEY_FILE. IPC: → {type:'ready', port}; ← {type:'upstream', port}
 * → {type:'upstream-set'}; ← {type:'exit'}.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

let upstreamPort = 0;

const server = tls.createServer({ cert: fs.readFileSync(process.env.BENCH_TLS_CERT_FILE), key: fs.readFileSync(process.env.BENCH_TLS_KEY_FILE) }, (client) => {
  client.setNoDelay(true);
  if (!upstreamPort) return client.destroy();
  const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
  client.pipe(upstream);
  upstream.pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end);
  upstream.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
});
server.on('tlsClientError', () => undefined);

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port, pid: process.pid }));

process.on('message', (msg) => {
  if (msg.type === 'upstream') {
    upstreamPort = msg.port;
    process.send({ type: 'upstream-set' });
  } else if (msg.type === 'exit') {
    server.close();
    process.exit(0);
  }
});
