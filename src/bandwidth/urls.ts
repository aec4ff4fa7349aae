import { systemClock, type Clock } from '../clock';
import { CALLBACK_URL_MAX_CHARS, MEDIA_TOKEN_TTL_MS, SIGNED_URL_TTL_MS, TEST_CALL_TOKEN_TTL_MS } from '../constants';
import { SwitchboardError } from '../errors';
import type { TokenPurpose, UrlSigner } from '../security/signing';

/** Routes Bandwidth calls, relative to the callback base (`PUBLIC_BASE_URL/bandwidth/voice`). */
export const VOICE_ROUTES = {
  initiate: 'initiate',
  answer: 'answer',
  status: 'status',
  redirect: 'redirect',
  streamEvents: 'stream-events',
  streamEnded: 'stream-ended',
  transferAnswer: 'transfer-answer',
  transferComplete: 'transfer-complete',
  transferDisconnect: 'transfer-disconnect',
  /** `<StartGather>`'s dtmfUrl: one `dtmf` callback per key the caller presses (bandwidth.yml dtmfCallback). */
  dtmf: 'dtmf',
  /** createCall's machineDetection.callbackUrl (bandwidth.yml machineDetectionCompleteCallback). */
  machineDetection: 'machine-detection',
} as const;
export type VoiceRoute = (typeof VOICE_ROUTES)[keyof typeof VOICE_ROUTES];

export const VOICE_PATH_PREFIX = '/bandwidth/voice';
export const MEDIA_PATH_PREFIX = '/media';
/**
 * The browser test call's media socket (docs/console.md, "Test call"): the same bridge behind a door of its own, whose
 * token has its own purpose and whose upgrade is checked by Origin instead of Basic auth (browsers cannot
 * send an Authorization header on a WebSocket). Tokens are base64url, so no media token is ever `test`.
 */
export const TEST_CALL_PATH_PREFIX = `${MEDIA_PATH_PREFIX}/test`;

/** Builds every URL Switchboard puts into BXML or hands to Bandwidth, signing the ones that carry context. */
export class CallbackUrls {
  /** `PUBLIC_BASE_URL/bandwidth/voice`, which every callback URL and every BXML document starts with. */
  readonly voiceBase: string;

  constructor(
    private readonly publicBaseUrl: string,
    private readonly signer: UrlSigner,
    /** The media token is minted and checked (media/gateway.ts) on this clock's wall time. */
    private readonly clock: Clock = systemClock,
    /**
     * Where this instance's media socket is reached (INSTANCE_PUBLIC_URL, DESIGN §4.12): the stream lands on
     * the instance that pre-warmed its model session, while every callback goes to the shared address.
     */
    private readonly mediaBaseUrl: string = publicBaseUrl,
  ) {
    this.voiceBase = `${publicBaseUrl}${VOICE_PATH_PREFIX}`;
  }

  get base(): string {
    return this.publicBaseUrl;
  }

  voice(route: VoiceRoute): string {
    return bounded(`${this.voiceBase}/${route}`);
  }

  /**
   * A callback URL carrying a sealed token in `?t=` (DESIGN §4.6). The token holds ids only (larger
   * context is stored: callback-contexts.ts), so the URL's length depends on the base URL alone.
   */
  signedVoice(route: VoiceRoute, purpose: TokenPurpose, data: unknown, ttlMs: number = SIGNED_URL_TTL_MS): string {
    return bounded(`${this.voice(route)}?t=${encodeURIComponent(this.signer.sign(purpose, data, ttlMs))}`);
  }

  /** The media socket URL: ws(s) on this instance's public address, with a one-time token in the path (BW §1.8 pattern). */
  media(data: { callId: string; agentId: string }): string {
    const wsBase = this.mediaBaseUrl.replace(/^http/i, 'ws');
    return bounded(`${wsBase}${MEDIA_PATH_PREFIX}/${this.signer.sign('media', data, MEDIA_TOKEN_TTL_MS, this.clock.wallNow())}`);
  }

  /**
   * A browser test call's media socket, minted as `media` is (one-time, bound to its call, short-lived) but
   * for the `test-call` purpose. Returned as the path too: the page opens it on the origin it was served from.
   */
  testCallMedia(data: { callId: string; agentId: string }): { url: string; path: string; expiresAt: string } {
    const nowMs = this.clock.wallNow();
    const path = `${TEST_CALL_PATH_PREFIX}/${this.signer.sign('test-call', data, TEST_CALL_TOKEN_TTL_MS, nowMs)}`;
    return { url: bounded(`${this.publicBaseUrl.replace(/^http/i, 'ws')}${path}`), path, expiresAt: new Date(nowMs + TEST_CALL_TOKEN_TTL_MS).toISOString() };
  }
}

/** Every URL handed to Bandwidth stays within CALLBACK_URL_MAX_CHARS; a longer one is a bug or a too-long PUBLIC_BASE_URL. */
function bounded(url: string): string {
  if (url.length > CALLBACK_URL_MAX_CHARS) {
    throw new SwitchboardError('url_too_long', `callback URL is ${url.length} characters; the limit is ${CALLBACK_URL_MAX_CHARS} (is PUBLIC_BASE_URL very long?)`);
  }
  return url;
}
