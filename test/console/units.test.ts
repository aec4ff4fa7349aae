import { ManualClock } from '../../src/clock';
import { parseByteRange } from '../../src/console/byte-range';
import { parseCookies, serializeCookie } from '../../src/console/cookies';
import { safeNext } from '../../src/console/pages';
import { ConsoleSessions, sessionIdHash } from '../../src/console/sessions';
import { SignInLimiter } from '../../src/console/sign-in-limiter';
import { SqliteStore } from '../../src/store/sqlite';

describe('console sessions', () => {
  let store: SqliteStore;
  beforeEach(() => {
    store = SqliteStore.open(':memory:');
  });
  afterEach(() => store.close());

  it('are opaque and random, expire after their lifetime, and end when deleted', async () => {
    const clock = new ManualClock(0);
    const sessions = new ConsoleSessions(store.consoleSessions, clock, 60_000);
    const a = await sessions.create();
    const b = await sessions.create();
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(a.csrfToken).not.toBe(a.id);
    expect(await sessions.get(a.id)).toEqual(a);
    expect(sessions.remainingMs(a)).toBe(60_000);
    clock.advance(59_999);
    expect(await sessions.get(a.id)).toEqual(a);
    clock.advance(1);
    expect(await sessions.get(a.id)).toBeUndefined();
    expect(await sessions.get('not-a-session')).toBeUndefined();
    expect(await sessions.get(undefined)).toBeUndefined();
    const c = await sessions.create();
    expect(await sessions.delete(c.id)).toBe(true);
    expect(await sessions.get(c.id)).toBeUndefined();
    expect(await sessions.delete(c.id)).toBe(false);
  });

  it('are stored by the hash of their id: the id itself is nowhere in the store', async () => {
    const sessions = new ConsoleSessions(store.consoleSessions, new ManualClock(0));
    const a = await sessions.create();
    const stored = await store.consoleSessions.get(sessionIdHash(a.id), new Date(0).toISOString());
    expect(stored).toMatchObject({ idHash: sessionIdHash(a.id), csrfToken: a.csrfToken });
    expect(stored!.idHash).not.toContain(a.id);
    expect(await store.consoleSessions.get(a.id, new Date(0).toISOString())).toBeUndefined();
    // A cookie holding the hash (read from a copy of the database) names no session.
    expect(await sessions.get(sessionIdHash(a.id))).toBeUndefined();
  });

  it('check the CSRF token in constant time against the session’s own', async () => {
    const sessions = new ConsoleSessions(store.consoleSessions, new ManualClock(0));
    const a = await sessions.create();
    const b = await sessions.create();
    expect(sessions.csrfMatches(a, a.csrfToken)).toBe(true);
    expect(sessions.csrfMatches(a, b.csrfToken)).toBe(false);
    expect(sessions.csrfMatches(a, '')).toBe(false);
    expect(sessions.csrfMatches(a, undefined)).toBe(false);
  });

  it('keep at most their cap, dropping the oldest first', async () => {
    const sessions = new ConsoleSessions(store.consoleSessions, new ManualClock(0), 60_000, 2);
    const a = await sessions.create();
    const b = await sessions.create();
    const c = await sessions.create();
    expect(await sessions.count()).toBe(2);
    expect(await sessions.get(a.id)).toBeUndefined();
    expect(await sessions.get(b.id)).toEqual(b);
    expect(await sessions.get(c.id)).toEqual(c);
  });
});

describe('the sign-in limiter', () => {
  it('refuses an address after its failures in one window, until the window has passed; others are unaffected', () => {
    const clock = new ManualClock(0);
    const limiter = new SignInLimiter(clock, 3, 60_000);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs('10.0.0.1')).toBe(0);
      limiter.failed('10.0.0.1');
    }
    expect(limiter.retryAfterMs('10.0.0.1')).toBe(60_000);
    expect(limiter.retryAfterMs('10.0.0.2')).toBe(0);
    clock.advance(45_000);
    expect(limiter.retryAfterMs('10.0.0.1')).toBe(15_000);
    clock.advance(15_000);
    expect(limiter.retryAfterMs('10.0.0.1')).toBe(0);
  });

  it('forgets an address’s failures when it signs in', () => {
    const limiter = new SignInLimiter(new ManualClock(0), 2, 60_000);
    limiter.failed('a');
    limiter.succeeded('a');
    limiter.failed('a');
    expect(limiter.retryAfterMs('a')).toBe(0);
  });

  it('tracks a bounded number of addresses', () => {
    const limiter = new SignInLimiter(new ManualClock(0), 1, 60_000, 2);
    limiter.failed('a');
    limiter.failed('b');
    limiter.failed('c');
    expect(limiter.retryAfterMs('a')).toBe(0); // forgotten, the oldest
    expect(limiter.retryAfterMs('c')).toBe(60_000);
  });
});

describe('byte ranges (RFC 9110 §14.1.2)', () => {
  it.each([
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'partial', start: 100, end: 999 }],
    ['bytes=-100', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['bytes=900-5000', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=999-999', { kind: 'partial', start: 999, end: 999 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=5-4', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=-', { kind: 'unsatisfiable' }],
    ['bytes=a-b', { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-6', { kind: 'whole' }],
    ['items=0-1', { kind: 'whole' }],
  ])('%s of 1000 bytes', (header, expected) => {
    expect(parseByteRange(header, 1000)).toEqual(expected);
  });

  it('no header is the whole body; nothing in an empty file is satisfiable', () => {
    expect(parseByteRange(undefined, 10)).toEqual({ kind: 'whole' });
    expect(parseByteRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('cookies and the return path', () => {
  it('parse a Cookie header and write SameSite=Strict, Path=/ cookies', () => {
    expect([...parseCookies('a=1; sb_session=x%2By; a=2; bad; q="v"')]).toEqual([
      ['a', '1'],
      ['sb_session', 'x+y'],
      ['q', 'v'],
    ]);
    expect(serializeCookie('sb_session', 'v', { httpOnly: true, secure: true, maxAgeS: 60 })).toBe('sb_session=v; Path=/; SameSite=Strict; Max-Age=60; HttpOnly; Secure');
    expect(serializeCookie('sb_csrf', '', { httpOnly: false, secure: false, maxAgeS: 0 })).toBe('sb_csrf=; Path=/; SameSite=Strict; Max-Age=0');
  });

  it.each([
    ['/console/calls?state=completed', '/console/calls?state=completed'],
    ['/console/calls/c-1', '/console/calls/c-1'],
    ['//evil.example/console', '/console/live'],
    ['https://evil.example/', '/console/live'],
    ['/console//evil.example', '/console/live'],
    ['/api/agents', '/console/live'],
    ['/console/sign-in', '/console/live'],
    ['/console/live"><script>', '/console/live'],
    [undefined, '/console/live'],
  ])('after sign-in, %s goes to %s', (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });
});
