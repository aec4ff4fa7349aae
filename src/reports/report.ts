import { maskPhone } from '../log';
import { FINAL_CALL_STATES, type CallEventRecord, type CallRecord, type Store, type TranscriptItemRecord } from '../store/types';
import { loadCallHistory } from './call-history';
import type { CallCost, PriceTable } from './cost';

/**
 * The post-call report (docs/architecture.md, post-call reports): one JSON document per call, built from
 * what the store holds once the call has ended: the call and its legs, the agent, the outcome (read from
 * the call record, never inferred here), times, latency from the `bridge.agent-speaking` trace, tool calls,
 * transfer attempts, usage and estimated cost, and the transcript when the agent's settings ask for it.
 * The envelope is Standard Webhooks' (`type`, `timestamp`, `data`).
 *
 * Redaction: phone numbers are masked as in logs (`+1919•••0177`) unless the operator opts in
 * (REPORT_NUMBERS=full); no secret is ever part of it (the agent's settings are not copied, tool calls
 * carry what the tool trace holds, which has no headers).
 */
export const REPORT_VERSION = 1;

export interface ReportOptions {
  prices: PriceTable;
  /** Phone numbers as they are (`full`) or masked (`masked`, the default). */
  numbers: 'masked' | 'full';
  /** The report's own time (the injected clock's wall time). */
  nowIso: string;
}

export interface LegView {
  id: string;
  leg: string;
  direction: string | null;
  from: string | null;
  to: string | null;
  mode: string | null;
  state: string;
  /**
   * `in-progress`: the leg's end had not been seen when the report was built (its end was lost, or it is
   * still going; the report waits for it at most REPORT_LEGS_WAIT_MS after the call's end).
   */
  status: 'ended' | 'in-progress';
  cause: string | null;
  errorMessage: string | null;
  startedAt: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  /** From the start (or the record's creation) to the end. */
  durationMs: number | null;
  /** From the answer to the end: the time someone was on the line. */
  talkMs: number | null;
}

export interface TransferAttempt {
  destination: string | null;
  reason: string | null;
  requestedAt: string | null;
  /** completed: a human took the call; failed: the carrier could not connect; refused: never attempted; in-progress: no end seen. */
  outcome: 'completed' | 'failed' | 'refused' | 'in-progress';
  cause: string | null;
}

export interface CallReport {
  type: 'call.ended';
  timestamp: string;
  data: {
    version: number;
    call: LegView;
    legs: LegView[];
    agent: { id: string; name: string | null; model: string | null } | null;
    outcome: { outcome: string | null; reason: string | null };
    latency: { firstWordMs: number | null; turns: { at: string; afterCallerMs: number }[]; meanTurnMs: number | null; maxTurnMs: number | null };
    transcript?: { role: string; text: string; at: string; truncated: boolean; heardMs?: number }[];
    toolCalls: { at: string; name: string; callId: string | null; arguments: unknown; ok: boolean | null; output: unknown; durationMs: number | null }[];
    transfers: TransferAttempt[];
    usage: Record<string, number> | null;
    cost: CallCost | null;
  };
}

/**
 * Build the report of call `callId` from the store; undefined when the call is not in it. The call's
 * trace, transcript and usage are every leg's (src/reports/call-history.ts): an openai-sip call's
 * conversation is recorded on its AI leg.
 */
export async function buildCallReport(store: Store, callId: string, options: ReportOptions): Promise<CallReport | undefined> {
  const history = await loadCallHistory(store, callId, options.prices);
  if (!history) return undefined;
  const { call, legs, agent, events } = history;
  const view = (leg: CallRecord) => legView(leg, options.numbers);
  return {
    type: 'call.ended',
    timestamp: options.nowIso,
    data: {
      version: REPORT_VERSION,
      call: view(call),
      legs: legs.map(view),
      agent: call.agentId ? { id: call.agentId, name: agent?.name ?? null, model: agent?.model ?? null } : null,
      outcome: { outcome: call.outcome, reason: call.outcomeReason },
      latency: latencyOf(events),
      ...(agent?.report.transcript ? { transcript: transcriptOf(history.transcript) } : {}),
      toolCalls: toolCallsOf(events),
      transfers: transferAttempts(events),
      usage: history.usage,
      cost: history.cost,
    },
  };
}

/**
 * The optional notice that an agent took a call (the agent's `report.callStarted`): the call as it stands
 * and its agent, in the same envelope and signing as the report.
 */
export interface CallStartedNotice {
  type: 'call.started';
  timestamp: string;
  data: { version: number; call: LegView; agent: { id: string; name: string | null; model: string | null } | null };
}

export async function buildCallStarted(store: Store, callId: string, options: ReportOptions): Promise<CallStartedNotice | undefined> {
  const call = await store.calls.get(callId);
  if (!call) return undefined;
  const agent = call.agentId ? (await store.agents.get(call.agentId))?.agent : undefined;
  return {
    type: 'call.started',
    timestamp: options.nowIso,
    data: { version: REPORT_VERSION, call: legView(call, options.numbers), agent: call.agentId ? { id: call.agentId, name: agent?.name ?? null, model: agent?.model ?? null } : null },
  };
}

function legView(leg: CallRecord, numbers: ReportOptions['numbers']): LegView {
  const number = (n: string | null) => (numbers === 'full' ? n : (maskPhone(n) ?? null));
  return {
    id: leg.id,
    leg: leg.leg,
    direction: leg.direction,
    from: number(leg.from),
    to: number(leg.to),
    mode: leg.mode,
    state: leg.state,
    status: FINAL_CALL_STATES.includes(leg.state) ? 'ended' : 'in-progress',
    cause: leg.cause,
    errorMessage: leg.errorMessage,
    startedAt: leg.startedAt,
    answeredAt: leg.answeredAt,
    endedAt: leg.endedAt,
    durationMs: spanMs(leg.startedAt ?? leg.createdAt, leg.endedAt),
    talkMs: spanMs(leg.answeredAt, leg.endedAt),
  };
}

function spanMs(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

/** First-word and per-turn latency, from the conversation core's `bridge.agent-speaking` trace (src/bridge/conversation.ts). */
function latencyOf(events: CallEventRecord[]): CallReport['data']['latency'] {
  let firstWordMs: number | null = null;
  const turns: { at: string; afterCallerMs: number }[] = [];
  for (const e of events) {
    if (e.type !== 'bridge.agent-speaking') continue;
    const d = (e.data ?? {}) as { first?: boolean; sinceStartMs?: number; afterCallerMs?: number };
    if (d.first && typeof d.sinceStartMs === 'number' && firstWordMs === null) firstWordMs = d.sinceStartMs;
    if (typeof d.afterCallerMs === 'number') turns.push({ at: e.at, afterCallerMs: d.afterCallerMs });
  }
  const ms = turns.map((t) => t.afterCallerMs);
  return {
    firstWordMs,
    turns,
    meanTurnMs: ms.length ? Math.round(ms.reduce((a, b) => a + b, 0) / ms.length) : null,
    maxTurnMs: ms.length ? Math.max(...ms) : null,
  };
}

function transcriptOf(items: TranscriptItemRecord[]): NonNullable<CallReport['data']['transcript']> {
  return items.map((t) => ({ role: t.role, text: t.text, at: t.at, truncated: t.truncated, ...(t.heardMs !== undefined ? { heardMs: t.heardMs } : {}) }));
}

function toolCallsOf(events: CallEventRecord[]): CallReport['data']['toolCalls'] {
  return events
    .filter((e) => e.type === 'tool.call')
    .map((e) => {
      const d = (e.data ?? {}) as { name?: string; callId?: string; arguments?: unknown; ok?: boolean; output?: unknown; durationMs?: number };
      return { at: e.at, name: d.name ?? 'unknown', callId: d.callId ?? null, arguments: d.arguments ?? null, ok: d.ok ?? null, output: d.output ?? null, durationMs: d.durationMs ?? null };
    });
}

/**
 * Each transfer the agent asked for, and what became of it, in order: the conversation core's request
 * (`bridge.transfer-requested`), then a refusal (`bridge.hand-off-refused`), the carrier's end of it
 * (Bandwidth's `transferComplete`, annotated by the call flows), or OpenAI's REFER (`sip.refer`, `sip.refer-failed`).
 */
export function transferAttempts(events: CallEventRecord[]): TransferAttempt[] {
  const attempts: TransferAttempt[] = [];
  const open = () => [...attempts].reverse().find((a) => a.outcome === 'in-progress');
  const settle = (outcome: TransferAttempt['outcome'], cause: string | null, destination?: string | null) => {
    const attempt = open() ?? attempts[attempts.push({ destination: destination ?? null, reason: null, requestedAt: null, outcome, cause }) - 1]!;
    attempt.outcome = outcome;
    attempt.cause = cause;
    if (destination && !attempt.destination) attempt.destination = destination;
  };
  for (const e of events) {
    const d = (e.data ?? {}) as Record<string, unknown>;
    if (e.type === 'bridge.transfer-requested') {
      const destination = (d.destination as { name?: string } | undefined)?.name ?? null;
      attempts.push({ destination, reason: typeof d.reason === 'string' ? d.reason : null, requestedAt: e.at, outcome: 'in-progress', cause: null });
    } else if (e.type === 'bridge.hand-off-refused' && d.action === 'transfer') {
      settle('refused', typeof d.reason === 'string' ? d.reason : null);
    } else if (e.type === 'transferComplete') {
      const sb = (d.switchboard ?? {}) as { transfer?: string; destination?: string; cause?: string };
      settle(sb.transfer === 'completed' ? 'completed' : 'failed', sb.cause ?? null, sb.destination ?? null);
    } else if (e.type === 'sip.refer') {
      settle('completed', null);
    } else if (e.type === 'sip.refer-failed') {
      settle('failed', typeof d.reason === 'string' ? d.reason : null, typeof d.destination === 'string' ? d.destination : null);
    }
  }
  return attempts;
}
