import fs from 'node:fs';
import path from 'node:path';
import { startSelfServer } from '../../src/cli/self-server';
import { formatReplay, replayScenario } from '../../src/record/replay';
import { readScenario, scenarioRequires } from '../../src/record/scenario';
import { NO_REQUIREMENTS } from '../../src/record/scenario-settings';

/**
 * Every scenario in fixtures/replay/ replays green on a server of its own configured as the scenario's
 * meta.requires says, the way `switchboard replay` does by default (regenerate them with
 * test/record/generate-fixtures.test.ts).
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
    const server = await startSelfServer(scenarioRequires(steps) ?? NO_REQUIREMENTS);
    try {
      const result = await replayScenario(steps, { ...server.replayOptions, shiftIds: true, shiftTimes: true }, file);
      if (!result.ok) throw new Error(formatReplay(result));
      expect(result.outcomes.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});
