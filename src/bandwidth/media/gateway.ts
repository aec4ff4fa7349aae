import crypto from 'node:crypto';
import type { MediaStreamSink } from '../../bridge/transports';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Clock } from '../../clock';
import { MEDIA_MAX_PAYLOAD_BYTES, MEDIA_TOKEN_TTL_MS, MEDIA_USERNAME, TEST_CALL_TOKEN_TTL_MS } from '../../constants';
import type { Logger } from '../../log';
import { basicAuthMatches } from '../../security/basic-auth';
import { isOwnOrigin } from '../../security/own-origin';
import type { TokenPurpose, UrlSigner } from '../../security/signing';
import type { MediaTokensRepository } from '../../store/types';
import { rejectUpgrade } from './reject-upgrade';
import { MEDIA_PATH_PREFIX, TEST_CALL_PATH_PREFIX } from '../urls';
import { BandwidthMediaStream } from './stream';
import type { MediaTapFactory } from './media-tap';
import type { SecurityEvents, SecuritySurface } from '../../security/security-events';

/**
 * The media socket's front doors (DESIGN §4.5). Every check happens in the HTTP upgrade handler, before a
 * WebSocket exists and before anything is allocated for the call.
 *
 * - `GET /media/{token}`: Bandwidth's stream, with `Authorization: Basic` from the stream template's
 *   destinationUsername/destinationPassword. The token was minted at `initiate`, names its call and
 *   expires within a minute. Failures are a plain 401 (Bandwidth reports it as mediaStreamRejected, BW §4.1).
 * - `GET /media/test/{token}`: a browser test call (docs/console.md, "Test call"). Browsers cannot put an
 *   Authorization header on a WebSocket, so the token (purpose `test-call`, minted by an authenticated admin
 *   API request) is the credential, and the upgrade must come from the server's own origin: another site's
 *   page cannot open it even with a leaked token.
 *
 * Either token opens one socket once, on every instance at once (Store.mediaTokens), and the socket speaks
 * Bandwidth's media-stream protocol into the same bridge.
 */
export interface MediaGatewayDeps {
  signer: UrlSigner;
  sink: MediaStreamSink;
  clock: Clock;
  logger: Logger;
  security: SecurityEvents;
  /** Spends each token once across the instances sharing the store. */
  tokens: MediaTokensRepository;
  /** Whole-call recording (RECORD_DIR): a frame tap per accepted socket. */
  tapFor?: MediaTapFactory;
  /** The browser test call's door; absent, `/media/test/…` is not served. */
  testCalls?: TestCallDoor;
}

export interface TestCallDoor {
  /** This server's public base URL: its origin is the server's own (the page may also be reached by its Host). */
  publicBaseUrl: string;
  /** A test call's socket was accepted on this instance: its call is a browser's from now on. */
  connected(callId: string): void;
}

interface Door {
  purpose: TokenPurpose;
  surface: SecuritySurface;
  ttlMs: number;
  token: string;
}

export class MediaGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MEDIA_MAX_PAYLOAD_BYTES, perMessageDeflate: false });
  rejected = 0;

  constructor(private readonly deps: MediaGatewayDeps) {}

  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own error listener before 'upgrade': without this, a client that resets the
    // connection while we refuse it would crash the process (an unauthenticated denial of service).
    socket.on('error', () => socket.destroy());
    const door = this.doorFor(req.url ?? '');
    if (!door) {
      this.deps.security.refused('media', 'upgrade to a path that is not a media socket');
      return rejectUpgrade(socket, 404, 'no WebSocket endpoint here');
    }
    const refuse = (why: string, callId?: string, status = 401) => {
      this.rejected++;
      this.deps.security.refused(door.surface, why, callId ? { callId } : {});
      rejectUpgrade(socket, status, status === 403 ? 'forbidden' : 'unauthorized');
    };
    let callId: string;
    try {
      const data = this.deps.signer.verify(door.token, door.purpose, this.deps.clock.wallNow()) as { callId?: unknown };
      if (typeof data?.callId !== 'string') return refuse('token names no call');
      callId = data.callId;
    } catch (err) {
      return refuse((err as Error).message);
    }
    if (door.purpose === 'media') {
      if (!basicAuthMatches(req.headers.authorization, { username: MEDIA_USERNAME, password: this.deps.signer.mediaPassword(callId) })) {
        return refuse(req.headers.authorization ? 'wrong media credentials' : 'no media credentials', callId);
      }
    } else if (!this.sameOrigin(req)) {
      return refuse(req.headers.origin ? 'test call opened from another origin' : 'test call opened without an Origin', callId, 403);
    }
    // Spent only once every other check passed: a refused attempt does not burn the caller's token.
    const expiresAt = new Date(this.deps.clock.wallNow() + door.ttlMs).toISOString();
    this.deps.tokens.use(tokenId(door.token), expiresAt).then(
      (first) => {
        if (!first) return refuse('token already used', callId);
        if (socket.destroyed) return; // the client gave up while the token was being spent
        this.accept(req, socket, head, callId, door);
      },
      (err: Error) => {
        this.deps.logger.error({ callId, err: err.message }, 'could not spend a media token: refusing the socket');
        rejectUpgrade(socket, 503, 'unavailable');
      },
    );
  }

  close(): void {
    for (const client of this.wss.clients) client.close(1001, 'server shutting down');
    this.wss.close();
  }

  private accept(req: http.IncomingMessage, socket: Duplex, head: Buffer, callId: string, door: Door): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (door.purpose === 'test-call') this.deps.testCalls?.connected(callId);
      this.deps.sink.attach(new BandwidthMediaStream(callId, ws, this.deps.clock, this.deps.logger, this.deps.tapFor?.(callId)));
    });
  }

  private doorFor(url: string): Door | undefined {
    const path = url.split('?')[0] ?? '';
    if (this.deps.testCalls && path.startsWith(`${TEST_CALL_PATH_PREFIX}/`)) {
      return { purpose: 'test-call', surface: 'test-call', ttlMs: TEST_CALL_TOKEN_TTL_MS, token: path.slice(TEST_CALL_PATH_PREFIX.length + 1) };
    }
    if (path.startsWith(`${MEDIA_PATH_PREFIX}/`)) return { purpose: 'media', surface: 'media', ttlMs: MEDIA_TOKEN_TTL_MS, token: path.slice(MEDIA_PATH_PREFIX.length + 1) };
    return undefined;
  }

  /** The upgrade carries this server's own Origin (a browser's; RFC 6455 §10.2): see isOwnOrigin. */
  private sameOrigin(req: http.IncomingMessage): boolean {
    const origin = req.headers.origin;
    return origin !== undefined && isOwnOrigin(origin, req.headers.host, this.deps.testCalls!.publicBaseUrl);
  }
}

/**
 * What the store keeps of a spent token: its hash (the token itself is a credential until it expires). Keyed on
 * the string only once `verify` has passed, which accepts the canonical encoding alone, so one sealed token has
 * exactly one id and cannot be spent twice under two spellings.
 */
function tokenId(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url');
}
