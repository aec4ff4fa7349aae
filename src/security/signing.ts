import crypto from 'node:crypto';
import { SwitchboardError } from '../errors';

/**
 * Stateless control (DESIGN §4.6): anything Bandwidth calls back later (transfer target, agent id,
 * whisper summary) travels in a sealed, expiring token, so any instance can answer any callback and a
 * tampered URL is refused rather than obeyed.
 *
 * Tokens are AES-256-GCM sealed, not merely signed: the authentication tag makes tampering detectable
 * (integrity, like an HMAC) and the encryption keeps a transfer's summary and phone numbers out of
 * Bandwidth's and proxies' URL logs. The purpose is the additional authenticated data, so a token
 * minted for one use cannot be replayed for another.
 *
 * Token = base64url(iv[12] || ciphertext || tag[16]), plaintext JSON {e: expiresAtMs, d: data}.
 */
/** The purposes of tokens that travel through Bandwidth (BXML and callback URLs): what a recorded scenario holds. */
export const CARRIER_TOKEN_PURPOSES = ['media', 'redirect', 'transfer', 'answer', 'stream-ended'] as const;
/**
 * `test-call` is the browser test call's media token (docs/console.md, "Test call"): a purpose of its own, so a
 * Bandwidth `media` token (which travels in BXML) never opens the Basic-auth-free browser door, and a
 * browser's token never stands for Bandwidth's. It is handed to the admin API's caller only.
 */
export const TOKEN_PURPOSES = [...CARRIER_TOKEN_PURPOSES, 'test-call'] as const;
export type TokenPurpose = (typeof TOKEN_PURPOSES)[number];

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class UrlSigner {
  private readonly sealKey: Buffer;
  private readonly macKey: Buffer;

  constructor(secret: string) {
    if (!secret) throw new SwitchboardError('config_invalid', 'URL signing secret is empty');
    this.sealKey = crypto.createHash('sha256').update(`switchboard-url-seal:${secret}`).digest();
    this.macKey = crypto.createHash('sha256').update(`switchboard-derive:${secret}`).digest();
  }

  sign(purpose: TokenPurpose, data: unknown, ttlMs: number, nowMs: number = Date.now()): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(Buffer.from(purpose));
    const sealed = Buffer.concat([cipher.update(JSON.stringify({ e: nowMs + ttlMs, d: data }), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
  }

  /** Returns the data, or throws signature_invalid / signature_expired. Nothing is trusted before the tag checks. */
  verify(token: string, purpose: TokenPurpose, nowMs: number = Date.now()): unknown {
    const raw = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
    if (raw.length < IV_BYTES + TAG_BYTES + 2) throw new SwitchboardError('signature_invalid', 'token is malformed');
    // Node's base64url decoder ignores a trailing extra character and the unused low bits of the last one, so
    // several spellings decode to the same sealed bytes. Only the spelling `sign` produced is accepted: a
    // verified token string is then one-to-one with the sealed token, and whatever is keyed on it (the spent
    // media-token record, DESIGN §4.5) cannot be dodged by re-spelling it.
    if (raw.toString('base64url') !== token) throw new SwitchboardError('signature_invalid', 'token is malformed: not in its canonical encoding');
    let plaintext: string;
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      plaintext = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SwitchboardError('signature_invalid', 'token was tampered with, or minted for another purpose or secret');
    }
    const envelope = JSON.parse(plaintext) as { e?: unknown; d?: unknown };
    if (typeof envelope.e !== 'number' || envelope.e <= nowMs) throw new SwitchboardError('signature_expired', 'token has expired');
    return envelope.d;
  }

  /**
   * Per-call password for the media socket's Basic auth (`destinationPassword`, BW §2.2). Derived, so
   * it needs no storage, and bound to the call, so one leaked BXML document opens no other call's socket.
   */
  mediaPassword(callId: string): string {
    return crypto.createHmac('sha256', this.macKey).update(`media-password:${callId}`).digest('base64url').slice(0, 32);
  }
}

/** Constant-time string comparison that does not leak the length through an early return. */
export function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}
