import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import type { CallControl } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SipCallSession } from '../../src/openai/sip-session';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeModelSession } from '../helpers/fakes';

/**
 * OpenAI refuses a response.create while another response has the floor (conversation_already_has_active_response,
 * e.g. server VAD created one at the same moment): a watchdog's line refused so is asked again once the floor is
 * free, never dropped (the silence prompt must be said before the watchdog hangs up).
 */
describe('a refused watchdog line', () => {
  it('is asked again once the floor is free', async () => {
    const clock = new ManualClock(0);
    const store = SqliteStore.open(':memory:');
    try {
      const agent: AgentWithDestinations = {
        ...agentSchema.parse({ id: 'sipper', name: 'SIP', greeting: '', callLimits: { silence: { promptAfterMs: 2000, hangUpAfterMs: 2000 } } }),
        destinations: [],
      };
      await store.agents.upsert(agent, 'api');
      await store.calls.record({ id: 'rtc_w', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
      const model = new FakeModelSession();
      const control: CallControl = { transfer: async () => 'done', hangUp: async () => 'done', fallback: async () => 'done' };
      new SipCallSession({ callId: 'rtc_w', agent, store, logger: createLogger('silent'), clock, tools: agentTools(agent, {}), model, control, onEnded: () => undefined });
      model.becomeReady();
      await settleIo();
      clock.advance(2000);
      const prompts = () => model.of('response.create').filter((e) => String(e.instructions ?? '').includes('Are you still there?'));
      expect(prompts()).toHaveLength(1);
      // OpenAI refuses it: another response (server VAD's) took the floor first; it runs and ends.
      model.handlers.error({ code: 'conversation_already_has_active_response', message: 'Conversation already has an active response', type: 'invalid_request_error' });
      model.handlers.responseCreated({ responseId: 'r_vad' });
      model.handlers.responseDone({ responseId: 'r_vad', status: 'completed' });
      model.handlers.trace('output_audio_buffer.stopped', {});
      await settleIo();
      expect(prompts()).toHaveLength(2);
    } finally {
      await store.close();
    }
  });
});
