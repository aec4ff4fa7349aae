import { SwitchboardError } from '../../errors';

/**
 * A failed Bandwidth REST call, with Bandwidth's error body (BW §5 "Errors": `{type, description, id}`).
 * `status` 409 means the call can no longer be modified (not answered yet, or already ended): callers
 * treat that as an outcome, not a crash.
 */
export class BandwidthApiError extends SwitchboardError {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly type: string,
    readonly description: string,
    readonly bandwidthId: string | null,
    readonly retryAfterS?: number,
  ) {
    super(status === 409 ? 'conflict' : 'bandwidth_api_failed', `Bandwidth ${operation} failed: HTTP ${status} ${type}: ${description}`, {
      status,
      type,
      description,
      bandwidthId,
    });
    this.name = 'BandwidthApiError';
  }

  static fromResponse(operation: string, status: number, body: unknown, retryAfter: string | null | undefined): BandwidthApiError {
    let parsed: { type?: unknown; description?: unknown; id?: unknown } = {};
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        parsed = { description: body.slice(0, 300) };
      }
    } else if (body && typeof body === 'object') {
      parsed = body as typeof parsed;
    }
    const seconds = retryAfter ? Number(retryAfter) : undefined;
    return new BandwidthApiError(
      operation,
      status,
      typeof parsed.type === 'string' ? parsed.type : 'error',
      typeof parsed.description === 'string' ? parsed.description : `HTTP ${status}`,
      typeof parsed.id === 'string' ? parsed.id : null,
      seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined,
    );
  }

  /**
   * Safe to send again: 429 (refused, with Retry-After) and 503 (overloaded: not processed), and a
   * connection that was refused before the request got through. A 500, 502, 504 or a timeout may
   * have been carried out: repeating a createCall would place a second call, repeating a redirect
   * could interrupt a transfer that is already ringing.
   */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503 || this.type === 'connection-refused';
  }
}
