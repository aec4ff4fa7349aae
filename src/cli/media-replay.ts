import fs from 'node:fs';
import path from 'node:path';
import { replayWholeCall } from '../sim/whole-call-replay';
import { TAPE_DIR_SUFFIX } from '../record/tape-format';
import { isSwitchboardError } from '../errors';
import { PACKAGE_ROOT } from '../main';
import type { ReplayIo } from './replay';

export interface MediaReplayOptions {
  fast?: boolean;
  recordTest?: string;
  verbose?: boolean;
}

/**
 * `switchboard replay --media FILE|DIR…`: each whole-call recording (DIR/<call>.json with DIR/<call>.call/;
 * a directory means every such pair in it) is replayed offline against an in-process server and compared
 * (src/sim/whole-call-replay.ts). Exit 0 when all match, 1 on any difference, 2 on an unreadable recording.
 * With `--record-test NAME`, a jest test that replays the given recordings is written to test/replay/NAME.test.ts.
 */
export async function runMediaReplay(targets: string[], opts: MediaReplayOptions, io: ReplayIo): Promise<number> {
  const { out, err: fail } = io;
  const files = targets.flatMap(expand);
  if (files.length === 0) {
    fail(`switchboard replay --media: no whole-call recordings in ${targets.join(', ')} (expected <call>.json beside <call>${TAPE_DIR_SUFFIX}/)\n`);
    return 2;
  }
  if (opts.recordTest) {
    let file: string;
    try {
      file = writeReplayTest(opts.recordTest, files);
    } catch (err) {
      fail(`switchboard replay --media: ${(err as Error).message}\n`);
      return 2;
    }
    out(`wrote ${path.relative(process.cwd(), file)}: run it with npx jest ${path.relative(process.cwd(), file)}\n`);
  }
  let failed = 0;
  let unreadable = 0;
  for (const file of files) {
    try {
      const result = await replayWholeCall(file, { pace: opts.fast ? 'fast' : 'recorded' });
      out(result.report);
      if (!result.ok) failed++;
    } catch (err) {
      if (!isSwitchboardError(err, 'recording_invalid')) throw err;
      fail(`switchboard replay --media: ${(err as Error).message}\n`);
      unreadable++;
    }
  }
  if (files.length > 1) out(`${failed + unreadable === 0 ? 'PASS' : 'FAIL'}: ${files.length - failed - unreadable}/${files.length} whole calls replayed green\n`);
  if (failed > 0) fail(`switchboard replay --media: ${failed} of ${files.length} whole call${files.length > 1 ? 's' : ''} did not replay as recorded (see above)\n`);
  return unreadable > 0 ? 2 : failed > 0 ? 1 : 0;
}

function expand(target: string): string[] {
  const resolved = path.resolve(target);
  if (fs.existsSync(resolved) && fs.statSync(resolved).isDirectory() && !resolved.endsWith(TAPE_DIR_SUFFIX)) {
    return fs
      .readdirSync(resolved)
      .filter((f) => f.endsWith('.json') && fs.existsSync(path.join(resolved, `${f.slice(0, -5)}${TAPE_DIR_SUFFIX}`)))
      .sort()
      .map((f) => path.join(resolved, f));
  }
  return [resolved];
}

const TEST_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** test/replay/NAME.test.ts: replays each recording (paths relative to the package root) and fails with the diff. */
export function writeReplayTest(name: string, files: string[], root = PACKAGE_ROOT): string {
  if (!TEST_NAME.test(name)) throw new Error(`--record-test: the name must be lower-case letters, digits and dashes (got ${JSON.stringify(name)})`);
  const dir = path.join(root, 'test', 'replay');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.test.ts`);
  const rel = files.map((f) => path.relative(root, f).split(path.sep).join('/'));
  const text = `import path from 'node:path';
import { replayWholeCall } from '../../src/sim/whole-call-replay';

/** Written by \`switchboard replay --media --record-test ${name}\`: these recorded calls replay as they were recorded. */
const ROOT = path.join(__dirname, '../..');

describe('whole-call replay: ${name}', () => {
  it.each(${JSON.stringify(rel)})('%s replays green', async (file) => {
    const result = await replayWholeCall(path.join(ROOT, file));
    if (!result.ok) throw new Error(result.report);
  });
});
`;
  fs.writeFileSync(file, text);
  return file;
}
