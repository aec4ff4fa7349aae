import type { Clock } from '../clock';
import { SECURITY_LOG_INTERVAL_MS } from '../constants';
import type { Logger } from '../log';

/**
 * Refused authentication, counted and logged as security events (DESIGN §4.5), without letting an
 * unauthenticated flood flood the log: per surface and reason, the first refusal is logged at once and
 * the rest of each SECURITY_LOG_INTERVAL_MS only as a count on the next line. Never the secret: callers
 * pass a reason ("wrong callback credentials"), not what was sent.
 *
 * Bandwidth authenticates challenge-first (BW §1.8): every callback comes once without credentials and
 * gets a 401 with `WWW-Authenticate`. Those challenges are counted, never logged: they are the protocol.
 */
export type SecuritySurface = 'callback' | 'media' | 'test-call' | 'admin-api' | 'openai-webhook' | 'console' | 'metrics';

interface Window {
  startedMs: number;
  suppressed: number;
}

export class SecurityEvents {
  private readonly counts = new Map<string, number>();
  private readonly windows = new Map<string, Window>();
  challenges = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** The expected first, credential-less attempt of a challenge-first client. */
  challenged(): void {
    this.challenges++;
  }

  refused(surface: SecuritySurface, reason: string, context: Record<string, unknown> = {}): void {
    const key = `${surface}\u0000${reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const now = this.clock.now();
    const window = this.windows.get(key);
    if (window && now - window.startedMs < SECURITY_LOG_INTERVAL_MS) {
      window.suppressed++;
      return;
    }
    const suppressed = window?.suppressed ?? 0;
    this.windows.set(key, { startedMs: now, suppressed: 0 });
    this.logger.warn(
      { security: true, surface, reason, total: this.counts.get(key), ...(suppressed > 0 ? { suppressedSinceLastLine: suppressed } : {}), ...context },
      'refused authentication',
    );
  }

  /** Refusals so far by surface and reason (for metrics and tests). */
  snapshot(): { surface: SecuritySurface; reason: string; count: number }[] {
    return [...this.counts].map(([key, count]) => {
      const [surface, reason] = key.split('\u0000') as [SecuritySurface, string];
      return { surface, reason, count };
    });
  }
}
