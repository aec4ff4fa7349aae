import fs from 'node:fs';
import path from 'node:path';
import { isPcmu, parseInboundFrame, playAudioMessage } from '../../../src/bandwidth/media/frames';
import { FIXTURES_DIR } from '../../helpers/fixtures';

const ws = (name: string) => fs.readFileSync(path.join(FIXTURES_DIR, 'ws', `${name}.json`), 'utf8');

describe('Bandwidth media frames', () => {
  it('parses the reference start frame, with stream params', () => {
    const f = parseInboundFrame(ws('start'));
    expect(f.kind).toBe('start');
    if (f.kind !== 'start') return;
    expect(f.frame.metadata.callId).toBe('c-6f2a91d4-8b3c17e0-4a5d-4c1e-9f7b-2d6e8a0c4b13');
    expect(f.frame.streamParams).toEqual({ callId: 'c-6f2a91d4-8b3c17e0-4a5d-4c1e-9f7b-2d6e8a0c4b13', session: 'k7QpZ2xN4r' });
  });

  it('accepts tracks="both" without streamParams', () => {
    const f = parseInboundFrame(ws('start-tracks-both'));
    expect(f.kind === 'start' && f.frame.metadata.tracks.map((t) => t.name)).toEqual(['inbound', 'outbound']);
  });

  it('media: the fast path and the JSON path agree, whatever the key order', () => {
    const reference = parseInboundFrame(ws('media-inbound'));
    expect(reference).toMatchObject({ kind: 'media', track: 'inbound', chunk: { bytes: 160 } });
    const json = JSON.parse(ws('media-inbound')) as Record<string, string>;
    const eventTypeLast = JSON.stringify({ track: json.track, payload: json.payload, sequenceNumber: json.sequenceNumber, eventType: 'media' });
    expect(parseInboundFrame(eventTypeLast)).toEqual(reference);
    const spaced = JSON.stringify(json, null, 2); // not the compact shape: goes through JSON.parse + zod
    expect(parseInboundFrame(spaced)).toEqual(reference);
    expect(parseInboundFrame(ws('media-outbound'))).toMatchObject({ kind: 'media', track: 'outbound' });
  });

  it('stop, and garbage of every kind, never throw', () => {
    expect(parseInboundFrame(ws('stop'))).toEqual({ kind: 'stop' });
    expect(parseInboundFrame('not json')).toEqual({ kind: 'invalid', reason: 'not JSON' });
    expect(parseInboundFrame('{"eventType":"dtmf"}')).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/unknown eventType/) });
    expect(parseInboundFrame('{"eventType":"media","payload":"%%%"}')).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/base64/) });
    expect(parseInboundFrame('{"eventType":"start"}')).toMatchObject({ kind: 'invalid' });
    expect(parseInboundFrame('null')).toMatchObject({ kind: 'invalid' });
  });

  it('accepts PCMU spelled both ways (BW §4.2)', () => {
    expect(isPcmu('PCMU')).toBe(true);
    expect(isPcmu('audio/PCMU')).toBe(true);
    expect(isPcmu('L16')).toBe(false);
  });

  it('builds playAudio exactly like the reference', () => {
    const reference = JSON.parse(ws('playAudio-pcmu')) as { media: { payload: string } };
    expect(JSON.parse(playAudioMessage(reference.media.payload))).toEqual(reference);
  });
});
