import { LiveCalls, type LocalCalls } from '../../src/cluster/live-calls';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';

/** One instance's live sessions, as a set of call ids, and what was done to them. */
class Sessions implements LocalCalls {
  readonly held = new Set<string>();
  readonly done: string[] = [];
  private act(what: string, callId: string): boolean {
    if (!this.held.has(callId)) return false;
    this.done.push(`${what} ${callId}`);
    return true;
  }
  callEnded(callId: string, cause: string | undefined): boolean {
    return this.act(`ended(${cause ?? ''})`, callId);
  }
  streamRejected(callId: string): boolean {
    return this.act('rejected', callId);
  }
  callerKeyPress(callId: string, digit: string): boolean {
    return this.act(`key ${digit}`, callId);
  }
  answeredByMachine(callId: string, plan: { kind: string }): boolean {
    return this.act(`machine ${plan.kind}`, callId);
  }
}

/** Lets the bus deliver (it delivers on a later turn, as a real one would). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('per-call actions reach the instance holding the call (src/cluster/live-calls.ts)', () => {
  let store: Store;
  let a: { live: LiveCalls; sessions: Sessions };
  let b: { live: LiveCalls; sessions: Sessions };
  const logger = createLogger('silent');

  beforeEach(() => {
    store = SqliteStore.open(':memory:');
    const instance = (instanceId: string) => {
      const sessions = new Sessions();
      const live = new LiveCalls({ store, instanceId, local: sessions, logger });
      live.start();
      return { live, sessions };
    };
    a = instance('a');
    b = instance('b');
  });
  afterEach(async () => {
    a.live.stop();
    b.live.stop();
    await store.close();
  });

  it('an action for a call held here is done here; one held elsewhere goes to its owner only', async () => {
    a.sessions.held.add('c-here');
    expect(await a.live.callerKeyPress('c-here', '1')).toBe(true);
    b.sessions.held.add('c-there');
    await store.calls.record({ id: 'c-there', state: 'streaming', mediaOwner: 'b' });
    expect(await a.live.callerKeyPress('c-there', '#')).toBe(true);
    await settle();
    expect(a.sessions.done).toEqual(['key 1 c-here']);
    expect(b.sessions.done).toEqual(['key # c-there']);
    expect([a.live.forwarded, b.live.received]).toEqual([1, 1]);
  });

  it('with no owner recorded, a key press reaches nobody, while the end of the call asks every instance', async () => {
    b.sessions.held.add('c-warming'); // pre-warmed on b, its stream not attached yet
    await store.calls.record({ id: 'c-warming', state: 'streaming' });
    expect(await a.live.callerKeyPress('c-warming', '5')).toBe(false);
    a.live.callEnded('c-warming', 'hangup');
    a.live.streamRejected('c-warming');
    await settle();
    await settle();
    expect(b.sessions.done).toEqual(['ended(hangup) c-warming', 'rejected c-warming']);
    expect(a.sessions.done).toEqual([]);
  });

  it('a call recorded as this instance’s with no session left is not sent anywhere', async () => {
    await store.calls.record({ id: 'c-gone', state: 'streaming', mediaOwner: 'a' });
    expect(await a.live.callerKeyPress('c-gone', '2')).toBe(false);
    expect(a.live.forwarded).toBe(0);
  });

  it('the end of a call reaches its owner even when a stale pre-warm of it was ended here', async () => {
    a.sessions.held.add('c-moved');
    b.sessions.held.add('c-moved');
    await store.calls.record({ id: 'c-moved', state: 'streaming', mediaOwner: 'b' });
    a.live.callEnded('c-moved', undefined);
    await settle();
    await settle();
    expect(a.sessions.done).toEqual(['ended() c-moved']);
    expect(b.sessions.done).toEqual(['ended() c-moved']);
  });

  it('an answering machine on an outbound openai-sip call reaches the instance holding its AI leg', async () => {
    await store.calls.record({ id: 'c-out', state: 'sip-connected', leg: 'caller' });
    await store.calls.record({ id: 'rtc_1', parentCallId: 'c-out', leg: 'ai-sip', state: 'sip-connected', mediaOwner: 'b' });
    b.sessions.held.add('c-out'); // b's sideband session answers for its Bandwidth call
    expect(await a.live.answeredByMachine('c-out', { kind: 'hang-up' })).toBe(true);
    await settle();
    expect(b.sessions.done).toEqual(['machine hang-up c-out']);
  });

  it('refuses a malformed call action at the edge, and leaves other modules’ messages alone', async () => {
    b.sessions.held.add('c-x');
    await store.bus.publish({ to: 'b', from: 'a', kind: 'call.key-press', callId: 'c-x', data: { digit: '55' } });
    await store.bus.publish({ to: 'b', from: 'a', kind: 'call.ended', data: {} });
    await store.bus.publish({ to: 'b', from: 'a', kind: 'console.watch', callId: 'c-x' });
    await settle();
    expect(b.sessions.done).toEqual([]);
    expect(b.live.refused).toBe(2);
    // A message for a call whose session ended meanwhile is counted, not acted on.
    await store.bus.publish({ to: 'b', from: 'a', kind: 'call.key-press', callId: 'c-ended', data: { digit: '5' } });
    await settle();
    expect(b.live.missed).toBe(1);
  });

  it('stops hearing the bus when stopped', async () => {
    b.sessions.held.add('c-y');
    await store.calls.record({ id: 'c-y', state: 'streaming', mediaOwner: 'b' });
    b.live.stop();
    expect(await a.live.callerKeyPress('c-y', '9')).toBe(true); // sent: b's process is the one not listening
    await settle();
    expect(b.sessions.done).toEqual([]);
  });
});
