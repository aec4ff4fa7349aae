import fs from 'node:fs';
import path from 'node:path';
import { formatReplay, replayScenario } from '../../src/record/replay';
import { readScenario, scenarioMeta } from '../../src/record/scenario';
import { UrlSigner } from '../../src/security/signing';
import { startTestServer } from '../helpers/server';

/**
 * Every scenario in fixtures/replay/ replays green against a fresh in-process server configured as
 * the scenario's meta.env says (regenerate them with test/record/generate-fixtures.test.ts).
 */
const DIR = path.join(__dirname, '../../fixtures/replay');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('fixtures/replay', () => {
  it('covers every route and flow the issue lists', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'inbound-stream-hangup.json', 'stream-rejected.json', 'ai-failure-fallback-hangup.json', 'fallback-transfer-answered.json', 'fallback-transfer-busy.json',
        'fallback-transfer-no-answer.json', 'agent-transfer-whisper.json', 'outbound-answered.json', 'sip-forward-answered.json', 'bad-credentials.json', 'malformed-bodies.json',
      ]),
    );
    const routes = new Set(files.flatMap((f) => readScenario(path.join(DIR, f)).filter((s) => s.kind === 'callback').map((s) => new URL((s.request as { url: string }).url).pathname.split('/').pop())));
    expect([...routes].sort()).toEqual(['answer', 'initiate', 'redirect', 'status', 'stream-ended', 'stream-events', 'transfer-answer', 'transfer-complete', 'transfer-disconnect']);
  });

  it.each(files)('%s replays green', async (file) => {
    const steps = readScenario(path.join(DIR, file));
    const server = await startTestServer(scenarioMeta(steps).env ?? {});
    try {
      const c = server.app.credentials.credentials;
      const result = await replayScenario(
        steps,
        { baseUrl: server.url, auth: { username: c.callbackUsername, password: c.callbackPassword }, signer: new UrlSigner(c.urlSigningSecret), remint: (purpose, sealed) => server.app.contexts.remint(purpose, sealed), shiftIds: true, shiftTimes: true },
        file,
      );
      if (!result.ok) throw new Error(formatReplay(result));
      expect(result.outcomes.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});
