import { settleIo } from '../../src/clock';

/** waitFor (src/clock.ts) for a condition that must read the store: polled until true, or throws naming `what`. */
export async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settleIo();
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}
