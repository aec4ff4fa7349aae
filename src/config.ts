import path from 'node:path';
import { z } from 'zod';
import { envAgent, loadJsonFile, loadToolsFile, type EnvAgent } from './agents/env-agent';
import { mcpServersSchema } from './agents/mcp-servers';
import { AGENT_AUDIO_DEADLINE_MS, CARRIER_PLAYOUT_DELAY_MS, DATABASE_FILE, DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_METRICS_HOST, METRICS_TOKEN_MIN_CHARS, MAX_CARRIER_PLAYOUT_DELAY_MS, PUBLIC_BASE_URL_MAX_CHARS, RECORD_MAX_CALL_BYTES } from './constants';
import { SwitchboardError } from './errors';
import { INSTANCE_ID_PATTERN } from './instance';
import { loadPriceTable, type PriceTable } from './reports/cost';
import { webhookSecretProblem } from './security/standard-webhooks';
import { postgresUrlProblem } from './store/postgres/connection';

/**
 * One zod schema for the whole environment. `loadConfig` reports every problem at once so an operator
 * fixes their .env in one pass. Every variable is documented in .env.example.
 */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** An optional whole number of milliseconds; empty means unset. */
function optionalMs(name: string) {
  return optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const ms = Number(v);
    if (Number.isInteger(ms)) return ms;
    ctx.addIssue({ code: 'custom', message: `${name} must be a whole number of milliseconds` });
    return z.NEVER;
  });
}

const httpUrl = (what: string) =>
  z
    .string()
    .trim()
    .refine((v) => /^https?:\/\/[^\s/]+/i.test(v), { message: `${what} must be an http:// or https:// URL` })
    .transform((v) => v.replace(/\/+$/, ''));

/** Unset when empty; otherwise an http(s) URL without its trailing slash, or an issue that names the variable. */
const optionalHttpUrl = (what: string) =>
  optionalString
    .refine((v) => v === undefined || /^https?:\/\/[^\s/]+/i.test(v), { message: `${what} must be an http:// or https:// URL` })
    .transform((v) => v?.replace(/\/+$/, ''));

const e164OrSip = z
  .string()
  .trim()
  .refine((v) => /^\+[1-9]\d{6,14}$/.test(v) || /^sips?:[^\s@]+@[^\s]+$/i.test(v), {
    message: 'must be an E.164 number like +19195550177 or a SIP URI like sip:agent@example.com',
  });

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PUBLIC_BASE_URL: optionalHttpUrl('PUBLIC_BASE_URL').refine((v) => v === undefined || v.length <= PUBLIC_BASE_URL_MAX_CHARS, {
    message: `PUBLIC_BASE_URL must be at most ${PUBLIC_BASE_URL_MAX_CHARS} characters: every callback URL Switchboard hands Bandwidth starts with it and must stay within 1,024`,
  }),
  /**
   * This instance's own public base URL, when several instances share one address (DESIGN §4.12): the media
   * socket of a call this instance pre-warmed is sent here, callbacks still go to PUBLIC_BASE_URL.
   */
  INSTANCE_PUBLIC_URL: optionalHttpUrl('INSTANCE_PUBLIC_URL').refine((v) => v === undefined || v.length <= PUBLIC_BASE_URL_MAX_CHARS, {
    message: `INSTANCE_PUBLIC_URL must be at most ${PUBLIC_BASE_URL_MAX_CHARS} characters: the media socket URL Switchboard hands Bandwidth starts with it and must stay within 1,024`,
  }),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  DATABASE_PATH: optionalString,
  // The message never repeats the value: a DATABASE_URL carries a password.
  DATABASE_URL: optionalString.superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : (postgresUrlProblem(v) ?? percentEncodingProblem(v));
    if (problem) ctx.addIssue({ code: 'custom', message: problem.replace(/^DATABASE_URL /, '') });
  }),
  INSTANCE_ID: optionalString.pipe(z.union([z.undefined(), z.string().regex(INSTANCE_ID_PATTERN, 'INSTANCE_ID must be 1-64 letters, digits, dots, dashes or underscores')])),
  BXML_TEMPLATES_DIR: optionalString,
  LOG_LEVEL: logLevel.default('info'),
  LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
  RECORD_DIR: optionalString,
  RECORD_REDACT: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  RECORD_MAX_CALL_BYTES: z.coerce.number().int().min(64 * 1024).default(RECORD_MAX_CALL_BYTES),
  NGROK_AUTHTOKEN: optionalString,

  BANDWIDTH_ACCOUNT_ID: optionalString,
  BANDWIDTH_APPLICATION_ID: optionalString,
  BANDWIDTH_CLIENT_ID: optionalString,
  BANDWIDTH_CLIENT_SECRET: optionalString,
  BANDWIDTH_CALLBACK_USERNAME: optionalString,
  BANDWIDTH_CALLBACK_PASSWORD: optionalString,
  BANDWIDTH_API_BASE_URL: httpUrl('BANDWIDTH_API_BASE_URL').default('https://voice.bandwidth.com/api/v2'),
  BANDWIDTH_OAUTH_URL: httpUrl('BANDWIDTH_OAUTH_URL').default('https://api.bandwidth.com/api/v1/oauth2/token'),

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: z
    .string()
    .trim()
    .refine((v) => /^(https?|wss?):\/\/[^\s/]+/i.test(v), { message: 'OPENAI_BASE_URL must be an http(s):// or ws(s):// URL' })
    .transform((v) => v.replace(/\/+$/, ''))
    .default('https://api.openai.com/v1'),
  OPENAI_WEBHOOK_SECRET: optionalString,

  ADMIN_TOKEN: optionalString,
  URL_SIGNING_SECRET: optionalString,

  DEFAULT_AGENT_ID: z.string().trim().min(1).default('default'),
  AGENT_NAME: z.string().trim().min(1).default('Default agent'),
  AGENT_MODE: z.enum(['stream', 'openai-sip', 'sip-forward']).default('stream'),
  AGENT_INSTRUCTIONS: optionalString,
  AGENT_GREETING: optionalString,
  AGENT_VOICE: optionalString,
  AGENT_MODEL: optionalString,
  AGENT_LANGUAGE: optionalString,
  AGENT_SIP_TARGET: optionalString,
  AGENT_SPEAK_VOICE: optionalString,
  AGENT_FALLBACK_MESSAGE: optionalString,
  AGENT_HOLD_MESSAGE: optionalString,
  AGENT_STREAM_HOLD: z.enum(['stop-stream-wait', 'pause']).default('stop-stream-wait'),
  AGENT_SIP_VERB: z.enum(['forward', 'transfer']).default('transfer'),
  AGENT_AUDIO: z.enum(['pcmu', 'pcm24k']).default('pcmu'),
  AGENT_RECORD: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /** The default agent's post-call report carries the transcript (src/agents/post-call-report.ts). */
  AGENT_REPORT_TRANSCRIPT: z.enum(['true', 'false'], { message: 'AGENT_REPORT_TRANSCRIPT must be true or false' }).default('false').transform((v) => v === 'true'),
  AGENT_REPORT_CALL_STARTED: z.enum(['true', 'false'], { message: 'AGENT_REPORT_CALL_STARTED must be true or false' }).default('false').transform((v) => v === 'true'),
  AGENT_TOOLS_FILE: optionalString,
  /** The default agent's MCP servers: a JSON array file (README "MCP tools"). */
  AGENT_MCP_SERVERS_FILE: optionalString,
  /** Per-call context of the default agent (README "Per-call context"): timezone, declared variables (JSON object), hook. */
  AGENT_TIMEZONE: optionalString,
  AGENT_CONTEXT_VARIABLES: optionalString,
  AGENT_CONTEXT_HOOK_URL: optionalString,
  AGENT_CONTEXT_HOOK_TIMEOUT_MS: z.coerce.number({ message: 'AGENT_CONTEXT_HOOK_TIMEOUT_MS must be a number of milliseconds' }).int().optional(),
  AGENT_CONTEXT_HOOK_HEADERS: optionalString,
  AGENT_KEY_PRESSES: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  AGENT_KEY_PRESS_INTERRUPTS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  AGENT_VOICEMAIL_DETECT: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  AGENT_VOICEMAIL_ACTION: z.enum(['hang-up', 'leave-message']).default('hang-up'),
  AGENT_VOICEMAIL_MESSAGE: optionalString,
  /** Fallback when no agent audio is ready this long after the stream starts (constants.ts AGENT_AUDIO_DEADLINE_MS). */
  AGENT_AUDIO_DEADLINE_MS: z.coerce.number({ message: 'AGENT_AUDIO_DEADLINE_MS must be a number of milliseconds' }).int().min(100).max(60_000).default(AGENT_AUDIO_DEADLINE_MS),
  TRANSFER_TO: optionalString.pipe(z.union([z.undefined(), e164OrSip])),
  /** The default agent's answer to a new call beyond MAX_CONCURRENT_CALLS (agent.ts, fallback.whenBusy). */
  AGENT_WHEN_BUSY: z.enum(['fallback', 'reject'], { message: 'AGENT_WHEN_BUSY must be fallback or reject' }).default('fallback'),
  /** The default agent's call limits (src/agents/call-limits.ts); their bounds are checked with the agent. */
  AGENT_SILENCE_WATCHDOG: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  AGENT_SILENCE_PROMPT_AFTER_MS: optionalMs('AGENT_SILENCE_PROMPT_AFTER_MS'),
  AGENT_SILENCE_HANGUP_AFTER_MS: optionalMs('AGENT_SILENCE_HANGUP_AFTER_MS'),
  AGENT_MAX_CALL_MS: optionalMs('AGENT_MAX_CALL_MS'),
  AGENT_MAX_CALL_WARN_MS: optionalMs('AGENT_MAX_CALL_WARN_MS'),
  AGENT_MAX_CALL_TRANSFER_TO: optionalString,

  /** Post-call reports (docs/architecture.md, post-call reports): where they go, how they are signed, whether numbers are masked. */
  REPORT_URL: optionalString.superRefine((v, ctx) => {
    if (v !== undefined && !/^https?:\/\/[^\s/]+\S*$/i.test(v)) ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
  }),
  REPORT_SIGNING_SECRET: optionalString.superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : webhookSecretProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  REPORT_NUMBERS: z.enum(['masked', 'full'], { message: 'REPORT_NUMBERS must be masked or full' }).default('masked'),
  /** Per-model prices in dollars per million tokens, added to or replacing the defaults (src/reports/cost.ts). */
  REALTIME_PRICES: optionalString,
  REALTIME_PRICES_FILE: optionalString,

  /** Live calls this instance takes; a new call beyond them gets its agent's busy handling (src/capacity.ts). */
  MAX_CONCURRENT_CALLS: z.coerce
    .number({ message: 'MAX_CONCURRENT_CALLS must be a whole number of calls' })
    .int({ message: 'MAX_CONCURRENT_CALLS must be a whole number of calls' })
    .min(1, { message: 'MAX_CONCURRENT_CALLS must be at least 1' })
    .default(DEFAULT_MAX_CONCURRENT_CALLS),
  /** GET /metrics on PORT takes this bearer token; unset: the admin token (src/metrics/endpoint.ts). */
  METRICS_TOKEN: optionalString.refine((v) => v === undefined || v.length >= METRICS_TOKEN_MIN_CHARS, {
    message: `METRICS_TOKEN must be at least ${METRICS_TOKEN_MIN_CHARS} characters (a guessable token exposes the call counts)`,
  }),
  /** A second listener serving GET /metrics without auth, on METRICS_HOST (default loopback). Unset: none. */
  METRICS_PORT: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const port = Number(v);
    if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
    ctx.addIssue({ code: 'custom', message: 'METRICS_PORT must be a port number (0-65535)' });
    return z.NEVER;
  }),
  METRICS_HOST: z.string().trim().min(1).default(DEFAULT_METRICS_HOST),

  /** DESIGN §4.10: how long the carrier waits before playing audio that reaches it empty. */
  CARRIER_PLAYOUT_DELAY_MS: z.coerce
    .number({ message: 'CARRIER_PLAYOUT_DELAY_MS must be a number of milliseconds' })
    .int({ message: 'CARRIER_PLAYOUT_DELAY_MS must be a whole number of milliseconds' })
    .min(0, { message: 'CARRIER_PLAYOUT_DELAY_MS cannot be negative' })
    .max(MAX_CARRIER_PLAYOUT_DELAY_MS, { message: `CARRIER_PLAYOUT_DELAY_MS must be at most ${MAX_CARRIER_PLAYOUT_DELAY_MS} ms` })
    .default(CARRIER_PLAYOUT_DELAY_MS),
});

export type Env = z.infer<typeof envSchema>;

/** The parsed environment plus values derived from it. Credentials are resolved separately (credentials.ts). */
export interface Config {
  env: Env;
  port: number;
  host: string;
  /** Where BXML URLs point. Undefined until the listening port is known when PUBLIC_BASE_URL is unset. */
  publicBaseUrl: string | undefined;
  dataDir: string;
  databasePath: string;
  /** PostgreSQL instead of SQLite (several instances sharing one store, DESIGN §4.12); undefined: SQLite at databasePath. */
  databaseUrl: string | undefined;
  templatesDir: string;
  logLevel: Env['LOG_LEVEL'];
  /** The default agent built from AGENT_*, TRANSFER_TO and AGENT_TOOLS_FILE (validated here with the rest). */
  envAgent: EnvAgent;
  /** Realtime prices per model: the defaults with REALTIME_PRICES / REALTIME_PRICES_FILE applied. */
  prices: PriceTable;
}

/**
 * Parse the environment; throws one SwitchboardError('config_invalid') listing every problem: the schema's,
 * the cross-variable rules (checked on the raw values, so they are reported even when the schema fails), the
 * tools file and the default agent built from them. One report, so an operator fixes their .env in one pass.
 */
export function loadConfig(source: NodeJS.ProcessEnv, packageRoot: string): Config {
  // An empty value means "not set" for every variable, so `PORT=` in .env is the default, not port 0.
  const present: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) if (value !== undefined && value.trim() !== '') present[key] = value;
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`);
  problems.push(...crossVariableProblems(present));
  const agent = parsed.success ? envAgent(parsed.data) : undefined;
  if (agent) problems.push(...agent.problems);
  else {
    if (present.AGENT_TOOLS_FILE) problems.push(...loadToolsFile(present.AGENT_TOOLS_FILE.trim()).problems);
    if (present.AGENT_MCP_SERVERS_FILE) problems.push(...loadJsonFile('AGENT_MCP_SERVERS_FILE', present.AGENT_MCP_SERVERS_FILE.trim(), mcpServersSchema).problems);
  }
  const priced = loadPriceTable(present.REALTIME_PRICES?.trim(), present.REALTIME_PRICES_FILE?.trim());
  problems.push(...priced.problems);
  if (!parsed.success || !agent?.value || problems.length > 0) {
    throw new SwitchboardError('config_invalid', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { problems });
  }
  const env = parsed.data;
  const dataDir = path.resolve(env.DATA_DIR);
  return {
    env,
    port: env.PORT,
    host: env.HOST,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    dataDir,
    databasePath: env.DATABASE_PATH ? path.resolve(env.DATABASE_PATH) : path.join(dataDir, DATABASE_FILE),
    databaseUrl: env.DATABASE_URL,
    templatesDir: env.BXML_TEMPLATES_DIR ? path.resolve(env.BXML_TEMPLATES_DIR) : path.join(packageRoot, 'bxml-templates'),
    logLevel: env.LOG_LEVEL,
    envAgent: agent.value,
    prices: priced.prices,
  };
}

/** Rules that span variables, on the raw (trimmed, non-empty) values. */
/**
 * The PostgreSQL client percent-decodes the URL's user, password and database name (RFC 3986 §2.1): a `%` that
 * starts no `%XX` byte (a password typed as is) would fail deep inside the store's start as "URI malformed".
 * Named here as the configuration mistake it is; the message names the part, never its value.
 */
function percentEncodingProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined; // postgresUrlProblem reports a URL that does not parse
  }
  const parts: [string, string][] = [['user name', parsed.username], ['password', parsed.password], ['database name', parsed.pathname]];
  for (const [part, value] of parts) {
    try {
      decodeURIComponent(value);
    } catch {
      return `DATABASE_URL ${part} is not percent-encoded: a % must start a %XX byte; percent-encode the ${part} (encodeURIComponent: % is %25, @ is %40, : is %3A, / is %2F)`;
    }
  }
  return undefined;
}

function crossVariableProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const mode = env.AGENT_MODE?.trim() ?? 'stream';
  const sipTarget = env.AGENT_SIP_TARGET?.trim();
  if (mode !== 'stream' && !sipTarget) problems.push(`AGENT_SIP_TARGET: required when AGENT_MODE is ${mode}`);
  if (sipTarget && !/^sips?:[^\s@]+@[^\s]+$/i.test(sipTarget)) {
    problems.push('AGENT_SIP_TARGET: must be a SIP URI like sip:proj_123@sip.api.openai.com');
  }
  if (Boolean(env.BANDWIDTH_CALLBACK_USERNAME) !== Boolean(env.BANDWIDTH_CALLBACK_PASSWORD)) {
    problems.push('BANDWIDTH_CALLBACK_USERNAME / BANDWIDTH_CALLBACK_PASSWORD: set both or neither');
  }
  if (env.AGENT_STREAM_HOLD === 'pause' && !(env.BANDWIDTH_ACCOUNT_ID && env.BANDWIDTH_CLIENT_ID && env.BANDWIDTH_CLIENT_SECRET)) {
    // A Pause outlives the media socket: only the Calls API can move such a call on (DESIGN §4.1).
    problems.push('AGENT_STREAM_HOLD: pause needs BANDWIDTH_ACCOUNT_ID, BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET (the Calls API moves the call on when the AI side fails)');
  }
  if (Boolean(env.BANDWIDTH_CLIENT_ID) !== Boolean(env.BANDWIDTH_CLIENT_SECRET)) {
    problems.push('BANDWIDTH_CLIENT_ID / BANDWIDTH_CLIENT_SECRET: set both or neither');
  }
  return problems;
}
