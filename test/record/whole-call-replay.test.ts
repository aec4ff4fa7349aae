import fs from 'node:fs';
import os from 'node:os';
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

describe('replay --media speaks what the model said then', () => {
  it('a recording whose model audio is not the stand-in’s own (a production call) replays green: its bytes are played back', async () => {
    // The same call, as if the model had spoken other audio: its output and what we played to the caller
    // change alike (a pcmu agent relays the model's μ-law as is). Synthesised speech would differ from both.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-other-voice-'));
    try {
      fs.copyFileSync(path.join(DIR, 'barge-in.json'), path.join(dir, 'barge-in.json'));
      fs.cpSync(path.join(DIR, 'barge-in.call'), path.join(dir, 'barge-in.call'), { recursive: true });
      for (const track of ['model-out.raw', 'caller-out.ulaw']) {
        const file = path.join(dir, 'barge-in.call', track);
        const bytes = fs.readFileSync(file);
        for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0x55;
        fs.writeFileSync(file, bytes);
      }
      const result = await replayWholeCall(path.join(dir, 'barge-in.json'));
      if (!result.ok) throw new Error(result.report);
      // Only the model's side changed: the caller-side recording alone changed is a difference.
      const onlyOut = path.join(dir, 'barge-in.call', 'caller-out.ulaw');
      const played = fs.readFileSync(onlyOut);
      for (let i = 0; i < played.length; i++) played[i] = played[i]! ^ 0x55;
      fs.writeFileSync(onlyOut, played);
      const changed = await replayWholeCall(path.join(dir, 'barge-in.json'));
      expect(changed.report).toMatch(/FAIL {2}playout: playAudio: the same byte counts, but different audio/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
