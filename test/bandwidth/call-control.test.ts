import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { agentSchema, type AgentWithDestinations, type TransferDestination } from '../../src/agents/agent';
import { BandwidthCallControl, type BandwidthCallControlDeps } from '../../src/bandwidth/call-control';
import { createLogger } from '../../src/log';
import { SqliteStore } from '../../src/store/sqlite';

const human: TransferDestination = { id: 'h', name: 'human', kind: 'phone', value: '+19195550177', warm: true, callTimeoutS: 30 };
const agentWith = (streamHold: 'stop-stream-wait' | 'pause'): AgentWithDestinations => ({ ...agentSchema.parse({ id: 'a1', name: 'A1', streamHold }), destinations: [human] });

/** A Calls API that always fails, with what a redirect needs around it. */
function failingRest(): NonNullable<BandwidthCallControlDeps['rest']> {
  const refuse = async () => {
    throw new Error('Bandwidth answered HTTP 503');
  };
  return {
    calls: { redirect: refuse, hangUp: refuse },
    contexts: { redirectUrl: async () => 'https://switchboard.test/bandwidth/voice/redirect?t=x' },
    urls: { voice: () => 'https://switchboard.test/bandwidth/voice/stream-ended' },
    credentials: { username: 'u', password: 'p' },
  } as unknown as NonNullable<BandwidthCallControlDeps['rest']>;
}

describe('BandwidthCallControl (docs/architecture.md#hand-off-how-a-call-leaves-the-agent)', () => {
  let dir: string;
  let file: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-control-'));
    file = path.join(dir, 'switchboard.db');
    store = SqliteStore.open(file, { readWaitMs: 20 });
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('while the store cannot write, a hand-off for the stream end is not held up, and /stream-ended can read it', async () => {
    const control = new BandwidthCallControl({ store, logger: createLogger('silent') });
    const other = new Database(file);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      expect(await control.transfer({ callId: 'c-1', agent: agentWith('stop-stream-wait') }, human, 'billing', 'Refund.')).toBe('on-stream-end');
      expect(await store.handOffs.get('c-1')).toEqual({ kind: 'transfer', destination: human, reason: 'billing', summary: 'Refund.' });
      expect(other.prepare('SELECT count(*) AS n FROM hand_off_intents').get()).toEqual({ n: 0 }); // not committed yet
    } finally {
      other.prepare('COMMIT').run();
      other.close();
    }
    await store.events.list('c-1'); // the queued writes land
    expect(await store.handOffs.get('c-1')).toMatchObject({ kind: 'transfer' });
  });

  it('a Pause-held call is never handed to the stream end: nothing follows a <Pause>, so the agent keeps the caller', async () => {
    for (const rest of [undefined, failingRest()]) {
      const control = new BandwidthCallControl({ store, logger: createLogger('silent'), rest });
      const call = { callId: rest ? 'c-pause-api-down' : 'c-pause-no-api', agent: agentWith('pause') };
      expect(await control.transfer(call, human, 'billing', 'Refund.')).toEqual({ refused: expect.stringMatching(/could not be moved on/) });
      expect(await control.hangUp(call, 'goodbye')).toEqual({ refused: expect.stringMatching(/could not be moved on/) });
      expect(await store.handOffs.get(call.callId)).toBeUndefined();
    }
    // The StopStream-wait template: the stream's end does it.
    const control = new BandwidthCallControl({ store, logger: createLogger('silent'), rest: failingRest() });
    expect(await control.transfer({ callId: 'c-wait', agent: agentWith('stop-stream-wait') }, human, 'billing', 'Refund.')).toBe('on-stream-end');
    expect((await store.events.list('c-wait')).map((e) => e.type)).toEqual(['bridge.control-failed']);
  });
});
