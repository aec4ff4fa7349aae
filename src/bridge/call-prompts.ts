import { greetingInstructions } from '../agents/agent';
import type { CallPrompts } from '../context/call-contexts';
import type { ModelSession } from './transports';

/**
 * The call's prompts are settled (README "Per-call context"): the session's instructions follow them if they
 * changed since it was opened (a hook's variables), then the greeting, if any, is asked for. Both modes.
 */
export function greetWith(model: ModelSession, opened: CallPrompts, prompts: CallPrompts, greet: boolean): void {
  if (prompts.instructions !== opened.instructions) model.updateInstructions(prompts.instructions);
  if (greet && prompts.greeting.trim()) model.createResponse({ instructions: greetingInstructions(prompts.greeting) });
}

/**
 * What the agent is told when a caller comes back from a transfer that did not go through
 * (docs/architecture.md#hand-off-how-a-call-leaves-the-agent), after the sentence saying why.
 */
export const RETURNED_CALLER_ADVICE = 'The caller is back with you now. Tell them briefly, then offer to help another way, try again later, or take a message.';
