import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openBrowser, type BrowserSession } from './chromium';

// The suite's own footing: Chromium starts from the flags above, loads a page from loopback, runs its script.
describe('Chromium under playwright-core', () => {
  let session: BrowserSession;
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>smoke</title><p id="p">before</p><script>document.getElementById("p").textContent = "after";</script>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    session = await openBrowser();
  });
  afterAll(async () => {
    await session?.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('renders a loopback page and runs its script', async () => {
    await session.page.goto(url);
    await expect(session.page.locator('#p').textContent()).resolves.toBe('after');
  });
});
