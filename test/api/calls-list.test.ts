import { startTestServer, type TestServer } from '../helpers/server';

// GET /api/calls lists calls, not legs: the console's history and the CLI read it (docs/console.md).
describe('GET /api/calls lists every call once', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('has caller legs and parentless openai-sip AI legs, not the legs under a call', async () => {
    const { calls } = server.app.store;
    const ended = { state: 'completed' as const, outcome: { outcome: 'caller-hung-up' as const, reason: 'the caller hung up' } };
    await calls.record({ id: 'c-phone', leg: 'caller', direction: 'inbound', ...ended });
    await calls.record({ id: 'c-phone-transfer', leg: 'transfer', parentCallId: 'c-phone', state: 'completed' });
    await calls.record({ id: 'c-phone-ai', leg: 'ai-sip', parentCallId: 'c-phone', state: 'completed' });
    // An openai-sip call that reached OpenAI's SIP address without our Bandwidth leg: its AI leg is the call.
    await calls.record({ id: 'rtc_direct', leg: 'ai-sip', mode: 'openai-sip', ...ended });
    const res = await fetch(`${server.url}/api/calls?limit=50`, { headers: { authorization: `Bearer ${server.app.credentials.credentials.adminToken}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: { id: string }[] };
    expect(body.items.map((c) => c.id).sort()).toEqual(['c-phone', 'rtc_direct']);
  });
});
