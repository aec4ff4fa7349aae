import OpenAI from 'openai';
import { agentSchema, type AgentWithDestinations, type TransferDestination } from '../../src/agents/agent';
import { settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SipCallControl } from '../../src/openai/sip-call-control';
import { SqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';

const CALL = 'rtc_ctl_1';
const human: TransferDestination = { id: 'd1', name: 'human', kind: 'phone', value: '+19195550177', warm: false, callTimeoutS: 30 };
const desk: TransferDestination = { id: 'd2', name: 'desk', kind: 'sip', value: 'sip:desk@pbx.example.com', warm: false, callTimeoutS: 30 };

/** OpenAI's call API as SipCallControl uses it: what it was asked, and an optional refusal. */
function fakeOpenAI(refuse?: Error) {
  const asked: string[] = [];
  const calls = {
    refer: async (callId: string, body: { target_uri: string }, options: { maxRetries?: number }) => {
      asked.push(`refer ${callId} ${body.target_uri} retries=${options.maxRetries}`);
      if (refuse) throw refuse;
    },
    hangup: async (callId: string) => {
      asked.push(`hangup ${callId}`);
      if (refuse) throw refuse;
    },
  };
  return { client: { realtime: { calls } } as unknown as OpenAI, asked };
}

function setup(options: { refuse?: Error; trunkHost?: string; store?: Store } = {}) {
  const store = options.store ?? SqliteStore.open(':memory:');
  const openai = fakeOpenAI(options.refuse);
  const logger = createLogger('silent');
  const control = new SipCallControl({ openai: openai.client, store, logger, trunkHost: options.trunkHost });
  const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'sipper', name: 'SIP' }), destinations: [human, desk] };
  return { store, openai, logger, control, call: { callId: CALL, agent } };
}

describe('SipCallControl', () => {
  it('REFERs a phone number on the carrier trunk and a SIP destination as it is, once each, and marks the call transferring', async () => {
    const { control, call, openai, store } = setup({ trunkHost: '67.231.4.10:5060' });
    await store.calls.record({ id: CALL, state: 'sip-connected' });
    expect(await control.transfer(call, human)).toBe('done');
    expect(await control.transfer(call, desk)).toBe('done');
    expect(openai.asked).toEqual([`refer ${CALL} sip:+19195550177@67.231.4.10:5060 retries=0`, `refer ${CALL} sip:desk@pbx.example.com retries=0`]);
    expect((await store.calls.get(CALL))?.state).toBe('transferring');
  });

  it('a destination with no safe target is refused up front (the tool says why) and never reaches OpenAI', async () => {
    const { control, call, openai, store } = setup({ trunkHost: undefined });
    expect(() => control.checkTransfer(call, human)).toThrow(/contactHost/);
    expect(() => control.checkTransfer(call, desk)).not.toThrow();
    expect(openai.asked).toEqual([]);
    await settleIo();
    expect((await store.events.list(CALL)).map((e) => [e.type, (e.data as { destination: string }).destination])).toEqual([['sip.refer-failed', 'human']]);
  });

  it('a REFER OpenAI refuses is a refused hand-off with its reason and status; the call keeps its state', async () => {
    const refusal = new OpenAI.APIError(500, { message: 'SIP 405 Method Not Allowed' }, 'SIP 405 Method Not Allowed', new Headers());
    const { control, call, store } = setup({ refuse: refusal, trunkHost: 'carrier.example' });
    await store.calls.record({ id: CALL, state: 'sip-connected' });
    const outcome = await control.transfer(call, human);
    expect(outcome).toEqual({ refused: expect.stringMatching(/SIP 405/) });
    expect((await store.calls.get(CALL))?.state).toBe('sip-connected');
    expect((await store.events.list(CALL)).filter((e) => e.type === 'sip.refer-failed').map((e) => e.data)).toEqual([
      expect.objectContaining({ kind: 'refer', destination: 'human', target: 'sip:+19195550177@carrier.example', status: 500 }),
    ]);
  });

  it('a store that fails after a REFER went out is logged, not mistaken for a refused transfer', async () => {
    const real = SqliteStore.open(':memory:');
    const store: Store = Object.assign(Object.create(real) as Store, { calls: { ...real.calls, record: () => Promise.reject(new Error('disk I/O error')) } });
    const t = setup({ store, trunkHost: 'carrier.example' });
    const logged = jest.spyOn(t.logger, 'error');
    expect(await t.control.transfer(t.call, human)).toBe('done');
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ callId: CALL, err: 'disk I/O error' }), 'could not write to the store');
  });

  it("hang-up is OpenAI hangup and completes the call; the fallback asks OpenAI for nothing (the call stays with its model; the session's end is the fallback)", async () => {
    const { control, call, openai, store } = setup();
    expect(await control.hangUp(call)).toBe('done');
    expect(openai.asked).toEqual([`hangup ${CALL}`]);
    expect((await store.calls.get(CALL))?.state).toBe('completed');
    expect(await control.fallback()).toBe('on-stream-end');
    expect(openai.asked).toEqual([`hangup ${CALL}`]);
  });
});
