import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runMediaReplay, writeReplayTest } from '../../src/cli/media-replay';

const DIR = path.join(__dirname, '../../fixtures/whole-call');

describe('switchboard replay --media', () => {
  it('replays a directory of whole calls offline and exits 0 when all match', async () => {
    let text = '';
    let errors = '';
    const code = await runMediaReplay([DIR], { fast: true }, { out: (t) => (text += t), err: (t) => (errors += t) });
    expect(text).toMatch(/PASS: (\d+)\/\1 whole calls replayed green/);
    expect([code, errors]).toEqual([0, '']);
  });

  it('exits 2 with the reader\'s message for a file that is not a whole-call recording', async () => {
    let errors = '';
    const code = await runMediaReplay([path.join(__dirname, '../../fixtures/replay/inbound-stream-hangup.json')], { fast: true }, { out: () => undefined, err: (t) => (errors += t) });
    expect(code).toBe(2);
    expect(errors).toMatch(/inbound-stream-hangup\.json has no whole-call recording/);
  });

  it('--record-test writes a jest test that replays the recordings by their path from the package root', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-record-test-'));
    try {
      const file = writeReplayTest('my-call', [path.join(root, 'fixtures/whole-call/barge-in.json')], root);
      expect(file).toBe(path.join(root, 'test/replay/my-call.test.ts'));
      const text = fs.readFileSync(file, 'utf8');
      expect(text).toContain('["fixtures/whole-call/barge-in.json"]');
      expect(text).toContain("from '../../src/sim/whole-call-replay'");
      expect(() => writeReplayTest('../escape', [], root)).toThrow(/lower-case letters, digits and dashes/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
