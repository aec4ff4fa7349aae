import { z } from 'zod';
import { agentSchema, type AgentWithDestinations, type TransferDestination } from '../../src/agents/agent';
import { agentTools } from '../../src/bridge/builtin-tools';
import { ToolRegistry } from '../../src/bridge/tools';
import type { CallControl, HandOffOutcome } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { HANDOFF_MAX_WAIT_MS } from '../../src/constants';
import { createLogger } from '../../src/log';
import { SipCallSession } from '../../src/openai/sip-session';
import { SqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { FakeModelSession } from '../helpers/fakes';

const CALL = 'rtc_unit_1';
const human: TransferDestination = { id: 'd1', name: 'human', kind: 'phone', value: '+19195550177', warm: false, callTimeoutS: 30 };

/** A CallControl that records what it was asked, answering each hand-off with `outcome`. */
class RecordingControl implements CallControl {
  readonly asked: string[] = [];
  outcome: HandOffOutcome = 'done';
  async transfer(_call: unknown, destination: TransferDestination): Promise<HandOffOutcome> {
    this.asked.push(`transfer:${destination.name}`);
    return this.outcome;
  }
  async hangUp(): Promise<HandOffOutcome> {
    this.asked.push('hangup');
    return this.outcome;
  }
  async fallback(_call: unknown, reason: string): Promise<HandOffOutcome> {
    this.asked.push(`fallback:${reason}`);
    return 'on-stream-end';
  }
}

function setup(options: { tools?: (agent: AgentWithDestinations) => ToolRegistry; store?: Store } = {}) {
  const clock = new ManualClock(0);
  const store = options.store ?? SqliteStore.open(':memory:');
  const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'sipper', name: 'SIP', greeting: '' }), destinations: [human] };
  const model = new FakeModelSession();
  const control = new RecordingControl();
  const logger = createLogger('silent');
  let ended = false;
  const session = new SipCallSession({
    callId: CALL,
    agent,
    store,
    logger,
    clock,
    tools: options.tools?.(agent) ?? agentTools(agent, {}),
    model,
    control,
    onEnded: () => {
      ended = true;
    },
  });
  return { clock, store, model, control, logger, session, isEnded: () => ended };
}

/** The model calls a tool in response `resp_fc`, which completes. */
function callTool(model: FakeModelSession, name: string, args: object, callId = `call_${name}`): void {
  model.handlers.responseCreated({ responseId: 'resp_fc' });
  model.handlers.functionCall({ responseId: 'resp_fc', itemId: `fc_${callId}`, callId, name, arguments: JSON.stringify(args) });
  model.handlers.responseDone({ responseId: 'resp_fc', status: 'completed' });
}

/** The response that speaks the agent's last words, through to response.done (OpenAI's playout goes on). */
function speakGoodbye(model: FakeModelSession): void {
  model.handlers.responseCreated({ responseId: 'resp_bye' });
  model.handlers.transcriptDone({ responseId: 'resp_bye', itemId: 'item_bye', transcript: 'Goodbye.' });
  model.handlers.responseDone({ responseId: 'resp_bye', status: 'completed' });
}

const events = async (store: Store, type: string) => (await store.events.list(CALL)).filter((e) => e.type === type).map((e) => e.data);

describe('SipCallSession on a manual clock', () => {
  it('hangs up only once OpenAI says its playout stopped, after the response that speaks the goodbye', async () => {
    const { model, control, clock, store, isEnded } = setup();
    model.becomeReady();
    await settleIo();
    callTool(model, 'hang_up', { reason: 'done' });
    await settleIo();
    expect(model.of('response.create')).toHaveLength(1); // the tool's output, then one response
    model.handlers.trace('output_audio_buffer.stopped', {}); // the playout of words said before the tool call
    speakGoodbye(model);
    clock.advance(HANDOFF_MAX_WAIT_MS - 1);
    await settleIo();
    expect(control.asked).toEqual([]); // response done, but the caller is still hearing it
    model.handlers.trace('output_audio_buffer.stopped', {});
    await settleIo();
    expect(control.asked).toEqual(['hangup']);
    expect(isEnded()).toBe(true);
    expect(model.closed).toBe(true);
    expect(await store.transcripts.list(CALL)).toEqual([expect.objectContaining({ role: 'agent', text: 'Goodbye.' })]);
    expect(await events(store, 'bridge.handed-off')).toEqual([expect.objectContaining({ action: 'hangup', why: 'the agent finished speaking' })]);
  });

  it('a goodbye the caller cuts off (OpenAI clears its buffer) hands off then, without waiting for the bound', async () => {
    const { model, control } = setup();
    model.becomeReady();
    await settleIo();
    callTool(model, 'hang_up', { reason: 'done' });
    await settleIo();
    speakGoodbye(model);
    await settleIo();
    expect(control.asked).toEqual([]);
    model.handlers.trace('output_audio_buffer.cleared', {});
    await settleIo();
    expect(control.asked).toEqual(['hangup']);
  });

  it('a goodbye whose playout never reports stopping holds the hand-off at most HANDOFF_MAX_WAIT_MS from the request', async () => {
    const { model, control, clock, store } = setup();
    model.becomeReady();
    await settleIo();
    callTool(model, 'transfer_call', { destination: 'human', reason: 'billing', summary: 'Refund.' });
    await settleIo();
    speakGoodbye(model);
    clock.advance(HANDOFF_MAX_WAIT_MS - 1);
    await settleIo();
    expect(control.asked).toEqual([]);
    clock.advance(1);
    await settleIo();
    expect(control.asked).toEqual(['transfer:human']);
    expect(await events(store, 'bridge.handed-off')).toEqual([expect.objectContaining({ action: 'transfer', why: 'timed out waiting for the agent to finish speaking' })]);
    clock.advance(HANDOFF_MAX_WAIT_MS * 2);
    await settleIo();
    expect(control.asked).toEqual(['transfer:human']); // once
  });

  it('a refused transfer keeps the caller with the agent, tells it why, and a later hang-up still works', async () => {
    const { model, control, clock, isEnded } = setup();
    control.outcome = { refused: 'SIP 405 Method Not Allowed' };
    model.becomeReady();
    await settleIo();
    callTool(model, 'transfer_call', { destination: 'human', reason: 'billing', summary: 'Refund.' });
    await settleIo();
    speakGoodbye(model);
    model.handlers.trace('output_audio_buffer.stopped', {});
    await settleIo();
    expect(control.asked).toEqual(['transfer:human']);
    expect(isEnded()).toBe(false);
    expect(model.of('conversation.item.create').at(-1)).toMatchObject({ role: 'system', text: expect.stringMatching(/transfer to human failed \(SIP 405 Method Not Allowed\)/) });
    expect(model.of('response.create')).toHaveLength(2);
    control.outcome = 'done';
    callTool(model, 'hang_up', { reason: 'caller is done' }, 'call_2');
    await settleIo();
    clock.advance(HANDOFF_MAX_WAIT_MS);
    await settleIo();
    expect(control.asked).toEqual(['transfer:human', 'hangup']);
  });

  it('a sideband that cannot open sends the call to its fallback through the control, once, and ends', async () => {
    const { model, control, store, isEnded } = setup();
    model.failToOpen('upgrade refused (403)');
    await settleIo();
    expect(control.asked).toEqual(['fallback:sideband failed: upgrade refused (403)']);
    expect(isEnded()).toBe(true);
    expect(model.closed).toBe(true);
    expect(await events(store, 'model.failed')).toEqual([{ reason: 'sideband failed: upgrade refused (403)' }]);
  });

  it("runs a response's tool calls in parallel, answers with one response.create, and aborts them when the call ends", async () => {
    const started: string[] = [];
    const release: (() => void)[] = [];
    let aborted: AbortSignal | undefined;
    const tools = () =>
      new ToolRegistry()
        .register({
          name: 'slow_lookup',
          description: 'waits for the test',
          parameters: z.object({ n: z.number() }),
          run: (args, ctx) => {
            started.push(`lookup ${args.n}`);
            aborted = ctx.signal;
            return new Promise((resolve) => release.push(() => resolve({ n: args.n })));
          },
        })
        .register({
          name: 'hang_forever',
          description: 'never returns until the call ends',
          parameters: z.object({}),
          run: (_args, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))),
        });
    const { model, session } = setup({ tools });
    model.becomeReady();
    await settleIo();
    model.handlers.responseCreated({ responseId: 'resp_2' });
    model.handlers.functionCall({ responseId: 'resp_2', itemId: 'fc_a', callId: 'call_a', name: 'slow_lookup', arguments: '{"n":1}' });
    model.handlers.functionCall({ responseId: 'resp_2', itemId: 'fc_b', callId: 'call_b', name: 'slow_lookup', arguments: '{"n":2}' });
    model.handlers.responseDone({ responseId: 'resp_2', status: 'completed' });
    await settleIo();
    expect(started).toEqual(['lookup 1', 'lookup 2']); // both running before either is done
    release[1]!();
    await settleIo();
    expect(model.of('function_call_output')).toEqual([]); // every output together
    release[0]!();
    await settleIo();
    expect(model.of('function_call_output').map((o) => o.callId)).toEqual(['call_a', 'call_b']);
    expect(model.of('response.create')).toHaveLength(1);

    model.handlers.responseCreated({ responseId: 'resp_3' });
    model.handlers.functionCall({ responseId: 'resp_3', itemId: 'fc_c', callId: 'call_c', name: 'hang_forever', arguments: '{}' });
    model.handlers.responseDone({ responseId: 'resp_3', status: 'completed' });
    await settleIo();
    expect(aborted?.aborted).toBe(false);
    session.end('caller hung up');
    expect(aborted?.aborted).toBe(true);
    await settleIo();
    expect(model.of('response.create')).toHaveLength(1); // nothing is sent to a closed sideband
  });

  it('a store that refuses writes is logged for every failure and counted on bridge.ended, never swallowed', async () => {
    const real = SqliteStore.open(':memory:');
    const store: Store = Object.assign(Object.create(real) as Store, { transcripts: { ...real.transcripts, append: () => Promise.reject(new Error('disk I/O error')) } });
    const t = setup({ store });
    const logged = jest.spyOn(t.logger, 'error');
    t.model.becomeReady();
    await settleIo();
    t.model.handlers.callerTranscript({ itemId: 'user_1', transcript: 'Hello?' });
    await settleIo();
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ callId: CALL, err: 'disk I/O error', storeFailures: 1 }), 'could not write to the store');
    t.session.end('caller hung up');
    await settleIo();
    expect(await real.events.list(CALL)).toContainEqual(expect.objectContaining({ type: 'bridge.ended', data: { reason: 'caller hung up', storeFailures: 1 } }));
  });
});
