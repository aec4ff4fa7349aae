import path from 'node:path';
import { z } from 'zod';
import { agentSchema, type AgentWithDestinations } from '../../src/agents/agent';
import { callLimitsSchema } from '../../src/agents/call-limits';
import { Conversation } from '../../src/bridge/conversation';
import { ToolRegistry } from '../../src/bridge/tools';
import type { CallControl, HandOffOutcome } from '../../src/bridge/transports';
import { ManualClock, settleIo } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';
import { FakeModelSession } from '../helpers/fakes';

const CALL = 'c-watchdogs';
const ROOT = path.resolve(__dirname, '../..');
const HUMAN = { id: 'd-human', name: 'human', kind: 'phone', value: '+19195550177', warm: false, callTimeoutS: 30 } as const;

function setup(callLimits: Record<string, unknown>, control: Partial<CallControl> = {}) {
  const clock = new ManualClock(0);
  const store = SqliteStore.open(':memory:');
  const model = new FakeModelSession();
  let playing = false;
  const ended: string[] = [];
  let release: (() => void) | undefined;
  const tools = new ToolRegistry().register({
    name: 'slow_lookup',
    description: 'takes its time',
    parameters: z.object({}),
    run: () => new Promise((resolve) => (release = () => resolve({ ok: true }))),
  });
  const agent: AgentWithDestinations = { ...agentSchema.parse({ id: 'a1', name: 'A1', callLimits }), destinations: [HUMAN] };
  const hangUps: string[] = [];
  const transfers: string[] = [];
  const conversation = new Conversation({
    callId: CALL,
    agent,
    store,
    logger: createLogger('silent'),
    clock,
    tools,
    control: {
      transfer: async (_c, d): Promise<HandOffOutcome> => (transfers.push(d.name), 'done'),
      hangUp: async (_c, reason): Promise<HandOffOutcome> => (hangUps.push(reason), 'done'),
      fallback: async () => 'on-stream-end',
      ...control,
    },
    model: () => model,
    voice: { isPlaying: () => playing, holds: () => false, silence: () => undefined, resume: () => undefined, interrupt: () => undefined, end: (r) => ended.push(r) },
  });
  const lines = () => model.of('response.create').map((e) => /"([^"]+)"/.exec(String(e.instructions ?? ''))?.[1]);
  /** The model speaks one response: created, then done; its audio plays for `playMs` after. */
  const speak = (id: string, playMs = 0) => {
    conversation.responseCreated(id);
    playing = playMs > 0;
    conversation.responseDone({ responseId: id, status: 'completed' });
    if (playMs > 0) {
      clock.advance(playMs);
      playing = false;
      conversation.maybeHandOff(); // the session says the audio was heard
    }
  };
  return { clock, store, model, conversation, lines, speak, hangUps, transfers, ended, release: () => release?.() };
}

describe('the watchdogs in the conversation core', () => {
  it('agent speech and a tool call in flight are not silence; the count starts when both are over', async () => {
    const t = setup({ silence: { promptAfterMs: 5000, hangUpAfterMs: 4000 } });
    t.conversation.start();
    t.clock.advance(2000);
    t.conversation.responseCreated('r1');
    t.conversation.agentAudio('i1', 'r1');
    t.clock.advance(10_000); // a long answer: still speaking
    expect(t.lines()).toEqual([]);
    t.conversation.functionCall({ responseId: 'r1', callId: 'call_1', name: 'slow_lookup', arguments: '{}' });
    t.conversation.responseDone({ responseId: 'r1', status: 'completed' });
    t.clock.advance(20_000); // the tool takes 20 s
    expect(t.lines()).toEqual([]);
    t.release();
    await settleIo();
    // The tool's output goes back with one response.create (no instructions): the agent speaks again.
    expect(t.model.of('response.create')).toHaveLength(1);
    t.speak('r2', 1000);
    t.clock.advance(4999);
    expect(t.lines()).toEqual([undefined]);
    t.clock.advance(1);
    expect(t.lines()).toEqual([undefined, 'Are you still there?']);
    expect((await t.store.events.list(CALL)).map((e) => e.type)).toContain('bridge.silence-prompt');
  });

  it('the goodbye is asked for with the hang-up pending, and the hang-up waits until it was heard', async () => {
    const t = setup({ silence: { promptAfterMs: 5000, hangUpAfterMs: 4000, goodbye: 'Bye now.' } });
    t.conversation.start();
    t.clock.advance(5000);
    t.speak('prompt', 1000);
    t.clock.advance(4000);
    expect(t.lines()).toEqual(['Are you still there?', 'Bye now.']);
    expect(t.hangUps).toEqual([]);
    t.speak('goodbye', 1500);
    await settleIo();
    expect(t.hangUps).toEqual(['no input from the caller']);
    expect(await t.store.calls.get(CALL)).toMatchObject({ outcome: 'no-input', cause: 'agent-hangup' });
  });

  it('disabled: no prompt, however long the silence', () => {
    const t = setup({ silence: { enabled: false } });
    t.conversation.start();
    t.clock.advance(60 * 60_000);
    expect(t.lines()).toEqual([]);
  });

  it('a warning that falls due while the agent is answering waits for the floor, then is said', () => {
    const t = setup({ silence: { enabled: false }, maxDuration: { limitMs: 60_000, warnMs: 10_000, warning: 'One minute left.' } });
    t.conversation.start();
    t.clock.advance(49_000);
    t.conversation.responseCreated('r1');
    t.clock.advance(2000); // the warning falls due at 50 s, mid-response
    expect(t.lines()).toEqual([]);
    t.conversation.responseDone({ responseId: 'r1', status: 'completed' });
    expect(t.lines()).toEqual(['One minute left.']);
  });

  it('a time-limit transfer the carrier refuses ends the call anyway, with time-limit', async () => {
    const t = setup(
      { silence: { enabled: false }, maxDuration: { limitMs: 60_000, warnMs: 0, transferTo: 'human', transferMessage: 'Transferring.', goodbye: 'Bye.' } },
      { transfer: async (): Promise<HandOffOutcome> => ({ refused: 'SIP 405' }) },
    );
    t.conversation.start();
    t.clock.advance(60_000);
    expect(t.lines()).toEqual(['Transferring.']);
    expect(await t.store.calls.get(CALL)).toMatchObject({ outcome: 'time-limit' });
    t.speak('r1', 1000);
    await settleIo();
    expect(t.lines()).toEqual(['Transferring.', 'Bye.']); // not "offer something else": the limit stands
    t.speak('r2', 1000);
    await settleIo();
    expect(t.hangUps).toHaveLength(1);
    expect(await t.store.calls.get(CALL)).toMatchObject({ outcome: 'time-limit' });
  });

  it('a transferTo naming no destination of the agent hangs up at the limit instead', async () => {
    const t = setup({ silence: { enabled: false }, maxDuration: { limitMs: 60_000, warnMs: 0, transferTo: 'nobody', goodbye: 'Bye.' } });
    t.conversation.start();
    t.clock.advance(60_000);
    expect(t.lines()).toEqual(['Bye.']);
    t.speak('r1', 500);
    await settleIo();
    expect(t.transfers).toEqual([]);
    expect(t.hangUps).toHaveLength(1);
    expect(await t.store.calls.get(CALL)).toMatchObject({ outcome: 'time-limit' });
  });

  it('nothing runs before start() or after end()', () => {
    const t = setup({ silence: { promptAfterMs: 5000 }, maxDuration: { limitMs: 60_000, warnMs: 10_000 } });
    t.clock.advance(120_000);
    expect(t.lines()).toEqual([]);
    t.conversation.start();
    t.conversation.end();
    t.clock.advance(120_000);
    expect(t.lines()).toEqual([]);
    expect(t.clock.pendingTimers).toBe(0);
  });
});

describe('call limits configuration', () => {
  const issues = (value: unknown) => {
    const r = callLimitsSchema.safeParse(value);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('defaults keep existing agents valid: silence on, no duration limit', () => {
    expect(agentSchema.parse({ id: 'a', name: 'A' }).callLimits).toMatchObject({ silence: { enabled: true, promptAfterMs: 15_000, hangUpAfterMs: 10_000 }, maxDuration: { warnMs: 60_000 } });
    expect(agentSchema.parse({ id: 'a', name: 'A' }).callLimits.maxDuration.limitMs).toBeUndefined();
  });

  it('names the field of every bad value', () => {
    expect(issues({ silence: { promptAfterMs: 500 } })).toEqual([expect.stringMatching(/^silence\.promptAfterMs: /)]);
    expect(issues({ silence: { prompt: '  ' } })).toEqual([expect.stringMatching(/^silence\.prompt: /)]);
    expect(issues({ maxDuration: { limitMs: 120_000, warnMs: 120_000 } })).toEqual(['maxDuration.warnMs: must be less than limitMs (120000)']);
    expect(issues({ maxDuration: { limitMs: 1000 } })).toContainEqual(expect.stringMatching(/^maxDuration\.limitMs: /));
    expect(issues({ maxDuration: { transferTo: 'Sales Team' } })).toEqual([expect.stringMatching(/^maxDuration\.transferTo: must name one of the agent's destinations/)]);
  });

  it('the default agent takes them from AGENT_* variables, and a bad one is reported with the rest', () => {
    const base = { OPENAI_API_KEY: 'sk-test', DATA_DIR: '/tmp/switchboard-unused' };
    const ok = loadConfig({ ...base, AGENT_SILENCE_PROMPT_AFTER_MS: '8000', AGENT_MAX_CALL_MS: '600000', AGENT_MAX_CALL_TRANSFER_TO: 'human' }, ROOT);
    expect(ok.envAgent.agent.callLimits).toMatchObject({ silence: { enabled: true, promptAfterMs: 8000 }, maxDuration: { limitMs: 600_000, transferTo: 'human' } });
    expect(loadConfig({ ...base, AGENT_SILENCE_WATCHDOG: 'false' }, ROOT).envAgent.agent.callLimits.silence.enabled).toBe(false);
    expect(() => loadConfig({ ...base, AGENT_MAX_CALL_MS: 'soon' }, ROOT)).toThrow(/AGENT_MAX_CALL_MS must be a whole number of milliseconds/);
    expect(() => loadConfig({ ...base, AGENT_MAX_CALL_MS: '60000', AGENT_MAX_CALL_WARN_MS: '60000' }, ROOT)).toThrow(/callLimits\.maxDuration\.warnMs: must be less than limitMs/);
  });
});
