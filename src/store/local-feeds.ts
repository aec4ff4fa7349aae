import type { ChangedRow, ChangeFeed, InstanceBus, InstanceMessage, MediaTokensRepository, StoreChange } from './types';

/**
 * The in-process versions of the store's cross-instance channels, for a store only one instance can use
 * (SQLite: src/data-dir-lock.ts). A store with several instances (PostgreSQL) carries them between processes.
 */

/** Announces committed changes to this process's listeners; a listener that throws does not stop the others. */
export class LocalChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<(changes: StoreChange[]) => void>();

  subscribe(listener: (changes: StoreChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `local`: committed by this store object (StoreChange); a store shared by several instances passes false for the others' commits. */
  emit(rows: readonly ChangedRow[], local = true): void {
    if (rows.length === 0) return;
    const changes: StoreChange[] = rows.map((row) => ({ ...row, local }));
    for (const listener of [...this.listeners]) {
      try {
        listener(changes);
      } catch {
        // A reader's bug is the reader's; the commit and the other readers are unaffected.
      }
    }
  }

  /**
   * Announce the changes once `committed` settles well; its own outcome is returned untouched. A function is
   * asked after the commit, for changes the write itself found out (which leg it ended).
   */
  after<T>(committed: Promise<T>, rows: ChangedRow[] | (() => ChangedRow[])): Promise<T> {
    committed.then(
      () => this.emit(typeof rows === 'function' ? rows() : rows),
      () => undefined,
    );
    return committed;
  }
}

export class LocalInstanceBus implements InstanceBus {
  private readonly listeners = new Map<(message: InstanceMessage) => void, string>();

  async publish(message: InstanceMessage): Promise<void> {
    // Delivered on a later turn, as a real bus would: a publisher never runs its subscriber's code inline.
    await Promise.resolve();
    this.deliver(message);
  }

  /** Hand a message to the subscribers it is addressed to (a bus across processes calls this as messages arrive). */
  deliver(message: InstanceMessage): void {
    for (const [listener, instanceId] of [...this.listeners]) {
      if (message.to !== '*' && message.to !== instanceId) continue;
      try {
        listener(message);
      } catch {
        // As above: one subscriber's failure is its own.
      }
    }
  }

  subscribe(instanceId: string, listener: (message: InstanceMessage) => void): () => void {
    this.listeners.set(listener, instanceId);
    return () => this.listeners.delete(listener);
  }
}

/** Used media tokens, in memory until they expire: one instance checks them all. */
export class LocalMediaTokens implements MediaTokensRepository {
  private readonly used = new Map<string, number>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  async use(tokenId: string, expiresAt: string): Promise<boolean> {
    const now = this.nowMs();
    for (const [id, until] of this.used) if (until <= now) this.used.delete(id);
    if (this.used.has(tokenId)) return false;
    this.used.set(tokenId, Date.parse(expiresAt));
    return true;
  }
}
