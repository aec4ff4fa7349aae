import { CallbackUrls, VOICE_ROUTES } from '../../src/bandwidth/urls';
import { loadConfig } from '../../src/config';
import { CALLBACK_URL_MAX_CHARS, PUBLIC_BASE_URL_MAX_CHARS } from '../../src/constants';
import { isSwitchboardError } from '../../src/errors';
import { UrlSigner } from '../../src/security/signing';

/** DESIGN §4.6: every URL handed to Bandwidth stays within CALLBACK_URL_MAX_CHARS. */
describe('callback URL length', () => {
  const signer = new UrlSigner('test-secret');
  const longestIds = { callId: `c-${'f'.repeat(198)}`, agentId: 'a'.repeat(64), ctx: 'x'.repeat(22) };

  it('with the longest base URL the config accepts and the longest ids, every signed URL fits', () => {
    const urls = new CallbackUrls(`https://${'h'.repeat(PUBLIC_BASE_URL_MAX_CHARS - 8)}`, signer);
    for (const route of Object.values(VOICE_ROUTES)) {
      expect(urls.signedVoice(route, 'redirect', longestIds).length).toBeLessThanOrEqual(CALLBACK_URL_MAX_CHARS);
    }
    expect(urls.media({ callId: longestIds.callId, agentId: longestIds.agentId }).length).toBeLessThanOrEqual(CALLBACK_URL_MAX_CHARS);
  });

  it('a URL that would not fit is an error, never sent', () => {
    const urls = new CallbackUrls(`https://${'h'.repeat(1100)}`, signer);
    let err: unknown;
    try {
      urls.voice(VOICE_ROUTES.status);
    } catch (e) {
      err = e;
    }
    expect(isSwitchboardError(err, 'url_too_long')).toBe(true);
  });

  it('PUBLIC_BASE_URL longer than the limit is refused at start, by name', () => {
    expect(() => loadConfig({ PUBLIC_BASE_URL: `https://${'h'.repeat(PUBLIC_BASE_URL_MAX_CHARS)}` }, process.cwd())).toThrow(/PUBLIC_BASE_URL must be at most 400 characters/);
  });
});

/** DESIGN §4.12: the media socket goes to the instance that pre-warmed the call; callbacks to the shared address. */
describe('INSTANCE_PUBLIC_URL', () => {
  const signer = new UrlSigner('test-secret');

  it('names this instance in the media URL only; every callback URL keeps PUBLIC_BASE_URL', () => {
    const urls = new CallbackUrls('https://voice.example.com', signer, undefined, 'https://voice.example.com/instances/a');
    expect(urls.media({ callId: 'c-1', agentId: 'default' })).toMatch(/^wss:\/\/voice\.example\.com\/instances\/a\/media\/[A-Za-z0-9_.-]+$/);
    expect(urls.voice(VOICE_ROUTES.status)).toBe('https://voice.example.com/bandwidth/voice/status');
    expect(urls.signedVoice(VOICE_ROUTES.streamEnded, 'stream-ended', { callId: 'c-1', agentId: 'default' })).toMatch(/^https:\/\/voice\.example\.com\/bandwidth\/voice\/stream-ended\?t=/);
    expect(urls.voiceBase).toBe('https://voice.example.com/bandwidth/voice');
  });

  it('is checked like PUBLIC_BASE_URL: an http(s) URL, trailing slash dropped, bounded, and the problem named', () => {
    expect(loadConfig({ INSTANCE_PUBLIC_URL: 'https://sb-a.internal.example.com:8443/' }, process.cwd()).env.INSTANCE_PUBLIC_URL).toBe('https://sb-a.internal.example.com:8443');
    expect(loadConfig({ INSTANCE_PUBLIC_URL: '' }, process.cwd()).env.INSTANCE_PUBLIC_URL).toBeUndefined();
    expect(() => loadConfig({ INSTANCE_PUBLIC_URL: 'sb-a:8443' }, process.cwd())).toThrow(/INSTANCE_PUBLIC_URL: INSTANCE_PUBLIC_URL must be an http:\/\/ or https:\/\/ URL/);
    expect(() => loadConfig({ INSTANCE_PUBLIC_URL: `https://${'h'.repeat(PUBLIC_BASE_URL_MAX_CHARS)}` }, process.cwd())).toThrow(/INSTANCE_PUBLIC_URL must be at most/);
  });
});
