import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1 / localhost, for the stand-ins
 * and the relay benchmark to serve `https://` and `wss://` on loopback. TEST ONLY: both keys are written
 * unencrypted next to the certificates and live two days. node:crypto cannot issue X.509, so this runs
 * the machine's `openssl` (3.x: `req -x509 -CA`).
 *
 * Clients trust the CA as a deployment with a private CA would: NODE_EXTRA_CA_CERTS=caFile for a Node
 * process (read once at start), or `ca` on an https/ws client. Never by turning verification off.
 */
export interface TestCertificate {
  /** The CA's certificate (PEM file): what clients trust. */
  caFile: string;
  /** The server certificate (PEM file), issued by the CA for IP 127.0.0.1 and DNS localhost. */
  certFile: string;
  /** The server certificate's private key (PEM file). */
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
}

/** Issue the CA and the server certificate into `dir` (created if missing). Throws if openssl fails. */
export function makeTestCertificate(dir: string): TestCertificate {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  // P-256 keys: what most public endpoints serve today, and quick to generate.
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['req', '-x509', ...newKey, '-keyout', file('ca-key.pem'), '-out', file('ca.pem'), '-subj', '/CN=Switchboard test CA (test only)',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', '-x509', ...newKey, '-keyout', file('server-key.pem'), '-out', file('server.pem'), '-subj', '/CN=127.0.0.1',
    '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'),
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
  const read = (name: string) => fs.readFileSync(file(name), 'utf8');
  return { caFile: file('ca.pem'), certFile: file('server.pem'), keyFile: file('server-key.pem'), ca: read('ca.pem'), cert: read('server.pem'), key: read('server-key.pem') };
}
