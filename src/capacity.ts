/**
 * MAX_CONCURRENT_CALLS (docs/operations.md, "Capacity"): how many live calls this instance takes. A new call
 * beyond it gets its agent's busy handling and never a share of the live calls' CPU: past the measured
 * capacity (BENCHMARKS.md) every call's audio would degrade, not just the newest one's.
 *
 * Live calls are counted where they are held (the bridge's stream sessions, pre-warming or connected, and
 * the openai-sip sideband sessions), plus admissions granted whose session does not exist yet: an openai-sip
 * call is admitted before OpenAI's accept returns, and two webhooks in that gap must not both take the last
 * place. Only new calls are refused: a caller back from a failed transfer, or a retried initiate of a call
 * already held, is a live call.
 */
export class CallCapacity {
  private reserved = 0;

  constructor(
    readonly maxCalls: number,
    /** Live calls held now (sessions), read at each decision. */
    private readonly held: () => number,
    /** Whether this call is held here already (a retried initiate is not a new call). */
    private readonly holds: (callId: string) => boolean = () => false,
  ) {}

  /** Live calls, counting admissions whose session is still being opened. */
  get live(): number {
    return this.held() + this.reserved;
  }

  /** True while a new call can be taken now (for a call whose session is created in the same turn). */
  hasRoom(): boolean {
    return this.live < this.maxCalls;
  }

  /** A call may have its session: there is room, or it is held here already. */
  admits(callId: string): boolean {
    return this.hasRoom() || this.holds(callId);
  }

  /**
   * Hold a place for a call whose session is created after an await; undefined when there is none. The
   * holder releases it once the session exists (it then counts as held) or once it will not.
   */
  reserve(): { release(): void } | undefined {
    if (!this.hasRoom()) return undefined;
    this.reserved++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.reserved--;
      },
    };
  }
}
