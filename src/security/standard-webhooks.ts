import crypto from 'node:crypto';
import { REPORT_SECRET_BYTES } from '../constants';

/**
 * Standard Webhooks signing, the scheme OpenAI signs its own webhooks with (OpenAI reference §4.3; the
 * openai package's webhooks.verifySignature is a verifier of it): the key is the base64 after `whsec_`
 * (a secret without the prefix is used as UTF-8 bytes, as that verifier does); the signed content is
 * `${id}.${timestamp}.${body}`; HMAC-SHA256, base64, sent as `v1,<signature>`.
 */
export interface StandardWebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function signStandardWebhook(secret: string, id: string, timestampS: number, body: string): StandardWebhookHeaders {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  const timestamp = String(Math.floor(timestampS));
  const signature = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

/** A new signing secret in the Standard Webhooks form: `whsec_` and the base64 of random bytes. */
export function generateWebhookSecret(bytes = REPORT_SECRET_BYTES): string {
  return `whsec_${crypto.randomBytes(bytes).toString('base64')}`;
}

/** A `whsec_` secret whose key is 24 to 64 bytes (the Standard Webhooks range); the message says what is wrong. */
export function webhookSecretProblem(secret: string): string | undefined {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!m) return 'must be whsec_ followed by base64 (the Standard Webhooks form)';
  const bytes = Buffer.from(m[1]!, 'base64').length;
  if (bytes < 24 || bytes > 64) return `must hold a 24 to 64 byte key after whsec_ (this one holds ${bytes})`;
  return undefined;
}
