import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { agentSchema } from '../../src/agents/agent';
import { ManualClock } from '../../src/clock';
import { REPORT_LEGS_WAIT_MS, REPORT_SETTLE_MS } from '../../src/constants';
import { outcomeAtEnd } from '../../src/outcomes';
import type { CallReport } from '../../src/reports/report';
import { startRealtimeStandIn } from '../../src/sim/realtime-server';
import { SqliteStore } from '../../src/store/sqlite';
import { eventually } from '../helpers/eventually';
import { startTestServer, type TestServer } from '../helpers/server';
import { deliverSipCall } from '../helpers/sip';

const SECRET = `whsec_${Buffer.from('close-out-signing-key-of-some-length').toString('base64')}`;

async function sipAgent(server: TestServer): Promise<void> {
  const base = (await server.app.store.agents.get('default'))!.agent;
  await server.app.store.agents.upsert(agentSchema.parse({ ...base, id: 'sipper', name: 'SIP', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com' } }), 'api');
  await server.app.store.numbers.assign('+19195550100', 'sipper');
}

/** DESIGN §4.12: an instance owns the openai-sip calls whose sideband it holds, and closes them out after a crash. */
describe('openai-sip calls and crashes', () => {
  it('a live openai-sip call is owned by this instance from the accept, and released when its sideband ends', async () => {
    const clock = new ManualClock(0);
    const openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 200 }) });
    const server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, OPENAI_WEBHOOK_SECRET: SECRET }, { clock });
    try {
      await sipAgent(server);
      const sideband = await deliverSipCall(server, openai, SECRET, 'rtc_owned');
      expect((await server.app.store.calls.get('rtc_owned'))?.mediaOwner).toBe(server.app.instanceId);
      sideband.close(1000, 'call ended'); // OpenAI ends the call
      await eventually(async () => (await server.app.store.calls.get('rtc_owned'))?.state === 'completed', 'the leg to end');
      expect(await server.app.store.calls.get('rtc_owned')).toMatchObject({ mediaOwner: null, outcome: 'caller-hung-up' });
    } finally {
      await server.close();
      await openai.close();
    }
  });

  it('the restarted instance closes out the openai-sip legs it held (outcome error, or the Bandwidth call keeps its own), reports each call once, and hangs up what OpenAI still holds', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-sip-crash-'));
    try {
      // What a kill -9 leaves: an OpenAI call of its own and the AI leg of a Bandwidth call whose caller hung up meanwhile.
      const store = SqliteStore.open(path.join(dataDir, 'switchboard.db'));
      await store.calls.record({ id: 'rtc_direct', leg: 'ai-sip', agentId: 'default', mode: 'openai-sip', state: 'sip-connected', mediaOwner: 'i-me' });
      await store.calls.record({ id: 'c-bw', leg: 'caller', agentId: 'default', mode: 'openai-sip', state: 'sip-connected' });
      await store.calls.record({ id: 'rtc_child', leg: 'ai-sip', parentCallId: 'c-bw', agentId: 'default', mode: 'openai-sip', state: 'sip-connected', mediaOwner: 'i-me' });
      await store.calls.record({ id: 'c-bw', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });
      const [waiting] = await store.reports.list({ callId: 'c-bw', limit: 5 });
      expect(Date.parse(waiting!.nextAttemptAt) - Date.parse(waiting!.createdAt)).toBe(REPORT_LEGS_WAIT_MS); // its AI leg is still live
      await store.close();

      // OpenAI still holds the direct call (its sideband died with the old process); the child's call is gone.
      const openai = await startRealtimeStandIn({ clock: new ManualClock(0) });
      openai.incomingSipCall('rtc_direct');
      const server = await startTestServer({ DATA_DIR: dataDir, INSTANCE_ID: 'i-me', OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url });
      try {
        const calls = server.app.store.calls;
        expect(await calls.get('rtc_direct')).toMatchObject({ state: 'completed', cause: 'server-restarted', mediaOwner: null, outcome: 'error' });
        expect(await calls.get('rtc_child')).toMatchObject({ state: 'completed', cause: 'server-restarted', mediaOwner: null });
        expect(await calls.get('c-bw')).toMatchObject({ outcome: 'caller-hung-up' }); // the caller's hang-up stands
        expect((await server.app.store.events.list('rtc_child')).map((e) => e.type)[0]).toBe('call.closed-out');
        expect(await server.app.store.reports.list({ callId: 'rtc_direct', limit: 5 })).toEqual([expect.objectContaining({ event: 'call.ended', status: 'pending' })]);
        // The Bandwidth call's report, enqueued when its caller hung up, is due once its last leg has settled.
        const [report] = await server.app.store.reports.list({ callId: 'c-bw', limit: 5 });
        expect(report!.id).toBe(waiting!.id);
        expect(Date.parse(report!.nextAttemptAt) - Date.parse(report!.updatedAt)).toBe(REPORT_SETTLE_MS);
        // Nobody runs the call OpenAI still holds: it is hung up; the one OpenAI no longer knows had ended.
        const traced = async (id: string) => (await server.app.store.events.list(id)).map((e) => e.type);
        await eventually(async () => (await traced('rtc_direct')).includes('sip.hangup') && (await traced('rtc_child')).includes('sip.hangup-failed'), 'the hang-ups');
        expect(openai.sipCalls.get('rtc_direct')!.state).toBe('ended');
        expect((await server.app.store.events.list('rtc_child')).at(-1)?.data).toMatchObject({ reason: 'the call had already ended', status: 404 });
      } finally {
        await server.close();
        await openai.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a leg whose end never comes', () => {
  let hooks: http.Server;
  const received: string[] = [];
  beforeAll(async () => {
    hooks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => (received.push(body), res.writeHead(200).end()));
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (hooks.closeAllConnections(), hooks.close(() => resolve())));
  });

  it('does not hold back its call’s report for ever: it goes out REPORT_LEGS_WAIT_MS after the call ended, the leg in-progress', async () => {
    const clock = new ManualClock(0);
    const server = await startTestServer({ REPORT_URL: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/` }, { clock });
    try {
      const calls = server.app.store.calls;
      await calls.record({ id: 'c-lost-leg', leg: 'caller', agentId: 'default', mode: 'openai-sip', state: 'sip-connected' });
      await calls.record({ id: 'rtc_lost', leg: 'ai-sip', parentCallId: 'c-lost-leg', agentId: 'default', mode: 'openai-sip', state: 'sip-connected', mediaOwner: 'i-gone' });
      await calls.record({ id: 'c-lost-leg', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });
      const status = async () => (await server.app.store.reports.list({ callId: 'c-lost-leg', limit: 1 }))[0]?.status;

      await clock.advanceAsync(REPORT_LEGS_WAIT_MS - 10_000, 5_000);
      expect(await status()).toBe('pending'); // waiting for the AI leg's end
      expect(received).toEqual([]);
      for (let ms = 0; ms < 30_000 && (await status()) !== 'delivered'; ms += 1_000) await clock.advanceAsync(1_000, 1_000);
      expect(await status()).toBe('delivered');
      const report = JSON.parse(received[0]!) as CallReport;
      expect(report.data.call).toMatchObject({ id: 'c-lost-leg', status: 'ended' });
      expect(report.data.legs).toEqual([expect.objectContaining({ id: 'rtc_lost', state: 'sip-connected', status: 'in-progress', endedAt: null })]);
      await calls.record({ id: 'rtc_lost', state: 'completed', outcome: outcomeAtEnd('hangup') }); // its end, at last: no second report
      expect((await server.app.store.reports.list({ callId: 'c-lost-leg', limit: 5 })).length).toBe(1);
    } finally {
      await server.close();
    }
  });
});
