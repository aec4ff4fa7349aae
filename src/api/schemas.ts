import { z } from 'zod';
import { AGENT_MODES, agentSettingsSchema, e164Schema, httpToolSchema, idSchema, newDestinationSchema, transferDestinationSchema } from '../agents/agent';
import { CALL_OUTCOMES } from '../outcomes';
import { CALL_DIRECTIONS, CALL_STATES, REPORT_EVENTS, REPORT_STATES } from '../store/types';

/** Request and response shapes of the admin API, reused by the OpenAPI document. */
export const idParams = z.object({ id: idSchema });
export const numberParams = z.object({ number: e164Schema });

export const agentCreateSchema = agentSettingsSchema.extend({
  /** Optional: derived from the name when left out (idFromName). */
  id: idSchema.optional(),
  name: z.string().trim().min(1).max(200),
  /** Destination ids assigned to the agent, in the order the model sees them. */
  destinationIds: z.array(idSchema).optional(),
});
/**
 * A PATCH names only what changes. zod's `.partial()` would still fill every omitted field with its
 * default (and so reset it), so the patch schema is built from the fields without their defaults.
 */
function patchOf<S extends z.ZodRawShape>(schema: z.ZodObject<S>): z.ZodObject<{ [K in keyof S]: z.ZodOptional<z.ZodType<z.output<S[K]>>> }> {
  const shape = Object.fromEntries(
    Object.entries(schema.shape).map(([key, field]) => {
      const inner = field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : (field as z.ZodType);
      return [key, inner.optional()];
    }),
  );
  return z.object(shape) as never;
}
export const agentPatchSchema = patchOf(agentCreateSchema.omit({ id: true }));

export const agentViewSchema = agentSettingsSchema.extend({
  id: z.string(),
  name: z.string(),
  destinations: z.array(transferDestinationSchema),
  numbers: z.array(z.string()),
  source: z.enum(['env', 'api', 'import']),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const agentDeleteQuery = z.object({
  /** Move the agent's numbers to this agent first (else the delete is refused while numbers remain). */
  reassignTo: idSchema.optional(),
});

export const numberAssignSchema = z.object({ number: e164Schema, agentId: idSchema });
export const numberViewSchema = z.object({ number: z.string(), agentId: z.string(), createdAt: z.string() });
export const numbersQuery = z.object({ agentId: idSchema.optional() });
/** A dialled number as Bandwidth sends it in `to`: E.164 or a SIP URI (agents/routing.ts numberCandidates). */
export const routingQuery = z.object({ to: z.string().trim().min(1, 'to is required: the dialled number (E.164 or a SIP URI)').max(256) });
export const routingViewSchema = z.object({
  to: z.string(),
  /** The agent that answers an inbound call to `to`; null: such a call is rejected. */
  agentId: z.string().nullable(),
  /** Why: the number's assignment, the default agent (DEFAULT_AGENT_ID), or a SIP `agent=` parameter of `to`. */
  via: z.enum(['explicit', 'uui', 'sip-parameter', 'number', 'default']).nullable(),
});

export const destinationCreateSchema = newDestinationSchema;
export const destinationViewSchema = transferDestinationSchema;
export const destinationPatchSchema = z.object({
  name: z.string().optional(),
  description: z.string().optional(),
  kind: z.enum(['phone', 'sip', 'hangup']).optional(),
  value: z.string().optional(),
  warm: z.boolean().optional(),
  callTimeoutS: z.number().optional(),
});
export const agentDestinationParams = z.object({ id: idSchema, destinationId: idSchema });

export const toolParams = z.object({ id: idSchema, name: z.string().min(1).max(64) });

const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 time').transform((v) => new Date(v).toISOString());
export const callsQuery = z.object({
  agentId: idSchema.optional(),
  number: z.string().trim().min(1).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  state: z.enum(CALL_STATES).optional(),
  cause: z.string().trim().min(1).optional(),
  outcome: z.enum(CALL_OUTCOMES).optional(),
  /** `browser`: only the test calls; `inbound` / `outbound`: only calls over the phone network. */
  direction: z.enum(CALL_DIRECTIONS).optional(),
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const callViewSchema = z.object({
  id: z.string(),
  parentCallId: z.string().nullable(),
  leg: z.string(),
  direction: z.string().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  agentId: z.string().nullable(),
  mode: z.enum(AGENT_MODES).nullable(),
  state: z.enum(CALL_STATES),
  cause: z.string().nullable(),
  errorMessage: z.string().nullable(),
  tag: z.string().nullable(),
  startedAt: z.string().nullable(),
  answeredAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  usage: z.record(z.string(), z.number()).nullable(),
  recordingPath: z.string().nullable(),
  mediaOwner: z.string().nullable().describe('the instance holding this call’s live media stream, while it does'),
  outcome: z.enum(CALL_OUTCOMES).nullable().describe('how the call ended (one per call); null while it is under way'),
  outcomeReason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const callPageSchema = z.object({ items: z.array(callViewSchema), nextCursor: z.string().nullable() });
const costCategories = z.object({ audioIn: z.number(), cachedAudioIn: z.number(), audioOut: z.number(), textIn: z.number(), cachedTextIn: z.number(), textOut: z.number() });
export const callCostSchema = z
  .object({ model: z.string(), currency: z.literal('USD'), totalUsd: z.number(), tokens: costCategories, usd: costCategories, pricePerMillion: costCategories })
  .nullable()
  .describe('estimated model cost from the call’s usage and the price table (null without usage or a price for the agent’s model)');
export const callDetailSchema = callViewSchema.extend({
  usage: z.record(z.string(), z.number()).nullable().describe('model usage summed over the call and its legs (an openai-sip call is talked to on its AI leg)'),
  legs: z.array(callViewSchema),
  /** Every leg's, in time order (src/reports/call-history.ts); `callId` names the leg. */
  events: z.array(z.object({ id: z.number(), callId: z.string().describe('the leg this event is about'), at: z.string(), source: z.string(), type: z.string(), data: z.unknown() })),
  transcript: z.array(z.object({ callId: z.string().describe('the leg whose conversation said it'), role: z.string(), text: z.string(), itemId: z.string().optional(), heardMs: z.number().optional(), truncated: z.boolean(), at: z.string() })),
  transfer: z
    .object({ outcome: z.enum(['completed', 'failed', 'in-progress']), destination: z.string().nullable(), cause: z.string().nullable(), durationMs: z.number().nullable() })
    .nullable(),
  cost: callCostSchema,
});


export const reportViewSchema = z.object({
  id: z.string().describe('the Standard Webhooks webhook-id, the same on every attempt'),
  callId: z.string(),
  event: z.enum(REPORT_EVENTS),
  status: z.enum(REPORT_STATES),
  attempts: z.number(),
  nextAttemptAt: z.string(),
  giveUpAt: z.string(),
  lastStatus: z.number().nullable().describe('the endpoint’s HTTP status at the last attempt'),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deliveredAt: z.string().nullable(),
});
export const reportDetailSchema = reportViewSchema.extend({ report: z.unknown().nullable().describe('the JSON sent (null until the first attempt built it)') });
export const reportsQuery = z.object({
  status: z.enum(REPORT_STATES).optional(),
  callId: z.string().trim().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export const reportIdParams = z.object({ id: z.string().trim().regex(/^msg_[A-Za-z0-9_-]{1,64}$/, 'must be a report id like msg_…') });

export const outboundCallSchema = z.object({
  agentId: idSchema,
  to: z.string().trim().refine((v) => /^\+[1-9]\d{6,14}$/.test(v) || /^sips?:[^\s@]+@\S+$/i.test(v), 'must be an E.164 number or a SIP URI'),
  /** A Bandwidth number of yours; defaults to the agent's first assigned number. */
  from: e164Schema.optional(),
});
export const outboundCallResultSchema = z.object({ callId: z.string(), agentId: z.string(), from: z.string(), to: z.string(), state: z.string() });

export const testCallCreateSchema = z.object({ agentId: idSchema });
export const testCallViewSchema = z.object({
  callId: z.string(),
  agentId: z.string(),
  url: z.string().describe('the media socket (ws:// or wss://) on the server’s public base URL; opened once, within expiresAt, from the server’s own origin'),
  path: z.string().describe('the same socket’s path, for a page that opens it on the origin it was served from'),
  expiresAt: z.string(),
});

export const httpToolBodySchema = httpToolSchema;
export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), fields: z.array(z.string()).optional() }) });
export const callIdParams = z.object({ id: z.string().trim().min(1).max(200) });

/** A declarative configuration (`agents import`): destinations, agents, number assignments. */
export const importSchema = z.object({
  destinations: z.array(transferDestinationSchema).default([]),
  // A configuration file names its agents: imports are matched by id.
  agents: z.array(agentCreateSchema.extend({ id: idSchema })).default([]),
  numbers: z.array(numberAssignSchema).default([]),
  dryRun: z.boolean().default(false),
});
export const importChangeSchema = z.object({
  kind: z.enum(['destination', 'agent', 'number']),
  id: z.string(),
  action: z.enum(['created', 'updated', 'unchanged']),
});
export const importResultSchema = z.object({ dryRun: z.boolean(), changed: z.number(), changes: z.array(importChangeSchema) });
