import { LocalInstanceBus, LocalMediaTokens } from '../../src/store/local-feeds';
import type { InstanceMessage } from '../../src/store/types';

// How a store announces its commits, on both backends: test/store/contract/instances.test.ts.
describe('the in-process instance bus', () => {
  it('delivers to the addressed instance and to broadcasts, later than the publish call', async () => {
    const bus = new LocalInstanceBus();
    const a: InstanceMessage[] = [];
    const b: InstanceMessage[] = [];
    bus.subscribe('i-a', (m) => a.push(m));
    const stopB = bus.subscribe('i-b', (m) => b.push(m));
    const sent = bus.publish({ to: 'i-b', from: 'i-a', kind: 'hangup', callId: 'c-1' });
    expect(b).toEqual([]);
    await sent;
    await bus.publish({ to: '*', from: 'i-a', kind: 'ping' });
    expect(a.map((m) => m.kind)).toEqual(['ping']);
    expect(b.map((m) => m.kind)).toEqual(['hangup', 'ping']);
    stopB();
    await bus.publish({ to: 'i-b', from: 'i-a', kind: 'hangup' });
    expect(b).toHaveLength(2);
  });
});

describe('in-memory media tokens', () => {
  it('spends a token once, and forgets it after it expires', async () => {
    let now = 1_000;
    const tokens = new LocalMediaTokens(() => now);
    const expiresAt = new Date(61_000).toISOString();
    expect(await tokens.use('t-1', expiresAt)).toBe(true);
    expect(await tokens.use('t-1', expiresAt)).toBe(false);
    expect(await tokens.use('t-2', expiresAt)).toBe(true);
    now = 61_000;
    expect(await tokens.use('t-1', new Date(121_000).toISOString())).toBe(true);
  });
});
