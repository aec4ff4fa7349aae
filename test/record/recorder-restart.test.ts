import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readScenario } from '../../src/record/scenario';
import { startTestServer } from '../helpers/server';

/** A server restarted mid-call (or a call the recorder let go of) keeps what was recorded of it (found in review). */
it("a callback after a restart does not wipe the call's scenario file", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'review15-restart-'));
  const callId = 'c-11111111-22222222-3333-4444-5555-666666666666';
  const base = { accountId: '9901234', applicationId: 'a', callId, from: '+19195550142', to: '+19195550100', direction: 'inbound', startTime: '2026-12-07T20:00:00.000Z', eventTime: '2026-12-07T20:00:00.100Z' };
  try {
    const a = await startTestServer({ RECORD_DIR: dir });
    expect((await a.post('initiate', { ...base, eventType: 'initiate' })).status).toBe(200);
    await a.close();
    const before = readScenario(path.join(dir, `${callId}.json`)).length;
    const b = await startTestServer({ RECORD_DIR: dir });
    await b.post('status', { ...base, eventType: 'disconnect', cause: 'hangup', endTime: '2026-12-07T20:01:00.000Z' });
    await b.close();
    const steps = readScenario(path.join(dir, `${callId}.json`));
    if (process.env.REVIEW_VERBOSE) process.stdout.write(`steps before restart ${before}, after ${steps.length}: ${steps.map((s) => `${s.kind}${(s.request as { url?: string } | undefined)?.url?.split("/").pop() ?? ""}`).join(',')}\n`);
    expect(steps.length).toBeGreaterThan(before);
    expect(steps.filter((s) => s.kind === 'meta')).toHaveLength(1);
    expect(JSON.stringify(steps)).toContain('"initiate"');
    expect(JSON.stringify(steps)).toContain('"disconnect"');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
