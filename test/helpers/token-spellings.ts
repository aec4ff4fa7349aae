const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Another spelling of a base64url token that Node's decoder reads as the same bytes: a trailing extra character
 * when the length is a multiple of 4 (a lone sixth of a byte is dropped), otherwise the last character with
 * its lowest bit flipped (that bit is padding when the length is 2 or 3 past a multiple of 4).
 */
export function respelled(token: string): string {
  if (token.length % 4 === 0) return `${token}A`;
  const last = BASE64URL.indexOf(token.at(-1)!);
  return `${token.slice(0, -1)}${BASE64URL[last ^ 1]}`;
}
