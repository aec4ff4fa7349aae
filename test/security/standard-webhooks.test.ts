import crypto from 'node:crypto';
import { signStandardWebhook } from '../../src/security/standard-webhooks';

/** The report signature checked from the Standard Webhooks spec alone, not from our own verifier. */
describe('Standard Webhooks signatures of post-call reports', () => {
  it('whsec_ secret base64-decoded, `${id}.${timestamp}.${body}`, HMAC-SHA256 base64, "v1," prefix, timestamp in seconds', () => {
    const key = crypto.randomBytes(32);
    const secret = `whsec_${key.toString('base64')}`;
    const body = JSON.stringify({ type: 'call.ended', data: { x: 'é' } });
    const h = signStandardWebhook(secret, 'msg_1', 1_765_000_000.9, body);
    expect(h['webhook-timestamp']).toBe('1765000000');
    const expected = crypto.createHmac('sha256', key).update(Buffer.from(`msg_1.1765000000.${body}`, 'utf8')).digest('base64');
    expect(h['webhook-signature']).toBe(`v1,${expected}`);
  });
});
