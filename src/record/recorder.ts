import fs from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock } from '../clock';
import type { Logger } from '../log';
import { escapeXml } from '../bandwidth/bxml/template';
import { RECORD_MAX_OPEN_CALLS } from '../constants';
import type { TokenPurpose } from '../security/signing';
import type { WebhookExchange } from '../bandwidth/webhooks';
import { ensurePrivateDir, fileStemFor } from '../files';
import { PhoneRedactor, scrubJson, scrubSecrets, scrubXml, stripTokens } from './redact';
import { readScenario, writeFileAtomic, type Step } from './scenario';
import type { ScenarioRequires } from './scenario-settings';
import { redactCallbackBody, redactContext, redactedText } from './transcript-redact';

/**
 * RECORD_DIR / `serve --record DIR`: every Bandwidth callback Switchboard answers is appended, with its
 * response, status and timing, to one scenario file per call (DIR/<callId>.json, the format of
 * scenario.ts). Transfer legs' callbacks go into their parent call's file. The file is rewritten
 * atomically (temp + rename) after each step, so it is complete after every callback.
 *
 * Never recorded: the Authorization header (only Content-Type is kept), username/password values,
 * sealed tokens, and — a final pass over each step — any of the server's own secrets. With `redact`,
 * phone numbers become consistent placeholders within the file, the keys the caller pressed become `D`s,
 * and a stored context's `reason`/`summary` (the model's words about the caller) a placeholder of their
 * length, also where our BXML speaks them (the whisper).
 *
 * A call met again (the server restarted mid-call, or the recorder let go of it) carries on its file:
 * the steps already there are kept and new ones appended, at times relative to the same start.
 */
export interface RecorderOptions {
  dir: string;
  /** PUBLIC_BASE_URL of the recording server: the recorded URLs are absolute, like Bandwidth's. */
  publicBaseUrl: string;
  redact?: boolean;
  /** Values that must never appear in a file (callback password, admin token, signing secret, …). */
  secrets: string[];
  /** Open a sealed token (returns its data, or throws); lets a replay re-mint it with another secret. */
  unseal?: (token: string, purpose: TokenPurpose) => unknown;
  /**
   * The settings of the agent that answers a call (scenario-settings.ts requiresOfAgent), written into the
   * file's meta as `requires`, so that `replay` configures its server as this one was.
   */
  requiresFor?: (callId: string) => Promise<ScenarioRequires | undefined>;
  /** The server's clock: steps' `atMs` are on it (the system clock unless a test runs the server on another). */
  clock?: Clock;
  logger?: Logger;
}

/** Which purpose the `t` token of each route was sealed for (call-flows.ts). */
const TOKEN_PURPOSE: Record<string, TokenPurpose> = {
  answer: 'answer',
  redirect: 'redirect',
  'stream-ended': 'stream-ended',
  'transfer-answer': 'transfer',
  'transfer-complete': 'transfer',
  'transfer-disconnect': 'transfer',
};


interface CallFile {
  file: string;
  steps: Step[];
  redactor: PhoneRedactor | undefined;
  startedMs: number;
  /** Whether meta.requires is written, being looked up, or still to find (the agent may not be known yet). */
  requires: 'unknown' | 'looking' | 'known';
  /** With `redact`: caller content met in stored contexts, replaced wherever it appears later (the whisper's BXML). */
  contentTexts: Set<string>;
}

export class ScenarioRecorder {
  private readonly calls = new Map<string, CallFile>();
  private readonly clock: Clock;

  constructor(private readonly options: RecorderOptions) {
    ensurePrivateDir(options.dir);
    this.clock = options.clock ?? systemClock;
  }

  /** The hook webhooks.ts calls after answering a callback. Never throws. */
  readonly record = (exchange: WebhookExchange): void => {
    try {
      this.append(exchange);
    } catch (err) {
      this.options.logger?.warn({ err: (err as Error).message, route: exchange.route }, 'could not record a callback');
    }
  };

  /** The call's phone placeholders (with `redact`), so its whole-call recording uses the same ones. */
  phoneRedactorFor(callId: string): PhoneRedactor | undefined {
    return this.open(callId).redactor;
  }

  /** The file a call is (or would be) recorded in. */
  fileFor(callId: string): string {
    return path.join(this.options.dir, `${fileStemFor(callId)}.json`);
  }

  private append(x: WebhookExchange): void {
    const body = x.body && typeof x.body === 'object' ? (x.body as Record<string, unknown>) : {};
    const owner = str(body.parentCallId) ?? str(body.callId) ?? 'no-call-id';
    const call = this.open(owner);
    const atMs = Math.round(this.clock.now() - call.startedMs);
    let sealed: { purpose: string; data: unknown; context?: unknown } | undefined;
    const purpose = TOKEN_PURPOSE[x.route];
    if (x.token && purpose && this.options.unseal) {
      try {
        // A token holds ids; the context it names is stored, so it is recorded beside them (DESIGN §4.6).
        sealed = { purpose, data: this.options.unseal(x.token, purpose), ...(x.context !== undefined ? { context: x.context } : {}) };
      } catch {
        sealed = undefined; // a forged or expired token: nothing to re-mint
      }
    }
    const request: Record<string, unknown> = {
      method: x.method,
      url: stripTokens(`${this.options.publicBaseUrl}${x.url}`),
      headers: x.contentType ? { 'Content-Type': x.contentType } : {},
    };
    if (x.method !== 'GET') request.body = this.options.redact ? redactCallbackBody(scrubJson(x.body)) : scrubJson(x.body);
    if (sealed && this.options.redact && sealed.context !== undefined) {
      const { context, texts } = redactContext(sealed.context);
      sealed = { ...sealed, context };
      for (const t of texts) call.contentTexts.add(t);
    }
    if (sealed) request.sealed = scrubJson(sealed);
    request.atMs = atMs;
    const response: Record<string, unknown> = { status: x.status };
    if (x.responseContentType) response.headers = { 'Content-Type': x.responseContentType };
    if (x.responseBody !== undefined && x.responseBody !== '') response.body = this.withoutContent(call, scrubXml(x.responseBody));
    response.durationMs = Math.round(x.durationMs * 1000) / 1000;
    const seq = call.steps.length;
    this.push(call, { seq, from: 'bandwidth', to: 'app', transport: 'http', kind: 'callback', request });
    this.push(call, { seq: seq + 1, from: 'app', to: 'bandwidth', transport: 'http', kind: 'callback-response', response });
    writeFileAtomic(call.file, `${JSON.stringify(call.steps, null, 2)}\n`);
    if (call.requires === 'unknown') this.lookUpRequires(owner, call);
  }

  /** Caller content already met (a summary) replaced where our BXML renders it, raw or XML-escaped. */
  private withoutContent(call: CallFile, xml: string): string {
    let out = xml;
    // Longest first: a short reason may be part of a summary, which must still be found whole.
    const texts = [...call.contentTexts].sort((a, b) => b.length - a.length);
    for (const text of texts) for (const form of new Set([escapeXml(text), text])) out = out.split(form).join(redactedText(text));
    return out;
  }

  /** Asked after a callback was answered: by then its call's agent is stored (the durability rule). */
  private lookUpRequires(callId: string, call: CallFile): void {
    const requiresFor = this.options.requiresFor;
    if (!requiresFor) return;
    call.requires = 'looking';
    requiresFor(callId).then(
      (requires) => {
        if (!requires) {
          call.requires = 'unknown'; // no agent yet (or none at all): the next callback asks again
          return;
        }
        let text = scrubSecrets(JSON.stringify(requires), this.options.secrets);
        if (call.redactor) text = call.redactor.redact(text);
        const meta = call.steps[0];
        if (meta?.kind === 'meta') meta.meta = { ...meta.meta, requires: JSON.parse(text) as unknown };
        call.requires = 'known';
        writeFileAtomic(call.file, `${JSON.stringify(call.steps, null, 2)}\n`);
      },
      (err: Error) => {
        call.requires = 'unknown';
        this.options.logger?.warn({ err: err.message }, "could not record the settings of a call's agent");
      },
    );
  }

  private push(call: CallFile, step: Step): void {
    let text = scrubSecrets(JSON.stringify(step), this.options.secrets);
    if (call.redactor) text = call.redactor.redact(text);
    call.steps.push(JSON.parse(text) as Step);
  }

  private open(callId: string): CallFile {
    let call = this.calls.get(callId);
    if (call) return call;
    if (this.calls.size >= RECORD_MAX_OPEN_CALLS) {
      const oldest = this.calls.keys().next().value;
      if (oldest !== undefined) this.calls.delete(oldest);
    }
    const file = this.fileFor(callId);
    const existing = existingSteps(file, callId);
    const redactor = this.options.redact ? new PhoneRedactor() : undefined;
    if (existing) {
      // Carry on the file: times stay relative to its start; new numbers get placeholders not used in it yet.
      const recordedAtMs = Date.parse(String(existing[0]!.meta?.recordedAt));
      const startedMs = this.clock.now() - (Number.isFinite(recordedAtMs) ? Math.max(0, this.clock.wallNow() - recordedAtMs) : 0);
      redactor?.reservePlaceholdersIn(JSON.stringify(existing));
      call = { file, steps: existing, redactor, startedMs, requires: existing[0]!.meta?.requires ? 'known' : 'unknown', contentTexts: new Set() };
      this.calls.set(callId, call);
      return call;
    }
    call = { file, steps: [], redactor, startedMs: this.clock.now(), requires: 'unknown', contentTexts: new Set() };
    call.steps.push({
      seq: 0,
      from: 'switchboard',
      to: 'recorder',
      transport: 'none',
      kind: 'meta',
      meta: { callId, recordedAt: new Date(this.clock.wallNow()).toISOString(), redacted: Boolean(this.options.redact) },
    });
    this.calls.set(callId, call);
    return call;
  }
}

/** The steps of the call's existing file, when it is a readable scenario of this very call (else it is replaced). */
function existingSteps(file: string, callId: string): Step[] | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const steps = readScenario(file) as Step[];
    return steps[0]?.kind === 'meta' && steps[0].meta?.callId === callId ? steps : undefined;
  } catch {
    return undefined;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}
