import { OPENAI_WEBHOOK_MAX_SIGNATURES, OPENAI_WEBHOOK_TOLERANCE_S } from '../constants';

/**
 * The Standard Webhooks headers of an OpenAI webhook (OpenAI reference §4.3), checked for shape before any
 * body is read or any HMAC computed. The SDK's verifier computes one HMAC over the whole body for every
 * space-separated signature it is given, so an unauthenticated request with thousands of bogus signatures
 * and a large body would cost seconds of CPU. Here: at most a few signatures, each of the only shape an
 * HMAC-SHA256 signature has (`v1,` and 44 base64 characters), a numeric timestamp inside the tolerance, a
 * short id. What passes is handed to the SDK, which then does at most a few HMACs.
 */
export type WebhookHeaders = Record<string, string | string[] | undefined>;

const V1_SIGNATURE = /^v1,[A-Za-z0-9+/]{43}=$/;
const MAX_ID_CHARS = 256;

export type CheckedWebhookHeaders = { ok: true; headers: Record<string, string> } | { ok: false; message: string };

export function checkWebhookHeaders(headers: WebhookHeaders, nowMs: number): CheckedWebhookHeaders {
  const one = (name: string) => (typeof headers[name] === 'string' ? (headers[name] as string) : undefined);
  const id = one('webhook-id');
  const timestamp = one('webhook-timestamp');
  const signature = one('webhook-signature');
  const missing = [['webhook-id', id], ['webhook-timestamp', timestamp], ['webhook-signature', signature]].filter(([, v]) => !v).map(([n]) => n);
  if (missing.length > 0) return { ok: false, message: `webhook signature headers missing: ${missing.join(', ')}` };
  if (id!.length > MAX_ID_CHARS) return { ok: false, message: `webhook-id is longer than ${MAX_ID_CHARS} characters` };
  if (!/^\d{1,12}$/.test(timestamp!)) return { ok: false, message: 'webhook-timestamp is not a number of seconds' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > OPENAI_WEBHOOK_TOLERANCE_S) return { ok: false, message: 'webhook-timestamp is outside the tolerance (too old or too new)' };
  const parts = signature!.length > OPENAI_WEBHOOK_MAX_SIGNATURES * 48 ? [] : signature!.split(' ').filter((p) => p !== '');
  if (parts.length === 0 || parts.length > OPENAI_WEBHOOK_MAX_SIGNATURES) {
    return { ok: false, message: `webhook-signature must hold 1 to ${OPENAI_WEBHOOK_MAX_SIGNATURES} signatures` };
  }
  const wellFormed = parts.filter((p) => V1_SIGNATURE.test(p));
  if (wellFormed.length === 0) return { ok: false, message: 'webhook-signature holds no v1 HMAC-SHA256 signature' };
  return { ok: true, headers: { 'webhook-id': id!, 'webhook-timestamp': timestamp!, 'webhook-signature': wellFormed.join(' ') } };
}
