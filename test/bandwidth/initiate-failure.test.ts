import { ManualClock, waitFor } from '../../src/clock';
import { startRealtimeStandIn } from '../../src/sim/realtime-server';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer } from '../helpers/server';

describe('an initiate that fails', () => {
  it('answers 500 and leaves no pre-warmed OpenAI session behind', async () => {
    const clock = new ManualClock(0);
    const openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 400 }) });
    const server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url }, { clock });
    try {
      jest.spyOn(server.app.store.calls, 'recordMany').mockRejectedValueOnce(new Error('the store failed for good'));
      const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-initiate-fails' });
      expect(res.status).toBe(500);
      expect(server.app.bridge.get('c-initiate-fails')).toBeUndefined();
      await waitFor(() => openai.sessions.every((s) => !s.open), 5000, 'the pre-warmed socket to close');
      // Bandwidth retries: the retry pre-warms afresh and is answered.
      const retry = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-initiate-fails' });
      expect(retry.status).toBe(200);
      expect(server.app.bridge.get('c-initiate-fails')?.state).toBe('prewarming');
    } finally {
      await server.close();
      await openai.close();
    }
  });
});
