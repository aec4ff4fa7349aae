import type { Clock } from '../clock';
import { CONSOLE_SIGN_IN_MAX_FAILURES, CONSOLE_SIGN_IN_TRACKED_CLIENTS, CONSOLE_SIGN_IN_WINDOW_MS } from '../constants';

/**
 * Failed console sign-ins, counted per client address in a fixed window: after `maxFailures` the address
 * is refused (without even comparing the token) until its window has passed. Guessing a 256-bit token is
 * hopeless anyway; this keeps a guessing loop from costing the server more than a refusal.
 */
export class SignInLimiter {
  private readonly failures = new Map<string, { count: number; windowStartMs: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly maxFailures = CONSOLE_SIGN_IN_MAX_FAILURES,
    private readonly windowMs = CONSOLE_SIGN_IN_WINDOW_MS,
    private readonly maxClients = CONSOLE_SIGN_IN_TRACKED_CLIENTS,
  ) {}

  /** Milliseconds until `client` may try again; 0 when it may try now. */
  retryAfterMs(client: string): number {
    const entry = this.current(client);
    if (!entry || entry.count < this.maxFailures) return 0;
    return entry.windowStartMs + this.windowMs - this.clock.now();
  }

  failed(client: string): void {
    const entry = this.current(client);
    if (entry) {
      entry.count++;
      return;
    }
    // Forget the oldest address first when too many are tracked (insertion order is first-failure order).
    while (this.failures.size >= this.maxClients) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(client, { count: 1, windowStartMs: this.clock.now() });
  }

  succeeded(client: string): void {
    this.failures.delete(client);
  }

  private current(client: string) {
    const entry = this.failures.get(client);
    if (entry && this.clock.now() - entry.windowStartMs >= this.windowMs) {
      this.failures.delete(client);
      return undefined;
    }
    return entry;
  }
}
