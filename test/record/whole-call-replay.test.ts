import fs from 'node:fs';
import path from 'node:path';
import { replayWholeCall } from '../../src/sim/whole-call-replay';

/** Every whole-call scenario in fixtures/whole-call/ replays offline and matches its recording. */
const DIR = path.join(__dirname, '../../fixtures/whole-call');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('fixtures/whole-call', () => {
  it.each(files)('%s replays green', async (file) => {
    const result = await replayWholeCall(path.join(DIR, file));
    if (!result.ok) throw new Error(result.report);
    expect(result.report).toContain('PASS');
  });
});

describe('replay --media catches a change', () => {
  it('a different carrier playout delay moves the barge-in truncation point, and the diff says so', async () => {
    const result = await replayWholeCall(path.join(DIR, 'barge-in.json'), { env: { CARRIER_PLAYOUT_DELAY_MS: '300' } });
    expect(result.ok).toBe(false);
    expect(result.report).toMatch(/FAIL {2}openai: truncate of item #\d+: audio_end_ms \d+ then, \d+ now \(tolerance 20 ms\)/);
    expect(result.report).toContain('FAIL barge-in.json: openai');
    if (process.env.SHOW_REPLAY_DIFF) process.stdout.write(result.report);
  });

  it('a different transfer destination changes the REFER of an openai-sip call, and the diff shows both', async () => {
    const result = await replayWholeCall(path.join(DIR, 'openai-sip-refer.json'), { env: { TRANSFER_TO: '+19195550188' } });
    expect(result.ok).toBe(false);
    expect(result.report).toContain('POST /realtime/calls/rtc_fixture_sip_1/refer (client event');
    expect(result.report).toContain('"target_uri":"sip:+19195550177@67.231.4.10:5060"');
    expect(result.report).toContain('"target_uri":"sip:+19195550188@67.231.4.10:5060"');
    if (process.env.SHOW_REPLAY_DIFF) process.stdout.write(result.report);
  });
});
