import { ManualClock } from '../../src/clock';
import { REPORT_FIRST_RETRY_DELAY_MS, REPORT_SETTLE_MS } from '../../src/constants';
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

async function waitIdle(dispatcher: ReportDispatcher): Promise<void> {
  for (let i = 0; i < 50 && dispatcher.busy > 0; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  expect(dispatcher.busy).toBe(0);
}
