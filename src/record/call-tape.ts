import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log';
import { RECORD_FLUSH_BYTES } from '../constants';
import { ensurePrivateDir } from '../files';
import { AUDIO_TRACKS, BUDGET_NOTE, TAPE_FORMAT, TAPE_INDEX, trackFile, type AudioTrack, type TapeEntry, type TapeHeader } from './tape-format';

/**
 * Writes one call's whole-call recording (tape-format.ts). Entries are buffered and written once per
 * event-loop turn (or as soon as RECORD_FLUSH_BYTES wait) through files kept open while the call is being
 * recorded, so the relay path does no file opens per frame; the directory is complete up to the last turn
 * at any moment, also after a crash. Past `budgetBytes` (index and audio together) one `budget-exceeded`
 * note is written, a warning is logged, and nothing more is kept, also by a tape that carries on an
 * existing recording (after a restart, or once the recorder let go of the call).
 */
export class CallTape {
  /** Bytes of each track, written or waiting: the offset the next audio of the track gets. */
  private readonly trackBytes = new Map<AudioTrack, number>(AUDIO_TRACKS.map((t) => [t, 0]));
  private writtenBytes = 0;
  private overBudget = false;
  private readonly fds = new Map<AudioTrack | 'index', number>();
  private pendingIndex: string[] = [];
  private readonly pendingAudio = new Map<AudioTrack, Buffer[]>();
  private pendingBytes = 0;
  private flushQueued = false;
  /** Closed (the call ended, or the recorder let go of it): a late entry is written, then the files are closed again. */
  private closed = false;
  /** Wall-clock start of the recording (the header's `startedAt`, also when carrying on an existing tape). */
  readonly startedWallMs: number;
  /** Whether this tape carries on an existing recording of the call (rather than starting it). */
  readonly carriedOn: boolean;

  constructor(
    readonly dir: string,
    private readonly header: TapeHeader,
    private readonly logger: Logger | undefined,
  ) {
    ensurePrivateDir(dir);
    const index = path.join(dir, TAPE_INDEX);
    const existing = existingTape(index);
    this.carriedOn = existing?.header.callId === header.callId;
    this.startedWallMs = Date.parse(existing && this.carriedOn ? existing.header.startedAt : header.startedAt);
    if (existing && this.carriedOn) {
      // The recorder let go of this call (too many open, or a restart) and met it again: carry on where the files end.
      for (const track of AUDIO_TRACKS) this.trackBytes.set(track, sizeOf(path.join(dir, trackFile(track))));
      this.writtenBytes = sizeOf(index) + [...this.trackBytes.values()].reduce((a, b) => a + b, 0);
      this.overBudget = existing.exceeded;
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
      const queue = this.pendingAudio.get(audio.track);
      if (queue) queue.push(audio.bytes);
      else this.pendingAudio.set(audio.track, [audio.bytes]);
      this.trackBytes.set(audio.track, this.trackBytes.get(audio.track)! + audio.bytes.length);
    }
    this.pendingIndex.push(text);
    this.writtenBytes += cost;
    this.pendingBytes += cost;
    if (this.pendingBytes >= RECORD_FLUSH_BYTES) this.flush();
    else this.queueFlush();
  }

  /** Write what waits: audio first, so an index line never points past the end of its track. */
  flush(): void {
    // Taken first: a failed write loses this turn's part (logged by the caller), it is never written twice.
    const audio = [...this.pendingAudio];
    const index = this.pendingIndex;
    this.pendingAudio.clear();
    this.pendingIndex = [];
    this.pendingBytes = 0;
    try {
      for (const [track, chunks] of audio) writeAll(this.fd(track), chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      if (index.length > 0) writeAll(this.fd('index'), Buffer.from(index.join('')));
    } finally {
      if (this.closed) this.closeFiles();
    }
  }

  /**
   * Flush and close the files (the call ended, or the recorder let go of it), so a finished call holds no
   * descriptor; an entry that still comes (a socket's close) is written on its turn and the files closed again.
   */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private closeFiles(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      try {
        this.flush();
      } catch (err) {
        this.logger?.warn({ callId: this.header.callId, err: (err as Error).message }, 'could not write part of a whole-call recording');
      }
    });
  }

  private fd(file: AudioTrack | 'index'): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dir, file === 'index' ? TAPE_INDEX : trackFile(file)), 'a', 0o600);
      this.fds.set(file, fd);
    }
    return fd;
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
    this.pendingIndex.push(`${JSON.stringify(note)}\n`);
    this.close();
    this.logger?.warn({ callId: this.header.callId, budgetBytes: this.header.budgetBytes, format: TAPE_FORMAT }, 'whole-call recording reached its size budget: the rest of this call is not recorded');
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * The header of an existing index, if it is one of ours (a foreign or broken one is replaced), and whether
 * it already ends with the budget note (so a tape carried on stays stopped: one note, one warning).
 */
function existingTape(index: string): { header: TapeHeader; exceeded: boolean } | undefined {
  try {
    const lines = fs.readFileSync(index, 'utf8').split('\n');
    const header = JSON.parse(lines[0] ?? '') as TapeHeader;
    if (header.format !== TAPE_FORMAT || typeof header.startedAt !== 'string') return undefined;
    const last = lines.filter((l) => l.trim() !== '').pop() ?? '';
    let exceeded = false;
    try {
      const entry = JSON.parse(last) as Partial<TapeEntry>;
      exceeded = entry.src === 'note' && entry.type === BUDGET_NOTE;
    } catch {
      exceeded = false; // a torn last line (a crash mid-write) is no note
    }
    return { header, exceeded };
  } catch {
    return undefined;
  }
}
