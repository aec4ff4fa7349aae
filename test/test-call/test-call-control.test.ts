import { agentSchema, transferDestinationSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { CallbackUrls } from '../../src/bandwidth/urls';
import type { CallControl, HandOffOutcome } from '../../src/bridge/transports';
import { CallCapacity } from '../../src/capacity';
import { ManualClock } from '../../src/clock';
import { createLogger } from '../../src/log';
import { UrlSigner } from '../../src/security/signing';
import { SqliteStore } from '../../src/store/sqlite';
import { TEST_CALL_TRANSFER_REFUSAL, TestCallControl } from '../../src/test-call/test-call-control';
import { TestCalls } from '../../src/test-call/test-calls';

/** How a browser test call leaves the agent (docs/console.md, "Test call"), beside the carrier's control for every other call. */
describe('TestCallControl', () => {
  const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'front-desk', name: 'Front desk', instructions: 'Help.' }), destinations: [] };
  const phone = transferDestinationSchema.parse({ id: 'billing', name: 'billing', kind: 'phone', value: '+19195550177' });
  const goodbye = transferDestinationSchema.parse({ id: 'bye', name: 'bye', kind: 'hangup' });

  function setUp(options: { modelUnavailable?: string; accepting?: boolean } = {}) {
    const store = SqliteStore.open(':memory:');
    const clock = new ManualClock(0);
    const carrierCalls: string[] = [];
    const carrier: CallControl = {
      transfer: async (call) => (carrierCalls.push(`transfer ${call.callId}`), 'done' as HandOffOutcome),
      hangUp: async (call) => (carrierCalls.push(`hangUp ${call.callId}`), 'done' as HandOffOutcome),
      fallback: async (call) => (carrierCalls.push(`fallback ${call.callId}`), 'on-stream-end' as HandOffOutcome),
      checkTransfer: (call) => void carrierCalls.push(`check ${call.callId}`),
    };
    const testCalls = new TestCalls({
      store,
      urls: new CallbackUrls('https://switchboard.test', new UrlSigner('secret'), clock),
      clock,
      logger: createLogger('silent'),
      bridge: { streamAnswered: () => undefined, streamRejected: () => undefined, accepting: () => options.accepting ?? true },
      modelUnavailable: options.modelUnavailable,
      capacity: new CallCapacity(10, () => 0),
    });
    return { store, testCalls, control: new TestCallControl(carrier, testCalls), carrierCalls };
  }

  /** The close-out is written in the background (a read, then a write): wait until the calls are completed. */
  async function settled(store: SqliteStore, callIds: string[]): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const states = await Promise.all(callIds.map(async (id) => (await store.calls.get(id))?.state));
      if (states.every((state) => state === 'completed')) return;
      if (Date.now() > deadline) throw new Error(`the close-out did not happen: ${states.join(', ')}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it('leaves every call that is not a browser’s to the carrier', async () => {
    const { control, carrierCalls, store } = setUp();
    const call = { callId: 'c-phone', agent };
    control.checkTransfer(call, phone);
    expect(await control.transfer(call, phone, 'r', 's')).toBe('done');
    expect(await control.hangUp(call, 'r')).toBe('done');
    expect(await control.fallback(call, 'r')).toBe('on-stream-end');
    expect(carrierCalls).toEqual(['check c-phone', 'transfer c-phone', 'hangUp c-phone', 'fallback c-phone']);
    await store.close();
  });

  it('refuses a transfer of a browser call when the agent asks, and ends it for hang-ups and hangup destinations', async () => {
    const { control, testCalls, carrierCalls, store } = setUp();
    const { callId } = await testCalls.mint(agent);
    const call = { callId, agent };
    expect(() => control.checkTransfer(call, phone)).toThrow(TEST_CALL_TRANSFER_REFUSAL);
    expect(await control.transfer(call, phone, 'r', 's')).toEqual({ refused: TEST_CALL_TRANSFER_REFUSAL });
    expect(await control.hangUp(call, 'done')).toBe('on-stream-end');
    control.checkTransfer(call, goodbye);
    expect(await control.transfer(call, goodbye, 'r', 's')).toBe('on-stream-end');
    expect(carrierCalls).toEqual([]);
    testCalls.connected(callId);
    control.sessionEnded(call, 'transferring');
    await settled(store, [callId]);
    expect(await store.calls.get(callId)).toMatchObject({ direction: 'browser', state: 'completed', outcome: 'completed-by-agent', cause: 'agent-hangup' });
    expect(testCalls.isTestCall(callId)).toBe(false);
    await store.close();
  });

  it('closes a browser call whose AI side failed with the fallback outcome, and one never connected as no-answer', async () => {
    const { control, testCalls, store } = setUp();
    const failed = await testCalls.mint(agent);
    testCalls.connected(failed.callId);
    expect(await control.fallback({ callId: failed.callId, agent }, 'OpenAI session failed: 503')).toBe('on-stream-end');
    control.sessionEnded({ callId: failed.callId, agent }, 'OpenAI session failed: 503');
    const never = await testCalls.mint(agent);
    control.sessionEnded({ callId: never.callId, agent }, 'the media stream never arrived');
    await settled(store, [failed.callId, never.callId]);
    expect(await store.calls.get(failed.callId)).toMatchObject({ outcome: 'fallback', outcomeReason: 'OpenAI session failed: 503', cause: 'fallback' });
    expect(await store.calls.get(never.callId)).toMatchObject({ outcome: 'no-answer', cause: 'no-media' });
    await store.close();
  });

  it('mints only for a stream agent, with a model to answer, while the server takes calls; the error names why', async () => {
    const sip = setUp();
    await expect(sip.testCalls.mint({ ...agent, mode: 'sip-forward' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/uses mode sip-forward: a browser test call reaches only stream agents/) });
    const noKey = setUp({ modelUnavailable: 'OPENAI_API_KEY is not set' });
    await expect(noKey.testCalls.mint(agent)).rejects.toMatchObject({ code: 'unavailable', message: 'OPENAI_API_KEY is not set' });
    const draining = setUp({ accepting: false });
    await expect(draining.testCalls.mint(agent)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/shutting down/) });
    for (const { store } of [sip, noKey, draining]) {
      expect((await store.calls.list({ limit: 5 })).items).toHaveLength(0);
      await store.close();
    }
  });
});
