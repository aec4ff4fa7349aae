import { z } from 'zod';
import { SwitchboardError } from '../errors';
import {
  DEFAULT_CALL_TIMEOUT_S,
  DEFAULT_REALTIME_MODEL,
  DEFAULT_REALTIME_VOICE,
  DEFAULT_SIP_REFER_TARGET,
  DEFAULT_SPEAK_VOICE,
  MAX_CALL_TIMEOUT_S,
  MIN_CALL_TIMEOUT_S,
} from '../constants';
import { callLimitsSchema } from './call-limits';
import { postCallReportSchema } from './post-call-report';
import { callContextSchema, checkTemplate } from './call-context';
import { mcpServersSchema } from './mcp-servers';
import { telephonySchema } from './telephony';

/**
 * The agent model: who answers a number and how. Validated with zod wherever an agent enters the
 * system (env, store, admin API, import), so the rest of the code can trust it.
 */
export const AGENT_MODES = ['stream', 'openai-sip', 'sip-forward'] as const;
export type AgentMode = (typeof AGENT_MODES)[number];

export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
export const SIP_URI_PATTERN = /^sips?:[^\s@<>"]+@[^\s<>"]+$/i;

export const e164Schema = z.string().trim().regex(E164_PATTERN, 'must be an E.164 number like +19195550100');
export const sipUriSchema = z.string().trim().regex(SIP_URI_PATTERN, 'must be a SIP URI like sip:user@host');
export const phoneOrSipSchema = z
  .string()
  .trim()
  .refine((v) => E164_PATTERN.test(v) || SIP_URI_PATTERN.test(v), 'must be an E.164 number or a SIP URI');

export const idSchema = z
  .string()
  .trim()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "_" or "-", starting with a letter or digit');

const callTimeoutSchema = z.number().min(MIN_CALL_TIMEOUT_S).max(MAX_CALL_TIMEOUT_S);

export const DESTINATION_KINDS = ['phone', 'sip', 'hangup'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** A place the agent can send the caller: a human's phone, a SIP endpoint, or "end the call". */
const destinationFields = z.object({
    id: idSchema,
    /** What the model sees in transfer_call's enum, e.g. "billing". */
    name: z.string().trim().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 lowercase letters, digits, "_" or "-"'),
    description: z.string().trim().max(500).optional(),
    kind: z.enum(DESTINATION_KINDS),
    value: z.string().trim().optional(),
    /** Warm: the human hears a whisper (caller, reason, summary) before being bridged. */
    warm: z.boolean().default(false),
    callTimeoutS: callTimeoutSchema.default(DEFAULT_CALL_TIMEOUT_S),
  });

function checkDestinationValue(d: { kind: DestinationKind; value?: string }, ctx: z.RefinementCtx): void {
  if (d.kind === 'phone' && !(d.value && E164_PATTERN.test(d.value))) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'a phone destination needs an E.164 number like +19195550177' });
  }
  if (d.kind === 'sip' && !(d.value && SIP_URI_PATTERN.test(d.value))) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'a sip destination needs a SIP URI like sip:desk@pbx.example.com' });
  }
}
export const transferDestinationSchema = destinationFields.superRefine(checkDestinationValue);
export type TransferDestination = z.infer<typeof transferDestinationSchema>;
/** A new destination may leave its id out: the API derives one from its name (idFromName). */
export const newDestinationSchema = destinationFields.extend({ id: idSchema.optional() }).superRefine(checkDestinationValue);

/**
 * An id for something named `name` (a new agent or destination given no id): the name's letters and
 * digits in lower case, joined by "-", made unique with "-2", "-3", … against `taken`.
 */
export async function idFromName(name: string, taken: (id: string) => Promise<boolean>, fallback: string): Promise<string> {
  const base = name.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56).replace(/-+$/, '') || fallback;
  for (let n = 1; n < 1000; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    if (!(await taken(id))) return id;
  }
  throw new SwitchboardError('conflict', `no free id for "${name}": give one with "id"`);
}

export const agentFallbackSchema = z.object({
  /** Spoken (Bandwidth TTS) when the AI side cannot take or keep the call. */
  message: z.string().trim().min(1).max(1000).default('Sorry, our assistant is unavailable right now. Please call again later.'),
  /** Where to send the caller after the apology; none → hang up. */
  transferTo: phoneOrSipSchema.optional(),
  /**
   * A new call while MAX_CONCURRENT_CALLS calls are live on the instance (docs/operations.md, "Capacity"):
   * `fallback` answers it with this fallback (the apology, then `transferTo` or hang up); `reject` refuses an
   * inbound call unanswered (BW §1.3: not charged), and hangs up an outbound one. An openai-sip call is refused
   * with OpenAI's SIP reject either way (its Bandwidth leg then takes this fallback).
   */
  whenBusy: z.enum(['fallback', 'reject']).default('fallback'),
});

/**
 * Where the agent's fallback sends the caller after its apology (`fallback.transferTo`), as a transfer
 * destination; undefined when the fallback hangs up. Bandwidth's fallback BXML and an openai-sip call
 * handed over at shutdown use the same one.
 */
export function fallbackDestination(agent: Pick<Agent, 'id' | 'fallback'>): TransferDestination | undefined {
  const to = agent.fallback.transferTo;
  if (!to) return undefined;
  return { id: `${agent.id}-fallback`, name: 'fallback', kind: to.startsWith('+') ? 'phone' : 'sip', value: to, warm: false, callTimeoutS: DEFAULT_CALL_TIMEOUT_S };
}

/** The placeholders a REFER target template may use, and what they stand for. */
export const REFER_TARGET_PLACEHOLDERS = {
  /** The phone destination's E.164 number, e.g. +19195550177. */
  number: '+19195550177',
  /** host[:port] of the incoming INVITE's Contact (else From) header: the carrier trunk. */
  contactHost: '67.231.4.10:5060',
} as const;
export type ReferTargetValues = { [K in keyof typeof REFER_TARGET_PLACEHOLDERS]: string | undefined };

/**
 * What a rendered REFER target must be: one SIP URI, `sip(s):user@host[:port]` with only simple `;param`s.
 * Values come from the call (the INVITE's Contact host) and are not trusted: nothing that could add a second
 * URI, headers (`?`), or break out of the URI (`<`, `>`, `,`, quotes, spaces) gets through.
 */
const REFER_URI_PATTERN = /^sips?:[^\s@<>",;?]+@(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:;[A-Za-z0-9._-]+(?:=[A-Za-z0-9._-]+)?)*$/i;

/**
 * Fill a REFER target template. Throws when it needs a value the call does not have (no Contact or
 * From host), or when the result is not one plain SIP URI (REFER_URI_PATTERN): there is then nothing safe to
 * REFER to.
 */
export function renderReferTarget(template: string, values: ReferTargetValues): string {
  const rendered = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = values[name as keyof ReferTargetValues];
    if (value === undefined) throw new Error(`cannot fill {${name}} in the REFER target ${template}: the call has no such value`);
    return value;
  });
  if (!REFER_URI_PATTERN.test(rendered)) throw new Error(`the REFER target ${JSON.stringify(rendered)} is not a plain sip: or sips: URI`);
  return rendered;
}

/**
 * `sip.referTarget`: a template with {number} and {contactHost}. It must produce a sip:/sips: URI:
 * Bandwidth documents no `tel:` REFER (its OpenAI SIP Connector is the only REFER it documents).
 */
export const referTargetSchema = z
  .string()
  .trim()
  .superRefine((template, ctx) => {
    const unknown = [...template.matchAll(/\{(\w*)\}/g)].map((m) => m[1]!).filter((name) => !(name in REFER_TARGET_PLACEHOLDERS));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `sip.referTarget: unknown placeholder ${unknown.map((n) => `{${n}}`).join(', ')}; use {number} and {contactHost}` });
      return;
    }
    try {
      renderReferTarget(template, REFER_TARGET_PLACEHOLDERS);
    } catch {
      ctx.addIssue({ code: 'custom', message: `sip.referTarget must produce a sip: or sips: URI like ${DEFAULT_SIP_REFER_TARGET}, one plain URI without headers (Bandwidth documents no tel: REFER)` });
    }
  });

export const agentSipSchema = z.object({
  /** The AI SIP endpoint, e.g. sip:proj_abc@sip.api.openai.com;transport=tls. */
  target: sipUriSchema,
  /** BW §2.4 Forward hands the call off entirely; §2.5 Transfer keeps callbacks (transferComplete). */
  verb: z.enum(['forward', 'transfer']).default('transfer'),
  callTimeoutS: callTimeoutSchema.default(DEFAULT_CALL_TIMEOUT_S),
  /** Caller id presented to the SIP endpoint; defaults to the dialled number (Forward) / the caller (Transfer). */
  from: z.string().trim().optional(),
  diversionTreatment: z.enum(['none', 'propagate', 'stack']).optional(),
  diversionReason: z.string().trim().optional(),
  /**
   * openai-sip: the REFER target for phone destinations (SIP destinations are REFERred as they are).
   * Absent: DEFAULT_SIP_REFER_TARGET, `sip:{number}@{contactHost}`.
   */
  referTarget: referTargetSchema.optional(),
});

/** Names the built-in tools use; operator tools may not take them. */
export const BUILTIN_TOOL_NAMES = ['transfer_call', 'hang_up'] as const;

/**
 * An operator-defined HTTP tool (docs/architecture.md#adding-a-tool): the model calls it with arguments matching `parameters`
 * (JSON Schema); Switchboard sends them to `url` and gives the JSON answer back to the model. Header
 * values may name environment variables as `${NAME}`: secrets stay in the environment, never in the
 * store or the logs.
 */
export const httpToolSchema = z.object({
  name: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"')
    .refine((n) => !(BUILTIN_TOOL_NAMES as readonly string[]).includes(n), 'is the name of a built-in tool'),
  description: z.string().trim().min(1).max(1000),
  parameters: z.record(z.string(), z.unknown()).default({ type: 'object', properties: {} }),
  url: z.string().trim().regex(/^https?:\/\/[^\s]+$/i, 'must be an http:// or https:// URL'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  headers: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
});
export type HttpToolDefinition = z.infer<typeof httpToolSchema>;

/** Everything about an agent except its identity and its destinations (those are rows of their own). */
export const agentSettingsSchema = z.object({
  mode: z.enum(AGENT_MODES).default('stream'),
  instructions: z
    .string()
    .max(100_000)
    .default('You are a helpful, concise phone assistant. Keep answers short: this is a phone call.'),
  /** Said first when the call connects; empty → the agent waits for the caller. */
  greeting: z.string().max(2000).default('Hello! How can I help you today?'),
  voice: z.string().trim().min(1).default(DEFAULT_REALTIME_VOICE),
  model: z.string().trim().min(1).default(DEFAULT_REALTIME_MODEL),
  /** ISO-639-1; also given to input transcription. */
  language: z.string().trim().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a language code like en or en-US').default('en'),
  /** Bandwidth SpeakSentence voice for fallback and whisper prompts (BW §2.6). */
  speakVoice: z.string().trim().min(1).default(DEFAULT_SPEAK_VOICE),
  /** Audio path: zero-transcode μ-law (default) or PCM16 24 kHz (DESIGN §4.3). */
  audio: z.enum(['pcmu', 'pcm24k']).default('pcmu'),
  /** Which BXML holds a stream call open (DESIGN §4.1). */
  streamHold: z.enum(['stop-stream-wait', 'pause']).default('stop-stream-wait'),
  /** Spoken by Bandwidth while a transfer rings; empty → silence. */
  holdMessage: z.string().max(1000).default(''),
  /**
   * Turn detection overrides (OpenAI reference §1.3). Defaults suit phone lines: server VAD a little
   * less sensitive than OpenAI's 0.5, because line noise otherwise cuts the agent off (reference §7 P3).
   */
  turnDetection: z
    .object({
      type: z.enum(['server_vad', 'semantic_vad']).optional(),
      threshold: z.number().min(0).max(1).optional(),
      prefixPaddingMs: z.number().int().min(0).max(2000).optional(),
      silenceDurationMs: z.number().int().min(100).max(5000).optional(),
      eagerness: z.enum(['low', 'medium', 'high', 'auto']).optional(),
      idleTimeoutMs: z.number().int().min(5000).max(30 * 60_000).optional(),
    })
    .default({}),
  /** Input transcription model (OpenAI reference §1.3); transcripts are stored, never logged. */
  transcriptionModel: z.string().trim().min(1).default('gpt-4o-mini-transcribe'),
  /** Record both legs to a stereo WAV under DATA_DIR/recordings. */
  record: z.boolean().default(false),
  /** Operator-defined HTTP tools (docs/architecture.md#adding-a-tool). */
  httpTools: z
    .array(httpToolSchema)
    .default([])
    .refine((tools) => new Set(tools.map((t) => t.name)).size === tools.length, 'tool names must be unique'),
  /** Remote MCP servers, given to OpenAI as Realtime `mcp` tools (src/agents/mcp-servers.ts). */
  mcpServers: mcpServersSchema,
  /** Per-call context of the instructions and greeting templates, and the context hook (src/agents/call-context.ts). */
  context: callContextSchema.default({ timezone: 'UTC', variables: {} }),
  sip: agentSipSchema.optional(),
  fallback: agentFallbackSchema.default(agentFallbackSchema.parse({})),
  /** The silence watchdog and the maximum call duration (src/agents/call-limits.ts). */
  callLimits: callLimitsSchema,
  /** The post-call report: its own URL instead of REPORT_URL, and whether it carries the transcript (src/agents/post-call-report.ts). */
  report: postCallReportSchema.default(postCallReportSchema.parse({})),
  /** Key presses and voicemail detection (src/agents/telephony.ts). */
  telephony: telephonySchema.default(telephonySchema.parse({})),
});
export type AgentSettings = z.infer<typeof agentSettingsSchema>;

export const agentSchema = agentSettingsSchema
  .extend({
    id: idSchema,
    name: z.string().trim().min(1).max(200),
  })
  .superRefine((a, ctx) => {
    if (a.mode !== 'stream' && !a.sip) {
      ctx.addIssue({ code: 'custom', path: ['sip'], message: `an ${a.mode} agent needs sip.target` });
    }
    for (const field of ['instructions', 'greeting'] as const) {
      const problem = checkTemplate(a[field], a.context.variables);
      if (problem) ctx.addIssue({ code: 'custom', path: [field], message: problem });
    }
  });
export type Agent = z.infer<typeof agentSchema>;

/** An agent as calls use it: with the destinations assigned to it. */
export interface AgentWithDestinations extends Agent {
  destinations: TransferDestination[];
}

/** The greeting is asked for as a response with its own instructions (OpenAI reference §1.6 "agent speaks first"). */
export function greetingInstructions(greeting: string): string {
  return `Greet the caller now. Say exactly this, naturally, and then wait for them: "${greeting}"`;
}
