import { REQUEST_EXAMPLES } from '../../src/api/examples';
import { apiRoutes } from '../../src/api/routes';
import { startTestServer, type TestServer } from '../helpers/server';

describe('API reference and first guesses', () => {
  it('every route with a body has an example, and each example passes that route’s own schema', () => {
    const routes = apiRoutes({} as never).filter((r) => r.body);
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    expect(Object.keys(REQUEST_EXAMPLES).sort()).toEqual([...keys].sort());
    for (const r of routes) {
      const parsed = r.body!.safeParse(REQUEST_EXAMPLES[`${r.method} ${r.path}`]);
      expect([`${r.method} ${r.path}`, parsed.success ? 'valid' : parsed.error.message]).toEqual([`${r.method} ${r.path}`, 'valid']);
    }
  });

  describe('against a server', () => {
    let server: TestServer;
    let token: string;
    beforeAll(async () => {
      server = await startTestServer({});
      token = server.app.credentials.credentials.adminToken;
    });
    afterAll(() => server.close());
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}/api${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };

    it('/api/docs renders from local assets only, without a token, under a policy that allows nothing else', async () => {
      const page = await fetch(`${server.url}/api/docs`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'.*connect-src 'self'/);
      const html = await page.text();
      const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(refs.length).toBeGreaterThanOrEqual(4);
      for (const ref of refs) {
        expect(ref).toMatch(/^\/api\/docs\//);
        const asset = await fetch(`${server.url}${ref}`);
        expect([ref, asset.status]).toEqual([ref, 200]);
        expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(0);
      }
      const init = await (await fetch(`${server.url}/api/docs/init.js`)).text();
      expect(init).toContain("url: '/api/openapi.json'");
      expect(init).toContain('validatorUrl: null'); // never sends the document to validator.swagger.io
      // Anything else under /api still needs the token.
      expect((await fetch(`${server.url}/api/docs/../agents`)).status).toBe(401);
      expect((await fetch(`${server.url}/api/docs/package.json`)).status).toBe(401);
    });

    it('the document’s examples work as sent (“try it”), in the order a new user would try them', async () => {
      const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { example?: unknown } } } }>> };
      const example = (method: string, path: string) => doc.paths[path]![method]!.requestBody!.content['application/json'].example;
      expect((await api('POST', '/destinations', example('post', '/api/destinations'))).status).toBe(201);
      const agent = await api('POST', '/agents', example('post', '/api/agents'));
      expect(agent).toMatchObject({ status: 201, json: { id: 'front-desk', name: 'Front desk' } });
      expect((await api('PATCH', '/agents/front-desk', example('patch', '/api/agents/{id}'))).status).toBe(200);
      expect((await api('POST', '/agents/front-desk/tools', example('post', '/api/agents/{id}/tools'))).status).toBe(201);
      expect((await api('POST', '/numbers', example('post', '/api/numbers'))).status).toBe(201);
      expect((await api('PATCH', '/destinations/billing', example('patch', '/api/destinations/{id}'))).status).toBe(200);
      expect((await api('POST', '/import', example('post', '/api/import'))).status).toBe(200);
    });

    it('a new agent or destination given no id gets one from its name, made unique', async () => {
      const first = await api('POST', '/agents', { name: 'Night Shift!', instructions: 'You answer after hours.' });
      const second = await api('POST', '/agents', { name: 'night shift', instructions: 'Again.' });
      expect([first.status, first.json.id, second.status, second.json.id]).toEqual([201, 'night-shift', 201, 'night-shift-2']);
      const unnamed = await api('POST', '/agents', { name: '¿¿??', instructions: 'x' });
      expect(unnamed.json.id).toBe('agent');
      const dest = await api('POST', '/destinations', { name: 'sales', kind: 'phone', value: '+19195550178' });
      expect([dest.status, dest.json.id]).toEqual([201, 'sales']);
      const bad = await api('POST', '/agents', { instructions: 'no name' });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.json)).toMatch(/name/);
    });
  });
});
