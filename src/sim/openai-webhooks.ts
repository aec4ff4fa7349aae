import crypto from 'node:crypto';

/**
 * Sign a webhook as OpenAI does (Standard Webhooks, OpenAI reference §4.3): the key is the base64
 * after `whsec_`; the signed content is `${id}.${timestamp}.${body}`; HMAC-SHA256, base64, as `v1,<sig>`.
 */
export function signWebhook(secret: string, body: string, options: { id?: string; timestampS?: number } = {}): Record<string, string> {
  const id = options.id ?? `wh_${crypto.randomBytes(8).toString('hex')}`;
  const timestamp = String(options.timestampS ?? Math.floor(Date.now() / 1000));
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  const signature = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

/** A `realtime.call.incoming` event as OpenAI sends it (OpenAI reference §4.2). */
export function callIncomingEvent(callId: string, sipHeaders: { name: string; value: string }[]): Record<string, unknown> {
  return {
    object: 'event',
    id: `evt_${crypto.randomBytes(6).toString('hex')}`,
    type: 'realtime.call.incoming',
    created_at: Math.floor(Date.now() / 1000),
    data: { call_id: callId, sip_headers: sipHeaders },
  };
}
