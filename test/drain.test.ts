import { ManualClock, waitFor } from '../src/clock';
import { SimulatedCall } from '../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../src/sim/drive';
import { startRealtimeStandIn } from '../src/sim/realtime-server';
import { callbackFixture } from './helpers/fixtures';
import { startTestServer } from './helpers/server';

/** SIGTERM (docs/reliability.md): readiness goes false, no new stream starts, live calls finish, then it stops. */
describe('draining for shutdown', () => {
  it('stops taking new streams at once and waits for the live call before stopping', async () => {
    const clock = new ManualClock(0);
    const openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 400 }) });
    const server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '' }, { clock });
    try {
      const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
      const call = await dialThroughSetup(new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400 }), 400, (ms) => clock.advanceAsync(ms));
      let stopped = false;
      const closing = server.app.close(60_000).then(() => (stopped = true));
      await waitFor(() => !server.app.bridge.accepting(), 5000, 'draining');

      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, boolean> }).checks['accepting-calls']).toBe(false);
      const late = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-arrives-while-draining' });
      const xml = await late.text();
      expect(xml).not.toContain('<StartStream');
      expect(xml).toContain('<SpeakSentence'); // the agent's fallback: an apology
      expect(server.app.bridge.get('c-arrives-while-draining')).toBeUndefined();

      await clock.advanceAsync(1000);
      expect(stopped).toBe(false); // the live call is still going
      expect(server.app.bridge.get(call.callId)?.state).toBe('live');
      await call.hangup();
      await closing;
      expect(stopped).toBe(true);
    } finally {
      await server.close();
      await openai.close();
    }
  });
});
