import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentMode } from '../agents/agent';
import { CALLBACK_BUCKETS_S, FIRST_WORD_BUCKETS_S, STORE_COMMIT_BUCKETS_S, TRUNCATION_ERROR_BUCKETS_S } from '../constants';
import type { CallOutcomeKind } from '../outcomes';
import { FALLBACK_REASONS, type BusyHandling, type FallbackReason, type MetricsSink, type ModelErrorKind } from './sink';

/**
 * The Prometheus side of MetricsSink (docs/operations.md, "Metrics"): one Registry per running server, so
 * two servers in one process (tests, a CLI command beside `serve`) never share a series, and nothing is put
 * on prom-client's global registry. Every series carries the `instance` label (src/instance.ts) as a default
 * label; process and Node.js metrics (CPU, memory, handles, GC, event-loop lag) come from prom-client's
 * default collectors, bound to this registry.
 */
export interface PrometheusMetricsOptions {
  instanceId: string;
  /** Live calls on this instance by mode, read at each scrape. */
  liveCalls: () => Partial<Record<AgentMode, number>>;
  /** MAX_CONCURRENT_CALLS, exported so a dashboard can show headroom. */
  maxConcurrentCalls: number;
  /** Counts kept by the parts that serve several instances (docs/architecture.md, "Several instances"), read at each scrape. */
  clusterCounts?: () => ClusterCounts;
}

/** What crossed instances: streams answered without a pre-warm here, and the bus messages about live calls. */
export interface ClusterCounts {
  lateAttaches: number;
  messagesForwarded: number;
  messagesReceived: number;
  messagesMissed: number;
  messagesRefused: number;
}

const MS_PER_S = 1000;

export class PrometheusMetrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly firstWordLatency: Histogram;
  private readonly callbackDuration: Histogram<'route'>;
  private readonly bargeIns: Counter;
  private readonly truncationError: Histogram;
  private readonly fallbacks: Counter<'reason'>;
  private readonly modelErrors: Counter<'kind' | 'code'>;
  private readonly modelReconnects: Counter<'result'>;
  private readonly storeCommitDuration: Histogram;
  private readonly storeCommitWrites: Counter;
  private readonly callsRefused: Counter<'mode' | 'handling'>;
  private readonly callsEnded: Counter<'outcome' | 'mode'>;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ instance: options.instanceId });
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'switchboard_active_calls',
      help: 'Live calls on this instance: stream sessions (pre-warming or connected) and openai-sip sideband sessions.',
      labelNames: ['mode'],
      registers,
      collect() {
        const live = options.liveCalls();
        for (const mode of ['stream', 'openai-sip'] as const) this.set({ mode }, live[mode] ?? 0);
      },
    });
    const clusterCounts = options.clusterCounts;
    if (clusterCounts) {
      new Counter({
        name: 'switchboard_late_attaches_total',
        help: 'Media streams this instance answered without having pre-warmed their OpenAI session (a proxy sent them here, or it restarted): greeted late.',
        registers,
        collect() {
          this.reset();
          this.inc(clusterCounts().lateAttaches);
        },
      });
      new Counter({
        name: 'switchboard_instance_messages_total',
        help: "Messages about live calls between instances: sent to a call's owner (forwarded), taken from another (received), for a call no longer held here (missed), malformed (refused).",
        labelNames: ['result'],
        registers,
        collect() {
          const counts = clusterCounts();
          this.reset();
          this.inc({ result: 'forwarded' }, counts.messagesForwarded);
          this.inc({ result: 'received' }, counts.messagesReceived);
          this.inc({ result: 'missed' }, counts.messagesMissed);
          this.inc({ result: 'refused' }, counts.messagesRefused);
        },
      });
    }
    new Gauge({ name: 'switchboard_max_concurrent_calls', help: 'MAX_CONCURRENT_CALLS: live calls this instance takes before new ones get busy handling.', registers }).set(options.maxConcurrentCalls);
    this.callsEnded = new Counter({
      name: 'switchboard_calls_ended_total',
      help: 'Calls that reached a final state, by their outcome (src/outcomes.ts) and agent mode; counted once per call.',
      labelNames: ['outcome', 'mode'],
      registers,
    });
    this.firstWordLatency = new Histogram({
      name: 'switchboard_first_word_latency_seconds',
      help: "Stream calls: from the media stream's start frame to the first agent audio sent to the caller.",
      buckets: FIRST_WORD_BUCKETS_S,
      registers,
    });
    this.callbackDuration = new Histogram({
      name: 'switchboard_callback_duration_seconds',
      help: 'Bandwidth callbacks: time from the request to its answer, by route.',
      labelNames: ['route'],
      buckets: CALLBACK_BUCKETS_S,
      registers,
    });
    this.bargeIns = new Counter({ name: 'switchboard_barge_ins_total', help: 'Stream calls: the caller spoke over the agent, who was cut off.', registers });
    this.truncationError = new Histogram({
      name: 'switchboard_truncation_error_bound_seconds',
      help: 'Per assistant item truncated at a barge-in: audio sent to the carrier minus the truncation point (what the carrier model says was heard); how far the truncation can be wrong.',
      buckets: TRUNCATION_ERROR_BUCKETS_S,
      registers,
    });
    this.fallbacks = new Counter({ name: 'switchboard_fallbacks_total', help: "Calls sent to their agent's fallback, by the decision's cause.", labelNames: ['reason'], registers });
    this.modelErrors = new Counter({
      name: 'switchboard_openai_errors_total',
      help: 'OpenAI Realtime errors: error events (session stays open), sessions that failed to open (code: the failure), sessions closed unasked.',
      labelNames: ['kind', 'code'],
      registers,
    });
    this.modelReconnects = new Counter({
      name: 'switchboard_openai_reconnects_total',
      help: "A call's OpenAI session replaced by a new one (renewed), or a replacement that failed to open.",
      labelNames: ['result'],
      registers,
    });
    this.storeCommitDuration = new Histogram({ name: 'switchboard_store_commit_duration_seconds', help: 'One store commit (a group of writes in one transaction).', buckets: STORE_COMMIT_BUCKETS_S, registers });
    this.storeCommitWrites = new Counter({ name: 'switchboard_store_writes_total', help: 'Writes committed to the store.', registers });
    this.callsRefused = new Counter({
      name: 'switchboard_calls_refused_total',
      help: "New calls refused because MAX_CONCURRENT_CALLS calls were live here, by agent mode and how they were answered (the agent's fallback, a reject, OpenAI's SIP reject).",
      labelNames: ['mode', 'handling'],
      registers,
    });
    // The series of closed label sets exist from the start at 0, so a rate() or an alert over one has a
    // beginning (a series that appears mid-way starts at its first value, and its first increase is lost).
    for (const reason of FALLBACK_REASONS) this.fallbacks.inc({ reason }, 0);
    for (const result of ['renewed', 'failed'] as const) this.modelReconnects.inc({ result }, 0);
    for (const kind of ['event', 'session-closed'] as const) this.modelErrors.inc({ kind, code: kind }, 0);
    this.callsRefused.inc({ mode: 'stream', handling: 'fallback' }, 0);
    this.callsRefused.inc({ mode: 'stream', handling: 'reject' }, 0);
    this.callsRefused.inc({ mode: 'openai-sip', handling: 'sip-reject' }, 0);
  }

  /** The exposition text of every series (Prometheus text format 0.0.4). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  firstWord(latencyMs: number): void {
    this.firstWordLatency.observe(latencyMs / MS_PER_S);
  }

  callback(route: string, durationMs: number): void {
    this.callbackDuration.observe({ route }, durationMs / MS_PER_S);
  }

  bargeIn(): void {
    this.bargeIns.inc();
  }

  truncation(errorBoundMs: number): void {
    this.truncationError.observe(Math.max(0, errorBoundMs) / MS_PER_S);
  }

  fallback(reason: FallbackReason): void {
    this.fallbacks.inc({ reason });
  }

  modelError(kind: ModelErrorKind, code: string = kind): void {
    this.modelErrors.inc({ kind, code });
  }

  modelReconnect(result: 'renewed' | 'failed'): void {
    this.modelReconnects.inc({ result });
  }

  storeCommit(durationMs: number, writes: number): void {
    this.storeCommitDuration.observe(durationMs / MS_PER_S);
    this.storeCommitWrites.inc(writes);
  }

  callRefused(mode: AgentMode, handling: BusyHandling): void {
    this.callsRefused.inc({ mode, handling });
  }

  callEnded(outcome: CallOutcomeKind | 'none', mode: AgentMode | 'none'): void {
    this.callsEnded.inc({ outcome, mode });
  }
}
