import crypto from 'node:crypto';
import { z } from 'zod';
import { transferDestinationSchema } from '../agents/agent';
import { CALLBACK_COMMIT_WAIT_MS, CALLBACK_CONTEXT_ID_BYTES, SIGNED_URL_TTL_MS } from '../constants';
import { withinMs } from '../deadline';
import { SwitchboardError } from '../errors';
import type { TokenPurpose, UrlSigner } from '../security/signing';
import type { CallbackContextRecord, CallbackContextsRepository, ContextUse } from '../store/types';
import { VOICE_ROUTES, type CallbackUrls } from './urls';

/**
 * Short, bound callback URLs (DESIGN §4.6). A sealed token carries ids, a purpose and an expiry: the
 * call it is bound to and the id of a stored context. The context itself (a transfer's destination,
 * reason and summary; a redirect's action) lives in the store, so a URL stays well under Bandwidth's
 * 2,048-character answerUrl cap (BW §5) whatever the summary's length or script.
 */

/** What a transfer's callbacks need to know (stored; the token names it). */
export const transferContextSchema = z.object({
  agentId: z.string(),
  destination: transferDestinationSchema,
  reason: z.string().optional(),
  summary: z.string().optional(),
  /**
   * `agent`: the agent asked for it (a failure returns to the agent); `ai-sip`: the AI SIP leg of a SIP
   * mode (a failure goes to the agent's fallback); `fallback`: the last resort (a failure ends the call).
   */
  origin: z.enum(['agent', 'ai-sip', 'fallback']),
});
/** A transfer's context together with the A-leg it belongs to. */
export type TransferContext = z.infer<typeof transferContextSchema> & { callId: string };

/** What a redirect callback should do (stored; the token names it). */
export const redirectActionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('transfer'), destination: transferDestinationSchema, reason: z.string().optional(), summary: z.string().optional() }),
  z.object({ type: z.literal('fallback'), reason: z.string() }),
  z.object({ type: z.literal('hangup'), message: z.string().optional() }),
]);
export type RedirectAction = z.infer<typeof redirectActionSchema>;

/** Sealed token data: ids only. */
export const transferTokenSchema = z.object({ callId: z.string(), ctx: z.string() });
export const redirectTokenSchema = z.object({ callId: z.string(), agentId: z.string(), ctx: z.string() });

/**
 * The token shapes of the version before contexts were stored: the context is inside the token data
 * (see adoptLegacy; removable SIGNED_URL_TTL_MS after the upgrade).
 */
const legacyTransferTokenSchema = z.looseObject({ callId: z.string(), agentId: z.string(), destination: transferDestinationSchema, origin: transferContextSchema.shape.origin });
const legacyRedirectTokenSchema = z.object({ callId: z.string(), agentId: z.string(), action: redirectActionSchema });

/** A legacy transfer token's context: its data without the call id. */
function legacyData(data: Record<string, unknown>): Record<string, unknown> {
  const { callId: _c, ctx: _x, ...context } = data;
  return context;
}

/** A verified transfer token with its stored context; `legCallId` is the B-leg once Bandwidth named it. */
export interface ResolvedTransfer extends TransferContext {
  contextId: string;
  legCallId: string | null;
}

/** Why a token was not honoured; stored with the refused callback. */
export class ContextRefused extends SwitchboardError {
  constructor(message: string) {
    super('callback_refused', message);
    this.name = 'ContextRefused';
  }
}

export class CallbackContexts {
  constructor(
    private readonly store: CallbackContextsRepository,
    private readonly signer: UrlSigner,
    private readonly urls: CallbackUrls,
  ) {}

  /**
   * A transfer's three callback URLs, bound to the A-leg `ctx.callId`. `saved` settles once the context
   * is committed: the caller must await it before the BXML naming these URLs goes out.
   */
  transferUrls(ctx: TransferContext): { urls: { transferCompleteUrl: string; transferAnswerUrl: string; transferDisconnectUrl: string }; saved: Promise<void> } {
    const { callId, ...data } = ctx;
    const { id, saved } = this.save(callId, 'transfer', data);
    const token = { callId, ctx: id };
    return {
      saved,
      urls: {
        transferCompleteUrl: this.urls.signedVoice(VOICE_ROUTES.transferComplete, 'transfer', token),
        transferAnswerUrl: this.urls.signedVoice(VOICE_ROUTES.transferAnswer, 'transfer', token),
        transferDisconnectUrl: this.urls.signedVoice(VOICE_ROUTES.transferDisconnect, 'transfer', token),
      },
    };
  }

  /**
   * The Calls API redirect URL for `action`, once its context is committed, or after CALLBACK_COMMIT_WAIT_MS
   * while the store cannot write (the durability rule, docs/reliability.md): the context is readable on this
   * instance meanwhile, and the caller is not kept waiting for the store.
   */
  async redirectUrl(callId: string, agentId: string, action: RedirectAction): Promise<string> {
    const { id, saved } = this.save(callId, 'redirect', action);
    await withinMs(saved, CALLBACK_COMMIT_WAIT_MS);
    return this.urls.signedVoice(VOICE_ROUTES.redirect, 'redirect', { callId, agentId, ctx: id });
  }

  /** Verify a transfer token and load its context. Throws ContextRefused / signature errors. */
  async resolveTransfer(token: string | undefined): Promise<ResolvedTransfer> {
    const opened = this.open(token, 'transfer', z.union([transferTokenSchema, legacyTransferTokenSchema]));
    const ids = typeof opened.ctx === 'string' ? { callId: opened.callId, ctx: opened.ctx } : await this.adoptLegacy(token!, opened.callId, 'transfer', legacyData(opened));
    const record = await this.load(ids.ctx, ids.callId, 'transfer');
    const data = transferContextSchema.safeParse(record.data);
    if (!data.success) throw new ContextRefused('the stored transfer context has the wrong shape');
    return { ...data.data, callId: ids.callId, contextId: record.id, legCallId: record.legCallId };
  }

  /** Verify a redirect token and load its action. */
  async resolveRedirect(token: string | undefined): Promise<{ callId: string; agentId: string; contextId: string; action: RedirectAction }> {
    const opened = this.open(token, 'redirect', z.union([redirectTokenSchema, legacyRedirectTokenSchema]));
    const ids = 'ctx' in opened ? opened : { ...(await this.adoptLegacy(token!, opened.callId, 'redirect', opened.action)), agentId: opened.agentId };
    const record = await this.load(ids.ctx, ids.callId, 'redirect');
    const action = redirectActionSchema.safeParse(record.data);
    if (!action.success) throw new ContextRefused('the stored redirect action has the wrong shape');
    return { callId: ids.callId, agentId: ids.agentId, contextId: record.id, action: action.data };
  }

  /**
   * Remember which B-leg Bandwidth named for a transfer (its transferAnswer). Settles with the leg
   * bound: this one, or the leg that answered first (BW §2.5: several may ring, the first answer wins).
   */
  bindLeg(contextId: string, legCallId: string): Promise<string> {
    return this.store.bindLeg(contextId, legCallId);
  }

  /** Consume a one-shot context for the callback `callbackId` (see CallbackContextsRepository.consume). */
  consume(contextId: string, callbackId: string): Promise<ContextUse> {
    return this.store.consume(contextId, callbackId);
  }

  /** Keep the answer given to the callback that consumed the context. */
  remember(contextId: string, answer: unknown): Promise<void> {
    return this.store.remember(contextId, answer);
  }

  /**
   * A token minted before contexts were stored carries its context inside (signed by our secret, so it
   * is as trustworthy as a stored one). Store that context once, under an id derived from the token, so
   * it is bound, consumed and answered like any other: every use of the same token finds the same row.
   * Remove this (and the legacy token schemas) SIGNED_URL_TTL_MS (24 h) after the upgrade that stored
   * contexts: by then every legacy token has expired.
   */
  private async adoptLegacy(token: string, callId: string, purpose: 'transfer' | 'redirect', data: unknown): Promise<{ callId: string; ctx: string }> {
    const id = `legacy-${crypto.createHash('sha256').update(token).digest('base64url')}`;
    await this.store.put({ id, callId, purpose, data, expiresAt: new Date(Date.now() + SIGNED_URL_TTL_MS).toISOString() }, { ifAbsent: true });
    return { callId, ctx: id };
  }

  /** A token equivalent to a recorded one, for `switchboard replay` (see remintToken). */
  remint(purpose: TokenPurpose, recorded: { data: unknown; context?: unknown }): Promise<string> {
    return remintToken(this.store, this.signer, purpose, recorded);
  }

  private save(callId: string, purpose: 'transfer' | 'redirect', data: unknown): { id: string; saved: Promise<void> } {
    return saveContext(this.store, callId, purpose, data);
  }

  private open<T>(token: string | undefined, purpose: TokenPurpose, schema: z.ZodType<T>): T {
    if (!token) throw new ContextRefused('no signed token (t) in the URL');
    const parsed = schema.safeParse(this.signer.verify(token, purpose));
    if (!parsed.success) throw new ContextRefused('token data has the wrong shape');
    return parsed.data;
  }

  private async load(id: string, callId: string, purpose: string): Promise<CallbackContextRecord> {
    const record = await this.store.get(id);
    if (!record) throw new ContextRefused('the context this URL names does not exist or has expired');
    // The token is sealed, so this cannot differ unless the store was tampered with: refuse anyway.
    if (record.callId !== callId || record.purpose !== purpose) throw new ContextRefused(`the stored context belongs to another call or purpose`);
    return record;
  }
}

function saveContext(store: CallbackContextsRepository, callId: string, purpose: 'transfer' | 'redirect', data: unknown): { id: string; saved: Promise<void> } {
  const id = crypto.randomBytes(CALLBACK_CONTEXT_ID_BYTES).toString('base64url');
  // The row expires with the token that names it (SIGNED_URL_TTL_MS).
  const saved = store.put({ id, callId, purpose, data, expiresAt: new Date(Date.now() + SIGNED_URL_TTL_MS).toISOString() });
  return { id, saved };
}

/**
 * Mint a token equivalent to a recorded one, for `switchboard replay` (record/replay.ts): a recorded
 * context is stored in the target's store under a fresh id. Recordings made before contexts were stored
 * carry the context inside the token data; both shapes are accepted. Throws (zod) on a recording that
 * holds neither.
 */
export async function remintToken(
  store: CallbackContextsRepository,
  signer: UrlSigner,
  purpose: TokenPurpose,
  recorded: { data: unknown; context?: unknown },
): Promise<string> {
  const data = (recorded.data ?? {}) as Record<string, unknown>;
  if (purpose !== 'transfer' && purpose !== 'redirect') return signer.sign(purpose, data, SIGNED_URL_TTL_MS);
  const callId = z.string().parse(data.callId);
  if (purpose === 'redirect') {
    const action = redirectActionSchema.parse(recorded.context ?? data.action);
    const { id, saved } = saveContext(store, callId, 'redirect', action);
    await saved;
    return signer.sign('redirect', { callId, agentId: z.string().parse(data.agentId), ctx: id }, SIGNED_URL_TTL_MS);
  }
  const context = transferContextSchema.parse(recorded.context ?? legacyData(data));
  const { id, saved } = saveContext(store, callId, 'transfer', context);
  await saved;
  return signer.sign('transfer', { callId, ctx: id }, SIGNED_URL_TTL_MS);
}
