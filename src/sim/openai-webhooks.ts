import crypto from 'node:crypto';
import { signStandardWebhook } from '../security/standard-webhooks';

/**
 * Sign a webhook as OpenAI does (Standard Webhooks, OpenAI reference §4.3): the key is the base64
 * after `whsec_`; the signed content is `${id}.${timestamp}.${body}`; HMAC-SHA256, base64, as `v1,<sig>`.
 */
export function signWebhook(secret: string, body: string, options: { id?: string; timestampS?: number } = {}): Record<string, string> {
  const id = options.id ?? `wh_${crypto.randomBytes(8).toString('hex')}`;
  return { 'content-type': 'application/json', ...signStandardWebhook(secret, id, options.timestampS ?? Math.floor(Date.now() / 1000), body) };
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
