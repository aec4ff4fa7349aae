import type { RequestHandler } from 'express';
import { safeEqual } from './signing';

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

/** Timing-safe check of both halves; both are always compared so timing says nothing about which failed. */
export function basicAuthMatches(header: string | undefined, expected: BasicCredentials): boolean {
  const given = parseBasicAuth(header);
  if (!given) return false;
  const userOk = safeEqual(given.username, expected.username);
  const passOk = safeEqual(given.password, expected.password);
  return userOk && passOk;
}

/**
 * HTTP Basic in front of every Bandwidth callback (BW §1.8), before any body is read or parsed
 * (security before allocation). 401 carries WWW-Authenticate so a human with curl sees why.
 */
export function requireBasicAuth(expected: BasicCredentials, realm: string): RequestHandler {
  return (req, res, next) => {
    if (basicAuthMatches(req.headers.authorization, expected)) return next();
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).json({ error: { code: 'unauthorized', message: req.headers.authorization ? 'wrong callback credentials' : 'callback credentials required (HTTP Basic)' } });
  };
}
