import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import type { CallControl } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SipCallSession } from '../../src/openai/sip-session';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeModelSession } from '../helpers/fakes';

/**
 * An answering machine answered while the agent was talking: the agent's response is cancelled and the voicemail
 * message asked for. OpenAI refuses a response.create while another response is in flight
 * (conversation_already_has_active_response): the message is asked for again once the cancelled one is done,
 * never lost to 90 s of dead air on the machine. It is asked for once the cancelled response is done.
 */
describe('a refused voicemail message', () => {
  it('is asked for again once the cancelled response is done', async () => {
    const clock = new ManualClock(0);
    const store = SqliteStore.open(':memory:');
    try {
      const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'sipper', name: 'SIP', greeting: '' }), destinations: [] };
      await store.agents.upsert(agent, 'api');
      await store.calls.record({ id: 'rtc_vm', agentId: 'sipper', mode: 'openai-sip', state: 'sip-connected' });
      const model = new FakeModelSession();
      const hangUps: string[] = [];
      const control: CallControl = { transfer: async () => 'done', hangUp: async (_c, reason) => (hangUps.push(reason), 'done'), fallback: async () => 'done' };
      const session = new SipCallSession({ callId: 'rtc_vm', agent, store, logger: createLogger('silent'), clock, tools: agentTools(agent, {}), model, control, onEnded: () => undefined });
      model.becomeReady();
      await settleIo();
      model.handlers.responseCreated({ responseId: 'r_talking' }); // the agent is talking to the machine's greeting
      session.answeredByMachine({ kind: 'leave-message', message: 'Hi, this is Acme.' });
      const asks = () => model.of('response.create').filter((e) => String(e.instructions ?? '').includes('Hi, this is Acme.'));
      expect(model.of('response.cancel')).toHaveLength(1);
      expect(asks()).toHaveLength(0); // not while the cancelled response still holds the floor
      model.handlers.responseDone({ responseId: 'r_talking', status: 'cancelled' });
      model.handlers.trace('output_audio_buffer.cleared', {});
      await settleIo();
      expect(asks()).toHaveLength(1);
      // OpenAI refuses it all the same (server VAD's response got the floor first): asked again once that is done.
      model.handlers.responseCreated({ responseId: 'r_vad' });
      model.handlers.error({ code: 'conversation_already_has_active_response', message: 'Conversation already has an active response', type: 'invalid_request_error' });
      model.handlers.responseDone({ responseId: 'r_vad', status: 'completed' });
      model.handlers.trace('output_audio_buffer.stopped', {});
      await settleIo();
      expect(asks()).toHaveLength(2);
      expect(hangUps).toEqual([]); // the message is still to be heard
    } finally {
      await store.close();
    }
  });
});
