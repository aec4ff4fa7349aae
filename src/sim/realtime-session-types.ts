/**
 * The public records of a Realtime stand-in session (what tests read back) and what every session shares with
 * its stand-in. `realtime-session.ts` re-exports all of them.
 */
import type { Clock } from '../clock';
import type { IdGenerator } from './realtime-ids';
import type { BetaFieldPolicy } from './realtime-protocol';
import type { Pacing, ResponseRun } from './realtime-response';
import type { ResponsePlan, ResponseTrigger, Script, Transcriber } from './realtime-script';
import type { RealtimeSimSession } from './realtime-session';
import type { RateLimitMeter } from './realtime-usage';
import type { SimMcpServers } from './realtime-mcp';
import type { RecordedVadEvent } from './realtime-recorded-vad';

/** Recording of client events: `all`, or `control` (drops `input_audio_buffer.append` and audio deltas from the logs; for long benchmarks). */
export type RecordMode = 'all' | 'control';

export interface RecordedClientEvent {
  sessionId: string;
  /** Clock time the frame arrived. */
  atMs: number;
  type: string;
  /** The parsed JSON (or the raw text when it was not JSON); `type` is '(invalid)' when the frame had no string type. */
  event: unknown;
}

export interface RecordedServerEvent {
  atMs: number;
  type: string;
  event: Record<string, unknown>;
}

export interface TruncateRecord {
  atMs: number;
  item_id: string;
  content_index: number;
  audio_end_ms: number;
  /** Audio the item had produced when the truncate arrived, ms (undefined for an unknown item). */
  producedMs: number | undefined;
  ok: boolean;
  error?: string;
}

export interface ResponseSummary {
  id: string;
  n: number;
  trigger: ResponseTrigger;
  plan: ResponsePlan;
  run: ResponseRun;
}

/** What every session shares with its stand-in. */
export interface SessionEnvironment {
  clock: Clock;
  ids: IdGenerator;
  pacing: Pacing;
  script: Script<RealtimeSimSession>;
  transcribe: Transcriber;
  betaFields: BetaFieldPolicy;
  record: RecordMode;
  /** Clock ms from commit to `conversation.item.input_audio_transcription.completed`; 0 = immediately. */
  transcriptionDelayMs: number;
  /** Stand-in knob for the VAD: loud audio needed before speech counts. */
  vadMinSpeechMs: number;
  /** Playback: the recorded VAD turns of the next session to append audio (realtime-recorded-vad.ts); none → EnergyVad. */
  recordedVad?: () => RecordedVadEvent[] | undefined;
  rateLimits: RateLimitMeter;
  /** The MCP servers the stand-in can reach, by URL (realtime-mcp.ts). */
  mcpServers: SimMcpServers;
  /** RT §6.1: the socket is closed with 1001 after this long. */
  maxSessionMs: number;
  onClientEvent(event: RecordedClientEvent): void;
}

/** RT §6.1: the close reason the real service gives at the 60-minute cap. */
export const MAX_DURATION_REASON = 'Your session hit the maximum duration of 60 minutes.';
