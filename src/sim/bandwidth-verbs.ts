/**
 * The verbs the Bandwidth caller stand-in recognises in a document (any other name is invalid BXML):
 * Bandwidth's top-level verbs (src/bandwidth/bxml/verbs.ts) plus `Connect`, which the stand-in has
 * always accepted (and holds at, unmodelled).
 */
import { TOP_LEVEL_VERBS } from '../bandwidth/bxml/verbs';

export const KNOWN_VERBS: ReadonlySet<string> = new Set<string>([...TOP_LEVEL_VERBS, 'Connect']);
