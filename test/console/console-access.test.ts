import http from 'node:http';
import { ManualClock } from '../../src/clock';
import { CONSOLE_SESSION_TTL_MS, CONSOLE_SIGN_IN_BODY_MAX_BYTES, CONSOLE_SIGN_IN_MAX_FAILURES } from '../../src/constants';
import { startTestServer, type TestServer } from '../helpers/server';
import { bodyOf, signIn } from './sign-in';

/**
 * The console's security model (docs/console.md): sign-in with the admin token, an HttpOnly SameSite=Strict
 * session cookie, the session as a second way into the admin API with a double-submit CSRF token on
 * state-changing requests, a strict CSP, and nothing that reveals data without a session.
 */
describe('console sign-in, session and CSRF', () => {
  let clock: ManualClock;
  let server: TestServer;
  let token: string;

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
    server = await startTestServer({}, { clock });
    token = server.app.credentials.credentials.adminToken;
  });
  afterEach(async () => {
    await server.close();
  });

  const get = (path: string, cookie?: string) => fetch(`${server.url}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });

  it('shows the sign-in page, never data, to a browser without a session; with a strict CSP', async () => {
    for (const path of ['/console', '/console/live', '/console/calls', '/console/calls/c-1', '/console/agents', '/console/test-call']) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 401]);
      const html = await res.text();
      expect(html).toContain('action="/console/sign-in"');
      expect(html).not.toContain('<script');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
    }
    // It returns the browser where it was going, escaped.
    expect(await (await get('/console/calls?state=completed')).text()).toContain('name="next" value="/console/calls?state=completed"');
    // The page scripts need the session too; the stylesheet (which the sign-in page uses) does not.
    expect((await get('/console/assets/live.js')).status).toBe(401);
    expect((await get('/console/assets/common.js')).status).toBe(401);
    expect((await get('/console/assets/console.css')).status).toBe(200);
    // The API answers JSON 401s, naming both ways in.
    const api = await get('/api/calls');
    expect(api.status).toBe(401);
    expect((await bodyOf(api)).error.message).toMatch(/Bearer.*sign in at \/console\/sign-in/);
    expect((await get('/api/live')).status).toBe(401);
  });

  it('refuses a wrong token with the sign-in page, and rate-limits failed sign-ins per address', async () => {
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
    const wrong = await post({ token: 'sb_wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.text()).toMatch(/id="sign-in-error"[^>]*>wrong admin token/);
    const empty = await post({ token: '' });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('token: enter the admin token');
    for (let i = 1; i < CONSOLE_SIGN_IN_MAX_FAILURES; i++) expect((await post({ token: `sb_wrong${i}` })).status).toBe(401);
    // Limited now, even with the right token: the window must pass first.
    const limited = await post({ token });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.text()).toContain('too many failed sign-ins');
    clock.advance(Number(limited.headers.get('retry-after')) * 1000);
    expect((await post({ token })).status).toBe(303);
    expect(server.app.security.snapshot()).toEqual(expect.arrayContaining([{ surface: 'console', reason: 'wrong admin token', count: CONSOLE_SIGN_IN_MAX_FAILURES }]));
  });

  it('signs in with the admin token: an opaque HttpOnly SameSite=Strict session cookie and a readable CSRF cookie', async () => {
    const signed = await signIn(server.url, token);
    const session = signed.setCookie.find((c) => c.startsWith('sb_session='))!;
    const csrf = signed.setCookie.find((c) => c.startsWith('sb_csrf='))!;
    // Secure: the test server is published at an https PUBLIC_BASE_URL (test/helpers/server.ts).
    expect(session).toMatch(/; Path=\/; SameSite=Strict; Max-Age=43200; HttpOnly; Secure$/);
    expect(csrf).toMatch(/; Path=\/; SameSite=Strict; Max-Age=43200; Secure$/);
    expect(signed.session).not.toContain(token);
    expect(signed.session).not.toBe(signed.csrf);
    // Signed in: the pages and their scripts are served.
    const page = await get('/console/live', signed.cookie);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/console/assets/live.js"></script>');
    expect((await get('/console/assets/common.js', signed.cookie)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await get('/console/sign-in', signed.cookie)).headers.get('location')).toBe('/console/live');
    expect((await get('/console', signed.cookie)).headers.get('location')).toBe('/console/live');
    expect((await get('/console/nothing-here', signed.cookie)).status).toBe(404);
    expect((await get('/console/assets/..%2Fsessions.ts', signed.cookie)).status).toBe(404);
    // Another site's return path is not followed.
    const evil = await fetch(`${server.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, next: '//evil.example/' }).toString() });
    expect(evil.headers.get('location')).toBe('/console/live');
  });

  it('marks the cookies Secure when the request came through an https PUBLIC_BASE_URL', async () => {
    // The test server's PUBLIC_BASE_URL is https://switchboard.test (test/helpers/server.ts).
    const setCookie = await new Promise<string[]>((resolve, reject) => {
      const body = new URLSearchParams({ token }).toString();
      const req = http.request(`${server.url}/console/sign-in`, { method: 'POST', headers: { host: 'switchboard.test', 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        resolve(res.headers['set-cookie'] ?? []);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(setCookie).toHaveLength(2);
    for (const c of setCookie) expect(c).toMatch(/; Secure$/);
    // Published over plain http: not Secure, or the browser would drop them.
    const plain = await startTestServer({ PUBLIC_BASE_URL: 'http://switchboard.test' }, { clock });
    try {
      const signed = await signIn(plain.url, plain.app.credentials.credentials.adminToken);
      expect(signed.setCookie).toHaveLength(2);
      for (const c of signed.setCookie) expect(c).not.toMatch(/Secure/);
    } finally {
      await plain.close();
    }
  });

  it('signs in behind a proxy that rewrites Host: PUBLIC_BASE_URL\'s origin is the console\'s own, and the cookies stay Secure', async () => {
    // nginx's default `proxy_set_header Host $proxy_host`: the browser is on https://switchboard.test (the test
    // server's PUBLIC_BASE_URL), the request arrives with the upstream's address as Host.
    const { status, setCookie } = await new Promise<{ status: number; setCookie: string[] }>((resolve, reject) => {
      const body = new URLSearchParams({ token }).toString();
      const headers = { host: '10.0.0.11:3000', origin: 'https://switchboard.test', 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) };
      const req = http.request(`${server.url}/console/sign-in`, { method: 'POST', headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] });
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(303);
    expect(setCookie).toHaveLength(2);
    for (const c of setCookie) expect(c).toMatch(/; Secure$/);
  });

  it('answers an unreadable sign-in form with 413 or 415 and the reason, logged as a refusal, not a server failure', async () => {
    const post = (body: string | Buffer, contentType: string, accept = 'text/html') =>
      fetch(`${server.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': contentType, accept }, body });
    const tooLarge = await post(new URLSearchParams({ token: 'x'.repeat(CONSOLE_SIGN_IN_BODY_MAX_BYTES) }).toString(), 'application/x-www-form-urlencoded');
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await tooLarge.text()).toMatch(new RegExp(`id="sign-in-error"[^>]*>sign-in form too large: at most ${CONSOLE_SIGN_IN_BODY_MAX_BYTES} bytes`));
    const charset = await post(`token=${token}`, 'application/x-www-form-urlencoded; charset=utf-7');
    expect(charset.status).toBe(415);
    expect(await charset.text()).toMatch(/sign-in form charset utf-7 is not supported: send it as UTF-8/);
    // A client that asks for JSON gets the API's error shape.
    const json = await post(`token=${token}`, 'application/x-www-form-urlencoded; charset=koi8-r', 'application/json');
    expect(json.status).toBe(415);
    expect(await bodyOf(json)).toEqual({ error: { code: 'invalid_request', message: 'sign-in form charset koi8-r is not supported: send it as UTF-8' } });
    expect(tooLarge.headers.get('set-cookie')).toBeNull();
    expect(server.app.security.snapshot()).toEqual(
      expect.arrayContaining([
        { surface: 'console', reason: 'sign-in form too large', count: 1 },
        { surface: 'console', reason: 'sign-in form in an unsupported charset', count: 2 },
      ]),
    );
  });

  it('refuses a sign-in form posted from another site', async () => {
    for (const origin of ['https://evil.example', 'http://switchboard.test', 'null']) {
      const res = await fetch(`${server.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
      expect([origin, res.status]).toEqual([origin, 403]);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    // The address the browser reached the server by is its own too.
    const direct = await fetch(`${server.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { origin: server.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
    expect(direct.status).toBe(303);
  });

  it('lets the session use the admin API; a state-changing request needs x-csrf-token equal to sb_csrf', async () => {
    const { cookie, csrf } = await signIn(server.url, token);
    const list = await fetch(`${server.url}/api/agents`, { headers: { cookie } });
    expect(list.status).toBe(200);
    const create = (headers: Record<string, string>) =>
      fetch(`${server.url}/api/agents`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'Front desk', instructions: 'Answer politely.' }) });
    const none = await create({});
    expect(none.status).toBe(403);
    expect((await bodyOf(none)).error).toEqual({ code: 'csrf_failed', message: expect.stringMatching(/^x-csrf-token header required/) });
    const wrong = await create({ 'x-csrf-token': 'forged' });
    expect(wrong.status).toBe(403);
    expect((await bodyOf(wrong)).error.message).toBe('x-csrf-token does not match the sb_csrf cookie');
    // Matching each other is not enough: the token must be the session's own.
    const otherSession = `sb_session=${encodeURIComponent((await signIn(server.url, token)).session)}; sb_csrf=${encodeURIComponent(csrf)}`;
    const crossed = await fetch(`${server.url}/api/agents`, { method: 'POST', headers: { cookie: otherSession, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: '{"name":"x","instructions":"y"}' });
    expect(crossed.status).toBe(403);
    const ok = await create({ 'x-csrf-token': csrf });
    expect(ok.status).toBe(201);
    expect((await bodyOf(ok)).id).toBe('front-desk');
    // The API's own validation messages reach the page as they are.
    const bad = await fetch(`${server.url}/api/agents/front-desk`, { method: 'PATCH', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ language: 'English' }) });
    expect(bad.status).toBe(400);
    expect((await bodyOf(bad)).error).toMatchObject({ fields: ['language'], message: 'language: must be a language code like en or en-US' });
    // Bearer requests are unchanged: no cookie, no CSRF token.
    const bearer = await fetch(`${server.url}/api/agents/front-desk`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(204);
    // A wrong bearer token is refused even alongside a good session.
    const mixed = await fetch(`${server.url}/api/agents`, { headers: { cookie, authorization: 'Bearer nope' } });
    expect(mixed.status).toBe(401);
  });

  it('ends a session at expiry and at sign-out: the sign-in page for pages, 401 for the API', async () => {
    const a = await signIn(server.url, token);
    clock.advance(CONSOLE_SESSION_TTL_MS);
    const page = await get('/console/calls', a.cookie);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('your console session has ended');
    expect((await get('/api/calls', a.cookie)).status).toBe(401);

    const b = await signIn(server.url, token);
    expect((await get('/api/calls', b.cookie)).status).toBe(200);
    // Signing out is a state change too: not without the CSRF token.
    expect((await fetch(`${server.url}/console/sign-out`, { method: 'POST', headers: { cookie: b.cookie } })).status).toBe(403);
    const out = await fetch(`${server.url}/console/sign-out`, { method: 'POST', headers: { cookie: b.cookie, 'x-csrf-token': b.csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().every((c) => /Max-Age=0/.test(c))).toBe(true);
    expect((await get('/api/calls', b.cookie)).status).toBe(401);
    expect((await get('/console/live', b.cookie)).status).toBe(401);
  });
});
