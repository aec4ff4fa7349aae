import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { makeTestCertificate, type TestCertificate } from '../../src/sim/test-certificate';

/** The Realtime stand-in over TLS (`wss://`), as api.openai.com serves it (RT §1.1), for the TLS relay bench. */
describe('Realtime stand-in over TLS', () => {
  let dir: string;
  let certificate: TestCertificate;
  let rt: RealtimeStandIn;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-tls-'));
    certificate = makeTestCertificate(dir);
    rt = await startRealtimeStandIn({ tls: { cert: certificate.cert, key: certificate.key } });
  });

  afterAll(async () => {
    await rt.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const connect = (ca?: string) =>
    new WebSocket(`${rt.url}/realtime?model=gpt-realtime-2.1`, { headers: { Authorization: `Bearer ${rt.apiKey}` }, ...(ca ? { ca } : {}) });

  it('serves wss:// with a certificate for 127.0.0.1 that a client trusting the test CA accepts', async () => {
    expect(rt.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/v1$/);
    const ws = connect(certificate.ca);
    const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(data.toString()) as Record<string, unknown>));
      ws.once('error', reject);
    });
    expect(first.type).toBe('session.created');
    ws.close();
  });

  it('is refused by a client that does not trust the test CA', async () => {
    const ws = connect();
    const err = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect((err as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
