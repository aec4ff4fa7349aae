import type { Logger } from '../log';

/**
 * Whether the store can write, said loudly (docs/reliability.md): a stall (another process holds the write
 * lock, the disk is full, I/O fails) is logged when it starts and when it ends, and makes readiness fail
 * while it lasts; so does a checkpointer thread that died and has not come back yet.
 */
export class StoreHealth {
  private stalledSinceMs: number | undefined;
  private lastError: string | undefined;
  private checkpointerDown = false;
  stalls = 0;
  checkpointerFailures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  stalled(err: unknown): void {
    this.stalls++;
    this.stalledSinceMs = this.now();
    this.lastError = errorText(err);
    this.logger.error({ err: this.lastError }, 'the store cannot write: calls go on, their writes wait in memory and are retried');
  }

  recovered(stalledMs: number): void {
    this.stalledSinceMs = undefined;
    this.logger.warn({ stalledMs, lastError: this.lastError }, 'the store writes again; the writes that waited are committed');
  }

  checkpointerFailed(err: unknown): void {
    this.checkpointerFailures++;
    this.checkpointerDown = true;
    this.logger.error({ err: errorText(err) }, 'the WAL checkpointer thread stopped: checkpoints run inline until it is restarted');
  }

  checkpointerRestarted(): void {
    this.checkpointerDown = false;
    this.logger.warn('the WAL checkpointer thread was restarted');
  }

  /** Ready to take calls as far as the store goes: writing, and its checkpointer running. */
  get ready(): boolean {
    return this.stalledSinceMs === undefined && !this.checkpointerDown;
  }

  snapshot(): { writable: boolean; stalledForMs: number; lastError: string | undefined; checkpointerRunning: boolean; stalls: number; checkpointerFailures: number } {
    return {
      writable: this.stalledSinceMs === undefined,
      stalledForMs: this.stalledSinceMs === undefined ? 0 : this.now() - this.stalledSinceMs,
      lastError: this.stalledSinceMs === undefined ? undefined : this.lastError,
      checkpointerRunning: !this.checkpointerDown,
      stalls: this.stalls,
      checkpointerFailures: this.checkpointerFailures,
    };
  }
}

function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return [e?.code, e?.message].filter((x) => typeof x === 'string').join(': ') || String(err);
}
