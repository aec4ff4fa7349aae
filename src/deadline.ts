/** What `withinMs` gives when the work did not settle in time. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * `work`'s value, or TIMED_OUT once `ms` has passed (real time: the store's commits and the Calls API run on
 * real sockets and threads, not on the bridge's Clock). The work goes on either way; its timer never keeps
 * the process alive.
 */
export async function withinMs<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
