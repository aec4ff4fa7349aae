/**
 * SessionHost: the view of one Realtime stand-in session that its parts (conversation, input turns,
 * transcription, responses) act on. `RealtimeSimSession` builds it over its own state, so the parts share one
 * record of the conversation and one send path.
 */
import type { ServerEventBody, SimItem } from './realtime-items';
import type { EffectiveSession, RealtimeErrorBody } from './realtime-protocol';
import type { ResponseRun } from './realtime-response';
import type { SessionMcp } from './realtime-mcp';
import type { RealtimeSimSession } from './realtime-session';
import type { ResponseSummary, SessionEnvironment, TruncateRecord } from './realtime-session-types';

export interface SessionHost {
  readonly env: SessionEnvironment;
  /** The session itself, as the script sees it. */
  readonly session: RealtimeSimSession;
  /** The effective session config (changes with every accepted `session.update`). */
  readonly config: EffectiveSession;
  readonly open: boolean;
  /** The default conversation, in order. */
  readonly items: SimItem[];
  readonly responses: ResponseSummary[];
  readonly truncates: TruncateRecord[];
  readonly internalErrors: unknown[];
  activeResponse: ResponseRun | undefined;
  /** The session's MCP servers: listings, calls, approvals. */
  readonly mcp: SessionMcp;
  /** Send a server event (stamps `event_id`). */
  send(body: ServerEventBody): void;
  /** RT §1.1: an `error` event echoing the client's event_id. */
  sendError(error: RealtimeErrorBody, eventId: string | null): void;
}
