import { z } from 'zod';
import { chunkOf, type AudioChunk } from '../../bridge/transports';

/**
 * Bandwidth media-stream frames (BW §4.2–§4.3). Bandwidth sends `start`, `media`, `stop` as JSON text;
 * key order is not guaranteed (the live capture puts `eventType` last). `media` arrives 50 times a
 * second per track, so it has a fast path that reads `track` and `payload` without JSON.parse; anything
 * that does not look exactly like a plain media frame goes through JSON.parse and zod.
 */
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

const trackSchema = z.looseObject({
  name: z.string(),
  mediaFormat: z.looseObject({ encoding: z.string(), sampleRate: z.union([z.number(), z.string()]).optional() }).optional(),
});

const metadataSchema = z.looseObject({
  accountId: z.string().optional(),
  callId: z.string().optional(),
  streamId: z.string().optional(),
  streamName: z.string().optional(),
  tracks: z.array(trackSchema).default([]),
});

export const startFrameSchema = z.looseObject({
  eventType: z.literal('start'),
  metadata: metadataSchema,
  streamParams: z.record(z.string(), z.string()).optional(),
});

export const mediaFrameSchema = z.looseObject({
  eventType: z.literal('media'),
  track: z.string().default('inbound'),
  // Whole base64 quanta only: anything else decodes to a byte count the sender did not mean.
  payload: z.string().refine((p) => p.length % 4 === 0 && BASE64_BODY.test(p), 'payload must be base64 (whole 4-character groups)'),
  sequenceNumber: z.union([z.string(), z.number()]).optional(),
});

export const stopFrameSchema = z.looseObject({ eventType: z.literal('stop'), metadata: metadataSchema.optional() });

export type StartFrame = z.infer<typeof startFrameSchema>;
export type InboundFrame =
  | { kind: 'start'; frame: StartFrame }
  | { kind: 'media'; track: string; chunk: AudioChunk }
  | { kind: 'stop' }
  | { kind: 'invalid'; reason: string };

/** BW §4.2: the docs table says `audio/PCMU`, the wire and the docs' JSON say `PCMU`; accept both. */
export function isPcmu(encoding: string | undefined): boolean {
  return encoding === undefined || /^(audio\/)?pcmu$/i.test(encoding);
}

/**
 * Fast path: a media frame is `{"eventType":"media","track":"…","payload":"…","sequenceNumber":"…"}` in
 * some key order. Base64 and track names contain no quotes or escapes, so plain string search is exact.
 */
function fastMedia(text: string): InboundFrame | undefined {
  if (text.indexOf('"eventType":"media"') < 0 || text.indexOf('\\') >= 0) return undefined;
  const p = text.indexOf('"payload":"');
  if (p < 0) return undefined;
  const start = p + 11;
  const end = text.indexOf('"', start);
  if (end < 0) return undefined;
  const base64 = text.slice(start, end);
  if (base64.length % 4 !== 0 || !BASE64_BODY.test(base64)) return undefined;
  const t = text.indexOf('"track":"');
  const track = t < 0 ? 'inbound' : text.slice(t + 9, text.indexOf('"', t + 9));
  return { kind: 'media', track, chunk: chunkOf(base64) };
}

export function parseInboundFrame(text: string): InboundFrame {
  const fast = fastMedia(text);
  if (fast) return fast;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  const eventType = (json as { eventType?: unknown } | null)?.eventType;
  switch (eventType) {
    case 'start': {
      const r = startFrameSchema.safeParse(json);
      return r.success ? { kind: 'start', frame: r.data } : { kind: 'invalid', reason: `start: ${r.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}` };
    }
    case 'media': {
      const r = mediaFrameSchema.safeParse(json);
      return r.success
        ? { kind: 'media', track: r.data.track, chunk: chunkOf(r.data.payload) }
        : { kind: 'invalid', reason: `media: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join(', ')}` };
    }
    case 'stop':
      return stopFrameSchema.safeParse(json).success ? { kind: 'stop' } : { kind: 'invalid', reason: 'stop: malformed' };
    default:
      return { kind: 'invalid', reason: `unknown eventType ${JSON.stringify(eventType)}` };
  }
}

/** BW §4.3 playAudio with μ-law; the JSON is assembled by hand (base64 needs no escaping). */
export function playAudioMessage(base64: string): string {
  return `{"eventType":"playAudio","media":{"contentType":"audio/pcmu","payload":"${base64}"}}`;
}

export const CLEAR_MESSAGE = '{"eventType":"clear"}';
