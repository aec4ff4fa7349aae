import { randomUUID } from 'node:crypto';
import { Client, type ClientConfig, type Notification } from 'pg';
import { z } from 'zod';
import { PG_LISTEN_MAX_RETRY_DELAY_MS, PG_LISTEN_RETRY_DELAY_MS, PG_NOTIFY_MAX_PAYLOAD_BYTES } from '../../constants';
import { SwitchboardError } from '../../errors';
import type { Logger } from '../../log';
import { LocalInstanceBus, type LocalChangeFeed } from '../local-feeds';
import type { ChangedRow, InstanceMessage } from '../types';
import { rows, type Queryable } from './sql';

/**
 * The store's cross-instance channels over PostgreSQL LISTEN/NOTIFY (docs/architecture.md, "Several instances").
 * A commit's changes are NOTIFYed inside its own transaction, so PostgreSQL delivers them on commit, and only
 * then, to every listening instance (this one included); bus messages are NOTIFYed on their own. One dedicated
 * connection per instance LISTENs; it reconnects after a loss and LISTENs again. What was announced while it
 * was away is not replayed (PostgreSQL keeps no backlog): readers that must not miss a change re-read after
 * `connected` turns true again.
 */
export const CHANGES_CHANNEL = 'switchboard_changes';
export const BUS_CHANNEL = 'switchboard_bus';

const changedRowSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('call'), callId: z.string(), ended: z.boolean() }),
  z.object({ kind: z.literal('event'), callId: z.string(), type: z.string() }),
  z.object({ kind: z.literal('transcript'), callId: z.string() }),
]);
/**
 * `o`: the store object that committed (StoreChange's `local` on receipt). `n` makes every payload of a
 * transaction unique: PostgreSQL folds identical payloads of one transaction into one.
 */
const changesPayloadSchema = z.object({ o: z.string().min(1), n: z.number(), c: z.array(changedRowSchema) });
const instanceMessageSchema = z.object({ to: z.string().min(1), from: z.string().min(1), kind: z.string().min(1), callId: z.string().optional(), data: z.unknown().optional() });
/** Room kept in a payload for `{"o":…,"n":…,"c":[]}` around the changes. */
const PAYLOAD_ENVELOPE_BYTES = 128;

/**
 * One store object's announcements: its random id in every payload it NOTIFYs, so that its own listener tells
 * its own commits (local) from the other instances' as they arrive; and the numbering of its payloads.
 */
export class ChangeAnnouncer {
  readonly origin = randomUUID();
  private notified = 0;

  /** The NOTIFY payloads announcing `changes`: as few as fit under PostgreSQL's payload limit. */
  payloads(changes: readonly ChangedRow[]): string[] {
    const payloads: string[] = [];
    let chunk: ChangedRow[] = [];
    const flush = () => {
      if (chunk.length) payloads.push(JSON.stringify({ o: this.origin, n: ++this.notified, c: chunk }));
      chunk = [];
    };
    let bytes = 0;
    for (const change of changes) {
      const size = Buffer.byteLength(JSON.stringify(change)) + 1;
      if (size + PAYLOAD_ENVELOPE_BYTES > PG_NOTIFY_MAX_PAYLOAD_BYTES) continue; // ids only: never that long unless a callback sent junk ids
      if (bytes + size + PAYLOAD_ENVELOPE_BYTES > PG_NOTIFY_MAX_PAYLOAD_BYTES) (flush(), (bytes = 0));
      chunk.push(change);
      bytes += size;
    }
    flush();
    return payloads;
  }

  /** NOTIFY the changes on `db` (inside the transaction that made them). */
  async notify(db: Queryable, changes: readonly ChangedRow[]): Promise<void> {
    for (const payload of this.payloads(changes)) await rows(db, 'SELECT pg_notify(?, ?)', [CHANGES_CHANNEL, payload]);
  }
}

/** The bus: messages NOTIFYed on the shared database, delivered by each instance's listener to its subscribers. */
export class PgInstanceBus extends LocalInstanceBus {
  constructor(private readonly db: Queryable) {
    super();
  }

  override async publish(message: InstanceMessage): Promise<void> {
    const payload = JSON.stringify(instanceMessageSchema.parse(message));
    if (Buffer.byteLength(payload) > PG_NOTIFY_MAX_PAYLOAD_BYTES) {
      throw new SwitchboardError('invalid_request', `an instance message must be at most ${PG_NOTIFY_MAX_PAYLOAD_BYTES} bytes of JSON (PostgreSQL's NOTIFY limit); this ${message.kind} is ${Buffer.byteLength(payload)}`);
    }
    await rows(this.db, 'SELECT pg_notify(?, ?)', [BUS_CHANNEL, payload]);
  }
}

/**
 * The LISTEN connection. `start()` resolves once it listens; after a loss it reconnects, backing off from
 * PG_LISTEN_RETRY_DELAY_MS to PG_LISTEN_MAX_RETRY_DELAY_MS, until close().
 */
export class PgListener {
  private client: Client | undefined;
  private closed = false;
  private retryDelayMs = PG_LISTEN_RETRY_DELAY_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Connections made, the first included: a reader can tell it reconnected (and may have missed changes). */
  connections = 0;

  constructor(
    private readonly config: ClientConfig,
    private readonly changes: LocalChangeFeed,
    /** This store object's announcer: a payload with its origin is a local change. */
    private readonly announcer: ChangeAnnouncer,
    private readonly bus: LocalInstanceBus,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client(this.config);
    let lost = false;
    const onLoss = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn({ err: err?.message }, 'the PostgreSQL LISTEN connection was lost: reconnecting (changes and messages meanwhile are not replayed)');
      this.reconnectLater();
    };
    client.on('error', onLoss);
    client.on('end', () => onLoss());
    client.on('notification', (n) => this.deliver(n));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}; LISTEN ${BUS_CHANNEL}`);
    } catch (err) {
      lost = true;
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) return void client.end().catch(() => undefined);
    this.client = client;
    this.connections++;
    this.retryDelayMs = PG_LISTEN_RETRY_DELAY_MS;
    if (this.connections > 1) this.logger.warn('the PostgreSQL LISTEN connection is back');
  }

  private reconnectLater(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.connect().catch(() => {
        if (!this.closed) this.reconnectLater();
      });
    }, this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(PG_LISTEN_MAX_RETRY_DELAY_MS, this.retryDelayMs * 2);
  }

  /** A payload is another process's words: validated, and dropped (logged) when it is not ours. */
  private deliver(notification: Notification): void {
    try {
      const json = JSON.parse(notification.payload ?? '') as unknown;
      if (notification.channel === CHANGES_CHANNEL) {
        const payload = changesPayloadSchema.parse(json);
        this.changes.emit(payload.c, payload.o === this.announcer.origin);
      } else if (notification.channel === BUS_CHANNEL) this.bus.deliver(instanceMessageSchema.parse(json));
    } catch (err) {
      this.logger.warn({ channel: notification.channel, err: (err as Error).message }, 'ignored a malformed notification');
    }
  }
}
