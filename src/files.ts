import { createHash } from 'node:crypto';
import fs from 'node:fs';

/**
 * Files the service writes hold call records, recordings, transcripts and secrets: they are private to the
 * service's user whatever the process umask (which only ever removes bits, and is often 022).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Create `dir` (and parents) if needed, and make it private to this user. A directory this user may not
 * chmod (an operator's bind mount owned by someone else) is left as it is: the problem is returned for the
 * caller to warn about, rather than refusing to start.
 */
export function ensurePrivateDir(dir: string): { problem?: string } {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const mode = fs.statSync(dir).mode & 0o777;
  if (mode === PRIVATE_DIR_MODE) return {};
  try {
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
    return {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return { problem: `${dir} is mode ${mode.toString(8)} and not ours to change: other users may read call records in it` };
  }
}

/** Make an existing file private; a file that does not exist (yet) is not an error. */
export function makePrivate(file: string): void {
  try {
    fs.chmodSync(file, PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Longest file-name stem derived from an id; NAME_MAX is 255 bytes and an extension follows. */
const MAX_STEM_BYTES = 200;

/**
 * A file-name stem for an id from outside (a Bandwidth callId): distinct ids give distinct names. Letters,
 * digits, `_` and `-` are kept; every other UTF-16 unit is escaped, `%XX` below 0x80 and `%uXXXX` above
 * (each escape says its own length, so decoding is unambiguous), so `c-a/b` and `c-a.b` stay apart and no
 * name can climb out of its directory. A stem that would be too long keeps a readable prefix and ends in
 * `~` and a hash of the whole id (`~` appears in no other stem).
 */
export function fileStemFor(id: string): string {
  let encoded = '';
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ch = id[i]!;
    if (/[A-Za-z0-9_-]/.test(ch)) encoded += ch;
    else encoded += c < 0x80 ? `%${hex(c, 2)}` : `%u${hex(c, 4)}`;
  }
  if (encoded.length === 0) return '%';
  if (encoded.length <= MAX_STEM_BYTES) return encoded;
  const hash = createHash('sha256').update(id, 'utf16le').digest('hex').slice(0, 32);
  return `${encoded.slice(0, MAX_STEM_BYTES - hash.length - 1)}~${hash}`;
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}
