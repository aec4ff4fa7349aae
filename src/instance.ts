import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { INSTANCE_ID_FILE } from './constants';
import { SwitchboardError } from './errors';
import { makePrivate, PRIVATE_FILE_MODE } from './files';

/**
 * Which instance this is (DESIGN §4.12): the owner recorded on every call whose media it holds, so that
 * after a crash it closes out exactly those calls. INSTANCE_ID when set; otherwise generated once and kept
 * in DATA_DIR, so a restarted process is the same instance and finds its calls.
 */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function resolveInstanceId(fromEnv: string | undefined, dataDir: string): string {
  if (fromEnv) return fromEnv;
  const file = path.join(dataDir, INSTANCE_ID_FILE);
  try {
    const stored = fs.readFileSync(file, 'utf8').trim();
    if (!INSTANCE_ID_PATTERN.test(stored)) throw new SwitchboardError('config_invalid', `${file} does not hold an instance id; fix or delete it to generate one`);
    makePrivate(file);
    return stored;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const generated = `i-${crypto.randomBytes(6).toString('hex')}`;
  try {
    fs.writeFileSync(file, `${generated}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  } catch (err) {
    // Another process started at the same moment and wrote it first: its id is this DATA_DIR's.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return resolveInstanceId(undefined, dataDir);
    throw err;
  }
  return generated;
}
