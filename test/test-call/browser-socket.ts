import WebSocket from 'ws';
import { ManualClock } from '../../src/clock';
import { FRAME_BYTES, renderMulaw, type AudioSource } from '../../src/sim/bandwidth-audio';

/**
 * What the test-call page does on its media socket (src/console/assets/test-call.js), over a Node `ws` client:
 * Bandwidth's media-stream protocol (BW §4.2–§4.3), `start` first, then 20 ms `media` frames in clock time,
 * `stop` to hang up. It keeps every `playAudio` and `clear` the server sends.
 */
export class BrowserSocket {
  readonly playAudio: Buffer[] = [];
  readonly received: { eventType: string; at: number }[] = [];
  closed: { code: number; reason: string } | undefined;
  private sentBytes = 0;
  private sequenceNumber = 0;
  /** The `start` frame's metadata, repeated on `stop` (BW §4.2). */
  private metadata: unknown;

  private constructor(
    readonly ws: WebSocket,
    private readonly clock: ManualClock,
  ) {
    ws.on('message', (data) => {
      const event = JSON.parse(data.toString()) as { eventType: string; media?: { payload: string } };
      this.received.push({ eventType: event.eventType, at: clock.now() });
      if (event.eventType === 'playAudio' && event.media) this.playAudio.push(Buffer.from(event.media.payload, 'base64'));
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  /** Open `url` with `origin`; resolves the socket, or rejects with the upgrade's HTTP status. */
  static open(url: string, clock: ManualClock, origin: string | undefined): Promise<BrowserSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: origin ? { origin } : {}, perMessageDeflate: false });
      ws.once('open', () => resolve(new BrowserSocket(ws, clock)));
      ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode }));
        ws.terminate();
      });
      ws.once('error', (err) => reject(err));
    });
  }

  start(callId: string): void {
    this.metadata = { accountId: 'browser', callId, streamId: 'browser-stream', streamName: 'test-call', tracks: [{ name: 'inbound', mediaFormat: { encoding: 'PCMU', sampleRate: 8000 } }] };
    this.send({ eventType: 'start', metadata: this.metadata });
  }

  /** Speak `source` (silence after its end) for `ms` of clock time, one 20 ms frame per clock step, as the worklet does. */
  async speak(source: AudioSource, ms: number): Promise<void> {
    for (let done = 0; done < ms; done += 20) {
      this.send({ eventType: 'media', track: 'inbound', sequenceNumber: String(++this.sequenceNumber), payload: renderMulaw(source, this.sentBytes, FRAME_BYTES).toString('base64') });
      this.sentBytes += FRAME_BYTES;
      await this.clock.advanceAsync(20);
    }
  }

  stop(): void {
    this.send({ eventType: 'stop', metadata: this.metadata });
  }

  count(eventType: string): number {
    return this.received.filter((e) => e.eventType === eventType).length;
  }

  private send(event: unknown): void {
    this.ws.send(JSON.stringify(event));
  }
}
