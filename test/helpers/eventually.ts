import { settleIo } from '../../src/clock';
import type { CallEventRecord, Store } from '../../src/store/types';

/** waitFor (src/clock.ts) for a condition that must read the store: polled until true, or throws naming `what`. */
export async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settleIo();
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

/** A call's trace once it holds an event of `type` (store writes are submitted, not awaited, by the bridge). */
export async function traceWith(store: Store, callId: string, type: string): Promise<CallEventRecord[]> {
  let events: CallEventRecord[] = [];
  await eventually(async () => (events = await store.events.list(callId)).some((e) => e.type === type), `a ${type} event for ${callId}`);
  return events;
}
