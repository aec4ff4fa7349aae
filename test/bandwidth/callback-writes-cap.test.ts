import { StoreStalledError } from '../../src/store/group-commit';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer } from '../helpers/server';

/** The durability rule: a caller without BXML is a dropped call, so a write the store refuses outright does not fail the callback. */
it('a callback whose write is refused because too many wait is still answered', async () => {
  const server = await startTestServer({ AGENT_MODE: 'sip-forward', AGENT_SIP_TARGET: 'sip:agent@sip.example.com', AGENT_SIP_VERB: 'forward' });
  try {
    jest.spyOn(server.app.store.calls, 'recordMany').mockRejectedValueOnce(new StoreStalledError('the store has not been able to write for 9000 ms and 100000 writes wait: refusing more'));
    const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-at-the-cap' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<Forward');
  } finally {
    await server.close();
  }
});
