import { METRICS_ENDED_CALLS_READ_DELAY_MS } from '../constants';
import type { Logger } from '../log';
import type { Store, StoreChange } from '../store/types';
import type { MetricsSink } from './sink';

/**
 * Counts each call once, with its outcome, when it ends. Outcomes are proposed in many places and settled by
 * the store (src/outcomes.ts, mergeOutcome), so the count reads what the store settled. The store announces
 * every committed call write on its change feed (Store.changes), and says of one write per leg, cluster-wide,
 * that it ended the leg (`ended`: the move into a final state); on PostgreSQL every instance hears every
 * commit, so each counts the ends it committed (`local`) and the sum over instances counts each call once.
 * Later writes to a finished call (late usage or events) do not end it again. A child leg (a transfer's B-leg,
 * an AI SIP leg with its Bandwidth parent) is not a call of its own: its outcome is its parent's.
 *
 * The rows are read a little after their changes, all together: a read waits for the writes submitted before
 * it (read-your-writes), so reading at each change would commit the store's next batch early and split the
 * group commit the live calls' writes share (src/store/group-commit.ts).
 */
export class EndedCallsCounter {
  private readonly changed = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    private readonly sink: MetricsSink,
    private readonly logger: Logger,
    private readonly options: { readDelayMs?: number } = {},
  ) {
    this.unsubscribe = store.changes.subscribe((changes) => this.onChanges(changes));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    clearTimeout(this.timer);
  }

  private onChanges(changes: readonly StoreChange[]): void {
    for (const change of changes) if (change.kind === 'call' && change.ended && change.local) this.changed.add(change.callId);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.reading || this.changed.size === 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reading = this.readChanged().finally(() => {
        this.reading = undefined;
        this.schedule(); // changes that came during the reads
      });
    }, this.options.readDelayMs ?? METRICS_ENDED_CALLS_READ_DELAY_MS);
    this.timer.unref();
  }

  private async readChanged(): Promise<void> {
    const ids = [...this.changed];
    this.changed.clear();
    for (const callId of ids) {
      if (this.stopped) return;
      try {
        const call = await this.store.calls.get(callId);
        if (!call) continue;
        if (call.leg !== 'caller' && call.parentCallId !== null) continue;
        this.sink.callEnded(call.outcome ?? 'none', call.mode ?? 'none');
      } catch (err) {
        this.logger.warn({ callId, err: (err as Error).message }, 'could not read a finished call for the metrics');
      }
    }
  }
}
