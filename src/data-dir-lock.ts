import fs from 'node:fs';
import path from 'node:path';
import { DATA_DIR_LOCK_FILE } from './constants';
import { SwitchboardError } from './errors';
import { PRIVATE_FILE_MODE } from './files';

/**
 * One serving process per DATA_DIR. A second one on the same directory shares its instance id, and at start
 * it would close out the first one's live calls as if they had been left by a crash (docs/reliability.md).
 * The lock file names the holder's pid; a lock whose process is gone (kill -9, power loss) is stale and taken
 * over, which is exactly the restart the close-out is for.
 */
export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, DATA_DIR_LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
      return { release: () => releaseIfOurs(file) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(file);
    // The same process (tests run several servers, one after another) cannot be another instance.
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new SwitchboardError('config_invalid', `DATA_DIR ${dataDir} is in use by another Switchboard (pid ${holder}): stop it, or give this one its own DATA_DIR and INSTANCE_ID`);
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new SwitchboardError('config_invalid', `could not take the lock ${file}: another process keeps creating it`);
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

function releaseIfOurs(file: string): void {
  if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
}
