import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { MediaFrameTap } from '../bandwidth/media/media-tap';
import type { WebhookExchange } from '../bandwidth/webhooks';
import type { OpenAIRestTap, OpenAIWebhookTap, RealtimeTap } from '../openai/realtime-tap';
import { readUui } from '../sip-uui';
import { RECORD_MAX_OPEN_CALLS } from '../constants';
import { fileStemFor } from '../files';
import { CallTape } from './call-tape';
import { isCredentialName, scrubJson, scrubSecrets, stripTokens, type PhoneRedactor } from './redact';
import { TAPE_DIR_SUFFIX, TAPE_FORMAT, TAPE_INDEX, type AudioTrack, type TapeEntry } from './tape-format';
import { RealtimeContentRedactor } from './transcript-redact';

/**
 * Whole-call recording (RECORD_DIR / `serve --record`), beside the callback scenarios of recorder.ts: the
 * media frames both ways, the Realtime events both ways and OpenAI's webhooks, each call in
 * `DIR/<call>.call/` (tape-format.ts). The adapters call the taps handed out here; nothing in the bridge
 * knows. Same rules as the callback recorder: secrets and tokens always stripped, and with `redact` phone
 * numbers (the same placeholders as the call's scenario file), transcript text, tool-call arguments and
 * outputs and key presses too (transcript-redact.ts); the audio tracks are kept as they are.
 *
 * The taps run on the relay path (~100 frames/s per call): a frame that is only a payload and ids skips
 * the scrubbing, the tape buffers its writes (call-tape.ts), and a call over its budget costs nothing more.
 */
export interface CallRecorderOptions {
  dir: string;
  clock: Clock;
  secrets: string[];
  redact: boolean;
  budgetBytes: number;
  /** The call's phone placeholders, shared with its callback scenario file (recorder.ts). */
  phoneRedactorFor: (callId: string) => PhoneRedactor | undefined;
  /** Calls held open at once (default RECORD_MAX_OPEN_CALLS). */
  maxOpenCalls?: number;
  logger?: Logger;
}

interface OpenTape {
  tape: CallTape;
  startMs: number;
  sessions: number;
  /** The call's Realtime content redaction (with `redact`): it learns the tools' enum values per call. */
  content: RealtimeContentRedactor | undefined;
}

type Json = Record<string, unknown>;

export class CallRecorder {
  private readonly tapes = new Map<string, OpenTape>();
  /** OpenAI SIP call id → the Bandwidth call it belongs to (the webhook's `uui`), so a sideband records into its call. */
  private readonly sipParents = new Map<string, string>();

  private readonly maxOpenCalls: number;

  constructor(private readonly options: CallRecorderOptions) {
    this.maxOpenCalls = options.maxOpenCalls ?? RECORD_MAX_OPEN_CALLS;
  }

  dirFor(callId: string): string {
    return path.join(this.options.dir, `${fileStemFor(callId)}${TAPE_DIR_SUFFIX}`);
  }

  /** Called beside the callback recorder: puts each callback on the call's timeline (the full exchange is in the scenario file). */
  readonly callback = (x: WebhookExchange): void => {
    const body = x.body && typeof x.body === 'object' ? (x.body as Json) : {};
    const owner = str(body.parentCallId) ?? str(body.callId);
    if (!owner) return;
    this.guard(owner, () => this.write(owner, { src: 'callback', dir: 'in', type: x.route, event: { eventType: body.eventType, callId: body.callId, cause: body.cause, status: x.status } }));
    // The call (not one of its transfer legs) hung up: its files are closed; anything later opens them again.
    if (body.eventType === 'disconnect' && body.callId === owner) this.guard(owner, () => this.tapes.get(owner)?.tape.close());
  };

  /** Flush and close every tape (the server is stopping). */
  close(): void {
    for (const [callId, open] of this.tapes) this.guard(callId, () => open.tape.close());
  }

  mediaTap = (callId: string): MediaFrameTap => ({
    received: (text) => this.overBudget(callId) || this.guard(callId, () => this.mediaFrame(callId, 'in', text)),
    sent: (text) => this.overBudget(callId) || this.guard(callId, () => this.mediaFrame(callId, 'out', text)),
  });

  /** A call past its budget is not recorded any more: its frames are not even parsed. */
  private overBudget(callId: string): boolean {
    return this.tapes.get(callId)?.tape.exceeded === true;
  }

  realtimeTap = (sessionCallId: string): RealtimeTap => {
    // Filed under its call at its first event: a sideband opens while its webhook is answered, after `received` named the call.
    let session: { callId: string; n: number } | undefined;
    const write = (entry: (callId: string, n: number) => void) =>
      this.guard(session?.callId ?? sessionCallId, () => {
        if (!session) {
          const callId = this.sipParents.get(sessionCallId) ?? sessionCallId;
          session = { callId, n: ++this.open(callId).sessions };
          this.write(callId, { src: 'realtime', dir: 'out', type: 'connect', session: session.n, event: { sessionCallId } });
        }
        entry(session.callId, session.n);
      });
    return {
      sent: (text) => (session && this.overBudget(session.callId)) || write((callId, n) => this.realtimeEvent(callId, n, 'out', text)),
      received: (text) => (session && this.overBudget(session.callId)) || write((callId, n) => this.realtimeEvent(callId, n, 'in', text)),
      refused: (status) => write((callId, n) => this.write(callId, { src: 'realtime', dir: 'in', type: 'refused', session: n, event: { status } })),
      closed: (code, reason) => write((callId, n) => this.write(callId, { src: 'realtime', dir: 'in', type: 'closed', session: n, event: { code, reason } })),
    };
  };

  /** OpenAI webhooks (openai-sip): the event and our answer; the signature headers are not kept. */
  readonly openaiWebhook: OpenAIWebhookTap = {
    received: (rawBody) => {
      const { sipCallId, callId } = this.webhookCall(rawBody);
      if (!sipCallId || callId === sipCallId) return;
      if (this.sipParents.size >= this.maxOpenCalls) this.sipParents.delete(this.sipParents.keys().next().value!);
      this.sipParents.set(sipCallId, callId);
    },
    answered: (delivery) => {
      const { callId, sipCallId, event } = this.webhookCall(delivery.rawBody);
      if (sipCallId && delivery.status >= 300) this.sipParents.delete(sipCallId); // refused: it names no call of ours
      const headers = { 'webhook-id': delivery.headers['webhook-id'], 'webhook-timestamp': delivery.headers['webhook-timestamp'] };
      this.guard(callId, () => this.write(callId, { src: 'openai-webhook', dir: 'in', type: String(event.type ?? 'unknown'), event: { headers, body: event, answer: { status: delivery.status, body: delivery.body } } }));
    },
  };

  /** Our requests to OpenAI's SIP call endpoints (accept, refer, hangup, reject), filed under the call. */
  readonly openaiRest: OpenAIRestTap = (call) => {
    const sipCallId = /\/realtime\/calls\/([^/]+)/.exec(call.path)?.[1];
    const id = sipCallId ? decodeURIComponent(sipCallId) : 'no-call-id';
    const callId = this.sipParents.get(id) ?? id;
    let body: unknown = call.body;
    try {
      body = call.body ? JSON.parse(call.body) : undefined;
    } catch {
      /* kept as text */
    }
    this.guard(callId, () => this.write(callId, { src: 'openai-rest', dir: 'out', type: `${call.method} ${call.path}`, event: { body, status: call.status } }));
  };

  /** The OpenAI call a webhook names and the Bandwidth call it belongs to (our `uui`, sb=…), else itself. */
  private webhookCall(rawBody: string): { event: Json; sipCallId: string | undefined; callId: string } {
    let event: Json;
    try {
      event = JSON.parse(rawBody) as Json;
    } catch {
      event = { unparseable: rawBody.slice(0, 200) };
    }
    const data = (event.data ?? {}) as { call_id?: unknown; sip_headers?: { name?: string; value?: string }[] };
    const sipCallId = str(data.call_id);
    const uui = data.sip_headers?.find((h) => /^(user-to-user|x-uui)$/i.test(h.name ?? ''))?.value;
    const parent = readUui(uui).fields.sb;
    return { event, sipCallId, callId: parent && /^c-[\w-]+$/.test(parent) ? parent : (sipCallId ?? 'no-call-id') };
  }

  private mediaFrame(callId: string, dir: 'in' | 'out', text: string): void {
    const frame = parseJson(text);
    if (!frame) return this.write(callId, { src: 'media', dir, type: 'unparseable', event: { text: text.slice(0, 200) } });
    const type = String(frame.eventType ?? 'unknown');
    if (type === 'media' && typeof frame.payload === 'string') {
      const { payload, ...rest } = frame;
      const track: AudioTrack = frame.track === 'outbound' ? 'caller-echo' : 'caller-in';
      return this.write(callId, { src: 'media', dir, type, event: rest }, { track, bytes: Buffer.from(payload, 'base64') });
    }
    const media = frame.media as Json | undefined;
    if (type === 'playAudio' && typeof media?.payload === 'string') {
      const { payload, ...mediaRest } = media;
      return this.write(callId, { src: 'media', dir, type, event: { ...frame, media: mediaRest } }, { track: 'caller-out', bytes: Buffer.from(payload, 'base64') });
    }
    this.write(callId, { src: 'media', dir, type, event: frame });
  }

  private realtimeEvent(callId: string, session: number, dir: 'in' | 'out', text: string): void {
    const event = parseJson(text);
    if (!event) return this.write(callId, { src: 'realtime', dir, type: 'unparseable', session, event: { text: text.slice(0, 200) } });
    const type = String(event.type ?? 'unknown');
    if (type === 'input_audio_buffer.append' && typeof event.audio === 'string') {
      const { audio, ...rest } = event;
      return this.write(callId, { src: 'realtime', dir, type, session, event: rest }, { track: 'model-in', bytes: Buffer.from(audio, 'base64') });
    }
    if (type === 'response.output_audio.delta' && typeof event.delta === 'string') {
      const { delta, ...rest } = event;
      return this.write(callId, { src: 'realtime', dir, type, session, event: rest }, { track: 'model-out', bytes: Buffer.from(delta, 'base64') });
    }
    this.write(callId, { src: 'realtime', dir, type, session, event });
  }

  private write(callId: string, entry: Omit<TapeEntry, 't' | 'audio'>, audio?: { track: AudioTrack; bytes: Buffer }): void {
    const open = this.open(callId);
    if (open.tape.exceeded) return;
    const clean = entry.event && !(audio && this.isPlainFrame(entry.event)) ? { ...entry, event: this.clean(callId, open, entry.src, entry.event) } : entry;
    open.tape.append({ t: Math.max(0, this.options.clock.now() - open.startMs), ...clean }, audio);
  }

  /**
   * A frame with nothing to scrub: the rest of an audio frame once its payload is out (`media`,
   * `playAudio`, `append`, `delta`: event type, track, sequence number, ids). Only short id-like strings,
   * none holding a long digit run (a phone number) or a secret, and no credential-named field.
   */
  private isPlainFrame(event: Json, depth = 0): boolean {
    for (const [k, v] of Object.entries(event)) {
      if (typeof v === 'number' || typeof v === 'boolean' || v === null) continue;
      if (typeof v === 'string') {
        if (!PLAIN_VALUE.test(v) || /\d{7}/.test(v) || isCredentialName(k) || stripTokens(v) !== v) return false;
        if (v.length >= 6 && this.options.secrets.some((s) => s.length >= 6 && v.includes(s))) return false;
        continue;
      }
      if (depth === 0 && v && typeof v === 'object' && !Array.isArray(v) && this.isPlainFrame(v as Json, 1)) continue;
      return false;
    }
    return true;
  }

  /** Secrets and tokens always; with `redact`, phone numbers and what was said, typed and pressed. */
  private clean(callId: string, open: OpenTape, src: TapeEntry['src'], event: Json): Json {
    let value = scrubJson(event) as Json;
    if (open.content && src === 'realtime') value = open.content.redact(value);
    let text = scrubSecrets(JSON.stringify(value), this.options.secrets);
    const phones = this.options.redact ? this.options.phoneRedactorFor(callId) : undefined;
    if (phones) text = phones.redact(text);
    return JSON.parse(text) as Json;
  }

  private open(callId: string): OpenTape {
    let open = this.tapes.get(callId);
    if (open) return open;
    if (this.tapes.size >= this.maxOpenCalls) {
      const oldest = this.tapes.keys().next().value;
      if (oldest !== undefined) this.evict(oldest);
    }
    const header = { format: TAPE_FORMAT, callId, startedAt: new Date(this.options.clock.wallNow()).toISOString(), redacted: this.options.redact, budgetBytes: this.options.budgetBytes } as const;
    const tape = new CallTape(this.dirFor(callId), header, this.options.logger);
    // Carrying on a redacted tape: placeholders already in it are not handed out again for other numbers.
    if (tape.carriedOn && this.options.redact) this.options.phoneRedactorFor(callId)?.reservePlaceholdersIn(fs.readFileSync(path.join(tape.dir, TAPE_INDEX), 'utf8'));
    // Times stay relative to the tape's start, also for a tape carried on after the recorder let go of it.
    const { clock } = this.options;
    open = { tape, startMs: clock.now() - Math.max(0, clock.wallNow() - tape.startedWallMs), sessions: 0, content: this.options.redact ? new RealtimeContentRedactor() : undefined };
    this.tapes.set(callId, open);
    return open;
  }

  /** Let go of a call: its files closed, and the OpenAI SIP calls filed under it forgotten (the map stays bounded). */
  private evict(callId: string): void {
    const open = this.tapes.get(callId);
    this.tapes.delete(callId);
    for (const [sipCallId, parent] of this.sipParents) if (parent === callId) this.sipParents.delete(sipCallId);
    if (open) this.guard(callId, () => open.tape.close());
  }

  /** A recorder never breaks a call: a failed write is logged, and the call goes on. */
  private guard(callId: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.logger?.warn({ callId, err: (err as Error).message }, 'could not record part of a call');
    }
  }
}

/** A value with no free text: ids, event types, track names, sequence numbers, content types. */
const PLAIN_VALUE = /^[\w./:-]{0,64}$/;

function parseJson(text: string): Json | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}
