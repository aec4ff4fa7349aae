import type { Agent } from '../agents/agent';
import type { CallEventRecord, CallRecord, Store, TranscriptItemRecord } from '../store/types';
import { estimateCost, type CallCost, type PriceTable } from './cost';

/**
 * Everything the store holds about one call, across its legs (docs/architecture.md, "Post-call reports"):
 * the post-call report and the call detail (`GET /api/calls/:id`) both read it, so they never disagree.
 *
 * A call's conversation is not always on its caller's leg. An openai-sip call that came through Bandwidth
 * is talked to on its AI leg, under OpenAI's call id (`rtc_…`, parent: the Bandwidth call), so its
 * transcript, trace and usage are that leg's; a transfer's leg carries its own callbacks. The call's
 * record is every leg's, merged in time order, and its usage is the sum of every leg's, priced at the
 * model of the call's agent.
 */
export interface CallHistory {
  call: CallRecord;
  /** Legs started from the call (transfers, AI SIP legs), oldest first. */
  legs: CallRecord[];
  /** The call's agent as it is now; undefined when the call has none or it was deleted. */
  agent: Agent | undefined;
  /** Every leg's trace, in time order (each event keeps its leg's `callId`). */
  events: CallEventRecord[];
  /** Every leg's transcript, in time order; each leg's items stay in their conversation order. */
  transcript: TranscriptItemRecord[];
  /** Summed `response.done` usage of every leg; null when no leg has any. */
  usage: Record<string, number> | null;
  cost: CallCost | null;
}

export async function loadCallHistory(store: Store, callId: string, prices: PriceTable): Promise<CallHistory | undefined> {
  const call = await store.calls.get(callId);
  if (!call) return undefined;
  const [legs, stored] = await Promise.all([store.calls.children(callId), call.agentId ? store.agents.get(call.agentId) : Promise.resolve(undefined)]);
  const all = [call, ...legs];
  const [events, transcripts] = await Promise.all([Promise.all(all.map((leg) => store.events.list(leg.id))), Promise.all(all.map((leg) => store.transcripts.list(leg.id)))]);
  const agent = stored?.agent;
  const usage = sumUsage(all.map((leg) => leg.usage));
  return {
    call,
    legs,
    agent,
    events: interleave(events),
    transcript: interleave(transcripts),
    usage,
    cost: estimateCost(usage, agent?.model, prices),
  };
}

/** The token counts of several legs added up key by key (src/openai/events.ts flattenUsage's keys). */
export function sumUsage(usages: readonly (Record<string, number> | null)[]): Record<string, number> | null {
  let total: Record<string, number> | null = null;
  for (const usage of usages) {
    if (!usage) continue;
    total ??= {};
    for (const [key, n] of Object.entries(usage)) total[key] = (total[key] ?? 0) + n;
  }
  return total;
}

/**
 * Several legs' lists merged by time. Each list keeps its own order (a transcript's is the conversation's,
 * by position, not by write time); at equal times the earlier leg's item comes first.
 */
function interleave<T extends { at: string }>(lists: readonly T[][]): T[] {
  const nonEmpty = lists.filter((list) => list.length > 0);
  if (nonEmpty.length <= 1) return [...(nonEmpty[0] ?? [])];
  const next = nonEmpty.map(() => 0);
  const merged: T[] = [];
  for (;;) {
    let pick = -1;
    for (let i = 0; i < nonEmpty.length; i++) {
      const item = nonEmpty[i]![next[i]!];
      if (item && (pick < 0 || item.at < nonEmpty[pick]![next[pick]!]!.at)) pick = i;
    }
    if (pick < 0) return merged;
    merged.push(nonEmpty[pick]![next[pick]!++]!);
  }
}
