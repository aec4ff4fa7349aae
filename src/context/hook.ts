import { z } from 'zod';
import type { ContextHook } from '../agents/call-context';
import { expandHeaderSecrets } from '../agents/tool-secrets';
import type { Clock } from '../clock';
import { CONTEXT_HOOK_MAX_RESPONSE_BYTES, MAX_CONTEXT_VARIABLE_CHARS, MAX_CONTEXT_VARIABLES } from '../constants';

/**
 * The context hook's wire (README "Context hook"): Switchboard POSTs the call's facts as JSON, the operator
 * answers `{ "variables": { "name": "value", … } }` (strings, numbers or booleans), read up to
 * CONTEXT_HOOK_MAX_RESPONSE_BYTES. The answer must come within the agent's `timeoutMs`, on the injected clock;
 * a late, failed or malformed answer is a failure with a reason, never an exception.
 */
export interface ContextHookRequest {
  event: 'call.context';
  callId: string;
  agentId: string;
  mode: string;
  direction: 'inbound' | 'outbound';
  caller: string | null;
  called: string | null;
  /** ISO time the hook was asked. */
  at: string;
}

export const contextHookAnswerSchema = z.object({
  variables: z
    .record(z.string().max(64), z.union([z.string().max(MAX_CONTEXT_VARIABLE_CHARS), z.number(), z.boolean()]))
    .refine((v) => Object.keys(v).length <= MAX_CONTEXT_VARIABLES * 2, `at most ${MAX_CONTEXT_VARIABLES * 2} variables`),
});

export type ContextHookResult = { ok: true; variables: Record<string, string> } | { ok: false; reason: string; status?: number };

export interface ContextHookDeps {
  clock: Clock;
  env: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

export async function askContextHook(hook: ContextHook, request: ContextHookRequest, deps: ContextHookDeps): Promise<ContextHookResult> {
  let headers: Record<string, string>;
  try {
    headers = expandHeaderSecrets(hook.headers, deps.env);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const abort = new AbortController();
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const timedOut = new Promise<ContextHookResult>((resolve) => {
    timer = deps.clock.setTimeout(() => {
      abort.abort();
      resolve({ ok: false, reason: `no answer within ${hook.timeoutMs} ms` });
    }, hook.timeoutMs);
  });
  const asked = (async (): Promise<ContextHookResult> => {
    try {
      const res = await (deps.fetch ?? fetch)(hook.url, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json', Accept: 'application/json', 'X-Switchboard-Call-Id': request.callId },
        body: JSON.stringify(request),
        signal: abort.signal,
      });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        return { ok: false, reason: `answered HTTP ${res.status}`, status: res.status };
      }
      const text = await readCapped(res, CONTEXT_HOOK_MAX_RESPONSE_BYTES);
      if (text === undefined) return { ok: false, reason: `answer larger than ${CONTEXT_HOOK_MAX_RESPONSE_BYTES} bytes` };
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return { ok: false, reason: 'answer is not JSON' };
      }
      const parsed = contextHookAnswerSchema.safeParse(json);
      if (!parsed.success) return { ok: false, reason: `answer refused: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
      // Template values are text; `false` is the empty string, so a `{{#flag}}` section reads it as false.
      return { ok: true, variables: Object.fromEntries(Object.entries(parsed.data.variables).map(([k, v]) => [k, v === false ? '' : String(v)])) };
    } catch (err) {
      if (abort.signal.aborted) return { ok: false, reason: `no answer within ${hook.timeoutMs} ms` };
      return { ok: false, reason: `could not be reached: ${(err as Error).message}` };
    }
  })();
  try {
    return await Promise.race([asked, timedOut]);
  } finally {
    deps.clock.clear(timer);
    abort.abort(); // a late body is not read
  }
}

/** The body as text, or undefined once it grows past `maxBytes` (the rest is not read). */
async function readCapped(res: Response, maxBytes: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
