import http from 'node:http';
import type { Router } from 'express';
import OpenAI from 'openai';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { AgentMode, AgentWithDestinations } from './agents/agent';
import { syncEnvAgent } from './agents/env-agent';
import { AgentRouter } from './agents/routing';
import { TemplateCatalog } from './bandwidth/bxml/catalog';
import { CallbackContexts } from './bandwidth/callback-contexts';
import { CallFlows } from './bandwidth/call-flows';
import { BandwidthCallControl } from './bandwidth/call-control';
import { apiRouter } from './api/router';
import { apiRoutes } from './api/routes';
import { AdminAccess } from './console/access';
import { CONSOLE_API_PATHS } from './console/api-paths';
import { CONSOLE_ASSETS_DIR } from './console/assets-dir';
import { LiveStreams } from './console/live';
import { recordingsRouter } from './console/recordings';
import { consoleRouter } from './console/router';
import { ConsoleSessions } from './console/sessions';
import { SignInLimiter } from './console/sign-in-limiter';
import { MediaGateway } from './bandwidth/media/gateway';
import { BandwidthCalls } from './bandwidth/rest/calls-client';
import { CallbackUrls, VOICE_PATH_PREFIX, VOICE_ROUTES } from './bandwidth/urls';
import { DEFAULT_PACING } from './bridge/playout';
import { CallRegistry } from './bridge/registry';
import { LiveCalls } from './cluster/live-calls';
import { agentTools } from './bridge/builtin-tools';
import { toolSecretValues } from './agents/tool-secrets';
import { CallContexts } from './context/call-contexts';
import type { ToolRegistry } from './bridge/tools';
import { systemClock, type Clock } from './clock';
import { RealtimeSession } from './openai/realtime-session';
import { OpenAISipWebhook, openaiClient } from './openai/sip-webhook';
import { voiceWebhooks } from './bandwidth/webhooks';
import { loadConfig, type Config } from './config';
import { SwitchboardError } from './errors';
import { ensurePrivateDir, makePrivate } from './files';
import { resolveInstanceId } from './instance';
import { lockDataDir } from './data-dir-lock';
import { repairWavHeader } from './bridge/wav';
import { SecurityEvents } from './security/security-events';
import { HTTP_HEADERS_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, HTTP_TIMEOUT_CHECK_INTERVAL_MS, SHUTDOWN_CALLBACK_GRACE_MS, SHUTDOWN_DRAIN_MS } from './constants';
import { resolveCredentials, type ResolvedCredentials } from './credentials';
import { createLogger, type Logger } from './log';
import { ScenarioRecorder } from './record/recorder';
import { requiresOfAgent } from './record/scenario-settings';
import { CallRecorder } from './record/call-recorder';
import { ReportDispatcher } from './reports/dispatcher';
import { UrlSigner } from './security/signing';
import { createApp } from './server';
import { CallCapacity } from './capacity';
import { EndedCallsCounter } from './metrics/ended-calls';
import { METRICS_PATH, metricsRouter, startMetricsListener, type MetricsListener } from './metrics/endpoint';
import type { PrometheusMetrics } from './metrics/prometheus';
import { NO_METRICS, type MetricsSink } from './metrics/sink';
import { SqliteStore } from './store/sqlite';
import type { CommitObserver } from './store/group-commit';
import { TestCalls } from './test-call/test-calls';
import { TestCallControl } from './test-call/test-call-control';
import type { CallRecord, Store } from './store/types';

/** The package root (where bxml-templates/ lives), from dist/ or src/ alike. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  /**
   * Serves one CLI command on the local data directory (cli/api-client.ts) and takes no calls: it neither
   * locks DATA_DIR nor closes out calls, since the serving process may be running beside it.
   */
  forCommand?: boolean;
  /** Where human-readable start-up text goes (the credentials banner). */
  print?: (text: string) => void;
  logger?: Logger;
  /** Time source for the bridge (pacing, timeouts); tests pass a ManualClock. */
  clock?: Clock;
  /** Tools every agent gets, beyond the built-in ones (tests register scripted tools here). */
  extraTools?: (registry: ToolRegistry) => void;
  /** Record every callback into one scenario file per call in this directory (default: RECORD_DIR). */
  recordDir?: string;
  /** With recording: replace numbers, what was said and typed, and key presses by placeholders (default: RECORD_REDACT). */
  recordRedact?: boolean;
  /** Node's own HTTP timers cannot run on a ManualClock: tests shorten them here to see them act. */
  httpTimeouts?: Partial<HttpTimeouts>;
  /**
   * While the store cannot write: how long a callback waits for its own commit before it is answered anyway
   * (default CALLBACK_COMMIT_WAIT_MS), and a read for the writes before it (default STORE_READ_WAIT_MS).
   * Real timers, so tests shorten them.
   */
  storeWaits?: { callbackCommitMs?: number; readMs?: number };
  /**
   * A store opened by the caller, shared by several instances in one process (tests of DESIGN §4.12): used
   * instead of opening DATA_DIR's, and left open when this instance stops (its opener closes it).
   */
  store?: Store;
}

/** How long slow clients may hold a socket (constants.ts explains the defaults). */
export interface HttpTimeouts {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
}

export interface RunningSwitchboard {
  config: Config;
  credentials: ResolvedCredentials;
  /** Owner of the media this process holds (DESIGN §4.12). */
  instanceId: string;
  store: Store;
  bridge: CallRegistry;
  /** Per-call actions for sessions on this instance or on another (src/cluster/live-calls.ts). */
  liveCalls: LiveCalls;
  media: MediaGateway;
  calls: BandwidthCalls | undefined;
  /** Stored contexts of signed callback URLs (DESIGN §4.6). */
  contexts: CallbackContexts;
  server: http.Server;
  /** http://host:port actually bound. */
  localUrl: string;
  publicBaseUrl: string;
  logger: Logger;
  /** Set when callbacks are being recorded (RECORD_DIR). */
  recorder: ScenarioRecorder | undefined;
  /** Set when whole calls are being recorded (RECORD_DIR): media, Realtime events, OpenAI webhooks. */
  callRecorder: CallRecorder | undefined;
  /** Refused authentication on every surface, counted. */
  security: SecurityEvents;
  /** Delivers post-call reports from the outbox; undefined when serving one CLI command. */
  reports: ReportDispatcher | undefined;
  /** This server's metrics registry (GET /metrics); undefined when serving one CLI command. */
  metrics: PrometheusMetrics | undefined;
  /** http://host:port of the unauthenticated metrics listener (METRICS_PORT), when there is one. */
  metricsUrl: string | undefined;
  /** MAX_CONCURRENT_CALLS and the live calls it counts. */
  capacity: CallCapacity;
  close(drainMs?: number): Promise<void>;
}

/** config → credentials → templates → store → server (DESIGN §5 main.ts). Throws on any start-up problem. */
export async function startSwitchboard(options: StartOptions): Promise<RunningSwitchboard> {
  const config = loadConfig(options.env, PACKAGE_ROOT);
  const logger = options.logger ?? createLogger(config.logLevel, undefined, config.env.LOG_FORMAT);
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`));
  // DATA_DIR holds the call record, recordings and secrets: private to this user, also when it already existed.
  const dataDirAccess = ensurePrivateDir(config.dataDir);
  if (dataDirAccess.problem) logger.warn({ dataDir: config.dataDir }, dataDirAccess.problem);
  const credentials = resolveCredentials(config.env, config.dataDir);
  makePrivate(credentials.file);
  const instanceId = resolveInstanceId(config.env.INSTANCE_ID, config.dataDir);
  const templates = TemplateCatalog.load(config.templatesDir);
  const lock = options.forCommand ? undefined : lockDataDir(config.dataDir);
  // The registry exists before the store, so the store's first commits are timed; live calls are read at
  // each scrape from the bridge and the SIP webhook, created below. A CLI command's server takes no calls and
  // is scraped by nobody: it never loads prom-client (a tenth of the command's start-up).
  const metrics: PrometheusMetrics | undefined = options.forCommand
    ? undefined
    : new (loadPrometheus().PrometheusMetrics)({
        instanceId,
        maxConcurrentCalls: config.env.MAX_CONCURRENT_CALLS,
        liveCalls: (): Partial<Record<AgentMode, number>> => ({ stream: bridge.size, 'openai-sip': sipWebhook.sessions.size }),
        clusterCounts: () => ({
          lateAttaches: bridge.lateAttaches,
          messagesForwarded: liveCalls.forwarded,
          messagesReceived: liveCalls.received,
          messagesMissed: liveCalls.missed,
          messagesRefused: liveCalls.refused,
        }),
      });
  const sink: MetricsSink = metrics ?? NO_METRICS;
  let store: Store;
  try {
    store = options.store ?? (await openStore(config, logger, options.storeWaits?.readMs, metrics ? (ms, writes) => metrics.storeCommit(ms, writes) : undefined));
  } catch (err) {
    lock?.release();
    throw err;
  }
  const stopStore = async () => {
    if (!options.store) await store.close();
    lock?.release();
  };
  let orphans: CallRecord[] = [];
  try {
    await syncEnvAgent(store, config.envAgent);
    if (!options.forCommand) orphans = await closeOutOrphans(store, instanceId, logger);
  } catch (err) {
    await stopStore();
    throw err;
  }
  const defaultAgentId = config.env.DEFAULT_AGENT_ID === 'none' ? undefined : config.env.DEFAULT_AGENT_ID;
  if (defaultAgentId && !(await store.agents.get(defaultAgentId))) {
    // Not fatal: the agent may be created through the admin API after start; until then such calls are rejected.
    logger.warn({ defaultAgentId }, 'DEFAULT_AGENT_ID names no agent yet: unassigned numbers are rejected until it exists');
  }

  const server = http.createServer({
    headersTimeout: HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: HTTP_TIMEOUT_CHECK_INTERVAL_MS,
    ...options.httpTimeouts,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await stopStore();
    throw listenError(err as NodeJS.ErrnoException, config.host, config.port);
  }
  const address = server.address() as AddressInfo;
  const localUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  // Unset PUBLIC_BASE_URL: localhost, or the bound address when the server is bound to one.
  const boundHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const publicBaseUrl = config.publicBaseUrl ?? `http://${boundHost}:${address.port}`;

  const signer = new UrlSigner(credentials.credentials.urlSigningSecret);
  const clock = options.clock ?? systemClock;
  const urls = new CallbackUrls(publicBaseUrl, signer, clock, config.env.INSTANCE_PUBLIC_URL ?? publicBaseUrl);
  // An agent's tools depend on the agent alone, and the store hands out one frozen object per agent until
  // it changes: build the tools and their JSON Schema once per agent, not per call (0.27 + 0.11 ms).
  const toolsFor = perObject((agent: AgentWithDestinations) => {
    const registry = agentTools(agent, options.env);
    options.extraTools?.(registry);
    return registry;
  });
  const toolDefinitions = perObject((tools: ToolRegistry) => tools.definitions());
  const calls = bandwidthCalls(config, clock, logger);
  const callbackCredentials = { username: credentials.credentials.callbackUsername, password: credentials.credentials.callbackPassword };
  const contexts = new CallbackContexts(store.contexts, signer, urls);
  // Browser test calls (docs/console.md, "Test call") go through the same bridge; the bridge is made below, and asked only once calls run.
  const testCalls: TestCalls = new TestCalls({
    store,
    urls,
    clock,
    logger,
    modelUnavailable: config.env.OPENAI_API_KEY ? undefined : 'OPENAI_API_KEY is not set: no model can answer a test call (`switchboard dev --offline` runs one with the Realtime stand-in)',
    bridge: {
      streamAnswered: (call): void => bridge.streamAnswered(call),
      streamRejected: (callId): void => void bridge.streamRejected(callId),
      accepting: (): boolean => bridge.accepting(),
    },
    // The capacity is made below with the bridge it counts; asked only once calls run.
    capacity: {
      hasRoom: (): boolean => capacity.hasRoom(),
      get live(): number {
        return capacity.live;
      },
      maxCalls: config.env.MAX_CONCURRENT_CALLS,
    },
  });
  const control: TestCallControl = new TestCallControl(new BandwidthCallControl({ store, logger, rest: calls ? { calls, contexts, urls, credentials: callbackCredentials } : undefined }), testCalls);
  const recorderSecrets = [
    credentials.credentials.callbackUsername,
    credentials.credentials.callbackPassword,
    credentials.credentials.adminToken,
    credentials.credentials.urlSigningSecret,
    credentials.credentials.reportSigningSecret,
    config.env.OPENAI_API_KEY ?? '',
    config.env.OPENAI_WEBHOOK_SECRET ?? '',
    config.env.BANDWIDTH_CLIENT_SECRET ?? '',
    config.env.NGROK_AUTHTOKEN ?? '',
    config.env.METRICS_TOKEN ?? '',
    ...toolSecretValues(options.env),
  ];
  const recordDir = options.recordDir ?? config.env.RECORD_DIR;
  const recorder = recordDir
    ? new ScenarioRecorder({
        dir: path.resolve(recordDir),
        publicBaseUrl,
        redact: options.recordRedact ?? config.env.RECORD_REDACT,
        secrets: recorderSecrets,
        clock,
        unseal: (token, purpose) => signer.verify(token, purpose),
        requiresFor: async (callId) => {
          const agentId = (await store.calls.get(callId))?.agentId;
          const stored = agentId ? await store.agents.get(agentId) : undefined;
          return stored ? requiresOfAgent(stored.agent) : undefined;
        },
        logger,
      })
    : undefined;
  const callRecorder = recorder
    ? new CallRecorder({
        dir: path.resolve(recordDir!),
        clock,
        secrets: recorderSecrets,
        redact: options.recordRedact ?? config.env.RECORD_REDACT,
        budgetBytes: config.env.RECORD_MAX_CALL_BYTES,
        phoneRedactorFor: (callId) => recorder.phoneRedactorFor(callId),
        logger,
      })
    : undefined;
  // One per server: renders each call's prompts, and asks agents' context hooks with TOOL_SECRET_* headers.
  const callContexts = new CallContexts({ clock, env: options.env, logger });
  const recordingsDir = path.join(config.dataDir, 'recordings');
  const capacity: CallCapacity = new CallCapacity(
    config.env.MAX_CONCURRENT_CALLS,
    (): number => bridge.size + sipWebhook.sessions.size,
    (callId: string): boolean => bridge.get(callId) !== undefined,
  );
  const bridge: CallRegistry = new CallRegistry({
    instanceId,
    contexts: callContexts,
    recordingsDir,
    control,
    store,
    logger,
    clock,
    toolsFor,
    agentAudioDeadlineMs: config.env.AGENT_AUDIO_DEADLINE_MS,
    pacing: { ...DEFAULT_PACING, carrierDelayMs: config.env.CARRIER_PLAYOUT_DELAY_MS },
    metrics: sink,
    openModel: (agent, tools, callId) =>
      new RealtimeSession({ baseUrl: config.env.OPENAI_BASE_URL, apiKey: config.env.OPENAI_API_KEY, agent, tools: toolDefinitions(tools), mcpServers: tools.mcpServers, logger, clock, tap: callRecorder?.realtimeTap(callId) }),
  });
  const security = new SecurityEvents(logger, clock);
  const router = new AgentRouter(store, defaultAgentId);
  const media = new MediaGateway({ signer, sink: bridge, clock, logger, security, tokens: store.mediaTokens, tapFor: callRecorder?.mediaTap, testCalls });
  if (!config.env.OPENAI_API_KEY) {
    logger.warn('OPENAI_API_KEY is not set: stream calls will go straight to their fallback');
  }
  const openai = openaiClient(config.env.OPENAI_BASE_URL, config.env.OPENAI_API_KEY, config.env.OPENAI_WEBHOOK_SECRET, callRecorder?.openaiRest);
  hangUpOrphanedSipCalls(openai, store, orphans, logger);
  const sipWebhook: OpenAISipWebhook = new OpenAISipWebhook({
    store,
    router,
    logger,
    openai,
    webhookSecret: config.env.OPENAI_WEBHOOK_SECRET,
    security,
    toolsFor,
    clock,
    instanceId,
    contexts: callContexts,
    openSideband: (agent, tools, sipCallId) =>
      new RealtimeSession({ baseUrl: config.env.OPENAI_BASE_URL, apiKey: config.env.OPENAI_API_KEY, agent, tools: toolDefinitions(tools), mcpServers: tools.mcpServers, logger, sipCallId, clock, tap: callRecorder?.realtimeTap(sipCallId) }),
    tap: callRecorder?.openaiWebhook,
    capacity,
    metrics: sink,
  });
  // This instance's live sessions: a stream session, or (a machine answering an outbound openai-sip call) the
  // sideband session of its AI leg.
  const liveCalls = new LiveCalls({
    store,
    instanceId,
    logger,
    local: {
      callEnded: (callId) => bridge.callEnded(callId),
      streamRejected: (callId) => bridge.streamRejected(callId),
      callerKeyPress: (callId, digit) => bridge.callerKeyPress(callId, digit),
      answeredByMachine: (callId, plan) => bridge.answeredByMachine(callId, plan) || sipWebhook.answeredByMachine(callId, plan),
    },
  });
  if (!options.forCommand) liveCalls.start();
  const flows = new CallFlows({
    commitWaitMs: options.storeWaits?.callbackCommitMs,
    metrics: sink,
    capacity,
    store,
    templates,
    router,
    signer,
    urls,
    contexts,
    credentials: credentials.credentials,
    logger,
    // Webhook events reach the live session that holds the call, on this instance or on its owner (liveCalls).
    // A new stream pre-warms here: its media URL names this instance (INSTANCE_PUBLIC_URL).
    listener: {
      streamAnswered: (call) => bridge.streamAnswered(call),
      accepting: () => bridge.accepting(),
      callEnded: (callId, cause) => liveCalls.callEnded(callId, cause),
      streamRejected: (callId) => liveCalls.streamRejected(callId),
      callerKeyPress: (callId, digit) => liveCalls.callerKeyPress(callId, digit),
      answeredByMachine: (callId, plan) => liveCalls.answeredByMachine(callId, plan),
    },
  });
  if (recordDir) logger.info({ recordDir: path.resolve(recordDir) }, 'recording every callback as a replayable scenario');
  // One serving process per DATA_DIR delivers reports; a CLI command's in-process server only reads and
  // marks them for resending, and the serving process picks that up at its next poll.
  const reports = options.forCommand
    ? undefined
    : new ReportDispatcher({
        store,
        clock,
        logger,
        prices: config.prices,
        numbers: config.env.REPORT_NUMBERS,
        defaultUrl: config.env.REPORT_URL,
        secret: credentials.credentials.reportSigningSecret,
      });
  // The operator's console (docs/console.md): its sessions are a second way into the admin API.
  // Its sessions live in the store, so they are the same on every instance sharing it (DESIGN §4.12).
  const access = new AdminAccess(credentials.credentials.adminToken, new ConsoleSessions(store.consoleSessions, clock));
  const live = new LiveStreams({ store, clock, logger, sessionAlive: async (session) => (await access.sessions.get(session.id)) !== undefined });
  const app = createApp({
    logger,
    readiness: [
      { name: 'store', check: () => store.ping() },
      { name: 'templates', check: () => Boolean(templates) },
      // False once draining (SIGTERM): a load balancer stops sending new calls while live ones finish.
      { name: 'accepting-calls', check: () => bridge.accepting() },
    ],
    mounts: [
      ...(metrics ? [[METRICS_PATH, metricsRouter(metrics, config.env.METRICS_TOKEN ?? credentials.credentials.adminToken, security)] as [string, Router]] : []),
      ['/openai', sipWebhook.router()],
      [
        '/api',
        apiRouter(
          apiRoutes({
            store,
            urls,
            callbackCredentials,
            calls,
            applicationId: config.env.BANDWIDTH_APPLICATION_ID,
            logger,
            router,
            prices: config.prices,
            clock,
            testCalls,
            onResend: () => void reports?.poll(),
            hangUpOpenAICall: config.env.OPENAI_API_KEY ? (callId) => hangUpOpenAICall(openai, callId) : undefined,
          }),
          access,
          logger,
          security,
          [{ router: live.router(), paths: CONSOLE_API_PATHS }, { router: recordingsRouter(store, recordingsDir), paths: {} }],
        ),
      ],
      ['/console', consoleRouter({ access, limiter: new SignInLimiter(clock), assetsDir: CONSOLE_ASSETS_DIR, publicBaseUrl, security, logger })],
    ],
  });
  // Bandwidth's callbacks go straight to their handler, everything else to the Express app (see webhooks.ts).
  const voice = voiceWebhooks(
    flows,
    callbackCredentials,
    logger,
    security,
    recorder
      ? (x) => {
          recorder.record(x);
          callRecorder?.callback(x);
        }
      : undefined,
    sink,
  );
  server.on('request', (req, res) => voice(req, res, () => app(req, res)));
  const endedCalls = metrics ? new EndedCallsCounter(store, metrics, logger) : undefined;
  let metricsListener: MetricsListener | undefined;
  if (metrics && config.env.METRICS_PORT !== undefined) {
    try {
      metricsListener = await startMetricsListener(metrics, config.env.METRICS_PORT, config.env.METRICS_HOST, logger);
    } catch (err) {
      endedCalls?.stop();
      media.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stopStore();
      throw err;
    }
  }
  server.on('upgrade', (req, socket, head) => media.handleUpgrade(req, socket, head));

  const openaiSipAgents = (await store.agents.list()).filter((a) => a.agent.mode === 'openai-sip').map((a) => a.agent.id);
  print(startBanner(config, credentials, publicBaseUrl, localUrl, defaultAgentId, openaiSipAgents));
  if (openaiSipAgents.length > 0 && !config.env.OPENAI_WEBHOOK_SECRET) {
    logger.warn({ agents: openaiSipAgents }, 'OPENAI_WEBHOOK_SECRET is not set: OpenAI webhooks are refused, so openai-sip calls cannot be accepted');
  }
  logger.info({ localUrl, publicBaseUrl, dataDir: config.dataDir, defaultAgentId: defaultAgentId ?? null }, 'switchboard started');
  reports?.start();

  let closing: Promise<void> | undefined;
  /** Stop: live calls get up to `drainMs` to finish (SIGTERM), then everything is closed. */
  const close = (drainMs: number = SHUTDOWN_DRAIN_MS) => {
    closing ??= (async () => {
      // Stream and openai-sip calls alike finish or go to their agent's fallback.
      const [cut, sipCut] = await Promise.all([bridge.drain(drainMs), sipWebhook.drain(drainMs)]);
      // Calls just handed over will call back for their fallback (/stream-ended; the transferComplete of an
      // openai-sip call's Bandwidth leg, BW §1.3): answer them. An OpenAI call of its own brings no callback.
      if ((cut > 0 || sipCut.some((session) => session.parentCallId)) && drainMs > 0) await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_CALLBACK_GRACE_MS).unref());
      media.close();
      live.closeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, SHUTDOWN_DRAIN_MS).unref();
      });
      // Whole-call tapes buffer a turn's writes (call-tape.ts): what the last frames left is written now.
      callRecorder?.close();
      liveCalls.stop();
      await reports?.stop();
      await metricsListener?.close();
      endedCalls?.stop();
      await stopStore();
      logger.info('switchboard stopped');
    })();
    return closing;
  };
  return { config, credentials, instanceId, store, bridge, liveCalls, media, calls, contexts, server, localUrl, publicBaseUrl, logger, recorder, callRecorder, security, reports, metrics, metricsUrl: metricsListener?.url, capacity, close };
}

/**
 * The store: PostgreSQL when DATABASE_URL names one (several instances share it, DESIGN §4.12), otherwise
 * SQLite in the data directory, the zero-config default. A PostgreSQL that cannot be opened refuses the start,
 * naming the problem (store/postgres/connection.ts).
 */
async function openStore(config: Config, logger: Logger, readWaitMs: number | undefined, onCommit: CommitObserver | undefined): Promise<Store> {
  // Loaded only when chosen: the SQLite default (and every CLI command) starts without the pg driver.
  if (config.databaseUrl) return (require('./store/postgres') as typeof import('./store/postgres')).PostgresStore.open(config.databaseUrl, { logger, readWaitMs, onCommit });
  return SqliteStore.open(config.databasePath, { logger, readWaitMs, onCommit });
}

/**
 * After a crash (kill -9, power loss) the calls whose media this instance held are left mid-flight: give
 * them a final state whose cause says the server restarted, with an event in their timeline, and make
 * their recordings playable. Only this instance's calls: another instance's are its own to close.
 */
async function closeOutOrphans(store: Store, instanceId: string, logger: Logger): Promise<CallRecord[]> {
  const orphans = await store.calls.closeOutOrphans(instanceId, {
    cause: 'server-restarted',
    errorMessage: 'the server stopped while this call was live; closed out when it started again',
    endedAt: new Date().toISOString(),
    eventType: 'call.closed-out',
  });
  for (const call of orphans) {
    if (!call.recordingPath) continue;
    try {
      const { repaired, dataBytes } = repairWavHeader(call.recordingPath);
      if (repaired) await store.events.append({ callId: call.id, source: 'switchboard', type: 'recording.repaired', data: { file: call.recordingPath, dataBytes } });
    } catch (err) {
      logger.warn({ callId: call.id, err: (err as Error).message }, 'could not repair the recording of a call closed out after a restart');
    }
  }
  if (orphans.length > 0) logger.warn({ calls: orphans.map((c) => c.id) }, `closed out ${orphans.length} call(s) that were live when the server stopped`);
  return orphans;
}

/**
 * An openai-sip call closed out after a crash may still be going on at OpenAI: its sideband died with the
 * old process, so the caller is talking to the model with nobody to run its tools, hand-offs or watchdogs.
 * End it with OpenAI's hangup (OpenAI reference §4.4), in the background; a call OpenAI no longer knows
 * (404) had ended already. Each attempt is an event on the leg.
 */
function hangUpOrphanedSipCalls(openai: OpenAI, store: Store, orphans: readonly CallRecord[], logger: Logger): void {
  for (const call of orphans) {
    if (call.leg !== 'ai-sip' || call.mode !== 'openai-sip') continue;
    const event = (type: string, data: Record<string, unknown>) =>
      store.events.append({ callId: call.id, source: 'switchboard', type, data: { kind: 'hangup', after: 'server-restarted', ...data } }).catch((err: Error) => logger.error({ callId: call.id, err: err.message }, 'could not write to the store'));
    openai.realtime.calls.hangup(call.id, { maxRetries: 0 }).then(
      () => event('sip.hangup', {}),
      (err: Error) => {
        const status = err instanceof OpenAI.APIError ? err.status : undefined;
        if (status !== 404) logger.warn({ callId: call.id, status, err: err.message }, 'could not hang up an OpenAI call left live by a crash');
        return event('sip.hangup-failed', { reason: status === 404 ? 'the call had already ended' : err.message, ...(typeof status === 'number' ? { status } : {}) });
      },
    );
  }
}

/** OpenAI reference §4.4 hangup: true when it ended the call, false when OpenAI no longer knows it (404: over already). */
async function hangUpOpenAICall(openai: OpenAI, callId: string): Promise<boolean> {
  try {
    await openai.realtime.calls.hangup(callId, { maxRetries: 0 });
    return true;
  } catch (err) {
    if (err instanceof OpenAI.APIError && err.status === 404) return false;
    throw err;
  }
}

/** The Prometheus side of the metrics, loaded only by a server that takes calls (see startSwitchboard). */
function loadPrometheus(): typeof import('./metrics/prometheus') {
  return require('./metrics/prometheus') as typeof import('./metrics/prometheus');
}

/** `build`, computed once per key object (and forgotten with it). */
function perObject<K extends object, V>(build: (key: K) => V): (key: K) => V {
  const values = new WeakMap<K, V>();
  return (key) => {
    let value = values.get(key);
    if (value === undefined) {
      value = build(key);
      values.set(key, value);
    }
    return value;
  };
}

/** The Calls API client, when Bandwidth REST credentials are configured (BW §5; DESIGN §4.7). */
function bandwidthCalls(config: Config, clock: Clock, logger: Logger): BandwidthCalls | undefined {
  const env = config.env;
  if (!env.BANDWIDTH_ACCOUNT_ID || !env.BANDWIDTH_CLIENT_ID || !env.BANDWIDTH_CLIENT_SECRET) {
    logger.info('Bandwidth REST credentials (BANDWIDTH_ACCOUNT_ID, BANDWIDTH_CLIENT_ID/SECRET) are not set: mid-call redirects and outbound calls are off');
    return undefined;
  }
  return new BandwidthCalls({
    accountId: env.BANDWIDTH_ACCOUNT_ID,
    clientId: env.BANDWIDTH_CLIENT_ID,
    clientSecret: env.BANDWIDTH_CLIENT_SECRET,
    apiBaseUrl: env.BANDWIDTH_API_BASE_URL,
    oauthUrl: env.BANDWIDTH_OAUTH_URL,
    clock,
    logger,
  });
}

/** What the operator pastes into the Bandwidth dashboard; secrets only when just generated. */
export function startBanner(
  config: Config,
  resolved: ResolvedCredentials,
  publicBaseUrl: string,
  localUrl: string,
  defaultAgentId: string | undefined,
  openaiSipAgents: readonly string[] = [],
): string {
  const c = resolved.credentials;
  const voice = `${publicBaseUrl}${VOICE_PATH_PREFIX}`;
  const lines = [
    '',
    `Switchboard is listening on ${localUrl}`,
    config.publicBaseUrl
      ? `Public base URL: ${publicBaseUrl}`
      : `Public base URL: ${publicBaseUrl}  (PUBLIC_BASE_URL is not set: Bandwidth cannot reach localhost. Set PUBLIC_BASE_URL to this server's https URL, for example an ngrok tunnel.)`,
    '',
    'Bandwidth Voice application (Bandwidth App > Applications > your Voice application):',
    `  Call-initiated callback URL   ${voice}/${VOICE_ROUTES.initiate}   (POST)`,
    `  Call-status callback URL      ${voice}/${VOICE_ROUTES.status}   (POST)`,
    `  Callback username             ${c.callbackUsername}`,
  ];
  if (resolved.sources.callbackPassword === 'generated') {
    lines.push(`  Callback password             ${c.callbackPassword}`);
  } else {
    lines.push(`  Callback password             (${resolved.sources.callbackPassword === 'env' ? 'from BANDWIDTH_CALLBACK_PASSWORD' : `stored in ${resolved.file}`})`);
  }
  lines.push('');
  if (resolved.sources.adminToken === 'generated') lines.push(`Admin API token: ${c.adminToken}`);
  if (resolved.generated.length > 0) {
    lines.push(`Generated ${resolved.generated.join(', ')} and saved them in ${resolved.file} (mode 0600).`, 'They are shown once; `switchboard credentials` prints them again.');
  }
  lines.push(defaultAgentId ? `Numbers without an assigned agent are answered by agent "${defaultAgentId}".` : 'Numbers without an assigned agent are rejected (DEFAULT_AGENT_ID=none).');
  if (openaiSipAgents.length > 0) {
    lines.push(
      '',
      `OpenAI SIP (agents ${openaiSipAgents.join(', ')}): in the OpenAI platform, add a project webhook for realtime.call.incoming:`,
      `  Webhook URL                   ${publicBaseUrl}/openai/webhook`,
      config.env.OPENAI_WEBHOOK_SECRET
        ? '  Signing secret                (from OPENAI_WEBHOOK_SECRET)'
        : '  Warning: OPENAI_WEBHOOK_SECRET is not set: set it to the webhook\'s signing secret, or every OpenAI webhook is refused.',
    );
  }
  if (publicBaseUrl.startsWith('http://') && config.publicBaseUrl) {
    lines.push('Warning: PUBLIC_BASE_URL is http://. Bandwidth requires https:// for callbacks that carry credentials.');
  }
  lines.push('');
  return lines.join('\n');
}

/** The listen failures an operator causes (port taken, privileged port, unknown HOST) say which variable to change. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (err.code === 'EADDRINUSE') return new SwitchboardError('config_invalid', `PORT ${port} is already in use on ${host}: stop the other process or set PORT (or --port) to a free port`);
  if (err.code === 'EACCES') return new SwitchboardError('config_invalid', `not allowed to listen on ${where}: choose a PORT above 1023 or run with the needed privilege`);
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') return new SwitchboardError('config_invalid', `HOST ${host} is not an address of this machine (${err.code})`);
  return err;
}
