import { Writable } from 'node:stream';
import { createLogger } from '../../src/log';
import { startTestServer } from '../helpers/server';

it('admin API log lines carry phone numbers in paths masked', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const server = await startTestServer({}, { logger: createLogger('info', sink) });
  try {
    const token = server.app.credentials.credentials.adminToken;
    const res = await fetch(`${server.url}/api/numbers/%2B19195550199`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
    const refused = lines.find((l) => l.includes('admin API request refused'));
    expect(refused).toBeDefined();
    expect(refused).toContain('+1919•••0199');
    expect(lines.join('')).not.toContain('19195550199');
  } finally {
    await server.close();
  }
});
