import { METRICS_COUNTED_CALLS_KEPT } from '../constants';
import type { Logger } from '../log';
import { FINAL_CALL_STATES, type Store, type StoreChange } from '../store/types';
import type { MetricsSink } from './sink';

/**
 * Counts each call once, with its outcome, when it reaches a final state. Outcomes are proposed in many
 * places and settled by the store (src/outcomes.ts, mergeOutcome), so the count reads what the store settled:
 * the store announces every committed call write on its change feed (Store.changes), and a call whose row is
 * final is counted then. A child leg (a transfer's B-leg, an AI SIP leg with its Bandwidth parent) is not a
 * call of its own: its outcome is its parent's. Later writes to a finished call (late usage or events) find
 * its id among those already counted.
 */
export class EndedCallsCounter {
  private readonly counted = new Map<string, true>();
  /** Calls being read now; true when a change came for one meanwhile (the read may predate it: read again). */
  private readonly reading = new Map<string, boolean>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    private readonly sink: MetricsSink,
    private readonly logger: Logger,
    private readonly keep: number = METRICS_COUNTED_CALLS_KEPT,
  ) {
    this.unsubscribe = store.changes.subscribe((changes) => this.onChanges(changes));
  }

  stop(): void {
    this.unsubscribe();
  }

  private onChanges(changes: readonly StoreChange[]): void {
    for (const change of changes) {
      if (change.kind !== 'call' || this.counted.has(change.callId)) continue;
      if (this.reading.has(change.callId)) this.reading.set(change.callId, true);
      else void this.check(change.callId);
    }
  }

  private async check(callId: string): Promise<void> {
    this.reading.set(callId, false);
    try {
      const call = await this.store.calls.get(callId);
      if (!call || !FINAL_CALL_STATES.includes(call.state) || this.counted.has(callId)) return;
      if (call.leg !== 'caller' && call.parentCallId !== null) return;
      this.remember(callId);
      this.sink.callEnded(call.outcome ?? 'none', call.mode ?? 'none');
    } catch (err) {
      this.logger.warn({ callId, err: (err as Error).message }, 'could not read a finished call for the metrics');
    } finally {
      const again = this.reading.get(callId);
      this.reading.delete(callId);
      if (again && !this.counted.has(callId)) void this.check(callId);
    }
  }

  private remember(callId: string): void {
    this.counted.set(callId, true);
    if (this.counted.size <= this.keep) return;
    // A Map iterates in insertion order: the first key is the call counted longest ago.
    const oldest = this.counted.keys().next().value;
    if (oldest !== undefined) this.counted.delete(oldest);
  }
}
