import { ManualClock } from '../../src/clock';
import { describeWithPostgres, testDatabase, type TestDatabase } from '../helpers/postgres';
import { startTestServer, type TestServer } from '../helpers/server';
import { bodyOf, signIn } from './sign-in';
import { SseReader } from './sse-reader';

const ADMIN_TOKEN = 'sb_shared-admin-token-for-two-instances';

/**
 * Two instances on one PostgreSQL behind one address (DESIGN §4.12; docs/console.md, "Security model"): a
 * console session follows the browser to either instance, and signing out on one ends it on the other at
 * once, its live stream included.
 */
describeWithPostgres('console sessions across two instances', () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  const streams: SseReader[] = [];

  beforeAll(async () => {
    db = (await testDatabase())!;
  }, 60_000);
  afterAll(() => db?.close(), 60_000);
  beforeEach(async () => {
    const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
    const env = { DATABASE_URL: db.url, ADMIN_TOKEN };
    a = await startTestServer({ ...env, INSTANCE_ID: 'i-a' }, { clock });
    b = await startTestServer({ ...env, INSTANCE_ID: 'i-b' }, { clock });
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await a?.close();
    await b?.close();
  });

  it('signed in on A, the session works on B with its CSRF token; signed out on B, A refuses it at once', async () => {
    const browser = await signIn(a.url, ADMIN_TOKEN);
    // The store holds the id's hash only: the cookie's value is nowhere in it.
    expect(await a.app.store.consoleSessions.get(browser.session, '2026-12-07T12:00:00.000Z')).toBeUndefined();

    // B serves pages and the API to the session A created, and checks its CSRF token.
    expect((await fetch(`${b.url}/console/live`, { headers: { cookie: browser.cookie } })).status).toBe(200);
    const agents = await fetch(`${b.url}/api/agents`, { headers: { cookie: browser.cookie } });
    expect(agents.status).toBe(200);
    const create = (server: TestServer, headers: Record<string, string>) =>
      fetch(`${server.url}/api/agents`, { method: 'POST', headers: { cookie: browser.cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'Front desk', instructions: 'Answer politely.' }) });
    expect((await create(b, {})).status).toBe(403);
    const created = await create(b, { 'x-csrf-token': browser.csrf });
    expect(created.status).toBe(201);
    expect((await bodyOf(created)).id).toBe('front-desk');

    // A live stream opened on A with the session.
    const live = await SseReader.open(`${a.url}/api/live`, { cookie: browser.cookie });
    streams.push(live);
    await live.until(() => live.of('snapshot').length === 1, 'the snapshot on A');

    // Sign out on B.
    const out = await fetch(`${b.url}/console/sign-out`, { method: 'POST', headers: { cookie: browser.cookie, 'x-csrf-token': browser.csrf } });
    expect(out.status).toBe(204);

    // A refuses the session at its very next request: the API, the pages, a state change with the right token.
    const api = await fetch(`${a.url}/api/agents`, { headers: { cookie: browser.cookie } });
    expect(api.status).toBe(401);
    expect((await bodyOf(api)).error.message).toMatch(/console session unknown or expired/);
    const page = await fetch(`${a.url}/console/calls`, { headers: { cookie: browser.cookie } });
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('your console session has ended');
    expect((await fetch(`${a.url}/api/agents/front-desk`, { method: 'DELETE', headers: { cookie: browser.cookie, 'x-csrf-token': browser.csrf } })).status).toBe(401);

    // A's stream ends at the next change (committed on B, announced to A): nothing more is sent for the session.
    await b.app.store.calls.record({ id: 'c-after', leg: 'caller', state: 'initiated' });
    await live.until(() => live.ended, 'the stream on A to end');
    expect(live.events.map((e) => e.event)).toEqual(['snapshot', 'signed-out']);
    await b.app.store.calls.record({ id: 'c-after', state: 'completed', outcome: { outcome: 'caller-hung-up', reason: 'test' } });

    // A new sign-in on B works on A; the bearer token is untouched by all this.
    const again = await signIn(b.url, ADMIN_TOKEN);
    expect((await fetch(`${a.url}/api/agents`, { headers: { cookie: again.cookie } })).status).toBe(200);
    expect((await fetch(`${a.url}/api/agents`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
  });
});
