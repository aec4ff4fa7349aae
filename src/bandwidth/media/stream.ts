import type WebSocket from 'ws';
import type { Clock, TimerHandle } from '../../clock';
import { MEDIA_HEARTBEAT_MS, MEDIA_START_TIMEOUT_MS } from '../../constants';
import type { Logger } from '../../log';
import type { AudioChunk, CallerStream, CallerStreamHandlers, StreamStopReason } from '../../bridge/transports';
import { IngressLimit } from './ingress-limit';
import { CLEAR_MESSAGE, isPcmu, parseInboundFrame, playAudioMessage } from './frames';
import type { MediaFrameTap } from './media-tap';

/**
 * One Bandwidth bidirectional media stream (BW §4), as the bridge's CallerStream. Bandwidth is the
 * WebSocket client; this wraps the server side of that socket after the upgrade was authenticated.
 */
export class BandwidthMediaStream implements CallerStream {
  private handlers: CallerStreamHandlers | undefined;
  private started = false;
  private stopped = false;
  private alive = true;
  private startTimer: TimerHandle | undefined;
  private heartbeat: TimerHandle | undefined;
  private ingress: IngressLimit | undefined;
  garbageFrames = 0;
  sentFrames = 0;
  receivedFrames = 0;

  constructor(
    readonly callId: string,
    private readonly ws: WebSocket,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Whole-call recording (RECORD_DIR): sees every frame both ways. */
    private readonly tap?: MediaFrameTap,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.finish('socket-closed'));
    ws.on('error', (err) => this.logger.warn({ callId, err: err.message }, 'media socket error'));
    ws.on('pong', () => {
      this.alive = true;
    });
    this.startTimer = clock.setTimeout(() => {
      if (!this.started) {
        this.logger.warn({ callId }, 'no start frame on the media socket: closing it');
        this.close('no start frame');
        this.finish('no-start-frame');
      }
    }, MEDIA_START_TIMEOUT_MS);
    this.heartbeat = clock.setInterval(() => {
      if (!this.alive) {
        this.logger.warn({ callId }, 'media socket missed its heartbeat: terminating');
        ws.terminate();
        this.finish('heartbeat-timeout');
        return;
      }
      this.alive = false;
      ws.ping();
    }, MEDIA_HEARTBEAT_MS);
  }

  setHandlers(handlers: CallerStreamHandlers): void {
    this.handlers = handlers;
  }

  /** The stream has stopped (stop frame, close, timeout): a late attach must end at once. */
  get isStopped(): boolean {
    return this.stopped;
  }

  play(chunk: AudioChunk): void {
    if (this.stopped || this.ws.readyState !== this.ws.OPEN) return;
    const text = playAudioMessage(chunk.base64);
    this.ws.send(text);
    this.tap?.sent(text);
    this.sentFrames++;
  }

  clear(): void {
    if (this.stopped || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(CLEAR_MESSAGE);
    this.tap?.sent(CLEAR_MESSAGE);
  }

  close(reason: string): void {
    // RFC 6455 limits a close reason to 123 bytes (ws throws beyond): printable ASCII only, cut short.
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(1000, reason.replace(/[^\x20-\x7e]/g, '').slice(0, 120));
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.receivedFrames++;
    if (isBinary) return this.garbage('binary frame'); // BW §4.1: Bandwidth sends text frames only
    const text = data.toString();
    this.tap?.received(text);
    const frame = parseInboundFrame(text);
    switch (frame.kind) {
      case 'media':
        // tracks="both": only the caller's (inbound) audio feeds the model (BW §2.2).
        if (frame.track !== 'inbound' || !this.started || this.stopped) return;
        if (this.ingress!.admit(frame.chunk.bytes, this.clock.now())) return this.handlers?.audio(frame.chunk);
        return this.tooFast();
      case 'start': {
        if (this.started) return this.garbage('second start frame');
        const tracks = frame.frame.metadata.tracks;
        const bad = tracks.find((t) => !isPcmu(t.mediaFormat?.encoding));
        if (bad) this.logger.warn({ callId: this.callId, encoding: bad.mediaFormat?.encoding }, 'unexpected media encoding; treating as PCMU');
        this.started = true;
        this.ingress = new IngressLimit(this.clock.now());
        this.clock.clear(this.startTimer);
        this.handlers?.start({
          streamId: frame.frame.metadata.streamId ?? '',
          streamName: frame.frame.metadata.streamName ?? '',
          tracks: tracks.map((t) => t.name),
          params: frame.frame.streamParams ?? {},
        });
        return;
      }
      case 'stop':
        this.finish('stop-frame');
        return;
      case 'invalid':
        return this.garbage(frame.reason);
    }
  }

  /** Audio beyond the burst allowance was dropped; a peer that keeps it up loses the socket. */
  private tooFast(): void {
    const limit = this.ingress!;
    if (limit.droppedFrames === 1) this.logger.warn({ callId: this.callId }, 'caller audio arrives faster than real time: dropping the excess');
    if (!limit.flooding) return;
    this.logger.warn({ callId: this.callId, droppedMs: limit.droppedMs, droppedFrames: limit.droppedFrames }, 'caller audio kept arriving faster than real time: closing the media socket');
    this.close('audio faster than real time');
    this.finish('audio-flood');
  }

  /** ms of caller audio dropped for arriving faster than real time. */
  get droppedAudioMs(): number {
    return this.ingress?.droppedMs ?? 0;
  }

  private garbage(reason: string): void {
    this.garbageFrames++;
    // Log the first few and then every 100th: a broken peer must not flood the log.
    if (this.garbageFrames <= 3 || this.garbageFrames % 100 === 0) {
      this.logger.warn({ callId: this.callId, reason, garbageFrames: this.garbageFrames }, 'ignored an invalid media frame');
    }
  }

  /** BW §4.2: a socket that closes without `stop` is a stop. Reported once. */
  private finish(reason: StreamStopReason): void {
    this.clock.clear(this.startTimer);
    this.clock.clear(this.heartbeat);
    if (this.stopped) return;
    this.stopped = true;
    this.handlers?.stop(reason);
  }
}
