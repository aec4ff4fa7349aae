import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, waitFor } from '../../src/clock';
import { REPORT_FIRST_RETRY_DELAY_MS, REPORT_GIVE_UP_AFTER_MS, REPORT_RETRY_JITTER, REPORT_SETTLE_MS } from '../../src/constants';
import { createLogger } from '../../src/log';
import { outcomeAtEnd } from '../../src/outcomes';
import { DEFAULT_PRICES } from '../../src/reports/cost';
import { ReportDispatcher } from '../../src/reports/dispatcher';
import { generateWebhookSecret } from '../../src/security/standard-webhooks';
import { SqliteStore } from '../../src/store/sqlite';

describe('ReportDispatcher', () => {
  it('a report the store cannot build waits for the backoff instead of failing at every poll', async () => {
    const store = SqliteStore.open(':memory:');
    const clock = new ManualClock(0, Date.now() + REPORT_SETTLE_MS + 1_000); // the report is due
    try {
      await store.calls.record({ id: 'c-1', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });
      let reads = 0;
      const get = store.calls.get.bind(store.calls);
      store.calls.get = async (id) => {
        reads++;
        if (reads === 1) throw new Error('disk on fire');
        return get(id);
      };
      // Random 0: the full first retry delay, no jitter.
      const dispatcher = new ReportDispatcher({ store, clock, logger: createLogger('silent'), prices: DEFAULT_PRICES, numbers: 'masked', defaultUrl: undefined, secret: generateWebhookSecret(), random: () => 0 });
      await dispatcher.poll();
      await waitIdle(dispatcher);
      const [report] = await store.reports.list({ limit: 1 });
      expect(report).toMatchObject({ status: 'pending', attempts: 0, lastError: 'not sent: disk on fire' });
      expect(Date.parse(report!.nextAttemptAt)).toBe(clock.wallNow() + REPORT_FIRST_RETRY_DELAY_MS);

      await dispatcher.poll();
      await waitIdle(dispatcher);
      expect(reads).toBe(1); // not due yet: not tried again

      clock.advance(REPORT_FIRST_RETRY_DELAY_MS);
      await dispatcher.poll();
      await waitIdle(dispatcher);
      expect(reads).toBe(2);
      expect((await store.reports.list({ limit: 1 }))[0]).toMatchObject({ status: 'skipped' }); // read this time; with no URL configured it is kept as skipped
      await dispatcher.stop();
    } finally {
      await store.close();
    }
  });
});

describe('ReportDispatcher retries', () => {
  let server: http.Server;
  let url: string;
  let hits = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits++;
      req.resume().on('end', () => res.writeHead(503).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));

  /** One ended call's report, and a dispatcher whose wall clock starts `wallOffsetMs` after now. */
  async function setup(wallOffsetMs: number, random: () => number) {
    const store = SqliteStore.open(':memory:');
    await store.calls.record({ id: 'c-1', state: 'completed', cause: 'hangup', outcome: outcomeAtEnd('hangup') });
    const clock = new ManualClock(0, Date.now() + wallOffsetMs);
    const dispatcher = new ReportDispatcher({ store, clock, logger: createLogger('silent'), prices: DEFAULT_PRICES, numbers: 'masked', defaultUrl: url, secret: generateWebhookSecret(), random });
    const attempt = async () => {
      await dispatcher.poll();
      await waitIdle(dispatcher);
      return (await store.reports.list({ limit: 1 }))[0]!;
    };
    return { store, clock, dispatcher, attempt };
  }

  it('backs off exponentially, each delay shortened by the jitter', async () => {
    const { store, clock, dispatcher, attempt } = await setup(REPORT_SETTLE_MS + 1_000, () => 1); // the most jitter
    try {
      const delays: number[] = [];
      for (let n = 1; n <= 4; n++) {
        const report = await attempt();
        expect(report).toMatchObject({ status: 'pending', attempts: n, lastStatus: 503 });
        const delayMs = Date.parse(report.nextAttemptAt) - clock.wallNow();
        delays.push(delayMs);
        clock.advance(delayMs);
      }
      const full = [1, 2, 4, 8].map((k) => k * REPORT_FIRST_RETRY_DELAY_MS);
      expect(delays).toEqual(full.map((ms) => Math.round(ms * (1 - REPORT_RETRY_JITTER))));
      await dispatcher.stop();
    } finally {
      await store.close();
    }
  });

  it('gives up for good a day after the call: at the attempt that would retry past it, or at once when past it already', async () => {
    const late = await setup(REPORT_GIVE_UP_AFTER_MS - 1_000, () => 0);
    try {
      const before = hits;
      expect(await late.attempt()).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 503, lastError: 'gave up after 1 attempts: HTTP 503' });
      expect(hits).toBe(before + 1);
      await late.dispatcher.stop();
    } finally {
      await late.store.close();
    }
    const past = await setup(REPORT_GIVE_UP_AFTER_MS + 1_000, () => 0);
    try {
      const before = hits;
      expect(await past.attempt()).toMatchObject({ status: 'failed', attempts: 0, lastError: expect.stringMatching(/^gave up: not delivered by /) });
      expect(hits).toBe(before); // not sent
      await past.dispatcher.stop();
    } finally {
      await past.store.close();
    }
  });
});

/** Until the dispatcher's attempts are over (real loopback I/O, no clock). */
async function waitIdle(dispatcher: ReportDispatcher): Promise<void> {
  await waitFor(() => dispatcher.busy === 0, 5_000, 'the attempts to end');
}
