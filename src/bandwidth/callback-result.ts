import type { TemplateName } from './bxml/catalog';

/** What Switchboard answers to a Bandwidth callback (BW §1.3). */
export type CallbackResult = (
  | { kind: 'bxml'; xml: string; template: TemplateName | 'empty' }
  | { kind: 'empty' }
  /** The request is refused (a forged or expired signed URL): 403, nothing done. */
  | { kind: 'refused'; message: string }
) & {
  /** The stored context the callback's token named (recorded, so a replay can store it again). */
  context?: unknown;
};
