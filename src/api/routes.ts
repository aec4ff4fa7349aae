import { z } from 'zod';
import { agentSchema, idFromName, transferDestinationSchema, type Agent } from '../agents/agent';
import type { AgentRouter } from '../agents/routing';
import type { BandwidthCalls } from '../bandwidth/rest/calls-client';
import { machineDetection } from '../bandwidth/rest/machine-detection';
import { VOICE_ROUTES, type CallbackUrls } from '../bandwidth/urls';
import { SwitchboardError } from '../errors';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import { loadCallHistory } from '../reports/call-history';
import type { PriceTable } from '../reports/cost';
import type { ReportRecord, Store, StoredAgent } from '../store/types';
import type { TestCalls } from '../test-call/test-calls';
import { route, type Route } from './route';
import * as s from './schemas';

/**
 * The admin API. Each route validates its input with zod, answers JSON, and maps store
 * errors to 404/409. Changes apply to the next call at once: every write through the store clears its routing cache.
 */
export interface ApiDeps {
  store: Store;
  urls: CallbackUrls;
  callbackCredentials: { username: string; password: string };
  calls: BandwidthCalls | undefined;
  applicationId: string | undefined;
  logger: Logger;
  /** The very routing the voice webhooks use, so the API answers "who takes this call" exactly as a call would. */
  router: AgentRouter;
  /** Realtime prices per model, for the call detail's estimated cost. */
  prices: PriceTable;
  /** For the time a resent report is due from. */
  clock: Clock;
  /** A report was marked for resending: deliver it now rather than at the next poll. */
  onResend?: () => void;
  /** Browser test calls (docs/console.md, "Test call"); absent, POST /test-calls answers 503. */
  testCalls?: Pick<TestCalls, 'mint'>;
  /** End an OpenAI SIP call through OpenAI's API (reference §4.4): true when ended, false when it was already over. */
  hangUpOpenAICall?: (callId: string) => Promise<boolean>;
}

const notFound = (what: string) => new SwitchboardError('not_found', `${what} does not exist`);

export function apiRoutes(d: ApiDeps): Route[] {
  const getAgent = async (id: string): Promise<StoredAgent> => {
    const stored = await d.store.agents.get(id);
    if (!stored) throw notFound(`agent ${id}`);
    return stored;
  };
  const view = async (stored: StoredAgent) => ({
    ...stored.agent,
    numbers: (await d.store.numbers.list(stored.agent.id)).map((n) => n.number),
    source: stored.source,
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
  });
  /** The env agent is rebuilt from AGENT_* at every start: editing it here would be silently undone. */
  const editable = (stored: StoredAgent) => {
    if (stored.source === 'env') {
      throw new SwitchboardError('conflict', `agent ${stored.agent.id} is defined by the AGENT_* environment variables; change them and restart`);
    }
  };
  const save = async (agent: Agent, destinationIds?: string[]) => {
    const parsed = agentSchema.safeParse(agent);
    if (!parsed.success) throw validation(parsed.error);
    if (parsed.data.streamHold === 'pause' && !d.calls) {
      throw new SwitchboardError('invalid_request', 'streamHold "pause" needs Bandwidth REST credentials: only the Calls API can move such a call on when the AI side fails', { fields: ['streamHold'] });
    }
    return d.store.agents.upsert(parsed.data, 'api', destinationIds);
  };
  const agentWithout = (stored: StoredAgent): Agent => {
    const { destinations: _d, ...agent } = stored.agent;
    return agent;
  };

  return [
    // ---- agents ---------------------------------------------------------------------------------
    route({
      method: 'get', path: '/agents', tag: 'agents', summary: 'List agents', successStatus: 200, response: z.array(s.agentViewSchema),
      handler: async () => ({ status: 200, body: await Promise.all((await d.store.agents.list()).map(view)) }),
    }),
    route({
      method: 'post', path: '/agents', tag: 'agents', summary: 'Create an agent', body: s.agentCreateSchema, successStatus: 201, response: s.agentViewSchema, errors: [404, 409],
      handler: async ({ body }) => {
        if (body.id && (await d.store.agents.get(body.id))) throw new SwitchboardError('conflict', `agent ${body.id} already exists`);
        const { destinationIds, ...fields } = body;
        const id = fields.id ?? (await idFromName(fields.name, async (id) => Boolean(await d.store.agents.get(id)), 'agent'));
        return { status: 201, body: await view(await save({ ...fields, id }, destinationIds ?? [])) };
      },
    }),
    route({
      method: 'get', path: '/agents/:id', tag: 'agents', summary: 'Get an agent', params: s.idParams, successStatus: 200, response: s.agentViewSchema, errors: [404],
      handler: async ({ params }) => ({ status: 200, body: await view(await getAgent(params.id)) }),
    }),
    route({
      method: 'patch', path: '/agents/:id', tag: 'agents', summary: 'Update an agent (fields given replace the stored ones)', params: s.idParams, body: s.agentPatchSchema,
      successStatus: 200, response: s.agentViewSchema, errors: [404, 409],
      handler: async ({ params, body }) => {
        const stored = await getAgent(params.id);
        editable(stored);
        const { destinationIds, ...changes } = body;
        return { status: 200, body: await view(await save({ ...agentWithout(stored), ...changes, id: params.id }, destinationIds)) };
      },
    }),
    route({
      method: 'delete', path: '/agents/:id', tag: 'agents', summary: 'Delete an agent (refused while numbers are assigned, unless reassignTo names another agent)',
      params: s.idParams, query: s.agentDeleteQuery, successStatus: 204, errors: [404, 409],
      handler: async ({ params, query }) => {
        const stored = await getAgent(params.id);
        editable(stored);
        if (query.reassignTo) {
          await getAgent(query.reassignTo);
          for (const n of await d.store.numbers.list(params.id)) {
            await d.store.numbers.unassign(n.number);
            await d.store.numbers.assign(n.number, query.reassignTo);
          }
        }
        await d.store.agents.delete(params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'put', path: '/agents/:id/destinations/:destinationId', tag: 'agents', summary: 'Assign a transfer destination to an agent',
      params: s.agentDestinationParams, successStatus: 200, response: s.agentViewSchema, errors: [404, 409],
      handler: async ({ params }) => {
        const stored = await getAgent(params.id);
        editable(stored);
        if (!(await d.store.destinations.get(params.destinationId))) throw notFound(`transfer destination ${params.destinationId}`);
        const ids = stored.agent.destinations.map((x) => x.id);
        if (!ids.includes(params.destinationId)) ids.push(params.destinationId);
        return { status: 200, body: await view(await save(agentWithout(stored), ids)) };
      },
    }),
    route({
      method: 'delete', path: '/agents/:id/destinations/:destinationId', tag: 'agents', summary: 'Remove a transfer destination from an agent',
      params: s.agentDestinationParams, successStatus: 200, response: s.agentViewSchema, errors: [404, 409],
      handler: async ({ params }) => {
        const stored = await getAgent(params.id);
        editable(stored);
        const ids = stored.agent.destinations.map((x) => x.id);
        if (!ids.includes(params.destinationId)) throw notFound(`destination ${params.destinationId} on agent ${params.id}`);
        return { status: 200, body: await view(await save(agentWithout(stored), ids.filter((x) => x !== params.destinationId))) };
      },
    }),
    route({
      method: 'post', path: '/agents/:id/tools', tag: 'agents', summary: 'Add an HTTP tool to an agent', params: s.idParams, body: s.httpToolBodySchema,
      successStatus: 201, response: s.agentViewSchema, errors: [404, 409],
      handler: async ({ params, body }) => {
        const stored = await getAgent(params.id);
        editable(stored);
        if (stored.agent.httpTools.some((t) => t.name === body.name)) throw new SwitchboardError('conflict', `agent ${params.id} already has a tool named ${body.name}`);
        return { status: 201, body: await view(await save({ ...agentWithout(stored), httpTools: [...stored.agent.httpTools, body] })) };
      },
    }),
    route({
      method: 'delete', path: '/agents/:id/tools/:name', tag: 'agents', summary: 'Remove an HTTP tool from an agent', params: s.toolParams,
      successStatus: 200, response: s.agentViewSchema, errors: [404, 409],
      handler: async ({ params }) => {
        const stored = await getAgent(params.id);
        editable(stored);
        if (!stored.agent.httpTools.some((t) => t.name === params.name)) throw notFound(`tool ${params.name} on agent ${params.id}`);
        return { status: 200, body: await view(await save({ ...agentWithout(stored), httpTools: stored.agent.httpTools.filter((t) => t.name !== params.name) })) };
      },
    }),

    route({
      method: 'post', path: '/import', tag: 'agents',
      summary: 'Apply a declarative configuration (destinations, agents, numbers); idempotent, reports what changed',
      body: s.importSchema, successStatus: 200, response: s.importResultSchema, errors: [404, 409],
      handler: async ({ body }) => ({ status: 200, body: await applyImport(d.store, body) }),
    }),

    // ---- numbers --------------------------------------------------------------------------------
    route({
      method: 'get', path: '/numbers', tag: 'numbers', summary: 'List number assignments', query: s.numbersQuery, successStatus: 200, response: z.array(s.numberViewSchema),
      handler: async ({ query }) => ({ status: 200, body: await d.store.numbers.list(query.agentId) }),
    }),
    route({
      method: 'post', path: '/numbers', tag: 'numbers', summary: 'Assign a number to an agent (one agent per number)', body: s.numberAssignSchema,
      successStatus: 201, response: s.numberViewSchema, errors: [404, 409],
      handler: async ({ body }) => ({ status: 201, body: await d.store.numbers.assign(body.number, body.agentId) }),
    }),
    route({
      method: 'delete', path: '/numbers/:number', tag: 'numbers', summary: 'Unassign a number', params: s.numberParams, successStatus: 204, errors: [404],
      handler: async ({ params }) => {
        if (!(await d.store.numbers.unassign(params.number))) throw notFound(`assignment of ${params.number}`);
        return { status: 204 };
      },
    }),

    route({
      method: 'get', path: '/routing', tag: 'numbers', summary: 'Which agent answers an inbound call to a number (its assignment, else the default agent)',
      query: s.routingQuery, successStatus: 200, response: s.routingViewSchema,
      handler: async ({ query }) => {
        const routed = await d.router.resolve({ direction: 'inbound', to: query.to });
        return { status: 200, body: { to: query.to, agentId: routed?.agent.id ?? null, via: routed?.via ?? null } };
      },
    }),

    // ---- transfer destinations --------------------------------------------------------------------
    route({
      method: 'get', path: '/destinations', tag: 'destinations', summary: 'List transfer destinations', successStatus: 200, response: z.array(s.destinationViewSchema),
      handler: async () => ({ status: 200, body: await d.store.destinations.list() }),
    }),
    route({
      method: 'post', path: '/destinations', tag: 'destinations', summary: 'Create a transfer destination', body: s.destinationCreateSchema,
      successStatus: 201, response: s.destinationViewSchema, errors: [409],
      handler: async ({ body }) => {
        if (body.id && (await d.store.destinations.get(body.id))) throw new SwitchboardError('conflict', `transfer destination ${body.id} already exists`);
        const id = body.id ?? (await idFromName(body.name, async (id) => Boolean(await d.store.destinations.get(id)), 'destination'));
        return { status: 201, body: await d.store.destinations.upsert({ ...body, id }) };
      },
    }),
    route({
      method: 'get', path: '/destinations/:id', tag: 'destinations', summary: 'Get a transfer destination', params: s.idParams, successStatus: 200, response: s.destinationViewSchema, errors: [404],
      handler: async ({ params }) => {
        const dest = await d.store.destinations.get(params.id);
        if (!dest) throw notFound(`transfer destination ${params.id}`);
        return { status: 200, body: dest };
      },
    }),
    route({
      method: 'patch', path: '/destinations/:id', tag: 'destinations', summary: 'Update a transfer destination', params: s.idParams, body: s.destinationPatchSchema,
      successStatus: 200, response: s.destinationViewSchema, errors: [404, 409],
      handler: async ({ params, body }) => {
        const dest = await d.store.destinations.get(params.id);
        if (!dest) throw notFound(`transfer destination ${params.id}`);
        const parsed = transferDestinationSchema.safeParse({ ...dest, ...body, id: params.id });
        if (!parsed.success) throw validation(parsed.error);
        return { status: 200, body: await d.store.destinations.upsert(parsed.data) };
      },
    }),
    route({
      method: 'delete', path: '/destinations/:id', tag: 'destinations', summary: 'Delete a transfer destination (and its assignments)', params: s.idParams, successStatus: 204, errors: [404],
      handler: async ({ params }) => {
        if (!(await d.store.destinations.delete(params.id))) throw notFound(`transfer destination ${params.id}`);
        return { status: 204 };
      },
    }),

    // ---- calls ----------------------------------------------------------------------------------
    route({
      method: 'get', path: '/calls', tag: 'calls', summary: 'List calls, newest first, with filters and cursor pagination', query: s.callsQuery,
      successStatus: 200, response: s.callPageSchema,
      // Every call, not every leg: caller legs, browser test calls, and openai-sip calls that reached OpenAI
      // without our Bandwidth leg (their AI leg has no parent); transfer and AI legs under a call are its detail.
      handler: async ({ query }) => ({ status: 200, body: await d.store.calls.list({ ...query, topLevel: true }) }),
    }),
    route({
      method: 'get', path: '/calls/:id', tag: 'calls', summary: 'Get a call with its event timeline, transcript, usage, estimated cost and transfer outcome', params: s.callIdParams,
      successStatus: 200, response: s.callDetailSchema, errors: [404],
      handler: async ({ params }) => {
        // Every leg's trace, transcript and usage: an openai-sip call talks on its AI leg (src/reports/call-history.ts).
        const history = await loadCallHistory(d.store, params.id, d.prices);
        if (!history) throw notFound(`call ${params.id}`);
        const { call, legs, events, transcript, cost } = history;
        return { status: 200, body: { ...call, usage: history.usage, legs, events, transcript: transcript.map(({ id: _i, position: _p, ...t }) => t), transfer: transferOutcome(legs, events), cost } };
      },
    }),
    route({
      method: 'post', path: '/calls/:id/hangup', tag: 'calls', summary: 'Hang up a live call (Bandwidth Calls API; an openai-sip call\'s AI leg through OpenAI\'s API)', params: s.callIdParams,
      successStatus: 200, response: z.object({ callId: z.string(), result: z.enum(['completed', 'already-ended']) }), errors: [404, 503],
      handler: async ({ params }) => {
        const call = await d.store.calls.get(params.id);
        if (!call) throw notFound(`call ${params.id}`);
        // Both are REST requests any instance can make (DESIGN §4.12): the live session, wherever it is, then
        // ends as the call does (Bandwidth's disconnect reaches it through src/cluster/live-calls.ts; OpenAI
        // closes an openai-sip call's sideband itself).
        const ended = call.leg === 'ai-sip' && call.mode === 'openai-sip' ? await requireOpenAI(d)(params.id) : (await requireRest(d).hangUp(params.id)).ok;
        const event = { callId: params.id, source: 'switchboard' as const, type: 'api.hangup', data: { result: ended ? 'completed' : 'already-ended' } };
        // An operator's decision: it stands over the caller's hang-up the carrier reports next (src/outcomes.ts).
        if (ended) await d.store.calls.record({ id: params.id, outcome: { outcome: 'ended-by-operator', reason: 'hung up through the admin API' } }, event);
        else await d.store.events.append(event);
        return { status: 200, body: { callId: params.id, result: ended ? 'completed' : 'already-ended' } };
      },
    }),
    route({
      method: 'post', path: '/calls', tag: 'calls', summary: 'Place an outbound call answered by an agent', body: s.outboundCallSchema,
      successStatus: 201, response: s.outboundCallResultSchema, errors: [404, 429, 502, 503],
      handler: async ({ body }) => {
        const { agent } = await getAgent(body.agentId);
        const calls = requireRest(d);
        if (!d.applicationId) throw new SwitchboardError('unavailable', 'BANDWIDTH_APPLICATION_ID is not set: outbound calls need the Voice application id');
        const from = body.from ?? (await d.store.numbers.list(agent.id))[0]?.number;
        if (!from) throw new SwitchboardError('invalid_request', `from is required: agent ${agent.id} has no assigned number to call from`, { fields: ['from'] });
        // The answer URL names the agent in a sealed token (DESIGN §4.6): any instance can answer it.
        const answerUrl = d.urls.signedVoice(VOICE_ROUTES.answer, 'answer', { agentId: agent.id });
        const created = await calls.createCall({
          to: body.to,
          from,
          applicationId: d.applicationId,
          answerUrl,
          answerMethod: 'POST',
          disconnectUrl: d.urls.voice(VOICE_ROUTES.status),
          disconnectMethod: 'POST',
          username: d.callbackCredentials.username,
          password: d.callbackCredentials.password,
          callbackTimeout: 10,
          callTimeout: 30,
          tag: `sb:outbound:${agent.id}`,
          ...(agent.telephony.voicemail.detect ? { machineDetection: machineDetection(agent.telephony.voicemail, d.urls.voice(VOICE_ROUTES.machineDetection), d.callbackCredentials) } : {}),
        });
        await d.store.calls.record(
          { id: created.callId, direction: 'outbound', from, to: body.to, agentId: agent.id, mode: agent.mode, state: 'initiated', accountId: created.accountId, applicationId: d.applicationId },
          { callId: created.callId, source: 'switchboard', type: 'api.createCall', data: { agentId: agent.id, to: body.to, from } },
        );
        return { status: 201, body: { callId: created.callId, agentId: agent.id, from, to: body.to, state: 'initiated' } };
      },
    }),

    // ---- browser test calls -----------------------------------------------------------------------
    route({
      method: 'post', path: '/test-calls', tag: 'calls',
      summary: 'Start a browser test call to an agent: records the call (direction "browser"), pre-warms its OpenAI session and returns a one-time media socket URL for the page',
      body: s.testCallCreateSchema, successStatus: 201, response: s.testCallViewSchema, errors: [404, 503],
      handler: async ({ body }) => {
        const { agent } = await getAgent(body.agentId);
        if (!d.testCalls) throw new SwitchboardError('unavailable', 'browser test calls are not served by this server');
        return { status: 201, body: await d.testCalls.mint(agent) };
      },
    }),

    // ---- post-call reports ------------------------------------------------------------------------
    route({
      method: 'get', path: '/reports', tag: 'reports', summary: 'List post-call reports in the outbox, newest first, with their delivery state', query: s.reportsQuery,
      successStatus: 200, response: z.array(s.reportViewSchema),
      handler: async ({ query }) => ({ status: 200, body: (await d.store.reports.list(query)).map(reportView) }),
    }),
    route({
      method: 'get', path: '/reports/:id', tag: 'reports', summary: 'Get a post-call report: its delivery state and the JSON sent', params: s.reportIdParams,
      successStatus: 200, response: s.reportDetailSchema, errors: [404],
      handler: async ({ params }) => {
        const report = await d.store.reports.get(params.id);
        if (!report) throw notFound(`report ${params.id}`);
        return { status: 200, body: { ...reportView(report), report: report.body === null ? null : (JSON.parse(report.body) as unknown) } };
      },
    }),
    route({
      method: 'post', path: '/reports/:id/resend', tag: 'reports', summary: 'Deliver a post-call report again (same webhook-id and body, retried for another day)', params: s.reportIdParams,
      successStatus: 202, response: s.reportViewSchema, errors: [404],
      handler: async ({ params }) => {
        if (!(await d.store.reports.get(params.id))) throw notFound(`report ${params.id}`);
        const report = await d.store.reports.resend(params.id, new Date(d.clock.wallNow()).toISOString());
        if (!report) throw notFound(`report ${params.id}`);
        d.logger.info({ reportId: report.id, callId: report.callId }, 'post-call report marked for resending');
        d.onResend?.();
        return { status: 202, body: reportView(report) };
      },
    }),
  ];
}

/** A report as the API lists it: everything but the body. */
function reportView({ body: _body, ...report }: ReportRecord): Omit<ReportRecord, 'body'> {
  return report;
}

type ImportChange = z.infer<typeof s.importChangeSchema>;

/**
 * Make the store match the file: create what is missing, update what differs, leave the rest. The
 * second run of the same file reports no changes. Env-defined agents are not touched (409).
 */
async function applyImport(store: Store, input: z.infer<typeof s.importSchema>): Promise<z.infer<typeof s.importResultSchema>> {
  const changes: ImportChange[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
  for (const dest of input.destinations) {
    const existing = await store.destinations.get(dest.id);
    const action = !existing ? 'created' : same(existing, dest) ? 'unchanged' : 'updated';
    if (action !== 'unchanged' && !input.dryRun) await store.destinations.upsert(dest);
    changes.push({ kind: 'destination', id: dest.id, action });
  }
  for (const { destinationIds, ...raw } of input.agents) {
    const parsed = agentSchema.safeParse(raw);
    if (!parsed.success) throw validation(parsed.error);
    const existing = await store.agents.get(parsed.data.id);
    if (existing?.source === 'env') throw new SwitchboardError('conflict', `agent ${parsed.data.id} is defined by the AGENT_* environment variables; it cannot be imported`);
    const wantDestinations = destinationIds ?? existing?.agent.destinations.map((x) => x.id) ?? [];
    let action: ImportChange['action'] = 'created';
    if (existing) {
      const { destinations, ...current } = existing.agent;
      action = same(current, parsed.data) && same(destinations.map((x) => x.id), wantDestinations) ? 'unchanged' : 'updated';
    }
    if (action !== 'unchanged' && !input.dryRun) await store.agents.upsert(parsed.data, 'import', wantDestinations);
    changes.push({ kind: 'agent', id: parsed.data.id, action });
  }
  for (const n of input.numbers) {
    const owner = await store.numbers.agentIdFor(n.number);
    const action = owner === n.agentId ? 'unchanged' : owner ? 'updated' : 'created';
    if (action !== 'unchanged' && !input.dryRun) {
      if (owner) await store.numbers.unassign(n.number);
      await store.numbers.assign(n.number, n.agentId);
    }
    changes.push({ kind: 'number', id: n.number, action });
  }
  return { dryRun: input.dryRun, changed: changes.filter((c) => c.action !== 'unchanged').length, changes };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  return value;
}

function requireOpenAI(d: ApiDeps): (callId: string) => Promise<boolean> {
  if (!d.hangUpOpenAICall) throw new SwitchboardError('unavailable', 'OPENAI_API_KEY is not set: an OpenAI SIP call cannot be hung up');
  return d.hangUpOpenAICall;
}

function requireRest(d: ApiDeps): BandwidthCalls {
  if (!d.calls) throw new SwitchboardError('unavailable', 'Bandwidth REST credentials are not configured (BANDWIDTH_ACCOUNT_ID, BANDWIDTH_CLIENT_ID, BANDWIDTH_CLIENT_SECRET)');
  return d.calls;
}

export function validation(error: z.ZodError): SwitchboardError {
  const fields = error.issues.map((i) => i.path.join('.') || '(body)');
  return new SwitchboardError('invalid_request', error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '), { fields });
}

/** The call's transfer, from its legs and transferComplete events. */
function transferOutcome(
  legs: Awaited<ReturnType<Store['calls']['children']>>,
  events: Awaited<ReturnType<Store['events']['list']>>,
): { outcome: 'completed' | 'failed' | 'in-progress'; destination: string | null; cause: string | null; durationMs: number | null } | null {
  const completes = events.filter((e) => e.type === 'transferComplete');
  const last = completes[completes.length - 1];
  const leg = legs.filter((l) => l.leg === 'transfer').pop();
  if (!last && !leg) return null;
  const sb = (last?.data as { switchboard?: { transfer?: string; destination?: string; cause?: string } } | undefined)?.switchboard;
  const durationMs = leg?.answeredAt && leg.endedAt ? Date.parse(leg.endedAt) - Date.parse(leg.answeredAt) : null;
  return {
    outcome: !last ? 'in-progress' : sb?.transfer === 'completed' ? 'completed' : 'failed',
    destination: sb?.destination ?? null,
    cause: sb?.cause ?? leg?.cause ?? null,
    durationMs,
  };
}

