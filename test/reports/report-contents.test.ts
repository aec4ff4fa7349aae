import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import type { CallControl } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SipCallSession } from '../../src/openai/sip-session';
import { DEFAULT_PRICES } from '../../src/reports/cost';
import { buildCallReport, transferAttempts } from '../../src/reports/report';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeModelSession } from '../helpers/fakes';

const CALL = 'rtc_latency_1';
const control: CallControl = { transfer: async () => 'done', hangUp: async () => 'done', fallback: async () => 'done' };

/**
 * First-word and per-turn latency, as the conversation core traces them and the report reads them, in
 * openai-sip mode (OpenAI plays the audio: its output_audio_buffer.started is when the agent's voice
 * begins), on a ManualClock so every figure is exact.
 */
describe('latency in the trace and the report', () => {
  it('the first agent audio of the call and the first after each caller turn, and nothing for audio in between', async () => {
    const clock = new ManualClock(0);
    const store = SqliteStore.open(':memory:');
    try {
      const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'sipper', name: 'SIP', greeting: '' }), destinations: [] };
      await store.agents.upsert(agent, 'api');
      await store.calls.record({ id: CALL, agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
      const model = new FakeModelSession();
      new SipCallSession({ callId: CALL, agent, store, logger: createLogger('silent'), clock, tools: agentTools(agent, {}), model, control, onEnded: () => undefined });
      model.becomeReady();
      await settleIo();

      clock.advance(700);
      model.handlers.trace('output_audio_buffer.started', {}); // the greeting: first word 700 ms in
      clock.advance(1000);
      model.handlers.trace('output_audio_buffer.started', {}); // more of the agent, no caller turn between: not a turn
      model.handlers.speechStarted({ itemId: 'in_1', audioStartMs: 2000 });
      clock.advance(900);
      model.handlers.speechStopped({ itemId: 'in_1', audioEndMs: 2900 });
      clock.advance(450);
      model.handlers.trace('output_audio_buffer.started', {});
      model.handlers.speechStopped({ itemId: 'in_2', audioEndMs: 5000 });
      clock.advance(1250);
      model.handlers.trace('output_audio_buffer.started', {});
      await settleIo();

      const traced = (await store.events.list(CALL)).filter((e) => e.type === 'bridge.agent-speaking').map((e) => e.data);
      expect(traced).toEqual([
        { first: true, sinceStartMs: 700 },
        { first: false, sinceStartMs: 3050, afterCallerMs: 450 },
        { first: false, sinceStartMs: 4300, afterCallerMs: 1250 },
      ]);
      const report = await buildCallReport(store, CALL, { prices: DEFAULT_PRICES, numbers: 'masked', nowIso: new Date().toISOString() });
      expect(report!.data.latency).toMatchObject({ firstWordMs: 700, meanTurnMs: 850, maxTurnMs: 1250 });
      expect(report!.data.latency.turns.map((t) => t.afterCallerMs)).toEqual([450, 1250]);
    } finally {
      await store.close();
    }
  });
});

describe('transfer attempts in the report', () => {
  it('each request with what became of it: refused, failed at the carrier, completed; a REFER in openai-sip mode', () => {
    let id = 0;
    const e = (type: string, data: unknown) => ({ id: ++id, callId: 'c', at: `2026-12-07T10:00:0${id}.000Z`, source: 'switchboard' as const, type, data });
    const sales = { name: 'sales', kind: 'phone' };
    expect(
      transferAttempts([
        e('bridge.transfer-requested', { kind: 'transfer', destination: sales, reason: 'wants sales', summary: '…' }),
        e('bridge.hand-off-refused', { action: 'transfer', reason: 'no Calls API' }),
        e('bridge.transfer-requested', { kind: 'transfer', destination: sales, reason: 'asked again', summary: '…' }),
        e('transferComplete', { switchboard: { transfer: 'failed', destination: 'sales', cause: 'busy' } }),
        e('bridge.hangup-requested', { kind: 'hangup', reason: 'done' }),
        e('bridge.transfer-requested', { kind: 'transfer', destination: { name: 'billing' }, reason: 'billing question', summary: '…' }),
        e('transferComplete', { switchboard: { transfer: 'completed', destination: 'billing' } }),
      ]),
    ).toEqual([
      { destination: 'sales', reason: 'wants sales', requestedAt: '2026-12-07T10:00:01.000Z', outcome: 'refused', cause: 'no Calls API' },
      { destination: 'sales', reason: 'asked again', requestedAt: '2026-12-07T10:00:03.000Z', outcome: 'failed', cause: 'busy' },
      { destination: 'billing', reason: 'billing question', requestedAt: '2026-12-07T10:00:06.000Z', outcome: 'completed', cause: null },
    ]);
    expect(transferAttempts([e('bridge.transfer-requested', { destination: sales, reason: 'r' }), e('sip.refer-failed', { destination: 'sales', reason: 'REFER refused: 403' })])).toEqual([
      expect.objectContaining({ destination: 'sales', outcome: 'failed', cause: 'REFER refused: 403' }),
    ]);
    expect(transferAttempts([e('bridge.transfer-requested', { destination: sales, reason: 'r' })])).toEqual([expect.objectContaining({ outcome: 'in-progress' })]);
  });
});
