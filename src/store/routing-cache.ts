import type { StoredAgent } from './types';

/**
 * What every call's routing reads — agents (settings validated, destinations joined) and number
 * assignments — kept in memory, because reading and re-validating them from SQLite cost more than the
 * rest of a callback's store work together.
 *
 * Two ways a cached answer goes stale, two invalidations:
 * - this process writes agents, destinations or numbers: the store (their only writer here) calls clear()
 *   after every such write;
 * - another process writes the same database file (the CLI without --url opens the data directory
 *   itself): SQLite's `data_version` changes for this connection, and the next lookup starts afresh.
 *
 * Misses are cached too (an unassigned number is the common case), so the maps are bounded: ids come from
 * callbacks (a SIP `uui` or URI parameter), and a caller must not be able to grow them without limit.
 * Values are frozen: every call shares them.
 */
export class RoutingCache {
  private readonly agents = new Map<string, StoredAgent | null>();
  private readonly numbers = new Map<string, string | null>();
  private dataVersion: number;

  constructor(
    /** SQLite's `PRAGMA data_version` for the store's connection. */
    private readonly readDataVersion: () => number,
    private readonly maxEntries: number,
  ) {
    this.dataVersion = readDataVersion();
  }

  agent(id: string, load: (id: string) => StoredAgent | undefined): StoredAgent | undefined {
    return this.lookup(this.agents, id, (key) => {
      const stored = load(key);
      return stored ? deepFreeze(stored) : undefined;
    });
  }

  agentIdFor(number: string, load: (number: string) => string | undefined): string | undefined {
    return this.lookup(this.numbers, number, load);
  }

  /** Forget everything: after any write to agents, destinations or numbers. */
  clear(): void {
    this.agents.clear();
    this.numbers.clear();
  }

  private lookup<V>(map: Map<string, V | null>, key: string, load: (key: string) => V | undefined): V | undefined {
    const version = this.readDataVersion();
    if (version !== this.dataVersion) {
      this.clear();
      this.dataVersion = version;
    }
    const cached = map.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const value = load(key);
    if (map.size >= this.maxEntries) map.clear();
    map.set(key, value ?? null);
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
