import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { ManualClock } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SecurityEvents } from '../../src/security/security-events';
import { callbackFixture } from '../helpers/fixtures';
import { basicAuth, startTestServer } from '../helpers/server';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

describe('SecurityEvents', () => {
  it('logs the first refusal per surface and reason, then one line per interval with the count it held back', () => {
    const { lines, logger } = capture();
    const clock = new ManualClock(0);
    const events = new SecurityEvents(logger, clock);
    for (let i = 0; i < 1000; i++) events.refused('media', 'bad signature');
    events.refused('callback', 'wrong callback credentials');
    expect(lines).toHaveLength(2);
    clock.advance(10_000);
    events.refused('media', 'bad signature');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ security: true, surface: 'media', reason: 'bad signature', total: 1001, suppressedSinceLastLine: 999 });
    expect(events.snapshot()).toEqual(expect.arrayContaining([{ surface: 'media', reason: 'bad signature', count: 1001 }, { surface: 'callback', reason: 'wrong callback credentials', count: 1 }]));
  });
});

describe('refused authentication on the live surfaces', () => {
  it('wrong passwords are counted and logged (never the password); challenges and floods do not flood the log', async () => {
    const { lines, logger } = capture();
    const server = await startTestServer({}, { logger });
    try {
      const wrong = basicAuth(server.app.credentials.credentials.callbackUsername, 'not-the-password-xyz');
      for (let i = 0; i < 100; i++) expect((await server.post('initiate', callbackFixture('initiate'), { auth: wrong })).status).toBe(401);
      for (let i = 0; i < 20; i++) expect((await server.post('initiate', callbackFixture('initiate'), { auth: null })).status).toBe(401);
      const upgrades = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          new Promise<number>((resolve) => {
            const ws = new WebSocket(`${server.url.replace('http', 'ws')}/media/forged-${i}`);
            ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
            ws.on('error', () => resolve(-1));
          }),
        ),
      );
      expect(new Set(upgrades)).toEqual(new Set([401]));
      const api = await fetch(`${server.url}/api/agents`, { headers: { authorization: 'Bearer nope' } });
      expect(api.status).toBe(401);

      const counts = Object.fromEntries(server.app.security.snapshot().map((e) => [`${e.surface}:${e.reason}`, e.count]));
      expect(counts['callback:wrong callback credentials']).toBe(100);
      expect(counts['admin-api:wrong admin token']).toBe(1);
      expect(Object.entries(counts).filter(([k]) => k.startsWith('media:')).reduce((a, [, n]) => a + n, 0)).toBe(300);
      expect(server.app.security.challenges).toBe(20);

      const security = lines.filter((l) => l.security === true);
      expect(security.filter((l) => l.surface === 'callback')).toHaveLength(1);
      expect(security.filter((l) => l.surface === 'media').length).toBeLessThanOrEqual(3);
      expect(security.filter((l) => l.surface === 'admin-api')).toHaveLength(1);
      const text = lines.map((l) => JSON.stringify(l)).join('\n');
      expect(text).not.toContain('not-the-password-xyz');
      expect(text).not.toContain('Bearer nope');
    } finally {
      await server.close();
    }
  });
});
