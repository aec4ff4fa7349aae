/**
 * Bandwidth-shaped ids for the caller stand-in: call ids `c-xxxxxxxx-<uuid>`; B-legs and streams
 * share their call's first 8 hex digits, as in the fixtures (BW §1.5, §3).
 */
import { randomBytes, randomUUID } from 'node:crypto';

export function newCallId(): string {
  return `c-${randomBytes(4).toString('hex')}-${randomUUID()}`;
}

/** The call id's 8 hex digits after `c-` (fresh random ones for an id of another shape). */
export function callIdPrefix(callId: string): string {
  return /^c-([0-9a-f]{8})-/i.exec(callId)?.[1] ?? randomBytes(4).toString('hex');
}
