/**
 * The verbs the Bandwidth caller stand-in recognises in a document (any other name is invalid BXML on
 * the A-leg, a violation in a transferAnswer whisper):
 * Bandwidth's top-level verbs (src/bandwidth/bxml/verbs.ts) plus `Connect`, which bandwidth-sdk has
 * (models/bxml/verbs/Connect.ts) and the service's verb catalogue does not; the stand-in holds there.
 */
import { TOP_LEVEL_VERBS } from '../bandwidth/bxml/verbs';

export const KNOWN_VERBS: ReadonlySet<string> = new Set<string>([...TOP_LEVEL_VERBS, 'Connect']);
