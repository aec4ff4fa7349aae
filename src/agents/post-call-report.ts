import { z } from 'zod';

/**
 * An agent's post-call report settings (docs/architecture.md, post-call reports). The report goes to `url`
 * when set, else to REPORT_URL; it carries the transcript only when `transcript` is true: transcript text
 * is the caller's words, sent on only when the operator asks for it (DESIGN §7: no transcript text unless asked for).
 * With `callStarted`, a `call.started` notice goes out too, as soon as the agent takes the call.
 */
export const postCallReportSchema = z
  .object({
    url: z
      .string()
      .trim()
      .refine((v) => /^https?:\/\/[^\s/]+/i.test(v), { message: 'must be an http:// or https:// URL' })
      .optional(),
    transcript: z.boolean().default(false),
    /** Also send a `call.started` notice when this agent takes a call (same URL, same signing). */
    callStarted: z.boolean().default(false),
  })
  .strict();
export type PostCallReportSettings = z.infer<typeof postCallReportSchema>;
