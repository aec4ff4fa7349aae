import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { SwitchboardError } from '../errors';
import { readScenario, type Scenario } from './scenario';
import { AUDIO_TRACKS, BUDGET_NOTE, TAPE_DIR_SUFFIX, TAPE_INDEX, tapeDirFor, tapeEntrySchema, tapeHeaderSchema, trackFile, type AudioRef, type AudioTrack, type TapeEntry, type TapeHeader } from './tape-format';

/**
 * Reads a whole-call recording (tape-format.ts) for `replay --media`, refusing anything truncated, edited
 * or foreign with an error that names the file, the line (step) and the field.
 */
export class RecordingError extends SwitchboardError {
  constructor(message: string) {
    super('recording_invalid', message);
    this.name = 'RecordingError';
  }
}

export interface WholeCall {
  /** The callback scenario (`DIR/<call>.json`). */
  scenarioFile: string;
  steps: Scenario;
  header: TapeHeader;
  entries: TapeEntry[];
  /** The bytes an entry's `audio` names. */
  audio(ref: AudioRef): Buffer;
  /** A whole track. */
  track(track: AudioTrack): Buffer;
}

/** `FILE.json`, `FILE.call/` or `FILE.call/index.jsonl` → the recording. */
export function readWholeCall(target: string): WholeCall {
  const resolved = path.resolve(target);
  const dir = resolved.endsWith(TAPE_INDEX) ? path.dirname(resolved) : resolved.endsWith(TAPE_DIR_SUFFIX) ? resolved : tapeDirFor(resolved);
  const scenarioFile = `${dir.slice(0, -TAPE_DIR_SUFFIX.length)}.json`;
  if (!fs.existsSync(scenarioFile)) throw new RecordingError(`${path.basename(scenarioFile)}: no callback scenario beside ${path.basename(dir)}/ (a whole-call recording is DIR/<call>.json plus DIR/<call>.call/)`);
  const indexFile = path.join(dir, TAPE_INDEX);
  if (!fs.existsSync(indexFile)) throw new RecordingError(`${path.basename(scenarioFile)} has no whole-call recording: ${path.relative(process.cwd(), indexFile)} is missing (record with RECORD_DIR or serve --record)`);
  let steps: Scenario;
  try {
    steps = readScenario(scenarioFile);
  } catch (err) {
    throw new RecordingError((err as Error).message);
  }
  const where = `${path.basename(dir)}/${TAPE_INDEX}`;
  const lines = fs.readFileSync(indexFile, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else throw new RecordingError(`${where} line ${lines.length}: the file ends mid-line (truncated)`);
  const header = parseLine(lines[0], 1, where, tapeHeaderSchema, 'header');
  const trackSizes = new Map<AudioTrack, number>(AUDIO_TRACKS.map((t) => [t, fileSize(path.join(dir, trackFile(t)))]));
  const entries: TapeEntry[] = [];
  let lastT = 0;
  for (let i = 1; i < lines.length; i++) {
    const entry = parseLine(lines[i], i + 1, where, tapeEntrySchema, 'entry');
    if (entry.t < lastT) throw new RecordingError(`${where} line ${i + 1} (${entry.type}): field t: ${entry.t} is earlier than the line before (${lastT}); entries are in time order`);
    lastT = entry.t;
    if (entry.audio && entry.audio.offset + entry.audio.bytes > trackSizes.get(entry.audio.track)!) {
      throw new RecordingError(`${where} line ${i + 1} (${entry.type}): field audio: bytes ${entry.audio.offset}..${entry.audio.offset + entry.audio.bytes} are past the end of ${trackFile(entry.audio.track)} (${trackSizes.get(entry.audio.track)} bytes): the audio file is truncated or from another recording`);
    }
    if (entry.type === BUDGET_NOTE) throw new RecordingError(`${where} line ${i + 1}: the recording stops at its size budget (${String(entry.event?.budgetBytes)} bytes), so it cannot be replayed as a whole call`);
    entries.push(entry);
  }
  if (header.callId !== (steps[0]?.kind === 'meta' ? (steps[0].meta?.callId ?? header.callId) : header.callId)) {
    throw new RecordingError(`${where} line 1: field callId: ${header.callId} is not the call of ${path.basename(scenarioFile)} (${String(steps[0]?.meta?.callId)})`);
  }
  const cache = new Map<AudioTrack, Buffer>();
  const track = (t: AudioTrack) => {
    let buf = cache.get(t);
    if (!buf) cache.set(t, (buf = trackSizes.get(t) ? fs.readFileSync(path.join(dir, trackFile(t))) : Buffer.alloc(0)));
    return buf;
  };
  return { scenarioFile, steps, header, entries, track, audio: (ref) => track(ref.track).subarray(ref.offset, ref.offset + ref.bytes) };
}

function parseLine<S extends z.ZodType>(line: string | undefined, n: number, where: string, schema: S, what: string): z.infer<S> {
  if (line === undefined) throw new RecordingError(`${where} line ${n}: missing ${what} (the file is empty or truncated)`);
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    throw new RecordingError(`${where} line ${n}: not JSON (${(err as Error).message}): truncated or edited`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const type = (json as { type?: unknown })?.type;
    throw new RecordingError(`${where} line ${n}${typeof type === 'string' ? ` (${type})` : ''}: field ${issue.path.join('.') || '(line)'}: ${issue.message}${what === 'header' ? ' (not a switchboard whole-call recording?)' : ''}`);
  }
  return parsed.data as z.infer<S>;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
