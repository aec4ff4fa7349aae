import type { MediaStreamSink } from '../../bridge/transports';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Clock, TimerHandle } from '../../clock';
import { MEDIA_MAX_PAYLOAD_BYTES, MEDIA_TOKEN_TTL_MS, MEDIA_USERNAME } from '../../constants';
import type { Logger } from '../../log';
import { basicAuthMatches } from '../../security/basic-auth';
import type { UrlSigner } from '../../security/signing';
import { rejectUpgrade } from './reject-upgrade';
import { MEDIA_PATH_PREFIX } from '../urls';
import { BandwidthMediaStream } from './stream';
import type { MediaTapFactory } from './media-tap';
import type { SecurityEvents } from '../../security/security-events';

/**
 * The media socket's front door (DESIGN §4.5): `GET /media/{token}` with
 * `Authorization: Basic` from the stream template's destinationUsername/destinationPassword. The
 * token was minted at `initiate`, names its call, is used once and expires within a minute. Every check
 * happens in the HTTP upgrade handler, before a WebSocket exists and before anything is allocated for
 * the call; failures are a plain 401 (Bandwidth reports it as mediaStreamRejected, BW §4.1).
 */

export class MediaGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MEDIA_MAX_PAYLOAD_BYTES, perMessageDeflate: false });
  /** Tokens already used, until they would have expired anyway. Per instance (DESIGN §4.6). */
  private readonly usedTokens = new Map<string, number>();
  private readonly sweeper: TimerHandle;
  rejected = 0;

  constructor(
    private readonly signer: UrlSigner,
    private readonly sink: MediaStreamSink,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly security: SecurityEvents,
    /** Whole-call recording (RECORD_DIR): a frame tap per accepted socket. */
    private readonly tapFor?: MediaTapFactory,
  ) {
    this.sweeper = clock.setInterval(() => this.sweep(), MEDIA_TOKEN_TTL_MS);
  }

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
    if (this.usedTokens.has(token)) return refuse('token already used', callId);
    if (!basicAuthMatches(req.headers.authorization, { username: MEDIA_USERNAME, password: this.signer.mediaPassword(callId) })) {
      return refuse(req.headers.authorization ? 'wrong media credentials' : 'no media credentials', callId);
    }
    this.usedTokens.set(token, this.clock.wallNow() + MEDIA_TOKEN_TTL_MS);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sink.attach(new BandwidthMediaStream(callId, ws, this.clock, this.logger, this.tapFor?.(callId)));
    });
  }

  close(): void {
    this.clock.clear(this.sweeper);
    for (const client of this.wss.clients) client.close(1001, 'server shutting down');
    this.wss.close();
  }

  private sweep(): void {
    const now = this.clock.wallNow();
    for (const [token, expiresAt] of this.usedTokens) if (expiresAt <= now) this.usedTokens.delete(token);
  }
}
