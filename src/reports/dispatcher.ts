import type { Clock, TimerHandle } from '../clock';
import {
  REPORT_BATCH_SIZE,
  REPORT_ERROR_MAX_CHARS,
  REPORT_FIRST_RETRY_DELAY_MS,
  REPORT_MAX_CONCURRENT,
  REPORT_MAX_RETRY_DELAY_MS,
  REPORT_POLL_INTERVAL_MS,
  REPORT_RETRY_JITTER,
  REPORT_TIMEOUT_MS,
} from '../constants';
import type { Logger } from '../log';
import { signStandardWebhook } from '../security/standard-webhooks';
import type { ReportAttempt, ReportRecord, Store } from '../store/types';
import type { PriceTable } from './cost';
import { buildCallReport, buildCallStarted } from './report';

/**
 * Delivers post-call reports from the store's outbox (docs/architecture.md, post-call reports), in the
 * background: a few at a time, each attempt bounded by a timeout, signed the Standard Webhooks way. A 2xx
 * answer delivers; 410 Gone is the receiver saying it wants no more (Standard Webhooks: stop sending), so
 * the report fails at once; any other answer, a network error or a timeout is tried again later, with
 * exponential backoff and jitter, until the report's give-up time (a day after its call ended, or after a
 * resend), when it fails for good. Nothing here is awaited by a call: a slow or broken endpoint costs
 * sockets and timers, never a call's time. All state is in the outbox: after a restart the pending rows
 * are simply due again.
 */
export interface ReportDispatcherDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  prices: PriceTable;
  numbers: 'masked' | 'full';
  /** REPORT_URL: where reports go unless the call's agent names its own URL. */
  defaultUrl: string | undefined;
  /** The Standard Webhooks signing secret (`whsec_…`). */
  secret: string;
  /** Injected for tests (deterministic jitter); Math.random otherwise. */
  random?: () => number;
  timeoutMs?: number;
  pollIntervalMs?: number;
  maxConcurrent?: number;
}

export class ReportDispatcher {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  private pollTimer: TimerHandle | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly d: ReportDispatcherDeps) {}

  /** Begin: reports left pending by an earlier run are due at once. */
  start(): void {
    this.pollTimer = this.d.clock.setInterval(() => void this.poll(), this.d.pollIntervalMs ?? REPORT_POLL_INTERVAL_MS);
    void this.poll();
  }

  /** Stop polling and abandon attempts under way (their rows stay pending, for the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.d.clock.clear(this.pollTimer);
    for (const abort of this.aborts) abort.abort();
    await this.polling;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Read the outbox and start the attempts due (a resend calls this so it goes out at once). */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** Attempts under way (for tests and shutdown). */
  get busy(): number {
    return this.inFlight.size;
  }

  private async pollOnce(): Promise<void> {
    const free = (this.d.maxConcurrent ?? REPORT_MAX_CONCURRENT) - this.inFlight.size;
    if (free <= 0) return;
    let due: ReportRecord[];
    try {
      due = await this.d.store.reports.due(this.nowIso(), Math.min(REPORT_BATCH_SIZE, free + this.inFlight.size));
    } catch (err) {
      this.d.logger.warn({ err: (err as Error).message }, 'could not read the report outbox');
      return;
    }
    for (const report of due.filter((r) => !this.inFlight.has(r.id)).slice(0, free)) {
      if (this.stopped) return;
      const attempt = this.attempt(report)
        .catch((err: Error) => this.failedUnexpectedly(report, err))
        .catch((err: Error) => this.d.logger.error({ reportId: report.id, callId: report.callId, err: err.message }, 'could not record a report attempt'))
        .finally(() => this.inFlight.delete(report.id));
      this.inFlight.set(report.id, attempt);
    }
  }

  private async attempt(report: ReportRecord): Promise<void> {
    const nowIso = this.nowIso();
    if (nowIso >= report.giveUpAt) return this.settle(report, { status: 'failed', lastStatus: report.lastStatus, lastError: `gave up: not delivered by ${report.giveUpAt} (${report.lastError ?? 'no answer'})`, sent: false });
    const call = await this.d.store.calls.get(report.callId);
    if (!call) return this.settle(report, { status: 'failed', lastStatus: null, lastError: `call ${report.callId} is not in the store`, sent: false });
    const agent = call.agentId ? (await this.d.store.agents.get(call.agentId))?.agent : undefined;
    const url = agent?.report.url ?? this.d.defaultUrl;
    if (!url) return this.settle(report, { status: 'skipped', lastStatus: null, lastError: 'no REPORT_URL (nor a report.url on the agent): nowhere to send it', sent: false });
    let body = report.body;
    if (body === null) {
      const options = { prices: this.d.prices, numbers: this.d.numbers, nowIso };
      const built = report.event === 'call.started' ? await buildCallStarted(this.d.store, report.callId, options) : await buildCallReport(this.d.store, report.callId, options);
      body = JSON.stringify(built);
      await this.d.store.reports.setBody(report.id, body);
    }
    const result = await this.post(url, report.id, body);
    if (result.ok) return this.settle(report, { status: 'delivered', lastStatus: result.status, lastError: null, sent: true });
    if (result.status === 410) return this.settle(report, { status: 'failed', lastStatus: 410, lastError: `the endpoint answered 410 Gone: not retried (${result.error})`, sent: true });
    const attempts = report.attempts + 1;
    const nextMs = this.d.clock.wallNow() + this.retryDelayMs(attempts);
    if (nextMs >= Date.parse(report.giveUpAt)) {
      return this.settle(report, { status: 'failed', lastStatus: result.status, lastError: `gave up after ${attempts} attempts: ${result.error}`, sent: true });
    }
    return this.settle(report, { status: 'pending', lastStatus: result.status, lastError: result.error, nextAttemptAt: new Date(nextMs).toISOString(), sent: true });
  }

  /**
   * The report could not even be built or recorded (the store refused a read or a write): it is tried again
   * after the backoff, like a failed delivery, rather than at every poll.
   */
  private async failedUnexpectedly(report: ReportRecord, err: Error): Promise<void> {
    this.d.logger.error({ reportId: report.id, callId: report.callId, err: err.message }, 'a report attempt failed before reaching the endpoint');
    const nextAttemptAt = new Date(this.d.clock.wallNow() + this.retryDelayMs(report.attempts + 1)).toISOString();
    await this.d.store.reports.attempted(report.id, { status: 'pending', lastStatus: null, lastError: `not sent: ${err.message}`.slice(0, REPORT_ERROR_MAX_CHARS), nextAttemptAt, sent: false }, this.nowIso());
  }

  /** One signed POST, bounded by the timeout (on the injected clock), redirects not followed. */
  private async post(url: string, id: string, body: string): Promise<{ ok: true; status: number } | { ok: false; status: number | null; error: string }> {
    const headers = signStandardWebhook(this.d.secret, id, this.d.clock.wallNow() / 1000, body);
    const abort = new AbortController();
    this.aborts.add(abort);
    const timeoutMs = this.d.timeoutMs ?? REPORT_TIMEOUT_MS;
    const timer = this.d.clock.setTimeout(() => abort.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'Switchboard-Reports/1', ...headers }, body, redirect: 'manual', signal: abort.signal });
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel().catch(() => undefined);
        return { ok: true, status: res.status };
      }
      const text = await readPrefix(res, REPORT_ERROR_MAX_CHARS).catch(() => '');
      return { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
    } catch (err) {
      const reason = abort.signal.aborted ? (abort.signal.reason as Error | undefined)?.message ?? 'aborted' : (err as Error).message;
      return { ok: false, status: null, error: reason.slice(0, REPORT_ERROR_MAX_CHARS) };
    } finally {
      this.d.clock.clear(timer);
      this.aborts.delete(abort);
    }
  }

  /** Doubling from REPORT_FIRST_RETRY_DELAY_MS to the cap, less up to REPORT_RETRY_JITTER of it at random. */
  private retryDelayMs(attempts: number): number {
    const base = Math.min(REPORT_MAX_RETRY_DELAY_MS, REPORT_FIRST_RETRY_DELAY_MS * 2 ** Math.min(30, attempts - 1));
    return Math.round(base * (1 - REPORT_RETRY_JITTER * (this.d.random ?? Math.random)()));
  }

  private async settle(report: ReportRecord, attempt: ReportAttempt): Promise<void> {
    if (this.stopped && attempt.status === 'pending' && attempt.lastStatus === null) return; // aborted by stop(): stays due for the next start
    await this.d.store.reports.attempted(report.id, attempt, this.nowIso());
    const log = { reportId: report.id, callId: report.callId, status: attempt.status, httpStatus: attempt.lastStatus, attempts: report.attempts + (attempt.sent ? 1 : 0) };
    if (attempt.status === 'delivered') this.d.logger.info(log, 'post-call report delivered');
    else if (attempt.status === 'pending') this.d.logger.warn({ ...log, nextAttemptAt: attempt.nextAttemptAt, error: attempt.lastError }, 'post-call report not delivered: will retry');
    else if (attempt.status === 'skipped') this.d.logger.debug(log, 'post-call report skipped: no URL configured');
    else this.d.logger.warn({ ...log, error: attempt.lastError }, 'post-call report failed for good');
  }

  private nowIso(): string {
    return new Date(this.d.clock.wallNow()).toISOString();
  }
}

/** The first `maxChars` of a response body, without reading the rest. */
async function readPrefix(res: Response, maxChars: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.length < maxChars) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel().catch(() => undefined);
  return text.slice(0, maxChars).trim();
}
