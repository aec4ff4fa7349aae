import type { MediaStreamSink } from '../../bridge/transports';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import crypto from 'node:crypto';
import type { Clock } from '../../clock';
import { MEDIA_MAX_PAYLOAD_BYTES, MEDIA_TOKEN_TTL_MS, MEDIA_USERNAME } from '../../constants';
import type { Logger } from '../../log';
import { basicAuthMatches } from '../../security/basic-auth';
import type { UrlSigner } from '../../security/signing';
import { rejectUpgrade } from './reject-upgrade';
import { MEDIA_PATH_PREFIX } from '../urls';
import { BandwidthMediaStream } from './stream';
import type { MediaTapFactory } from './media-tap';
import type { SecurityEvents } from '../../security/security-events';
import type { MediaTokensRepository } from '../../store/types';

/**
 * The media socket's front door (DESIGN §4.5): `GET /media/{token}` with
 * `Authorization: Basic` from the stream template's destinationUsername/destinationPassword. The
 * token was minted at `initiate`, names its call, is used once (on any instance sharing the store) and
 * expires within a minute. Every check happens in the HTTP upgrade handler, before a WebSocket exists and
 * before anything is allocated for the call; failures are a plain 401 (Bandwidth reports it as
 * mediaStreamRejected, BW §4.1), or a 503 when the store cannot say whether the token was used.
 */

export class MediaGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MEDIA_MAX_PAYLOAD_BYTES, perMessageDeflate: false });
  rejected = 0;

  constructor(
    private readonly signer: UrlSigner,
    private readonly sink: MediaStreamSink,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly security: SecurityEvents,
    /** Spent tokens, shared by every instance on the store (DESIGN §4.12): a token used on one is refused on all. */
    private readonly tokens: MediaTokensRepository,
    /** Whole-call recording (RECORD_DIR): a frame tap per accepted socket. */
    private readonly tapFor?: MediaTapFactory,
  ) {}

  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own error listener before 'upgrade': without this, a client that resets the
    // connection while we refuse it would crash the process (an unauthenticated denial of service).
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '';
    if (!url.startsWith(`${MEDIA_PATH_PREFIX}/`)) {
      this.security.refused('media', 'upgrade to a path that is not a media socket');
      return rejectUpgrade(socket, 404, 'no WebSocket endpoint here');
    }
    const token = url.slice(MEDIA_PATH_PREFIX.length + 1).split('?')[0] ?? '';
    const refuse = (why: string, callId?: string) => {
      this.rejected++;
      this.security.refused('media', why, callId ? { callId } : {});
      rejectUpgrade(socket, 401, 'unauthorized');
    };
    let callId: string;
    try {
      const data = this.signer.verify(token, 'media', this.clock.wallNow()) as { callId?: unknown };
      if (typeof data?.callId !== 'string') return refuse('token names no call');
      callId = data.callId;
    } catch (err) {
      return refuse((err as Error).message);
    }
    // Credentials before the token is spent: a leaked URL without them cannot burn the call's one use.
    if (!basicAuthMatches(req.headers.authorization, { username: MEDIA_USERNAME, password: this.signer.mediaPassword(callId) })) {
      return refuse(req.headers.authorization ? 'wrong media credentials' : 'no media credentials', callId);
    }
    // Spent on every instance at once; nothing is allocated for the call until the store says this is the first use.
    const expiresAt = new Date(this.clock.wallNow() + MEDIA_TOKEN_TTL_MS).toISOString();
    this.tokens.use(tokenId(token), expiresAt).then(
      (first) => {
        if (!first) return refuse('token already used', callId);
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          this.sink.attach(new BandwidthMediaStream(callId, ws, this.clock, this.logger, this.tapFor?.(callId)));
        });
      },
      (err: Error) => {
        // Never accept a token the store could not spend: it might be a replay. Bandwidth reports the refusal
        // (mediaStreamRejected, BW §4.1) and the call goes to its fallback.
        this.logger.error({ callId, err: err.message }, 'could not check the media token with the store: refusing the stream');
        rejectUpgrade(socket, 503, 'service unavailable');
      },
    );
  }

  close(): void {
    for (const client of this.wss.clients) client.close(1001, 'server shutting down');
    this.wss.close();
  }

}

/** Tokens are kept by digest: the store holds no usable bearer token, and every key has one short length. */
function tokenId(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url');
}
