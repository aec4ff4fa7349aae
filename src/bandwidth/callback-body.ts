import { SwitchboardError } from '../errors';
import type { IncomingMessage } from 'node:http';
import { CALLBACK_MAX_NESTING } from '../constants';
import { nestingExceeds } from '../json-depth';

/** Why a callback body could not be read: a 413 (too large) or a 400 (not JSON). */
export class CallbackBodyError extends SwitchboardError {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super('callback_invalid', message, { status });
    this.name = 'CallbackBodyError';
  }
}

/**
 * Read a callback's body as JSON, whatever its Content-Type says (Bandwidth's is application/json, but
 * nothing else is accepted anyway). Larger than `limitBytes` → 413, without reading it when
 * Content-Length already says so. An empty body is `{}`, so validation names the missing fields.
 */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > limitBytes) return Promise.reject(tooLarge(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limitBytes) {
        req.off('data', onData);
        req.off('end', onEnd);
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    let ended = false;
    const onEnd = () => {
      ended = true;
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      if (text.length === 0) return resolve({});
      if (nestingExceeds(text, CALLBACK_MAX_NESTING)) {
        return reject(new CallbackBodyError(400, `malformed body: JSON nested deeper than ${CALLBACK_MAX_NESTING} levels`));
      }
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new CallbackBodyError(400, `malformed JSON body: ${(err as Error).message}`));
      }
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', reject);
    // A caller that goes away mid-body gets neither 'end' nor always 'error': settle anyway.
    req.once('close', () => {
      if (!ended) reject(new CallbackBodyError(400, 'the request ended before its body was complete'));
    });
  });
}

function tooLarge(limitBytes: number): CallbackBodyError {
  return new CallbackBodyError(413, `callback body is larger than ${limitBytes} bytes`);
}
