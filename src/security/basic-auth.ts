import crypto from 'node:crypto';

export interface BasicCredentials {
  username: string;
  password: string;
}

/** Parse an `Authorization: Basic …` header; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Checks `Authorization: Basic …` against one pair of credentials in constant time: both halves are
 * always compared, as SHA-256 digests (equal length whatever was sent), so the timing says neither which
 * half failed nor how long the expected values are. The expected digests are computed once.
 */
export class BasicAuthVerifier {
  private readonly username: Buffer;
  private readonly password: Buffer;

  constructor(expected: BasicCredentials) {
    this.username = sha256(expected.username);
    this.password = sha256(expected.password);
  }

  matches(header: string | undefined): boolean {
    const given = parseBasicAuth(header);
    if (!given) return false;
    const userOk = crypto.timingSafeEqual(sha256(given.username), this.username);
    const passOk = crypto.timingSafeEqual(sha256(given.password), this.password);
    return userOk && passOk;
  }
}

/** One check against credentials that change per request (the media socket's per-call password). */
export function basicAuthMatches(header: string | undefined, expected: BasicCredentials): boolean {
  return new BasicAuthVerifier(expected).matches(header);
}

function sha256(value: string): Buffer {
  return crypto.hash('sha256', value, 'buffer');
}
