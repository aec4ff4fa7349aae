import type { Store } from '../../src/store/types';

/**
 * One instance's handle on a store shared by several instances in this process (DESIGN §4.12 tests), so that
 * instance can be killed the way a process dies: from `kill()` on, nothing it asks of the store happens (every
 * call returns a promise that never settles, as a dead process's writes never land), and it hears nothing more
 * from the bus or the change feed. The other instances keep the store as it was.
 */
export interface InstanceStore {
  store: Store;
  kill(): void;
}

export function instanceStore(shared: Store): InstanceStore {
  let dead = false;
  const unsubscribers = new Set<() => void>();
  const never = () => new Promise<never>(() => undefined);
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, key) {
        const value = Reflect.get(obj, key, obj) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (key === 'subscribe') {
            if (dead) return () => undefined;
            const unsubscribe = (value as (...a: unknown[]) => () => void).apply(obj, args);
            unsubscribers.add(unsubscribe);
            return () => {
              unsubscribers.delete(unsubscribe);
              unsubscribe();
            };
          }
          if (dead) return never();
          return (value as (...a: unknown[]) => unknown).apply(obj, args);
        };
      },
    });
  const parts = ['calls', 'events', 'transcripts', 'agents', 'destinations', 'numbers', 'contexts', 'handOffs', 'reports', 'mediaTokens', 'changes', 'bus'] as const;
  const store = {
    ...Object.fromEntries(parts.map((part) => [part, wrap(shared[part])])),
    ping: () => (dead ? never() : shared.ping()),
    // The instance that opened nothing closes nothing: the test closes the shared store.
    close: async () => undefined,
  } as unknown as Store;
  return {
    store,
    kill: () => {
      dead = true;
      for (const unsubscribe of [...unsubscribers]) unsubscribe();
      unsubscribers.clear();
    },
  };
}
