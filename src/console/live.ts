import type { ServerResponse } from 'node:http';
import express, { type Router } from 'express';
import type { Clock, TimerHandle } from '../clock';
import { CONSOLE_LIVE_HEARTBEAT_MS, CONSOLE_LIVE_MAX_BUFFERED_BYTES, CONSOLE_LIVE_MAX_CALLS, CONSOLE_LIVE_MAX_STREAMS, CONSOLE_LIVE_RETRY_MS } from '../constants';
import type { Logger } from '../log';
import type { AccessResult } from './access';
import type { ConsoleSession } from './sessions';
import { CALL_STATES, FINAL_CALL_STATES, type CallRecord, type Store, type StoreChange, type TranscriptItemRecord } from '../store/types';

/**
 * The console's live view (docs/console.md, "Live calls"): `GET /api/live`, a server-sent event stream fed
 * by the store's change feed (src/store/types.ts ChangeFeed). The feed carries ids only; each stream reads
 * the call or transcript a change names and sends what the page shows:
 *
 * - `snapshot` once: `{ calls }`, the calls live when the stream opened, then a `transcript` per call;
 * - `call`: `{ call }`, a call (its leg with no parent: the caller leg, or the AI SIP leg of an openai-sip call
 *   that came without our Bandwidth leg) whose row changed; final states tell the page it ended;
 * - `transcript`: `{ callId, legId, lines }`, every line stored so far for one leg of a call (the call's own
 *   id, or its AI SIP leg's, where an openai-sip call talks), in conversation order: a transcription that
 *   arrives late can land before lines already shown, so the leg's lines are sent whole.
 *
 * A stream opened with a console session ends (`signed-out`) at its first change or heartbeat after the session
 * has: signing out or expiry stops the data, not only the next request.
 * A comment line every heartbeat keeps proxies from closing an idle stream. At most `maxStreams` at once
 * (each one reads the store on every change); a client that stops reading is dropped.
 */
export interface LiveCallView {
  id: string;
  direction: CallRecord['direction'];
  from: string | null;
  to: string | null;
  agentId: string | null;
  mode: CallRecord['mode'];
  state: CallRecord['state'];
  cause: string | null;
  outcome: CallRecord['outcome'];
  startedAt: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  createdAt: string;
}

export interface LiveTranscriptLine {
  role: TranscriptItemRecord['role'];
  text: string;
  heardMs: number | null;
  truncated: boolean;
  at: string;
}

export interface LiveDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  heartbeatMs?: number;
  maxStreams?: number;
  /**
   * Whether a console session is still signed in (a read of the store every instance shares): a stream opened
   * with one ends when it does, whichever instance it was ended on.
   */
  sessionAlive?: (session: ConsoleSession) => Promise<boolean>;
}

const LIVE_STATES = CALL_STATES.filter((s) => !FINAL_CALL_STATES.includes(s));

export class LiveStreams {
  private readonly streams = new Set<LiveStream>();

  constructor(private readonly deps: LiveDeps) {}

  get size(): number {
    return this.streams.size;
  }

  router(): Router {
    const router = express.Router();
    router.get('/live', (req, res) => {
      // HEAD: the page asking whether it may stream (its session, the cap) without opening a stream.
      if (req.method === 'HEAD') {
        res.status(this.streams.size >= (this.deps.maxStreams ?? CONSOLE_LIVE_MAX_STREAMS) ? 503 : 200).end();
        return;
      }
      const max = this.deps.maxStreams ?? CONSOLE_LIVE_MAX_STREAMS;
      if (this.streams.size >= max) {
        res.setHeader('Retry-After', String(Math.ceil(CONSOLE_LIVE_RETRY_MS / 1000)));
        res.status(503).json({ error: { code: 'unavailable', message: `too many live streams open (at most ${max}): close another console tab and retry` } });
        return;
      }
      const access = res.locals.adminAccess as AccessResult | undefined;
      const session = access?.ok && access.via === 'session' ? access.session : undefined;
      const allowed = session && this.deps.sessionAlive ? () => this.deps.sessionAlive!(session) : async () => true;
      const stream = new LiveStream(res, this.deps, allowed, () => this.streams.delete(stream));
      this.streams.add(stream);
      req.on('close', () => stream.close());
      stream.open();
    });
    return router;
  }

  /** End every stream (the server is stopping): an open stream would hold the HTTP server open. */
  closeAll(): void {
    for (const s of [...this.streams]) s.close();
  }
}

class LiveStream {
  private unsubscribe: (() => void) | undefined;
  private heartbeat: TimerHandle | undefined;
  private closed = false;
  /** Changes are handled one batch at a time, in order, so a later state never overtakes an earlier one. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly res: ServerResponse,
    private readonly deps: LiveDeps,
    private readonly allowed: () => Promise<boolean>,
    private readonly onClose: () => void,
  ) {}

  open(): void {
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Reverse proxies (nginx) would buffer the stream otherwise.
      'X-Accel-Buffering': 'no',
    });
    this.res.write(`retry: ${CONSOLE_LIVE_RETRY_MS}\n\n`);
    // Subscribed before the snapshot is read: a change committed meanwhile is sent after it, never lost.
    this.unsubscribe = this.deps.store.changes.subscribe((changes) => this.enqueue(() => this.apply(changes)));
    this.enqueue(() => this.snapshot());
    // In the queue like a change: the session is checked before it goes out (enqueue).
    this.heartbeat = this.deps.clock.setInterval(() => this.enqueue(async () => this.write(': heartbeat\n\n')), this.deps.heartbeatMs ?? CONSOLE_LIVE_HEARTBEAT_MS);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.deps.clock.clear(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
    this.onClose();
  }

  /**
   * Every batch, the snapshot and every heartbeat wait here for the one before, then for the session check:
   * nothing goes out for a session that has ended (on any instance). A check the store cannot answer sends
   * nothing this time and leaves the stream open; the next change or heartbeat asks again.
   */
  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        const allowed = await this.allowed();
        if (this.closed) return;
        if (!allowed) {
          this.res.write('event: signed-out\ndata: {}\n\n');
          this.close();
          return;
        }
        await work();
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error).message }, 'console live stream: could not read the store');
      }
    });
  }

  private async snapshot(): Promise<void> {
    const calls: CallRecord[] = [];
    for (const state of LIVE_STATES) {
      // Every call a row stands for, as `apply` sends them: caller legs (a browser test call is one) and an
      // openai-sip call that reached OpenAI without our Bandwidth leg (its AI SIP leg has no parent).
      const page = await this.deps.store.calls.list({ state, topLevel: true, limit: CONSOLE_LIVE_MAX_CALLS });
      calls.push(...page.items);
    }
    calls.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const shown = calls.slice(-CONSOLE_LIVE_MAX_CALLS);
    this.send('snapshot', { calls: shown.map(callView) });
    for (const call of shown) {
      await this.sendTranscript(call.id, call.id);
      for (const leg of await this.deps.store.calls.children(call.id)) if (leg.leg === 'ai-sip') await this.sendTranscript(call.id, leg.id);
    }
  }

  private async apply(changes: StoreChange[]): Promise<void> {
    const calls = new Set<string>();
    const transcripts = new Set<string>();
    for (const c of changes) {
      if (c.kind === 'call') calls.add(c.callId);
      else if (c.kind === 'transcript') transcripts.add(c.callId);
    }
    for (const id of calls) {
      const call = await this.deps.store.calls.get(id);
      // A transfer or AI SIP leg is part of its caller's row: the caller leg's own changes move the row.
      if (call && call.parentCallId === null) this.send('call', { call: callView(call) });
    }
    for (const legId of transcripts) {
      const leg = await this.deps.store.calls.get(legId);
      await this.sendTranscript(leg?.parentCallId ?? legId, legId);
    }
  }

  private async sendTranscript(callId: string, legId: string): Promise<void> {
    const items = await this.deps.store.transcripts.list(legId);
    if (items.length === 0) return;
    const lines: LiveTranscriptLine[] = items.map((t) => ({ role: t.role, text: t.text, heardMs: t.heardMs ?? null, truncated: t.truncated, at: t.at }));
    this.send('transcript', { callId, legId, lines });
  }

  private send(event: string, data: unknown): void {
    // JSON.stringify escapes newlines inside strings, so the data is one `data:` line.
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(frame: string): void {
    if (this.closed) return;
    if (this.res.writableLength > CONSOLE_LIVE_MAX_BUFFERED_BYTES) {
      this.deps.logger.warn('console live stream: the client stopped reading; closing its stream');
      this.res.destroy();
      this.close();
      return;
    }
    this.res.write(frame);
  }
}

export function callView(c: CallRecord): LiveCallView {
  return {
    id: c.id,
    direction: c.direction,
    from: c.from,
    to: c.to,
    agentId: c.agentId,
    mode: c.mode,
    state: c.state,
    cause: c.cause,
    outcome: c.outcome,
    startedAt: c.startedAt,
    answeredAt: c.answeredAt,
    endedAt: c.endedAt,
    createdAt: c.createdAt,
  };
}
