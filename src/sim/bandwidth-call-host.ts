/**
 * The port between SimulatedCall (src/sim/bandwidth-caller.ts) and the parts that act on its call: the
 * BXML interpreter, the transfer model and the stream start. SimulatedCall owns the state (its public
 * fields are what tests inspect) and hands the parts this view of it.
 */
import type { Clock } from '../clock';
import type { BxmlDocument, CallEnd, CallEndReason, SimulatedCallOptions, StreamInfo } from './bandwidth-call-types';
import type { CallbackSender, CallbackTarget } from './bandwidth-callbacks';
import type { MediaStream, MediaStreamHost } from './bandwidth-media-stream';
import type { RunControl } from './bandwidth-run-control';
import type { TransferEndedBy, TransferRecord } from './bandwidth-transfer';

/** Where execution stopped: a verb not modelled, or a Transfer ringing/bridged. */
export interface HeldAt {
  verb: string;
  atMs: number;
}

/** A SpeakSentence / PlayAudio verb executed (instantaneous in the stand-in). */
export interface SpokenVerb {
  atMs: number;
  verb: string;
  text: string;
  attributes: Record<string, string>;
}

/** The transfer in progress, as the call sees it (bandwidth-transfer-run.ts). */
export interface ActiveTransferView {
  readonly record: TransferRecord;
  /** End it from the A-leg side (caller hang-up, interruption, API hang-up). Idempotent. */
  abort(by: TransferEndedBy): Promise<void>;
}

export interface CallHost {
  readonly clock: Clock;
  readonly opts: SimulatedCallOptions;
  readonly callId: string;
  readonly from: string;
  readonly to: string;
  readonly accountId: string;
  readonly applicationId: string;
  readonly callbacks: CallbackSender;
  readonly control: RunControl;
  readonly spoken: SpokenVerb[];
  readonly transfers: TransferRecord[];
  readonly streams: StreamInfo[];
  readonly mediaHost: MediaStreamHost;
  /** The stand-in was destroyed or failed: no further callbacks. */
  readonly destroyed: boolean;
  /** The call is ending (hang-up under way or done). */
  readonly ending: boolean;
  tag: string | undefined;
  heldAt: HeldAt | undefined;
  afterStream: BxmlDocument | undefined;
  answerIso: string | undefined;
  /** The latest media stream's info (public `stream`). */
  stream: StreamInfo | undefined;
  startFrame: Record<string, unknown> | undefined;
  /** The latest media stream (the running one, if open). */
  live: MediaStream | undefined;
  /** Clock time the first stream opened: 0 ms of the caller's audio timeline. */
  audioOriginMs: number | undefined;
  activeTransfer: ActiveTransferView | undefined;
  /** Where key presses go while a `<StartGather>` is active (its dtmfUrl); undefined otherwise. */
  gather: CallbackTarget | undefined;
  /** Wall-clock ISO time of the clock's current reading. */
  iso(): string;
  /** The fields every call callback carries (BW §1.5). */
  commonFields(eventType: string): Record<string, unknown>;
  endCall(reason: CallEndReason, cause: string, errorMessage?: string): Promise<CallEnd>;
}
