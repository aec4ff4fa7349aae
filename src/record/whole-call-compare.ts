import { diffBxml } from './compare';
import { exchangesOf } from './scenario';
import type { TapeEntry } from './tape-format';
import type { WholeCall } from './tape-reader';
import { RealtimeContentRedactor } from './transcript-redact';

/**
 * What `replay --media` compares between the recorded call and its replay (README "Record, replay, and the
 * dev tunnel"): our BXML (the canonical diff of compare.ts), the events we sent OpenAI (session config,
 * appends by byte count, truncates with `audio_end_ms` within a tolerance, tool outputs, every other client
 * event in order, and our requests to its SIP call endpoints: accept, refer, hangup), and the playAudio/clear
 * stream we sent Bandwidth (bytes, and timing within a tolerance).
 * Ids the model side mints (items, calls, responses) are compared by order of first appearance.
 */
export interface CompareTolerances {
  /** How far a playAudio/clear may move, ms. */
  timingMs: number;
  /** How far a truncate's `audio_end_ms` may move, ms. */
  truncateMs: number;
}

export const DEFAULT_TOLERANCES: CompareTolerances = { timingMs: 20, truncateMs: 20 };
/** Beyond this many differences per section, the rest are counted, not listed. */
const MAX_LISTED = 8;

export interface CallDiff {
  section: 'bxml' | 'openai' | 'playout';
  lines: string[];
}

export function compareWholeCalls(expected: WholeCall, actual: WholeCall, tolerances: CompareTolerances = DEFAULT_TOLERANCES): CallDiff[] {
  return [
    { section: 'bxml' as const, lines: compareBxml(expected, actual) },
    { section: 'openai' as const, lines: compareModelEvents(expected, actual, tolerances) },
    { section: 'playout' as const, lines: comparePlayout(expected, actual, tolerances) },
  ].map((d) => ({ ...d, lines: cap(d.lines) }));
}

function compareBxml(expected: WholeCall, actual: WholeCall): string[] {
  const e = exchangesOf(expected.steps).exchanges;
  const a = exchangesOf(actual.steps).exchanges;
  const lines: string[] = [];
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    const x = e[i];
    const y = a[i];
    if (!x) lines.push(`callback #${i + 1}: replay sent an extra ${y!.route} (status ${String(y!.expected?.status)})`);
    else if (!y) lines.push(`callback #${i + 1} (step ${x.responseSeq} ${x.route}): missing in the replay`);
    else if (x.route !== y.route) lines.push(`callback #${i + 1}: expected ${x.route} (step ${x.responseSeq}), the replay sent ${y.route}`);
    else {
      const head = `callback #${i + 1} (step ${x.responseSeq} ${x.route})`;
      if (x.expected?.status !== y.expected?.status) lines.push(`${head}: status ${String(x.expected?.status)} then, ${String(y.expected?.status)} now`);
      const xb = x.expected?.body ?? '';
      if (xb.trimStart().startsWith('<')) for (const p of diffBxml(xb, y.expected?.body ?? '')) lines.push(`${head}: ${p}`);
    }
  }
  return lines;
}

/** Model-minted ids → `#n` by first appearance, so two runs' ids compare. */
class IdNames {
  private readonly names = new Map<string, string>();
  name(id: unknown): string {
    if (typeof id !== 'string') return String(id);
    let n = this.names.get(id);
    if (!n) this.names.set(id, (n = `#${this.names.size + 1}`));
    return n;
  }
}

const ID_FIELDS = ['item_id', 'call_id', 'response_id', 'previous_item_id', 'id'];

/**
 * `redactor`: the recording was made with --redact and this run was not, so this run's events are redacted
 * the same way first (tool outputs, text) before they are compared with the recorded placeholders.
 */
function clientEvents(call: WholeCall, redactor?: RealtimeContentRedactor): { appendBytes: number; appends: number; events: { t: number; type: string; body: Record<string, unknown> }[] } {
  const ids = new IdNames();
  let appendBytes = 0;
  let appends = 0;
  const events: { t: number; type: string; body: Record<string, unknown> }[] = [];
  for (const entry of call.entries) {
    if (entry.src !== 'realtime' && entry.src !== 'openai-rest') continue;
    // Name ids in the order they appear on the wire, whichever side minted them.
    const event = entry.event ?? {};
    const body = renameIds(redactor && entry.src === 'realtime' ? redactor.redact(event) : event, ids);
    if (entry.dir !== 'out') continue;
    if (entry.type === 'input_audio_buffer.append') {
      appends++;
      appendBytes += entry.audio?.bytes ?? 0;
      continue;
    }
    delete body.event_id;
    events.push({ t: entry.t, type: entry.type, body });
  }
  return { appendBytes, appends, events };
}

function renameIds(value: Record<string, unknown>, ids: IdNames): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = ID_FIELDS.includes(k) && typeof x === 'string' && k !== 'event_id' ? ids.name(x) : walk(x);
    return out;
  };
  return walk(value) as Record<string, unknown>;
}

function compareModelEvents(expected: WholeCall, actual: WholeCall, tol: CompareTolerances): string[] {
  const e = clientEvents(expected);
  const a = clientEvents(actual, expected.header.redacted && !actual.header.redacted ? new RealtimeContentRedactor() : undefined);
  const lines: string[] = [];
  if (e.appendBytes !== a.appendBytes) lines.push(`input_audio_buffer.append: ${e.appendBytes} bytes in ${e.appends} appends then, ${a.appendBytes} bytes in ${a.appends} now`);
  else if (!expected.track('model-in').equals(actual.track('model-in'))) lines.push(`input_audio_buffer.append: the same ${e.appendBytes} bytes in count, but different audio`);
  for (let i = 0; i < Math.max(e.events.length, a.events.length); i++) {
    const x = e.events[i];
    const y = a.events[i];
    if (!x) lines.push(`sent OpenAI an extra ${y!.type} at ${y!.t} ms: ${short(y!.body)}`);
    else if (!y) lines.push(`client event #${i + 1} ${x.type} (at ${x.t} ms) was not sent in the replay: ${short(x.body)}`);
    else if (x.type !== y.type) lines.push(`client event #${i + 1}: ${x.type} then (at ${x.t} ms), ${y.type} now (at ${y.t} ms)`);
    else if (x.type === 'conversation.item.truncate') {
      const dx = Number(x.body.audio_end_ms);
      const dy = Number(y.body.audio_end_ms);
      if (x.body.item_id !== y.body.item_id) lines.push(`truncate #${i + 1}: item ${String(x.body.item_id)} then, ${String(y.body.item_id)} now`);
      if (Math.abs(dx - dy) > tol.truncateMs) lines.push(`truncate of item ${String(x.body.item_id)}: audio_end_ms ${dx} then, ${dy} now (tolerance ${tol.truncateMs} ms)`);
    } else if (JSON.stringify(x.body) !== JSON.stringify(y.body)) {
      lines.push(`${x.type} (client event #${i + 1}) differs:\n      then ${short(x.body)}\n      now  ${short(y.body)}`);
    }
  }
  return lines;
}

interface PlayoutOp {
  t: number;
  type: string;
  bytes: number;
}

function playout(call: WholeCall): PlayoutOp[] {
  return call.entries.filter((x: TapeEntry) => x.src === 'media' && x.dir === 'out').map((x) => ({ t: x.t, type: x.type, bytes: x.audio?.bytes ?? 0 }));
}

function comparePlayout(expected: WholeCall, actual: WholeCall, tol: CompareTolerances): string[] {
  const e = playout(expected);
  const a = playout(actual);
  const lines: string[] = [];
  const sum = (ops: PlayoutOp[]) => ops.reduce((n, o) => n + o.bytes, 0);
  const count = (ops: PlayoutOp[], type: string) => ops.filter((o) => o.type === type).length;
  if (sum(e) !== sum(a) || e.length !== a.length) {
    lines.push(`playAudio/clear: ${count(e, 'playAudio')} playAudio (${sum(e)} bytes) and ${count(e, 'clear')} clear then, ${count(a, 'playAudio')} playAudio (${sum(a)} bytes) and ${count(a, 'clear')} clear now`);
  }
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    const x = e[i];
    const y = a[i];
    if (!x || !y) {
      const o = (x ?? y)!;
      lines.push(`${o.type} #${i + 1} (${o.bytes} bytes at ${o.t} ms) ${x ? 'missing in the replay' : 'is new in the replay'}`);
    } else if (x.type !== y.type || x.bytes !== y.bytes) lines.push(`frame #${i + 1}: ${x.type} of ${x.bytes} bytes at ${x.t} ms then, ${y.type} of ${y.bytes} bytes at ${y.t} ms now`);
    else if (Math.abs(x.t - y.t) > tol.timingMs) lines.push(`${x.type} #${i + 1}: sent at ${y.t} ms, recorded at ${x.t} ms (${y.t - x.t > 0 ? '+' : ''}${Math.round(y.t - x.t)} ms; tolerance ${tol.timingMs} ms)`);
  }
  if (lines.length === 0 && !expected.track('caller-out').equals(actual.track('caller-out'))) lines.push(`playAudio: the same byte counts, but different audio (first difference at byte ${firstDifference(expected.track('caller-out'), actual.track('caller-out'))})`);
  return lines;
}

function firstDifference(a: Buffer, b: Buffer): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

function short(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 240 ? `${text.slice(0, 240)}…` : text;
}

function cap(lines: string[]): string[] {
  return lines.length > MAX_LISTED ? [...lines.slice(0, MAX_LISTED), `… and ${lines.length - MAX_LISTED} more`] : lines;
}

/** A readable report: every difference by section, and a verdict line. */
export function formatCallDiff(name: string, diffs: CallDiff[]): string {
  const out: string[] = [];
  for (const d of diffs) for (const line of d.lines) out.push(`  FAIL  ${d.section}: ${line}`);
  const failed = diffs.filter((d) => d.lines.length > 0).map((d) => d.section);
  out.push(failed.length === 0 ? `PASS ${name}: BXML, events sent to OpenAI and the playAudio/clear stream match the recording` : `FAIL ${name}: ${failed.join(', ')} differ from the recording`);
  return `${out.join('\n')}\n`;
}
