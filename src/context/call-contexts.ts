import type { AgentWithDestinations } from '../agents/agent';
import { renderTemplate, type BuiltinContextVariable } from '../agents/call-context';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import { askContextHook, type ContextHookDeps } from './hook';

/**
 * One call's context (README "Per-call context"): its own values and the agent's variables, from which the
 * agent's instructions and greeting templates are rendered for this call. With a context hook, the prompts
 * come twice: at once with the defaults (the model session opens with them, so nothing waits), and again
 * within the hook's timeout with its variables, or the defaults again when it failed. Whoever starts the
 * call (the stream pre-warm, the openai-sip webhook) asks for both at the same moment, so the hook runs
 * while OpenAI connects instead of before it.
 */
export interface CallFacts {
  callId: string;
  direction: 'inbound' | 'outbound';
  caller?: string | null;
  called?: string | null;
}

export interface CallPrompts {
  instructions: string;
  greeting: string;
}

/** What the call's trace says of the hook (variable names only: values may be customer data). */
export type ContextHookOutcome =
  | { ok: true; durationMs: number; variables: string[]; ignored: string[] }
  | { ok: false; durationMs: number; reason: string; status?: number };

export interface PromptsForCall {
  /** Rendered with the defaults: known at once. */
  initial: CallPrompts;
  /** Only when the agent has a hook: the prompts with its variables (or the defaults), within its timeout. Never rejects. */
  final?: Promise<{ prompts: CallPrompts; hook: ContextHookOutcome }>;
}

export interface CallContextDeps extends ContextHookDeps {
  logger?: Logger;
}

export class CallContexts {
  constructor(private readonly deps: CallContextDeps) {}

  forCall(agent: AgentWithDestinations, facts: CallFacts): PromptsForCall {
    const builtins = this.builtins(agent, facts);
    const render = (variables: Record<string, string>): CallPrompts => {
      const values = { ...variables, ...builtins };
      return { instructions: renderTemplate(agent.instructions, values), greeting: renderTemplate(agent.greeting, values) };
    };
    const defaults = agent.context.variables;
    const initial = render(defaults);
    const hook = agent.context.hook;
    if (!hook) return { initial };
    const clock: Clock = this.deps.clock;
    const startedMs = clock.now();
    const request = { event: 'call.context' as const, callId: facts.callId, agentId: agent.id, mode: agent.mode, direction: facts.direction, caller: facts.caller ?? null, called: facts.called ?? null, at: new Date(clock.wallNow()).toISOString() };
    const final = askContextHook(hook, request, this.deps).then((result) => {
      const durationMs = Math.round(clock.now() - startedMs);
      if (!result.ok) {
        this.deps.logger?.warn({ callId: facts.callId, agentId: agent.id, reason: result.reason }, 'context hook failed: the call uses the default variables');
        return { prompts: initial, hook: { ok: false as const, durationMs, reason: result.reason, ...(result.status ? { status: result.status } : {}) } };
      }
      // Only declared variables count: a template can use no other (checked at save).
      const names = Object.keys(result.variables);
      const used = names.filter((n) => Object.hasOwn(defaults, n));
      const variables = { ...defaults, ...Object.fromEntries(used.map((n) => [n, result.variables[n]!])) };
      return { prompts: render(variables), hook: { ok: true as const, durationMs, variables: used, ignored: names.filter((n) => !Object.hasOwn(defaults, n)) } };
    });
    return { initial, final };
  }

  /** The call's own values (BUILTIN_CONTEXT_VARIABLES); local time in the agent's timezone and language. */
  private builtins(agent: AgentWithDestinations, facts: CallFacts): Record<BuiltinContextVariable, string> {
    const at = new Date(this.deps.clock.wallNow());
    const timeZone = agent.context.timezone;
    const format = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat(agent.language, { timeZone, ...options }).format(at);
    return {
      caller: addressForPrompt(facts.caller),
      called: addressForPrompt(facts.called),
      callId: facts.callId,
      direction: facts.direction,
      localDateTime: format({ dateStyle: 'full', timeStyle: 'short' }),
      localDate: format({ dateStyle: 'full' }),
      localTime: format({ timeStyle: 'short' }),
      timezone: timeZone,
    };
  }
}

/**
 * A calling or called address as the prompt may show it. The caller chooses it (in openai-sip, the From URI's
 * user part, percent-decoded), and it lands in the model's instructions: only a single token of what numbers
 * and SIP addresses are made of is rendered, anything else (new lines, spaces, prose) renders as nothing.
 */
export function addressForPrompt(address: string | null | undefined): string {
  return address && ADDRESS_TOKEN.test(address) ? address : '';
}
const ADDRESS_TOKEN = /^[\w.+*#@:;=%-]{1,128}$/;

/** The agent as this call uses it: its prompts rendered. */
export function withPrompts<A extends AgentWithDestinations>(agent: A, prompts: CallPrompts): A {
  return { ...agent, instructions: prompts.instructions, greeting: prompts.greeting };
}
