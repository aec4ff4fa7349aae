import WebSocket from 'ws';
import { ManualClock } from '../../../src/clock';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../../src/sim/realtime-server';
import { bxml } from '../../helpers/bxml';
import { callbackFixture } from '../../helpers/fixtures';
import { respelled } from '../../helpers/token-spellings';
import { basicAuth, startTestServer, type TestServer } from '../../helpers/server';

/**
 * The media token is spent through the store (Store.mediaTokens), so every instance sharing it refuses a
 * token used on another (DESIGN §4.5, §4.12; the two-instance case is test/integration/two-instances.test.ts).
 */
describe('media tokens are spent through the store', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;

  beforeEach(async () => {
    clock = new ManualClock(0);
    openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 400 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '' }, { clock });
  });
  afterEach(async () => {
    await server.close();
    await openai.close();
  });

  async function streamFor(callId: string) {
    const res = await server.post('initiate', { ...callbackFixture('initiate'), callId });
    return bxml(await res.text()).one('StartStream').attributes;
  }

  /** The HTTP status the upgrade got: 101 when the socket opened. */
  function upgrade(url: string, authorization: string): Promise<number> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { headers: { authorization } });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
  }

  it('credentials are checked before the token is spent: a wrong try does not burn it, the first right one does', async () => {
    const start = await streamFor('c-token-order');
    const spent: string[] = [];
    const tokens = server.app.store.mediaTokens;
    const use = tokens.use.bind(tokens);
    tokens.use = (id, expiresAt) => {
      spent.push(id);
      return use(id, expiresAt);
    };
    expect(await upgrade(start.destination!, basicAuth(start.destinationUsername!, 'wrong'))).toBe(401);
    expect(spent).toHaveLength(0);
    const right = basicAuth(start.destinationUsername!, start.destinationPassword!);
    expect(await upgrade(start.destination!, right)).toBe(101);
    expect(await upgrade(start.destination!, right)).toBe(401);
    // Kept by digest: the store never holds a usable token.
    expect(spent).toHaveLength(2);
    expect(start.destination!).not.toContain(spent[0]!);
    expect(spent[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('a used token is refused in every spelling: a re-spelling that decodes to the same bytes opens nothing', async () => {
    const right = async (callId: string) => {
      const start = await streamFor(callId);
      return { url: start.destination!, auth: basicAuth(start.destinationUsername!, start.destinationPassword!) };
    };
    // Call ids of different lengths give tokens of different lengths: both kinds of re-spelling are tried.
    for (const callId of ['c-respell', 'c-respell1', 'c-respell12']) {
      const { url, auth } = await right(callId);
      expect(await upgrade(url, auth)).toBe(101);
      const token = url.split('/').pop()!;
      expect(await upgrade(url.replace(token, respelled(token)), auth)).toBe(401);
    }
  });

  it('a store that cannot say whether the token was used gets the stream refused with 503, and nothing is allocated', async () => {
    const start = await streamFor('c-token-store-down');
    server.app.store.mediaTokens.use = () => Promise.reject(new Error('database unreachable'));
    expect(await upgrade(start.destination!, basicAuth(start.destinationUsername!, start.destinationPassword!))).toBe(503);
    expect(server.app.bridge.get('c-token-store-down')?.state).toBe('prewarming'); // still waiting: no stream was accepted
    expect(server.app.bridge.size).toBe(1);
    expect((await server.app.store.calls.get('c-token-store-down'))?.mediaOwner).toBeNull();
    server.app.bridge.get('c-token-store-down')?.end('test over');
  });
});
