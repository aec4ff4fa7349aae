/**
 * The Bandwidth caller stand-in in playback mode (docs/simulator.md): a SimulatedCall set up from a
 * whole-call recording — the same call id and numbers, the caller's recorded audio (the inbound track, frame
 * by frame at each frame's recorded time), the same stream set-up time, each `<Transfer>`
 * target doing what it did then (answered after the recorded ring time, or busy / no answer / rejected),
 * the caller's key presses (each recorded `dtmf` callback: its digit, at the time the server took it), and a
 * caller hang-up at the recorded time if the call is still up then.
 */
import { RecordingError, type WholeCall } from '../record/tape-reader';
import { fromMulaw, type AudioSource } from './bandwidth-audio';
import type { TransferScript } from './bandwidth-transfer';

export interface CallerPlayback {
  callId: string;
  from: string;
  to: string;
  streamSetupMs: number;
  audio: AudioSource;
  /** Clock ms of each recorded inbound frame: the replay sends the same frames at the same times. */
  inboundFrameAtMs: number[];
  transfers: TransferScript[];
  /** Keys the caller pressed (BW `dtmf` callbacks of a `<StartGather>`), at the clock ms the server took each. */
  keys: { atMs: number; digit: string }[];
  /** Clock ms (from the call's start) of the recorded disconnect. */
  disconnectAtMs: number;
  /** Clock ms of the last recorded entry. */
  endMs: number;
}

const FAILED_TRANSFER: Record<string, TransferScript['outcome']> = { busy: 'busy', timeout: 'no-answer', rejected: 'rejected', 'callback-error': 'error', error: 'error' };

export function callerPlayback(call: WholeCall): CallerPlayback {
  const callbacks = call.entries.filter((e) => e.src === 'callback');
  const initiateStep = call.steps.find((s) => s.kind === 'callback' && /\/initiate(\?|$)/.test(String((s.request as { url?: string })?.url)));
  const body = ((initiateStep?.request as { body?: Record<string, unknown> } | undefined)?.body ?? {}) as Record<string, unknown>;
  if (!initiateStep || callbacks[0]?.type !== 'initiate') throw new RecordingError(`${call.scenarioFile}: step 1: field request.url: replay --media plays inbound calls, which start with initiate`);
  const start = call.entries.find((e) => e.src === 'media' && e.dir === 'in' && e.type === 'start');
  const transfers: TransferScript[] = [];
  let placedAt = 0;
  let answeredAt: number | undefined;
  let answeredThisAttempt = false;
  let failedLegAt: number | undefined;
  for (const e of callbacks) {
    // The Transfer rings once the verbs before it ran: the last callback before it marks the moment (the stream's stop, the redirect).
    if (e.type === 'redirect' || e.type === 'stream-ended' || e.type === 'stream-events') placedAt = e.t;
    if (e.type === 'transfer-answer') {
      answeredAt = e.t;
      answeredThisAttempt = true;
      transfers.push({ outcome: 'answered', ringMs: Math.max(0, e.t - placedAt), talkMs: 0 });
    }
    if (e.type === 'transfer-disconnect' && answeredAt !== undefined) {
      (transfers[transfers.length - 1] as { talkMs?: number }).talkMs = Math.max(0, e.t - answeredAt);
      answeredAt = undefined;
    } else if (e.type === 'transfer-disconnect') failedLegAt ??= e.t; // a leg that failed ends before its transferComplete
    if (e.type === 'transfer-complete') {
      const outcome = FAILED_TRANSFER[String(e.event?.cause ?? '')];
      if (!answeredThisAttempt && outcome) transfers.push({ outcome, ringMs: Math.max(0, (failedLegAt ?? e.t) - placedAt) });
      answeredThisAttempt = false;
      failedLegAt = undefined;
      placedAt = e.t; // its BXML may place the next transfer
    }
  }
  const keys = keyPresses(call, callbacks);
  const disconnect = [...callbacks].reverse().find((e) => e.type === 'status' && e.event?.eventType === 'disconnect');
  const last = call.entries[call.entries.length - 1];
  return {
    callId: call.header.callId,
    from: String(body.from ?? '+19195550142'),
    to: String(body.to ?? '+19195550100'),
    streamSetupMs: start ? Math.max(0, start.t - callbacks[0]!.t) : 0,
    // Frame g of the replay is frame g of the recording (SimulatedCallOptions.inboundFrameAtMs): the track as it came.
    audio: fromMulaw(call.track('caller-in'), { label: 'recorded caller' }),
    inboundFrameAtMs: call.entries.filter((e) => e.src === 'media' && e.audio?.track === 'caller-in').map((e) => e.t),
    transfers,
    keys,
    disconnectAtMs: disconnect?.t ?? last?.t ?? 0,
    endMs: last?.t ?? 0,
  };
}

/**
 * The timeline (index.jsonl) knows when each `dtmf` callback arrived but not its digit; the scenario file
 * holds the callbacks' bodies in the same order: the n-th timeline `dtmf` is the n-th `/dtmf` step.
 */
function keyPresses(call: WholeCall, callbacks: WholeCall['entries']): { atMs: number; digit: string }[] {
  const at = callbacks.filter((e) => e.type === 'dtmf').map((e) => e.t);
  const steps = call.steps.filter((s) => s.kind === 'callback' && /\/dtmf(\?|$)/.test(String((s.request as { url?: string })?.url)));
  if (steps.length !== at.length) throw new RecordingError(`${call.scenarioFile}: ${steps.length} dtmf callbacks, but the call's timeline has ${at.length}: the files are not of one recording`);
  return steps.map((s, i) => {
    const digit = ((s.request as { body?: { digit?: unknown } }).body ?? {}).digit;
    if (typeof digit !== 'string' || !/^[0-9*#A-D]$/.test(digit)) throw new RecordingError(`${call.scenarioFile}: step ${s.seq}: field request.body.digit: expected one key (0-9, *, #, A-D), got ${JSON.stringify(digit)}`);
    return { atMs: at[i]!, digit };
  });
}
