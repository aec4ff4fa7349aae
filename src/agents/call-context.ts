import Mustache from 'mustache';
import { z } from 'zod';
import {
  DEFAULT_CONTEXT_HOOK_TIMEOUT_MS,
  MAX_CONTEXT_HOOK_TIMEOUT_MS,
  MAX_CONTEXT_VARIABLE_CHARS,
  MAX_CONTEXT_VARIABLES,
  MIN_CONTEXT_HOOK_TIMEOUT_MS,
} from '../constants';
import { secretHeadersSchema } from './tool-secrets';

/**
 * Per-call context (README "Per-call context"): an agent's instructions and greeting are mustache templates
 * over the call's context, rendered for each call. The context is the call's own values (BUILTIN_CONTEXT_VARIABLES)
 * and the agent's declared `variables`, whose defaults the optional context hook may replace per call.
 *
 * Unknown names are refused when the agent is saved, naming the field and the variable: mustache renders a
 * missing name as "", so a misspelt `{{callr}}` would otherwise reach every caller as a silent gap. A hook
 * variable therefore has to be declared, with its default (what the caller gets when the hook fails).
 */
export const BUILTIN_CONTEXT_VARIABLES = {
  caller: "the caller's number (E.164) or SIP address",
  called: 'the number (or SIP address) that was called',
  callId: "the call's id",
  direction: 'inbound or outbound',
  localDateTime: "date and time in the agent's timezone, e.g. Monday, December 7, 2026 at 2:21 PM",
  localDate: "date in the agent's timezone",
  localTime: "time of day in the agent's timezone",
  timezone: "the agent's timezone (IANA name)",
} as const;
export type BuiltinContextVariable = keyof typeof BUILTIN_CONTEXT_VARIABLES;

export const CONTEXT_VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const timezoneSchema = z
  .string()
  .trim()
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone like America/New_York or UTC');

export const contextHookSchema = z.object({
  /** POSTed the call's context at its start; answers `{ "variables": { … } }`. */
  url: z.string().trim().regex(/^https?:\/\/[^\s]+$/i, 'must be an http:// or https:// URL'),
  /** The greeting never waits longer than this for the answer (README "Context hook"). */
  timeoutMs: z.number().int().min(MIN_CONTEXT_HOOK_TIMEOUT_MS).max(MAX_CONTEXT_HOOK_TIMEOUT_MS).default(DEFAULT_CONTEXT_HOOK_TIMEOUT_MS),
  headers: secretHeadersSchema.default({}),
});
export type ContextHook = z.infer<typeof contextHookSchema>;

export const callContextSchema = z.object({
  /** IANA time zone of `{{localDateTime}}`, `{{localDate}}`, `{{localTime}}`. */
  timezone: timezoneSchema.default('UTC'),
  /** Declared variables and their defaults; the hook may replace them per call. */
  variables: z
    .record(z.string().regex(CONTEXT_VARIABLE_NAME, 'must be a variable name (letters, digits, "_")'), z.string().max(MAX_CONTEXT_VARIABLE_CHARS))
    .default({})
    .superRefine((vars, ctx) => {
      const names = Object.keys(vars);
      if (names.length > MAX_CONTEXT_VARIABLES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_CONTEXT_VARIABLES} variables` });
      for (const name of names.filter((n) => n in BUILTIN_CONTEXT_VARIABLES)) ctx.addIssue({ code: 'custom', path: [name], message: `{{${name}}} is a built-in variable; choose another name` });
    }),
  hook: contextHookSchema.optional(),
});
export type CallContextSettings = z.infer<typeof callContextSchema>;

/** The names a template uses, or the reason it cannot be used (a syntax error, a partial, a delimiter change). */
export function templateNames(template: string): { names: string[] } | { problem: string } {
  if (/\{\{\s*=/.test(template)) return { problem: 'changing the {{ }} delimiters is not supported' };
  let tokens: unknown[];
  try {
    tokens = Mustache.parse(template);
  } catch (err) {
    return { problem: `not a valid template: ${(err as Error).message}` };
  }
  const names: string[] = [];
  const walk = (list: unknown[]): string | undefined => {
    for (const t of list as [string, string, number, number, unknown[]?][]) {
      const [type, value] = t;
      if (type === '>') return `partials ({{> ${value}}}) are not supported`;
      if (type === 'name' || type === '&' || type === '#' || type === '^') names.push(value);
      if ((type === '#' || type === '^') && Array.isArray(t[4])) {
        const inner = walk(t[4]);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  const problem = walk(tokens);
  return problem ? { problem } : { names: [...new Set(names)] };
}

/** Save-time check of one templated field: it parses, and every name is built in or declared. */
export function checkTemplate(template: string, declared: Record<string, string>): string | undefined {
  const parsed = templateNames(template);
  if ('problem' in parsed) return parsed.problem;
  const unknown = parsed.names.filter((n) => !(n in BUILTIN_CONTEXT_VARIABLES) && !(n in declared));
  if (unknown.length === 0) return undefined;
  return `unknown variable ${unknown.map((n) => `{{${n}}}`).join(', ')}: use a built-in (${Object.keys(BUILTIN_CONTEXT_VARIABLES).join(', ')}) or declare it in context.variables`;
}

/** Render a checked template. Values are plain text: nothing is HTML-escaped (this is a prompt, not a page). */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return Mustache.render(template, values, undefined, { escape: (v: unknown) => String(v) });
}
