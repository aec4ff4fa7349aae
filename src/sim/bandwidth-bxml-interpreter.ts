/**
 * The BXML interpreter of the Bandwidth caller stand-in (BW §2; docs/simulator.md#bxml): runs a
 * document verb by verb on the call. StartStream does not block; StopStream wait, Pause and Transfer
 * do; Redirect and transferComplete chain to the BXML they fetch; Hangup and the end of a document
 * hang up; a verb the stand-in does not model holds execution there (`heldAt`).
 */
import { elementChildren, textContent, type XmlElement } from '../bandwidth/bxml/xml';
import type { BxmlDocument } from './bandwidth-call-types';
import type { CallHost } from './bandwidth-call-host';
import { callbackTargets } from './bandwidth-callbacks';
import { CallOver } from './bandwidth-run-control';
import { startStream } from './bandwidth-stream-start';
import { TransferRun, type ExecuteDocument } from './bandwidth-transfer-run';
import { KNOWN_VERBS } from './bandwidth-verbs';

/** Verbs that do not answer an unanswered inbound call. */
const NON_ANSWERING = new Set(['Hangup', 'Forward', 'Tag']);

/** Cap on chained Redirects when the options give none, to stop a redirect loop. */
const DEFAULT_MAX_REDIRECTS = 20;

export class BxmlInterpreter {
  /** transferComplete's BXML runs on the A-leg through this (BW §1.3). */
  private readonly executeDoc: ExecuteDocument = (doc, depth, gen) => this.execute(doc, depth, gen);

  constructor(
    private readonly host: CallHost,
    /** The stand-in itself failed while running BXML. */
    private readonly onInternalError: (err: unknown) => void,
  ) {}

  /**
   * Run a document as the call's current BXML, interrupting whatever ran before (each run has a
   * generation; an older run stops at its next step). Resolves when the new run first blocks or ends.
   */
  startRun(doc: BxmlDocument): Promise<void> {
    const { control } = this.host;
    const { gen, blocked } = control.begin();
    this.host.heldAt = undefined;
    control.wakeAll();
    // A transfer in progress ends (its legs get transferDisconnect) before the new BXML runs.
    const interrupted = this.host.activeTransfer;
    const run = (async () => {
      if (interrupted) await interrupted.abort('interrupted');
      await this.runDocument(doc, 0, gen);
    })().catch((err: unknown) => this.onInternalError(err));
    return Promise.race([blocked, run]);
  }

  private async runDocument(doc: BxmlDocument, depth: number, gen: number): Promise<void> {
    try {
      await this.execute(doc, depth, gen);
    } catch (err) {
      if (err instanceof CallOver) return;
      throw err;
    }
  }

  private async execute(doc: BxmlDocument, depth: number, gen: number): Promise<void> {
    const root = doc.root;
    if (root.name !== 'Response' && root.name !== 'Bxml') {
      await this.host.endCall('invalid-bxml', 'invalid-bxml', `root element <${root.name}> is not <Response> or <Bxml>`);
      return;
    }
    const verbs = elementChildren(root);
    const unknown = verbs.find((v) => !KNOWN_VERBS.has(v.name));
    if (unknown) {
      await this.host.endCall('invalid-bxml', 'invalid-bxml', `unknown verb <${unknown.name}> (line ${unknown.line})`);
      return;
    }
    for (const verb of verbs) {
      this.host.control.checkLive(gen);
      if (!NON_ANSWERING.has(verb.name) && this.host.answerIso === undefined) this.host.answerIso = this.host.iso();
      switch (verb.name) {
        case 'StartStream': {
          const running = this.host.live?.open ? this.host.live : undefined;
          if (running && verb.attributes.name !== running.info.name) {
            // Two streams at once (different names) are legal on Bandwidth but not modelled here.
            this.holdAt('StartStream (a second concurrent stream)', gen);
            return;
          }
          await startStream(this.host, verb, doc.url, gen);
          break;
        }
        case 'StopStream':
          await this.stopStreamVerb(verb, gen);
          break;
        case 'Pause': {
          const seconds = Number(verb.attributes.duration ?? '1');
          await this.host.control.waitOn(gen, Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : 1000);
          break;
        }
        case 'Redirect':
          await this.redirect(verb, doc.url, depth, gen);
          return; // Redirect ends the document (BW §2.1)
        case 'Transfer':
          // With transferCompleteUrl, its BXML replaces the rest of this document (BW §1.3).
          if ((await TransferRun.execute(this.host, verb, doc.url, depth, gen, this.executeDoc)) === 'replaced') return;
          break;
        case 'Hangup':
          await this.host.endCall('bxml-hangup', 'hangup');
          return;
        case 'Tag':
          this.host.tag = textContent(verb).trim() || undefined;
          break;
        case 'StartGather':
          // Does not block: every key pressed from now on is a dtmf callback (bandwidth.yml dtmfCallback).
          this.host.gather = callbackTargets(verb, 'dtmf', doc.url).primary;
          break;
        case 'StopGather':
          this.host.gather = undefined;
          break;
        case 'SpeakSentence':
        case 'PlayAudio':
          this.host.spoken.push({ atMs: this.host.clock.now(), verb: verb.name, text: textContent(verb).trim(), attributes: { ...verb.attributes } });
          break;
        default:
          this.holdAt(verb.name, gen);
          return;
      }
    }
    this.host.control.checkLive(gen);
    // Running off the end of the document is an implicit <Hangup> (BW §2.1).
    await this.host.endCall('end-of-bxml', 'hangup');
  }

  /** A verb this stand-in does not model: execution stops there and the call stays up. */
  private holdAt(verb: string, gen: number): void {
    this.host.heldAt = { verb, atMs: this.host.clock.now() };
    this.host.control.markBlocked(gen);
  }

  private async stopStreamVerb(verb: XmlElement, gen: number): Promise<void> {
    const live = this.host.live;
    const name = verb.attributes.name;
    if (!name || !live || !live.open || live.info.name !== name) return; // no such running stream: no-op (BW §2.3)
    if (verb.attributes.wait === 'true') {
      await this.host.control.waitOn(gen, live.done);
      return;
    }
    await live.stop('bxml');
  }

  private async redirect(verb: XmlElement, docUrl: string, depth: number, gen: number): Promise<void> {
    const maxRedirects = this.host.opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    if (depth >= maxRedirects) {
      await this.host.endCall('callback-error', 'callback-error', `more than ${maxRedirects} chained redirects`);
      return;
    }
    if (!verb.attributes.redirectUrl) {
      await this.host.endCall('invalid-bxml', 'invalid-bxml', '<Redirect> without redirectUrl');
      return;
    }
    if (verb.attributes.tag !== undefined) this.host.tag = verb.attributes.tag || undefined;
    const { primary, fallback } = callbackTargets(verb, 'redirect', docUrl);
    const fetched = await this.host.callbacks.fetchBxmlWithFallback('redirect', () => this.host.commonFields('redirect'), primary, fallback, () => this.host.control.checkLive(gen));
    if (!fetched.ok) {
      if (fetched.invalid) await this.host.endCall('invalid-bxml', 'invalid-bxml', fetched.error);
      else await this.host.endCall('callback-error', 'callback-error', `Callback to ${primary.url} failed`);
      return;
    }
    if (this.host.stream?.endedBy !== undefined && !this.host.afterStream) this.host.afterStream = fetched.doc;
    await this.execute(fetched.doc, depth + 1, gen);
  }
}
