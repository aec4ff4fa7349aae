/**
 * Types and pure helpers for the `<Transfer>` model of the Bandwidth caller stand-in
 * (src/sim/bandwidth-caller.ts; the run itself is bandwidth-transfer-run.ts). Wire details follow
 * shared/reference/bandwidth-protocol.md (BW §n): §1.3 (transferAnswer/transferComplete take BXML,
 * transferDisconnect does not), §1.5 (field sets), §1.6 (causes), §2.5 (Transfer, PhoneNumber, SipUri
 * attributes).
 *
 * What the person (or system) at the other end of each `<PhoneNumber>`/`<SipUri>` does is scripted per
 * target with `SimulatedCallOptions.transfer`: answered after `ringMs` (then bridged for `talkMs`, and
 * one side hangs up), or busy / rejected / error after `ringMs`, or no answer (the Transfer's
 * `callTimeout` expires). All times are clock ms.
 */
import { elementChildren, textContent, type XmlElement } from '../bandwidth/bxml/xml';
import { DEFAULT_CALL_TIMEOUT_S, MAX_CALL_TIMEOUT_S, MIN_CALL_TIMEOUT_S } from '../constants';
import { KNOWN_VERBS } from './bandwidth-verbs';

/** One `<PhoneNumber>` or `<SipUri>` of a `<Transfer>`. */
export interface TransferTarget {
  kind: 'phone' | 'sip';
  /** The element's text: E.164 for a PhoneNumber, `sip:user@host` for a SipUri. */
  address: string;
  /** The `uui` attribute, if any. */
  uui?: string;
  /** All the element's attributes (transferAnswerUrl, username, tag, …). */
  attributes: Record<string, string>;
}

/** What happens when the stand-in rings a transfer target. */
export type TransferScript =
  | {
      outcome: 'answered';
      /** Clock ms of ringing before the answer. Default 2000. An answer later than `callTimeout` is a timeout. */
      ringMs?: number;
      /** Clock ms the legs stay bridged. Default 5000. */
      talkMs?: number;
      /** Who ends the bridged call after talkMs. Default 'human'. */
      hangsUp?: 'human' | 'caller';
    }
  | {
      outcome: 'busy' | 'no-answer' | 'rejected' | 'error';
      /** Clock ms before the failure (ignored for 'no-answer', which lasts callTimeout). Default 2000. */
      ringMs?: number;
    };

export type TransferScriptFn = (target: TransferTarget) => TransferScript;

/** How a leg (or the whole transfer) ended up. 'cancelled': it was still ringing when another leg answered or the A-leg went away. */
export type TransferOutcome = TransferScript['outcome'] | 'cancelled';

export type TransferState = 'ringing' | 'answered' | 'bridged' | 'ended';

export const DEFAULT_TRANSFER_RING_MS = 2000;
export const DEFAULT_TRANSFER_TALK_MS = 5000;
/** The default script: answered after 2 s of ringing, 5 s of talk, then the human hangs up. */
export const DEFAULT_TRANSFER_SCRIPT: TransferScript = { outcome: 'answered', ringMs: DEFAULT_TRANSFER_RING_MS, talkMs: DEFAULT_TRANSFER_TALK_MS, hangsUp: 'human' };

/** Verbs Bandwidth forbids in a transferAnswer response (BW §1.3). */
export const FORBIDDEN_ON_TRANSFER_ANSWER: readonly string[] = ['Bridge', 'Conference', 'Forward', 'Transfer'];

/** The BXML a transferAnswer callback returned: the whisper played to the B-leg before bridging. */
export interface WhisperRecord {
  /** Clock time the document arrived. */
  atMs: number;
  /** The URL that served it. */
  url: string;
  xml: string;
  /** Text of every `<SpeakSentence>` in it, trimmed, in order. */
  texts: string[];
  /** The verbs, in order. */
  verbs: string[];
  /** Forbidden verbs (Bridge, Conference, Forward, Transfer), an unusable root or unknown verbs. */
  violations: string[];
  /** Total `<Pause>` time, ms: the bridge waits for it. */
  pauseMs: number;
  /** The whisper ends with `<Hangup>`: the B-leg hangs up instead of being bridged. */
  hangup: boolean;
}

/** One ringing leg (B-leg) of a transfer. */
export interface TransferLegRecord {
  target: TransferTarget;
  /** The script in force (defaults filled in). */
  script: TransferScript;
  /** The B-leg's call id (`c-…`, sharing the A-leg's first 8 hex digits, as in the fixtures). */
  bLegCallId: string;
  state: TransferState;
  outcome?: TransferOutcome;
  /** The cause sent in this leg's transferDisconnect. */
  cause?: string;
  errorMessage?: string;
  startedAtMs: number;
  answeredAtMs?: number;
  bridgedAtMs?: number;
  endedAtMs?: number;
  whisper?: WhisperRecord;
}

export type TransferEndedBy =
  /** The human (B-leg) hung up after talking. */
  | 'human'
  /** The caller (A-leg) hung up, while ringing or bridged. */
  | 'caller'
  /** The whisper BXML ended with <Hangup>. */
  | 'whisper-hangup'
  /** No leg answered (busy, rejected, error, timeout). */
  | 'not-answered'
  /** The transferAnswer callback failed or returned unparseable BXML. */
  | 'callback-error'
  /** updateCall / updateCallBxml replaced the A-leg's BXML while the transfer ran. */
  | 'interrupted'
  /** The A-leg ended some other way (API hang-up, internal error). */
  | 'call-ended';

/** One executed `<Transfer>`. */
export interface TransferRecord {
  /** The Transfer verb's attributes. */
  attributes: Record<string, string>;
  /** The B-leg caller id sent (transferCallerId, default the caller's number). */
  transferCallerId: string;
  callTimeoutMs: number;
  /** Every `<PhoneNumber>`/`<SipUri>`, in document order; they ring simultaneously. */
  legs: TransferLegRecord[];
  /** The leg transferComplete describes: the one that answered, else the last to end (legs[0] until then). */
  target: TransferTarget;
  bLegCallId: string;
  state: TransferState;
  outcome?: TransferOutcome;
  /** transferComplete's cause (or the described leg's, when no transferComplete was sent). */
  cause?: string;
  errorMessage?: string;
  endedBy?: TransferEndedBy;
  /** The winning leg's whisper (the transferAnswer response). */
  whisper?: WhisperRecord;
  /** Whether transferComplete was POSTed (it needs transferCompleteUrl; not sent when the A-leg went away first). */
  transferCompleteSent: boolean;
  /** The BXML the transferComplete callback returned (then run on the A-leg). */
  transferCompleteBxml?: string;
  /** Clock ms. */
  timings: {
    startedAtMs: number;
    answeredAtMs?: number;
    bridgedAtMs?: number;
    /** The described B-leg ended. */
    bLegEndedAtMs?: number;
    /** transferComplete was sent. */
    completedAtMs?: number;
    /** The transfer was over for the A-leg. */
    endedAtMs?: number;
  };
  /** Protocol problems seen in the application's answers (e.g. a forbidden verb in the whisper). */
  violations: string[];
}

/** Fill in a script's defaults; clamp times to ≥ 0. */
export function normaliseTransferScript(script: TransferScript | undefined): TransferScript {
  const s = script ?? DEFAULT_TRANSFER_SCRIPT;
  const ms = (v: number | undefined, d: number) => (v !== undefined && Number.isFinite(v) ? Math.max(0, v) : d);
  if (s.outcome === 'answered') {
    return { outcome: 'answered', ringMs: ms(s.ringMs, DEFAULT_TRANSFER_RING_MS), talkMs: ms(s.talkMs, DEFAULT_TRANSFER_TALK_MS), hangsUp: s.hangsUp ?? 'human' };
  }
  return { outcome: s.outcome, ringMs: ms(s.ringMs, DEFAULT_TRANSFER_RING_MS) };
}

/** The `<Transfer callTimeout>` in ms: seconds, decimals allowed, 1–300 (BW §2.5); default 30 s. */
export function transferCallTimeoutMs(value: string | undefined): number {
  const s = value === undefined ? NaN : Number(value);
  if (!Number.isFinite(s) || s <= 0) return DEFAULT_CALL_TIMEOUT_S * 1000;
  return Math.round(Math.min(MAX_CALL_TIMEOUT_S, Math.max(MIN_CALL_TIMEOUT_S, s)) * 1000);
}

/** The transfer targets of a `<Transfer>` (its PhoneNumber/SipUri children). */
export function transferTargets(transfer: XmlElement): { element: XmlElement; target: TransferTarget }[] {
  return elementChildren(transfer)
    .filter((e) => e.name === 'PhoneNumber' || e.name === 'SipUri')
    .map((element) => {
      const target: TransferTarget = { kind: element.name === 'SipUri' ? 'sip' : 'phone', address: textContent(element).trim(), attributes: { ...element.attributes } };
      if (element.attributes.uui !== undefined) target.uui = element.attributes.uui;
      return { element, target };
    });
}

/**
 * The cause and errorMessage a leg ends with. `busy` carries "Callee is busy" as in the fixture
 * (transferComplete-busy.json); the other messages are the stand-in's own wording (BW §1.6 lists only
 * examples).
 */
export function legEnd(outcome: TransferOutcome, callTimeoutMs: number): { cause: string; errorMessage?: string } {
  switch (outcome) {
    case 'answered':
      return { cause: 'hangup' };
    case 'busy':
      return { cause: 'busy', errorMessage: 'Callee is busy' };
    case 'rejected':
      return { cause: 'rejected', errorMessage: 'Callee rejected the call' };
    case 'error':
      return { cause: 'error', errorMessage: 'The call could not be completed' };
    case 'no-answer':
      return { cause: 'timeout', errorMessage: `Callee did not answer within ${callTimeoutMs / 1000} seconds` };
    case 'cancelled':
      return { cause: 'cancel' };
  }
}

/**
 * Read a transferAnswer response (BW §1.3: it runs on the B-leg only, before bridging). SpeakSentence
 * and PlayAudio take no time in the stand-in; Pause delays the bridge; Hangup ends the B-leg. Other
 * allowed verbs (Gather, Redirect, recording verbs, …) are recorded and otherwise not modelled.
 */
export function analyseWhisper(root: XmlElement, xml: string, url: string, atMs: number): WhisperRecord {
  const violations: string[] = [];
  if (root.name !== 'Response' && root.name !== 'Bxml') violations.push(`transferAnswer BXML root <${root.name}> is not <Response> or <Bxml>`);
  const texts: string[] = [];
  const verbs: string[] = [];
  let pauseMs = 0;
  let hangup = false;
  for (const verb of elementChildren(root)) {
    verbs.push(verb.name);
    if (FORBIDDEN_ON_TRANSFER_ANSWER.includes(verb.name)) violations.push(`<${verb.name}> is not allowed in a transferAnswer response (line ${verb.line})`);
    else if (!KNOWN_VERBS.has(verb.name)) violations.push(`unknown verb <${verb.name}> in a transferAnswer response (line ${verb.line})`);
    if (hangup) continue; // verbs after <Hangup> never run
    if (verb.name === 'SpeakSentence') texts.push(textContent(verb).trim());
    else if (verb.name === 'Pause') {
      const s = Number(verb.attributes.duration ?? '1');
      pauseMs += Number.isFinite(s) ? Math.max(0, s * 1000) : 1000;
    } else if (verb.name === 'Hangup') hangup = true;
  }
  return { atMs, url, xml, texts, verbs, violations, pauseMs, hangup };
}
