/** Typed errors with stable codes: callers switch on `code`, never on message text. */
export type ErrorCode =
  | 'config_invalid'
  | 'template_invalid'
  | 'xml_syntax'
  | 'template_render_failed'
  | 'bxml_too_large'
  | 'url_too_long'
  | 'callback_invalid'
  | 'unauthorized'
  | 'signature_invalid'
  | 'signature_expired'
  | 'callback_refused'
  | 'not_found'
  | 'conflict'
  | 'store_failed'
  | 'model_failed'
  | 'bandwidth_api_failed'
  | 'invalid_request'
  | 'unavailable'
  | 'scenario_invalid'
  | 'recording_invalid';

export class SwitchboardError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'SwitchboardError';
  }
}

export function isSwitchboardError(err: unknown, code?: ErrorCode): err is SwitchboardError {
  return err instanceof SwitchboardError && (code === undefined || err.code === code);
}
