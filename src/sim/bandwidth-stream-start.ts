/**
 * `<StartStream>` as the Bandwidth caller stand-in runs it (BW §2.1, §2.2, §3, §4.1;
 * docs/simulator.md#streams): a duplicate name is rejected, the socket opens after the setup delay,
 * the `start` frame goes first, then mediaStreamStarted; a failed connection is mediaStreamRejected.
 * StartStream does not block: execution moves on once the callback is sent.
 */
import { randomUUID } from 'node:crypto';
import { elementChildren, type XmlElement } from '../bandwidth/bxml/xml';
import { msToMulawBytes } from '../bridge/codec';
import type { StreamInfo } from './bandwidth-call-types';
import type { CallHost } from './bandwidth-call-host';
import { credsOf, methodOf } from './bandwidth-callbacks';
import { callIdPrefix } from './bandwidth-ids';
import { connectMediaSocket } from './bandwidth-media-socket';
import { MediaStream, type StreamEvents } from './bandwidth-media-stream';
import { CallOver } from './bandwidth-run-control';

/** Real-time limit for the media socket's opening handshake when the options give none. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export async function startStream(host: CallHost, verb: XmlElement, docUrl: string, gen: number): Promise<void> {
  const a = verb.attributes;
  const streamParams: Record<string, string> = {};
  for (const p of elementChildren(verb)) if (p.name === 'StreamParam' && p.attributes.name !== undefined) streamParams[p.attributes.name] = p.attributes.value ?? '';
  const idPart = callIdPrefix(host.callId);
  const id = `s-${idPart}-${randomUUID()}`;
  const destination = a.destination ?? '';
  if (!destination) {
    await host.endCall('invalid-bxml', 'invalid-bxml', `<StartStream> without destination (line ${verb.line})`);
    throw new CallOver();
  }
  const tracksAttr = a.tracks ?? 'inbound';
  const tracks: ('inbound' | 'outbound')[] = tracksAttr === 'both' ? ['inbound', 'outbound'] : tracksAttr === 'outbound' ? ['outbound'] : ['inbound'];
  const info: StreamInfo = {
    id,
    name: a.name ?? id,
    destination,
    mode: a.mode === 'bidirectional' ? 'bidirectional' : 'unidirectional',
    tracks,
    streamParams,
    startedAtMs: host.clock.now(),
  };
  const startIso = host.iso();
  const eventUrl = a.streamEventUrl ? new URL(a.streamEventUrl, docUrl) : undefined;
  host.streams.push(info);
  const running = host.live?.open ? host.live : undefined;
  if (running && running.info.name === info.name) {
    // Names are unique among the call's running streams (BW §2.2): rejected, and execution moves on.
    info.endedAtMs = info.startedAtMs;
    info.endedBy = 'duplicate';
    info.cause = 'duplicate';
    info.errorMessage = `A stream with the name ${info.name} already exists`;
    const rejected: StreamEvents = { info, eventUrl, eventMethod: methodOf(a.streamEventMethod), eventAuth: credsOf(verb), startIso };
    await host.mediaHost.streamEvent(rejected, 'mediaStreamRejected', { cause: 'duplicate', errorMessage: info.errorMessage, original: running });
    host.control.checkLive(gen);
    return;
  }
  host.stream = info;
  const metadata = {
    accountId: host.accountId,
    callId: host.callId,
    streamId: id,
    streamName: info.name,
    tracks: tracks.map((name) => ({ name, mediaFormat: { encoding: 'PCMU', sampleRate: 8000 } })),
  };
  const events: StreamEvents = { info, eventUrl, eventMethod: methodOf(a.streamEventMethod), eventAuth: credsOf(verb), startIso };

  // Bandwidth needs a moment between running StartStream and opening the socket; this is what a
  // pre-warmed OpenAI session uses. Clock time, so tests choose it (0 = connect at once).
  const setupMs = host.opts.streamSetupMs ?? 0;
  if (setupMs > 0) await new Promise<void>((resolve) => host.clock.setTimeout(resolve, setupMs));
  const connected = await connectMediaSocket(destination, credsOf(verb, 'destinationUsername', 'destinationPassword'), host.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  if (host.ending) {
    if (connected.ok) connected.ws.terminate();
    throw new CallOver();
  }
  if (!connected.ok) {
    info.endedAtMs = host.clock.now();
    info.endedBy = 'connect-failed';
    info.cause = 'connection-error';
    info.errorMessage = `Unable to connect to ${destination}: ${connected.error}`;
    await host.mediaHost.streamEvent(events, 'mediaStreamRejected', { cause: 'connection-error', errorMessage: info.errorMessage });
    host.control.checkLive(gen);
    return;
  }

  info.startedAtMs = host.clock.now();
  // The caller's audio runs on one timeline across streams: a later stream picks it up where the
  // call is now (whole ms, so frames stay byte-aligned).
  const audioOriginMs = (host.audioOriginMs ??= info.startedAtMs);
  const live = new MediaStream(host.mediaHost, events, host.iso(), connected.ws, msToMulawBytes(Math.max(0, Math.round(info.startedAtMs - audioOriginMs))), metadata);
  host.live = live;
  const start: Record<string, unknown> = { metadata };
  if (Object.keys(streamParams).length > 0) start.streamParams = { ...streamParams };
  host.startFrame = live.sendFrame('start', start); // always the first frame (BW §4.2)
  live.startTicking();
  // (An 'error' after the upgrade is followed by 'close' with 1006; connectMediaSocket keeps an error listener.)
  connected.attach({
    message: (data, isBinary) => live.onMessage(data, isBinary),
    close: (code, reason) => void live.onServerClose(code, reason.toString()),
  });
  await host.mediaHost.streamEvent(live, 'mediaStreamStarted', {});
  host.control.checkLive(gen);
}
