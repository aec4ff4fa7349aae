import { z } from 'zod';
import {
  DEFAULT_SILENCE_HANGUP_AFTER_MS,
  DEFAULT_SILENCE_PROMPT_AFTER_MS,
  DEFAULT_TIME_LIMIT_WARN_MS,
  MAX_CALL_DURATION_LIMIT_MS,
  MAX_SILENCE_INTERVAL_MS,
  MIN_CALL_DURATION_LIMIT_MS,
  MIN_SILENCE_INTERVAL_MS,
} from '../constants';

/**
 * An agent's call limits (docs/architecture.md, "Watchdogs"): the silence watchdog and the maximum call
 * duration. They run in Switchboard's conversation core, the same in `stream` and `openai-sip` modes, not
 * in OpenAI's VAD (`idle_timeout_ms`): accepting a SIP call restricts the session's VAD settings.
 */

const silenceIntervalMs = z.number().int().min(MIN_SILENCE_INTERVAL_MS).max(MAX_SILENCE_INTERVAL_MS);
const spokenLine = z.string().trim().min(1).max(1000);

export const silenceWatchdogSchema = z.object({
  enabled: z.boolean().default(true),
  /** Nobody has spoken for this long: the agent asks `prompt` once. */
  promptAfterMs: silenceIntervalMs.default(DEFAULT_SILENCE_PROMPT_AFTER_MS),
  /** Still nothing this long after the prompt was heard: the agent says `goodbye` and hangs up (`no-input`). */
  hangUpAfterMs: silenceIntervalMs.default(DEFAULT_SILENCE_HANGUP_AFTER_MS),
  prompt: spokenLine.default('Are you still there?'),
  goodbye: spokenLine.default("I haven't heard anything, so I'll end the call now. Goodbye!"),
});
export type SilenceWatchdogSettings = z.infer<typeof silenceWatchdogSchema>;

export const maxDurationSchema = z
  .object({
    /** The longest a call may stay with the agent; absent → no limit. */
    limitMs: z.number().int().min(MIN_CALL_DURATION_LIMIT_MS).max(MAX_CALL_DURATION_LIMIT_MS).optional(),
    /** The spoken warning comes this long before the limit. */
    warnMs: z.number().int().min(0).default(DEFAULT_TIME_LIMIT_WARN_MS),
    warning: spokenLine.default('Just so you know, we only have about a minute left on this call.'),
    goodbye: spokenLine.default("We've reached the time limit for this call, so I'll have to end it now. Goodbye!"),
    /** At the limit, transfer to this destination (its name, as the agent's transfer_call sees it) instead of hanging up. */
    transferTo: z
      .string()
      .trim()
      .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must name one of the agent\'s destinations (1-40 lowercase letters, digits, "_" or "-")')
      .optional(),
    /** Said before that transfer. */
    transferMessage: spokenLine.default("We've reached the time limit for this call, so I'm transferring you to a colleague now."),
  })
  .superRefine((d, ctx) => {
    if (d.limitMs !== undefined && d.warnMs >= d.limitMs) ctx.addIssue({ code: 'custom', path: ['warnMs'], message: `must be less than limitMs (${d.limitMs})` });
  });
export type MaxDurationSettings = z.infer<typeof maxDurationSchema>;

export const callLimitsSchema = z
  .object({
    silence: silenceWatchdogSchema.default(silenceWatchdogSchema.parse({})),
    maxDuration: maxDurationSchema.default(maxDurationSchema.parse({})),
  })
  .default({ silence: silenceWatchdogSchema.parse({}), maxDuration: maxDurationSchema.parse({}) });
export type CallLimits = z.infer<typeof callLimitsSchema>;

/** A line the agent says as it is, in an instructed response (OpenAI reference §1.6, like the greeting). */
export function spokenLineInstructions(line: string): string {
  return `Say exactly this to the caller, naturally, and nothing else: "${line}"`;
}
