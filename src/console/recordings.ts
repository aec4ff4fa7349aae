import fs from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import { z } from 'zod';
import { SwitchboardError } from '../errors';
import type { Store } from '../store/types';
import { parseByteRange } from './byte-range';

/**
 * A call's recording (docs/console.md, "Call detail"): `GET /api/calls/:id/recording` streams the WAV the
 * bridge wrote, seekable with HTTP Range (206 with Content-Range; 416 for a range past the end), so an
 * `<audio>` element can play and seek it. Mounted behind the admin API's auth (bearer or console session).
 * The path comes from the store, and is served only when it resolves inside the recordings directory:
 * a row pointing anywhere else (an edited database, a symlink) is refused, never read.
 */
const params = z.object({ id: z.string().trim().min(1).max(200) });

export function recordingsRouter(store: Store, recordingsDir: string): Router {
  const router = express.Router();
  router.get('/calls/:id/recording', async (req, res, next) => {
    try {
      const parsed = params.safeParse(req.params);
      if (!parsed.success) throw new SwitchboardError('invalid_request', `id: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { fields: ['id'] });
      const callId = parsed.data.id;
      const call = await store.calls.get(callId);
      if (!call) throw new SwitchboardError('not_found', `call ${callId} does not exist`);
      if (!call.recordingPath) throw new SwitchboardError('not_found', `call ${callId} has no recording`);
      const file = insideDir(recordingsDir, call.recordingPath);
      if (file === 'missing') throw new SwitchboardError('not_found', `the recording of call ${callId} is missing from the recordings directory`);
      if (file === 'outside') throw new SwitchboardError('not_found', `the recording of call ${callId} is not in the recordings directory`);
      const size = (await fs.promises.stat(file)).size;
      res.setHeader('Accept-Ranges', 'bytes');
      res.setHeader('Content-Type', 'audio/wav');
      res.setHeader('Cache-Control', 'private, no-store');
      res.setHeader('Content-Disposition', `inline; filename="${path.basename(file).replace(/[^\w.-]/g, '_')}"`);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      const range = parseByteRange(req.headers.range, size);
      if (range.kind === 'unsatisfiable') {
        res.setHeader('Content-Range', `bytes */${size}`);
        res.status(416).json({ error: { code: 'invalid_request', message: `range ${req.headers.range} is not satisfiable: the recording has ${size} bytes` } });
        return;
      }
      const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
      if (range.kind === 'partial') {
        res.status(206);
        res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      }
      res.setHeader('Content-Length', String(Math.max(0, end - start + 1)));
      if (req.method === 'HEAD' || size === 0) {
        res.end();
        return;
      }
      const stream = fs.createReadStream(file, { start, end });
      stream.on('error', (err) => (res.headersSent ? res.destroy(err) : next(err)));
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    } catch (err) {
      next(err);
    }
  });
  return router;
}

/** `file`'s real path when it is a file inside `dir` (symlinks resolved on both sides). */
export function insideDir(dir: string, file: string): string | 'missing' | 'outside' {
  let realDir: string;
  let realFile: string;
  try {
    realDir = fs.realpathSync(dir);
    realFile = fs.realpathSync(path.resolve(dir, file));
  } catch {
    return 'missing';
  }
  const rel = path.relative(realDir, realFile);
  if (!rel || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return 'outside';
  return fs.statSync(realFile).isFile() ? realFile : 'outside';
}
