/**
 * One `<Transfer>` run by the Bandwidth caller stand-in (BW §1.3, §1.5, §1.6, §2.5;
 * docs/simulator.md#transfers): its B-legs ring at once, the first to answer wins, the whisper
 * (transferAnswer BXML) runs, the legs are bridged, and when the B-leg ends transferComplete's BXML
 * runs on the A-leg (or the verbs after `<Transfer>` do). The records and pure helpers live in
 * bandwidth-transfer.ts.
 */
import { randomUUID } from 'node:crypto';
import type { XmlElement } from '../bandwidth/bxml/xml';
import { MAX_TRANSFER_TARGETS } from '../constants';
import type { BxmlDocument } from './bandwidth-call-types';
import type { CallHost, HeldAt } from './bandwidth-call-host';
import { callbackTargets, credsOf, methodOf } from './bandwidth-callbacks';
import { callIdPrefix } from './bandwidth-ids';
import { CallOver } from './bandwidth-run-control';
import {
  analyseWhisper,
  legEnd,
  normaliseTransferScript,
  transferCallTimeoutMs,
  transferTargets,
  type TransferEndedBy,
  type TransferLegRecord,
  type TransferOutcome,
  type TransferRecord,
} from './bandwidth-transfer';

/** A ringing / bridged B-leg of the transfer in progress. */
interface TransferLeg {
  rec: TransferLegRecord;
  element: XmlElement;
  /** Clock time ringing ends: the answer, the failure, or the callTimeout. */
  ringEndsAtMs: number;
  /** What happens then. */
  ringOutcome: 'answered' | 'busy' | 'rejected' | 'error' | 'no-answer';
  startIso: string;
  answerIso?: string;
  errorId?: string;
}

/** Runs a BXML document on the A-leg (the interpreter's), for transferComplete's answer. */
export type ExecuteDocument = (doc: BxmlDocument, depth: number, gen: number) => Promise<void>;

export class TransferRun {
  /** The `heldAt` value set while it runs. */
  readonly held: HeldAt;
  /** Set once the A-leg side has ended it (caller hang-up, interruption). */
  private aborting?: Promise<void>;
  /** The leg that ended last (transferComplete describes it when none answered). */
  private lastEnded?: TransferLeg;

  private constructor(
    private readonly host: CallHost,
    readonly record: TransferRecord,
    private readonly legs: TransferLeg[],
    private readonly docUrl: string,
    private readonly executeDoc: ExecuteDocument,
  ) {
    this.held = { verb: 'Transfer', atMs: record.timings.startedAtMs };
  }

  /**
   * Execute `<Transfer>`. Returns 'continue' when the verbs after it should run (no
   * transferCompleteUrl), 'replaced' when transferComplete's BXML ran instead. Throws CallOver when the
   * call ended or the BXML was replaced meanwhile.
   */
  static async execute(host: CallHost, verb: XmlElement, docUrl: string, depth: number, gen: number, executeDoc: ExecuteDocument): Promise<'continue' | 'replaced'> {
    const a = verb.attributes;
    const targets = transferTargets(verb);
    if (targets.length === 0 || targets.length > MAX_TRANSFER_TARGETS) {
      await host.endCall('invalid-bxml', 'invalid-bxml', `<Transfer> needs 1 to ${MAX_TRANSFER_TARGETS} <PhoneNumber>/<SipUri> (line ${verb.line})`);
      throw new CallOver();
    }
    if (a.tag !== undefined) host.tag = a.tag || undefined;
    const startedAtMs = host.clock.now();
    const startIso = host.iso();
    const callTimeoutMs = transferCallTimeoutMs(a.callTimeout);
    const prefix = callIdPrefix(host.callId);
    const legs: TransferLeg[] = targets.map(({ element, target }) => {
      const script = normaliseTransferScript(host.opts.transfer?.(target));
      const ringMs = script.outcome === 'no-answer' ? callTimeoutMs : (script.ringMs ?? 0);
      // Anything that would happen after callTimeout is a timeout instead (BW §1.6).
      const timesOut = script.outcome === 'no-answer' || ringMs > callTimeoutMs;
      return {
        rec: { target, script, bLegCallId: `c-${prefix}-${randomUUID()}`, state: 'ringing', startedAtMs },
        element,
        ringEndsAtMs: startedAtMs + Math.min(ringMs, callTimeoutMs),
        ringOutcome: timesOut ? 'no-answer' : script.outcome,
        startIso,
      };
    });
    const first = legs[0]!;
    const record: TransferRecord = {
      attributes: { ...a },
      // "default: pass the remote party's number through" (BW §2.5).
      transferCallerId: a.transferCallerId ?? host.from,
      callTimeoutMs,
      legs: legs.map((l) => l.rec),
      target: first.rec.target,
      bLegCallId: first.rec.bLegCallId,
      state: 'ringing',
      transferCompleteSent: false,
      timings: { startedAtMs },
      violations: [],
    };
    host.transfers.push(record);
    const run = new TransferRun(host, record, legs, docUrl, executeDoc);
    host.activeTransfer = run;
    host.heldAt = run.held;
    try {
      return await run.steps(verb, depth, gen);
    } catch (err) {
      if (err instanceof CallOver) await run.abort('call-ended');
      throw err;
    } finally {
      run.finish();
    }
  }

  private async steps(verb: XmlElement, depth: number, gen: number): Promise<'continue' | 'replaced'> {
    const { record, legs } = this;
    // Ringing: the legs' ring ends come in clock order until one answers or none is left.
    let winner: TransferLeg | undefined;
    for (;;) {
      const ringing = legs.filter((l) => l.rec.state === 'ringing');
      if (ringing.length === 0) break;
      const next = ringing.reduce((x, y) => (y.ringEndsAtMs < x.ringEndsAtMs ? y : x)); // ties: document order
      const delay = next.ringEndsAtMs - this.host.clock.now();
      if (delay > 0) await this.host.control.waitOn(gen, delay);
      if (next.ringOutcome === 'answered') {
        winner = next;
        break;
      }
      await this.endLeg(next, next.ringOutcome);
      this.host.control.checkLive(gen);
    }

    if (winner) {
      const leg = winner;
      leg.rec.state = 'answered';
      leg.rec.outcome = 'answered';
      leg.rec.answeredAtMs = record.timings.answeredAtMs = this.host.clock.now();
      leg.answerIso = this.host.iso();
      record.state = 'answered';
      record.outcome = 'answered';
      record.target = leg.rec.target;
      record.bLegCallId = leg.rec.bLegCallId;
      // The first answer wins: the other legs stop ringing.
      for (const other of legs) {
        if (other.rec.state !== 'ringing') continue;
        await this.endLeg(other, 'cancelled');
        this.host.control.checkLive(gen);
      }
      const el = leg.element.attributes;
      let bridge = true;
      if (el.transferAnswerUrl) {
        // The BXML runs on the B-leg only, before the bridge (BW §1.3).
        const { primary, fallback } = callbackTargets(leg.element, 'transferAnswer', this.docUrl);
        const body = (): Record<string, unknown> => this.bLegFields('transferAnswer', leg);
        const fetched = await this.host.callbacks.fetchBxmlWithFallback('transferAnswer', body, primary, fallback, () => this.host.control.checkLive(gen));
        if (!fetched.ok) {
          // The B-leg cannot get its BXML: it fails, and the transfer with it.
          record.violations.push(`transferAnswer failed: ${fetched.error}`);
          record.endedBy = 'callback-error';
          await this.endLeg(leg, 'answered', fetched.invalid ? { cause: 'invalid-bxml', errorMessage: fetched.error } : { cause: 'callback-error', errorMessage: fetched.error });
          this.host.control.checkLive(gen);
          bridge = false;
        } else {
          const whisper = analyseWhisper(fetched.doc.root, fetched.doc.xml, fetched.doc.url, this.host.clock.now());
          leg.rec.whisper = record.whisper = whisper;
          record.violations.push(...whisper.violations);
          if (whisper.pauseMs > 0) await this.host.control.waitOn(gen, whisper.pauseMs);
          if (whisper.hangup) {
            record.endedBy = 'whisper-hangup';
            await this.endLeg(leg, 'answered');
            this.host.control.checkLive(gen);
            bridge = false;
          }
        }
      }
      if (bridge) {
        leg.rec.state = record.state = 'bridged';
        leg.rec.bridgedAtMs = record.timings.bridgedAtMs = this.host.clock.now();
        const script = leg.rec.script;
        const talkMs = script.outcome === 'answered' ? (script.talkMs ?? 0) : 0;
        if (talkMs > 0) await this.host.control.waitOn(gen, talkMs);
        if (script.outcome === 'answered' && script.hangsUp === 'caller') {
          // The caller hangs up on the human: the B-leg gets transferDisconnect, the call its disconnect.
          await this.host.endCall('caller-hangup', 'hangup');
          throw new CallOver();
        }
        record.endedBy = 'human';
        await this.endLeg(leg, 'answered');
        this.host.control.checkLive(gen);
      }
    } else {
      record.endedBy = 'not-answered';
    }

    // transferComplete describes the winning leg, else the last one to end (BW §1.5).
    const described = this.describe();
    this.finish();
    const completeUrl = verb.attributes.transferCompleteUrl;
    if (!completeUrl) return 'continue'; // the verbs after <Transfer> run (BW §2.5)
    const errorId = randomUUID();
    const body = (): Record<string, unknown> => {
      const b: Record<string, unknown> = { ...this.host.commonFields('transferComplete'), transferCallerId: record.transferCallerId, transferTo: described.rec.target.address, cause: described.rec.cause };
      if (described.rec.errorMessage !== undefined) {
        b.errorMessage = described.rec.errorMessage;
        b.errorId = described.errorId ?? errorId;
      }
      return b;
    };
    record.transferCompleteSent = true;
    record.timings.completedAtMs = this.host.clock.now();
    const { primary, fallback } = callbackTargets(verb, 'transferComplete', this.docUrl);
    const fetched = await this.host.callbacks.fetchBxmlWithFallback('transferComplete', body, primary, fallback, () => this.host.control.checkLive(gen));
    if (!fetched.ok) {
      if (fetched.invalid) await this.host.endCall('invalid-bxml', 'invalid-bxml', fetched.error);
      else await this.host.endCall('callback-error', 'callback-error', `Callback to ${completeUrl} failed`);
      throw new CallOver();
    }
    record.transferCompleteBxml = fetched.doc.xml;
    // Its BXML runs on the A-leg, in place of the rest of the document (BW §1.3).
    await this.executeDoc(fetched.doc, depth + 1, gen);
    return 'replaced';
  }

  /** A B-leg ends: record it and POST transferDisconnect to its transferDisconnectUrl (no BXML, BW §1.3). */
  private async endLeg(leg: TransferLeg, outcome: TransferOutcome, override?: { cause: string; errorMessage?: string }): Promise<void> {
    if (leg.rec.state === 'ended') return;
    const end = override ?? legEnd(outcome, this.record.callTimeoutMs);
    leg.rec.state = 'ended';
    leg.rec.outcome = outcome;
    leg.rec.cause = end.cause;
    if (end.errorMessage !== undefined) {
      leg.rec.errorMessage = end.errorMessage;
      leg.errorId = randomUUID();
    }
    leg.rec.endedAtMs = this.host.clock.now();
    this.lastEnded = leg;
    const el = leg.element.attributes;
    if (!el.transferDisconnectUrl || this.host.destroyed) return;
    await this.host.callbacks.sendAsync('transferDisconnect', new URL(el.transferDisconnectUrl, this.docUrl).toString(), methodOf(el.transferDisconnectMethod), this.bLegFields('transferDisconnect', leg), credsOf(leg.element));
  }

  /**
   * B-leg callback fields (BW §1.4, §1.5; fixtures transferAnswer.json, transferDisconnect.json): the
   * B-leg's callId and times, the original call's from/to, parentCallId = the A-leg (unless
   * `omitParentCallId`), direction outbound. Tag: the PhoneNumber/SipUri's, else the Transfer's (the B-leg is a new call; whether it
   * inherits the A-leg's tag otherwise is not documented, so it does not here).
   */
  private bLegFields(eventType: 'transferAnswer' | 'transferDisconnect', leg: TransferLeg): Record<string, unknown> {
    const body: Record<string, unknown> = {
      eventType,
      eventTime: this.host.iso(),
      accountId: this.host.accountId,
      applicationId: this.host.applicationId,
      from: this.host.from,
      to: this.host.to,
      direction: 'outbound',
      callId: leg.rec.bLegCallId,
      ...(this.host.opts.omitParentCallId ? {} : { parentCallId: this.host.callId }),
      callUrl: `https://voice.bandwidth.com/api/v2/accounts/${this.host.accountId}/calls/${leg.rec.bLegCallId}`,
      startTime: leg.startIso,
    };
    if (leg.answerIso !== undefined) body.answerTime = leg.answerIso;
    if (eventType === 'transferDisconnect') body.endTime = this.host.iso();
    const tag = leg.element.attributes.tag ?? this.record.attributes.tag;
    if (tag) body.tag = tag;
    body.transferCallerId = this.record.transferCallerId;
    body.transferTo = leg.rec.target.address;
    if (eventType === 'transferDisconnect') {
      body.cause = leg.rec.cause;
      if (leg.rec.errorMessage !== undefined) {
        body.errorMessage = leg.rec.errorMessage;
        body.errorId = leg.errorId;
      }
    }
    return body;
  }

  /** Point the record at the leg transferComplete describes: the one that answered, else the last to end. */
  private describe(): TransferLeg {
    const leg = this.legs.find((l) => l.rec.outcome === 'answered') ?? this.lastEnded ?? this.legs[0]!;
    const r = this.record;
    r.target = leg.rec.target;
    r.bLegCallId = leg.rec.bLegCallId;
    r.outcome = leg.rec.outcome;
    if (leg.rec.cause !== undefined) r.cause = leg.rec.cause;
    if (leg.rec.errorMessage !== undefined) r.errorMessage = leg.rec.errorMessage;
    if (leg.rec.endedAtMs !== undefined) r.timings.bLegEndedAtMs = leg.rec.endedAtMs;
    return leg;
  }

  /**
   * The A-leg side ends a transfer in progress (the caller hung up, the BXML was replaced, the call was
   * ended through the API): every leg still up gets transferDisconnect (`cancel` while ringing,
   * `hangup` once answered). No transferComplete (BW §9.12; docs/simulator.md#transfers). Idempotent.
   */
  abort(by: TransferEndedBy): Promise<void> {
    if (this.aborting) return this.aborting;
    if (this.record.state === 'ended') return Promise.resolve();
    this.aborting = (async () => {
      this.record.endedBy ??= by;
      for (const leg of this.legs) {
        if (leg.rec.state === 'ended') continue;
        await this.endLeg(leg, leg.rec.state === 'ringing' ? 'cancelled' : 'answered');
      }
      this.describe();
      this.finish();
    })();
    return this.aborting;
  }

  private finish(): void {
    const r = this.record;
    if (r.state !== 'ended') {
      r.state = 'ended';
      r.timings.endedAtMs = this.host.clock.now();
    }
    if (this.host.activeTransfer === this) this.host.activeTransfer = undefined;
    if (this.host.heldAt === this.held) this.host.heldAt = undefined;
  }
}
