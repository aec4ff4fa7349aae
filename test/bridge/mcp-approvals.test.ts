import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import { CallSession } from '../../src/bridge/call-session';
import { BandwidthCallControl } from '../../src/bandwidth/call-control';
import { PlayoutScheduler } from '../../src/bridge/playout';
import { ManualClock, settleIo } from '../../src/clock';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeModelSession } from '../helpers/fakes';

const CALL = 'c-mcp-approvals';

/** The conversation core's answers to MCP approval requests (README "MCP tools"), mode-independent. */
describe('MCP approvals in the conversation core', () => {
  function setup() {
    const agent: AgentWithDestinations = {
      ...agentSchema.parse({
        id: 'a1',
        name: 'A1',
        greeting: '',
        mcpServers: [{ label: 'crm', url: 'https://mcp.crm.example/mcp', requireApproval: 'always', autoApprove: ['lookup_order'] }],
      }),
      destinations: [],
    };
    const clock = new ManualClock(0);
    const store = SqliteStore.open(':memory:');
    const model = new FakeModelSession();
    new CallSession({
      callId: CALL,
      agent,
      store,
      logger: createLogger('silent'),
      clock,
      scheduler: new PlayoutScheduler(clock),
      tools: agentTools(agent, {}),
      openModel: () => model,
      onEnded: () => undefined,
      control: new BandwidthCallControl({ store, logger: createLogger('silent') }),
    });
    model.becomeReady();
    const ask = (responseId: string, requestId: string, name: string) =>
      model.handlers.mcp({ kind: 'approval-request', requestId, responseId, serverLabel: 'crm', name, arguments: '{"orderId":"1"}' });
    return { model, store, ask };
  }

  it('answers each request of a response when it is done, then asks for one response', async () => {
    const { model, store, ask } = setup();
    model.handlers.responseCreated({ responseId: 'r1' });
    ask('r1', 'apr_1', 'lookup_order');
    ask('r1', 'apr_2', 'cancel_order');
    expect(model.of('mcp_approval_response')).toEqual([]); // held until the response is done
    model.handlers.responseDone({ responseId: 'r1', status: 'completed' });
    expect(model.sent.map((e) => e.type)).toEqual(['mcp_approval_response', 'mcp_approval_response', 'response.create']);
    expect(model.of('mcp_approval_response')).toEqual([
      { type: 'mcp_approval_response', requestId: 'apr_1', approve: true, reason: 'lookup_order is approved for this agent' },
      { type: 'mcp_approval_response', requestId: 'apr_2', approve: false, reason: 'cancel_order is not approved for use on calls' },
    ]);
    await settleIo();
    expect((await store.events.list(CALL)).filter((e) => e.type === 'mcp.approval').map((e) => (e.data as { approved: boolean }).approved)).toEqual([true, false]);
  });

  it('with a function call in the same response, the tool batch asks for the one response', async () => {
    const { model, ask } = setup();
    model.handlers.responseCreated({ responseId: 'r1' });
    ask('r1', 'apr_1', 'lookup_order');
    model.handlers.functionCall({ responseId: 'r1', itemId: 'fc1', callId: 'call_1', name: 'hang_up', arguments: '{}' });
    model.handlers.responseDone({ responseId: 'r1', status: 'completed' });
    await settleIo();
    expect(model.sent.map((e) => e.type)).toEqual(['mcp_approval_response', 'function_call_output', 'response.create']);
  });

  it('a cancelled response: its requests are answered, and no response is asked for (the caller has the turn)', () => {
    const { model, ask } = setup();
    model.handlers.responseCreated({ responseId: 'r1' });
    ask('r1', 'apr_1', 'lookup_order');
    model.handlers.responseDone({ responseId: 'r1', status: 'cancelled' });
    expect(model.sent.map((e) => e.type)).toEqual(['mcp_approval_response']);
  });
});
