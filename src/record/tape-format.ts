import path from 'node:path';
import { z } from 'zod';

/**
 * The on-disk format of a whole-call recording (README "Record, replay, and the dev tunnel"). Beside a
 * call's callback scenario `DIR/<call>.json` (scenario.ts) sits a directory `DIR/<call>.call/`:
 *
 *   index.jsonl       line 1: the header; then one entry per line, in the order things happened
 *   caller-in.ulaw    μ-law 8 kHz the caller sent us (Bandwidth `media` frames, inbound track)
 *   caller-echo.ulaw  μ-law of Bandwidth's outbound track, when the stream carries both (`media`, track `outbound`)
 *   caller-out.ulaw   μ-law we sent the caller (`playAudio` payloads)
 *   model-in.raw      audio we appended to OpenAI (`input_audio_buffer.append`, the session's input format)
 *   model-out.raw     audio OpenAI sent us (`response.output_audio.delta`, the session's output format)
 *
 * An entry is `{t, src, dir, type, session?, audio?, event?}`: `t` is ms on the server's clock since the
 * call's first recorded step; `dir` is `in` (to Switchboard) or `out` (from it); audio travels by reference
 * (`audio: {track, offset, bytes}` into a track file), never as base64 in the index; `event` is the rest of
 * the wire message (for `media`/`playAudio`/`append`/`delta`, without its payload).
 */
export const TAPE_FORMAT = 'switchboard-call/1';
export const TAPE_DIR_SUFFIX = '.call';
export const TAPE_INDEX = 'index.jsonl';

export const AUDIO_TRACKS = ['caller-in', 'caller-echo', 'caller-out', 'model-in', 'model-out'] as const;
export type AudioTrack = (typeof AUDIO_TRACKS)[number];

export function trackFile(track: AudioTrack): string {
  return track.startsWith('caller') ? `${track}.ulaw` : `${track}.raw`;
}

export const TAPE_SOURCES = ['callback', 'media', 'realtime', 'openai-webhook', 'openai-rest', 'note'] as const;
export type TapeSource = (typeof TAPE_SOURCES)[number];

export const tapeHeaderSchema = z.strictObject({
  format: z.literal(TAPE_FORMAT),
  callId: z.string().min(1),
  startedAt: z.string(),
  redacted: z.boolean(),
  budgetBytes: z.number().int().positive(),
});
export type TapeHeader = z.infer<typeof tapeHeaderSchema>;

export const audioRefSchema = z.strictObject({
  track: z.enum(AUDIO_TRACKS),
  offset: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
export type AudioRef = z.infer<typeof audioRefSchema>;

export const tapeEntrySchema = z.strictObject({
  t: z.number().nonnegative(),
  src: z.enum(TAPE_SOURCES),
  dir: z.enum(['in', 'out', 'none']),
  type: z.string().min(1),
  /** Realtime sessions of the call, numbered from 1 (a renewal or a hand-off opens another). */
  session: z.number().int().positive().optional(),
  audio: audioRefSchema.optional(),
  event: z.record(z.string(), z.unknown()).optional(),
});
export type TapeEntry = z.infer<typeof tapeEntrySchema>;

/** `DIR/<stem>.json` → `DIR/<stem>.call`. */
export function tapeDirFor(scenarioFile: string): string {
  return path.join(path.dirname(scenarioFile), `${path.basename(scenarioFile, '.json')}${TAPE_DIR_SUFFIX}`);
}

/** The budget-exceeded note: the index says where and why the recording stops. */
export const BUDGET_NOTE = 'budget-exceeded';
