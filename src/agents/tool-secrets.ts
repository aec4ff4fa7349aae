import { z } from 'zod';

/**
 * `${TOOL_SECRET_NAME}` in a header value comes from the environment at call time. Only variables
 * named TOOL_SECRET_* can be used, so whoever edits an agent cannot send Switchboard's own secrets
 * (OPENAI_API_KEY, BANDWIDTH_CLIENT_SECRET, …) to a URL of their choosing. The agent stores the
 * reference, never the value: secrets stay in the environment, out of the store and the logs.
 */
export const TOOL_SECRET_PREFIX = 'TOOL_SECRET_';

const SECRET_REFERENCE = /\$\{([A-Za-z0-9_]+)\}/g;

export function expandSecrets(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(SECRET_REFERENCE, (_m, name: string) => {
    if (!name.startsWith(TOOL_SECRET_PREFIX)) throw new Error(`header secrets must be named ${TOOL_SECRET_PREFIX}*; ${name} is not`);
    const v = env[name];
    if (v === undefined) throw new Error(`the tool's configuration needs the environment variable ${name}, which is not set`);
    return v;
  });
}

/** Every header value with its secrets filled in; throws (naming the variable, never a value) when one cannot be. */
export function expandHeaderSecrets(headers: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, expandSecrets(v, env)]));
}

/** The TOOL_SECRET_* values set in the environment: what must never reach a log line, the store or a recording. */
export function toolSecretValues(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([name, value]) => name.startsWith(TOOL_SECRET_PREFIX) && typeof value === 'string' && value.length > 0)
    .map(([, value]) => value as string);
}

/**
 * Headers checked when the agent is saved: HTTP token names, and `${NAME}` references only to TOOL_SECRET_*
 * variables (a reference to anything else is refused with a 4xx, not discovered on the first call).
 */
export const secretHeadersSchema = z
  .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'must be an HTTP header name'), z.string().max(4000))
  .superRefine((headers, ctx) => {
    for (const [name, value] of Object.entries(headers)) {
      for (const m of value.matchAll(SECRET_REFERENCE)) {
        if (!m[1]!.startsWith(TOOL_SECRET_PREFIX)) {
          ctx.addIssue({ code: 'custom', path: [name], message: `\${${m[1]}}: header secrets must be environment variables named ${TOOL_SECRET_PREFIX}*` });
        }
      }
    }
  });
