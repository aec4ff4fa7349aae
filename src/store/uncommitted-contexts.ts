import { CALLBACK_CONTEXT_SWEEP_INTERVAL_MS } from '../constants';
import type { CallbackContextInput, CallbackContextRecord } from './types';

/**
 * What both backends' callback-context repositories keep in memory (sqlite/contexts.ts, postgres/contexts.ts):
 * contexts submitted and not committed yet, and when expired ones were last swept. While the store cannot
 * write, a callback answered meanwhile (docs/reliability.md, the durability rule) may name a context, and
 * Bandwidth may call back about it before it lands: reads then find it here. Writes need no such help: they
 * run in submission order.
 */
export class UncommittedContexts {
  /** When expired callback contexts were last deleted (ms since the epoch). */
  private sweptAtMs = 0;
  private readonly waiting = new Map<string, CallbackContextRecord>();

  /**
   * A put begins: its time, whether its write also deletes expired contexts, and `track`, which keeps the
   * context answerable until `written` settles and returns it.
   */
  begin(context: CallbackContextInput, options: { ifAbsent?: boolean }): { now: string; sweep: boolean; track(written: Promise<void>): Promise<void> } {
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const sweep = nowMs - this.sweptAtMs >= CALLBACK_CONTEXT_SWEEP_INTERVAL_MS;
    if (sweep) this.sweptAtMs = nowMs;
    const record: CallbackContextRecord = { id: context.id, callId: context.callId, purpose: context.purpose, data: context.data, legCallId: null, createdAt: now, expiresAt: context.expiresAt };
    if (!(options.ifAbsent && this.waiting.has(context.id))) this.waiting.set(context.id, record);
    return {
      now,
      sweep,
      track: (written) => {
        const settled = () => {
          if (this.waiting.get(context.id) === record) this.waiting.delete(context.id);
        };
        written.then(settled, settled);
        return written;
      },
    };
  }

  /** The context `id` while it waits for its commit, expired or not (a reader checks when it answers: `unexpired`). */
  waitingFor(id: string): CallbackContextRecord | undefined {
    return this.waiting.get(id);
  }
}

/** `context` unless it has expired by `nowIso`. */
export function unexpired(context: CallbackContextRecord | undefined, nowIso: string): CallbackContextRecord | undefined {
  return context && context.expiresAt > nowIso ? context : undefined;
}
