import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { ManualClock } from '../../src/clock';
import { AdminAccess } from '../../src/console/access';
import { consoleRouter } from '../../src/console/router';
import { ConsoleSessions } from '../../src/console/sessions';
import { SignInLimiter } from '../../src/console/sign-in-limiter';
import { createLogger } from '../../src/log';
import { SecurityEvents } from '../../src/security/security-events';
import { SqliteStore } from '../../src/store/sqlite';
import { CONSOLE_ASSETS_DIR } from '../../src/console/assets-dir';
import { signIn } from './sign-in';

/**
 * The console serves the browser test call's page (built beside it, docs/console.md) from its assets when the
 * file is there, under the same session rule, and a 404 when it is not.
 */
describe('the test call page slot', () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  let store: SqliteStore;
  const token = 'sb_test-token';

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-console-assets-'));
    for (const f of ['sign-in.html', 'console.css', 'common.js']) fs.copyFileSync(path.join(CONSOLE_ASSETS_DIR, f), path.join(dir, f));
    const clock = new ManualClock(0);
    store = SqliteStore.open(':memory:');
    const logger = createLogger('silent');
    const app = express();
    app.use('/console', consoleRouter({ access: new AdminAccess(token, new ConsoleSessions(store.consoleSessions, clock)), limiter: new SignInLimiter(clock), assetsDir: dir, publicBaseUrl: 'http://localhost', security: new SecurityEvents(logger, clock), logger }));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is a 404 while test-call.html is not there, and the page once it is; never without a session', async () => {
    const { cookie } = await signIn(url, token);
    const missing = await fetch(`${url}/console/test-call`, { headers: { cookie } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'not_found', message: 'no page /test-call' } });

    fs.writeFileSync(path.join(dir, 'test-call.html'), '<!doctype html><title>Test call</title><script type="module" src="/console/assets/test-call.js"></script>');
    fs.writeFileSync(path.join(dir, 'test-call.js'), "import { api } from './common.js';\n");
    const page = await fetch(`${url}/console/test-call`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Test call</title>');
    expect((await fetch(`${url}/console/assets/test-call.js`, { headers: { cookie } })).status).toBe(200);

    expect((await fetch(`${url}/console/test-call`)).status).toBe(401);
    expect((await fetch(`${url}/console/assets/test-call.js`)).status).toBe(401);
  });
});
