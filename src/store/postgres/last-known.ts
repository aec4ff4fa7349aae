import { StoreStalledError } from '../group-commit';

/**
 * What this instance last read or wrote, per key, for when the database cannot be reached (docs/reliability.md,
 * "the store never stalls live calls"): a callback about a live call on this instance (its leg, its agent, its
 * hand-off) is answered from here rather than failed, while the writes it makes wait in the write queue. Reads go
 * to the database whenever it answers; this is never consulted then, so it is never a stale cache in normal
 * running. Bounded: past `maxEntries` the oldest entries go (insertion order, refreshed on every set).
 */
export class LastKnown<V> {
  private readonly entries = new Map<string, V | null>();

  constructor(private readonly maxEntries: number) {}

  /** Read through `load`; when the database cannot be reached, the last value known for `key`, if any. */
  async read(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    try {
      const value = await load();
      this.set(key, value);
      return value;
    } catch (err) {
      if (err instanceof StoreStalledError && this.entries.has(key)) return this.entries.get(key) ?? undefined;
      throw err;
    }
  }

  get(key: string): V | undefined {
    return this.entries.get(key) ?? undefined;
  }

  /** Remember `value` (undefined: known to be absent). */
  set(key: string, value: V | undefined): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value ?? null);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
