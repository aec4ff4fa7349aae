import type { MetricsSink } from '../../src/metrics/sink';

/** A MetricsSink that keeps every report, in order, as [method, ...arguments]. */
export class RecordingSink implements MetricsSink {
  readonly reports: [keyof MetricsSink, ...unknown[]][] = [];

  of<K extends keyof MetricsSink>(method: K): Parameters<MetricsSink[K]>[] {
    return this.reports.filter((r) => r[0] === method).map((r) => r.slice(1) as Parameters<MetricsSink[K]>);
  }

  firstWord = (...args: Parameters<MetricsSink['firstWord']>) => void this.reports.push(['firstWord', ...args]);
  callback = (...args: Parameters<MetricsSink['callback']>) => void this.reports.push(['callback', ...args]);
  bargeIn = () => void this.reports.push(['bargeIn']);
  truncation = (...args: Parameters<MetricsSink['truncation']>) => void this.reports.push(['truncation', ...args]);
  fallback = (...args: Parameters<MetricsSink['fallback']>) => void this.reports.push(['fallback', ...args]);
  modelError = (...args: Parameters<MetricsSink['modelError']>) => void this.reports.push(['modelError', ...args]);
  modelReconnect = (...args: Parameters<MetricsSink['modelReconnect']>) => void this.reports.push(['modelReconnect', ...args]);
  storeCommit = (...args: Parameters<MetricsSink['storeCommit']>) => void this.reports.push(['storeCommit', ...args]);
  callRefused = (...args: Parameters<MetricsSink['callRefused']>) => void this.reports.push(['callRefused', ...args]);
  callEnded = (...args: Parameters<MetricsSink['callEnded']>) => void this.reports.push(['callEnded', ...args]);
}
