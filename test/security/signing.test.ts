import { parseBasicAuth, basicAuthMatches } from '../../src/security/basic-auth';
import { safeEqual, UrlSigner } from '../../src/security/signing';
import { respelled } from '../helpers/token-spellings';

describe('UrlSigner', () => {
  const signer = new UrlSigner('secret-one');
  const data = { callId: 'c-1', destination: { value: '+19195550177' } };

  it('round-trips data for the same purpose within its lifetime', () => {
    const token = signer.sign('transfer', data, 1000, 10_000);
    expect(signer.verify(token, 'transfer', 10_500)).toEqual(data);
  });

  it('keeps the contents confidential', () => {
    const token = signer.sign('transfer', data, 1000);
    expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('19195550177');
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('refuses expired, tampered, wrong-purpose and foreign tokens', () => {
    const token = signer.sign('transfer', data, 1000, 10_000);
    expect(() => signer.verify(token, 'transfer', 11_000)).toThrow(/expired/);
    const flipped = Buffer.from(token, 'base64url');
    flipped[20] = flipped[20]! ^ 1;
    expect(() => signer.verify(flipped.toString('base64url'), 'transfer', 10_500)).toThrow(/tampered/);
    expect(() => signer.verify(token, 'redirect', 10_500)).toThrow(/another purpose/);
    expect(() => new UrlSigner('secret-two').verify(token, 'transfer', 10_500)).toThrow(/tampered/);
    expect(() => signer.verify('not a token!', 'transfer')).toThrow(/malformed/);
    expect(() => signer.verify('', 'transfer')).toThrow(/malformed/);
  });

  it('accepts a token only in the spelling it was minted in, not a re-spelling that decodes to the same bytes', () => {
    // Payloads of every length mod 3, so both kinds of re-spelling (extra character, flipped padding bit) occur.
    const kinds = new Set<string>();
    for (let n = 0; n < 6; n++) {
      const token = signer.sign('media', { callId: `c-${'x'.repeat(n)}` }, 1000, 10_000);
      const other = respelled(token);
      kinds.add(other.length === token.length ? 'flipped bit' : 'extra character');
      expect(Buffer.from(other, 'base64url').equals(Buffer.from(token, 'base64url'))).toBe(true);
      expect(signer.verify(token, 'media', 10_500)).toEqual({ callId: `c-${'x'.repeat(n)}` });
      expect(() => signer.verify(other, 'media', 10_500)).toThrow(/canonical/);
      // Standard base64's padding and alphabet are other spellings of the same bytes: refused too.
      const padded = Buffer.from(token, 'base64url').toString('base64');
      if (padded !== token) expect(() => signer.verify(padded, 'media', 10_500)).toThrow(/malformed/);
    }
    expect([...kinds].sort()).toEqual(['extra character', 'flipped bit']);
  });

  it('derives a stable per-call media password', () => {
    expect(signer.mediaPassword('c-1')).toBe(signer.mediaPassword('c-1'));
    expect(signer.mediaPassword('c-1')).not.toBe(signer.mediaPassword('c-2'));
    expect(signer.mediaPassword('c-1')).not.toBe(new UrlSigner('secret-two').mediaPassword('c-1'));
  });
});

describe('HTTP Basic', () => {
  const header = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  it('parses user and password, including a colon in the password', () => {
    expect(parseBasicAuth(header('bw', 'a:b'))).toEqual({ username: 'bw', password: 'a:b' });
    expect(parseBasicAuth('Bearer x')).toBeUndefined();
    expect(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
  });

  it('matches only both halves', () => {
    const expected = { username: 'bw', password: 'pw' };
    expect(basicAuthMatches(header('bw', 'pw'), expected)).toBe(true);
    expect(basicAuthMatches(header('bw', 'pw2'), expected)).toBe(false);
    expect(basicAuthMatches(header('bx', 'pw'), expected)).toBe(false);
    expect(basicAuthMatches(undefined, expected)).toBe(false);
  });

  it('safeEqual compares whole strings', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});
