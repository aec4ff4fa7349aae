/**
 * Deterministic ids in the real service's shapes (`sess_…`, `item_…`, `resp_…`, `call_…`, `event_…`; RT §1.5,
 * the GA docs' examples): a prefix and 21 characters. One generator per stand-in, so a run is reproducible.
 */
export class IdGenerator {
  private readonly counters = new Map<string, number>();

  next(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}_Sim${n.toString(36).padStart(18, '0')}`;
  }
}
