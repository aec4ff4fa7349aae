import fs from 'node:fs';
import path from 'node:path';
import { parseWav } from '../../src/bridge/wav';
import { TEST_CALL_WAV, TEST_CALL_WAV_TIMELINE, testCallWav } from './fixture-wav';

/** The browser suite's fake-microphone WAV is generated, never hand-made: regenerate with WRITE_FIXTURES=1. */
describe('the test-call fixture WAV', () => {
  it('is what its generator makes: 16-bit PCM mono, silence, then speech, then silence', () => {
    if (process.env.WRITE_FIXTURES === '1') {
      fs.mkdirSync(path.dirname(TEST_CALL_WAV), { recursive: true });
      fs.writeFileSync(TEST_CALL_WAV, testCallWav());
    }
    const file = fs.readFileSync(TEST_CALL_WAV);
    expect(file.equals(testCallWav())).toBe(true);
    const wav = parseWav(file);
    expect(wav).toMatchObject({ sampleRate: 16000, channels: 1 });
    expect(wav.samples.length).toBe(TEST_CALL_WAV_TIMELINE.totalMs * 16);
    const peak = (fromMs: number, toMs: number) => Math.max(...Array.from(wav.samples.subarray(fromMs * 16, toMs * 16), Math.abs));
    expect(peak(0, TEST_CALL_WAV_TIMELINE.speechStartMs)).toBe(0);
    expect(peak(TEST_CALL_WAV_TIMELINE.speechStartMs, TEST_CALL_WAV_TIMELINE.speechStartMs + TEST_CALL_WAV_TIMELINE.speechMs)).toBeGreaterThan(3000);
  });
});
