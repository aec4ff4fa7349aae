import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log';
import { ensurePrivateDir } from '../files';
import { AUDIO_TRACKS, BUDGET_NOTE, TAPE_FORMAT, TAPE_INDEX, trackFile, type AudioTrack, type TapeEntry, type TapeHeader } from './tape-format';

/**
 * Writes one call's whole-call recording (tape-format.ts): index lines and audio are appended as they
 * happen, so the directory is readable at any moment, also after a crash. Past `budgetBytes` (index and
 * audio together) one `budget-exceeded` note is written, a warning is logged, and nothing more is kept.
 */
export class CallTape {
  private readonly trackBytes = new Map<AudioTrack, number>(AUDIO_TRACKS.map((t) => [t, 0]));
  private writtenBytes = 0;
  private overBudget = false;
  /** Wall-clock start of the recording (the header's `startedAt`, also when carrying on an existing tape). */
  readonly startedWallMs: number;

  constructor(
    readonly dir: string,
    private readonly header: TapeHeader,
    private readonly logger: Logger | undefined,
  ) {
    ensurePrivateDir(dir);
    const index = path.join(dir, TAPE_INDEX);
    const existing = headerOf(index);
    this.startedWallMs = Date.parse(existing?.callId === header.callId ? existing.startedAt : header.startedAt);
    if (existing?.callId === header.callId) {
      // The recorder let go of this call (too many open) and met it again: carry on where the files end.
      for (const track of AUDIO_TRACKS) this.trackBytes.set(track, sizeOf(path.join(dir, trackFile(track))));
      this.writtenBytes = sizeOf(index) + [...this.trackBytes.values()].reduce((a, b) => a + b, 0);
      return;
    }
    for (const track of AUDIO_TRACKS) fs.rmSync(path.join(dir, trackFile(track)), { force: true });
    fs.writeFileSync(index, `${JSON.stringify(header)}\n`, { mode: 0o600 });
  }

  get exceeded(): boolean {
    return this.overBudget;
  }

  /** Append one entry; `audio` bytes go to their track file and the entry references them. */
  append(entry: Omit<TapeEntry, 'audio'>, audio?: { track: AudioTrack; bytes: Buffer }): void {
    if (this.overBudget) return;
    let line: TapeEntry = entry;
    if (audio) line = { ...entry, audio: { track: audio.track, offset: this.trackBytes.get(audio.track)!, bytes: audio.bytes.length } };
    const text = `${JSON.stringify(line)}\n`;
    const cost = Buffer.byteLength(text) + (audio?.bytes.length ?? 0);
    if (this.writtenBytes + cost > this.header.budgetBytes) return this.stop(entry.t);
    if (audio && audio.bytes.length > 0) {
      fs.appendFileSync(path.join(this.dir, trackFile(audio.track)), audio.bytes, { mode: 0o600 });
      this.trackBytes.set(audio.track, this.trackBytes.get(audio.track)! + audio.bytes.length);
    }
    fs.appendFileSync(path.join(this.dir, TAPE_INDEX), text);
    this.writtenBytes += cost;
  }

  private stop(t: number): void {
    this.overBudget = true;
    const note: TapeEntry = {
      t,
      src: 'note',
      dir: 'none',
      type: BUDGET_NOTE,
      event: { budgetBytes: this.header.budgetBytes, message: `the recording of this call stops here: it reached its size budget of ${this.header.budgetBytes} bytes (RECORD_MAX_CALL_BYTES)` },
    };
    fs.appendFileSync(path.join(this.dir, TAPE_INDEX), `${JSON.stringify(note)}\n`);
    this.logger?.warn({ callId: this.header.callId, budgetBytes: this.header.budgetBytes, format: TAPE_FORMAT }, 'whole-call recording reached its size budget: the rest of this call is not recorded');
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The header of an existing index, if it is one of ours (a foreign or broken one is replaced). */
function headerOf(index: string): TapeHeader | undefined {
  try {
    const header = JSON.parse(fs.readFileSync(index, 'utf8').split('\n', 1)[0] ?? '') as TapeHeader;
    return header.format === TAPE_FORMAT && typeof header.startedAt === 'string' ? header : undefined;
  } catch {
    return undefined;
  }
}
