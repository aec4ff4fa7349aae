import { canonicalize, type CanonicalElement } from '../bandwidth/bxml/canonical';
import { SEALED } from './scenario';

/**
 * Normalised BXML comparison for replay. Both documents are canonicalised (attribute order, layout and
 * the XML declaration do not matter), then values that legitimately differ between two servers are
 * neutralised:
 * - credentials (`username`, `password`, `destinationUsername`, `destinationPassword`, …): any value;
 * - URLs: only the path and query count (the host is the server's), sealed tokens (`t=…`, `/media/…`)
 *   are ignored;
 * - `uui` in base64 is compared decoded (it carries the call id, which a replay may shift);
 * - ISO timestamps.
 * Everything else — verbs, their order, attributes, text — must match. Differences come back as
 * readable lines naming the verb's path: `<SpeakSentence> missing; expected <Response>/<SpeakSentence …>`.
 */
const ANY_VALUE = new Set(['username', 'password', 'destinationUsername', 'destinationPassword', 'fallbackUsername', 'fallbackPassword']);
const ISO_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;

export function normaliseUrl(value: string): string {
  const m = /^(?:(?:https?|wss?):\/\/[^/?#]+)?(\/[^?#]*)?(\?[^#]*)?/i.exec(value);
  if (!m || !/^(?:https?|wss?):\/\//i.test(value)) return value;
  const pathname = (m[1] ?? '/').replace(/(\/media\/)[^/]+/, `$1${SEALED}`);
  const params = new URLSearchParams(m[2] ?? '');
  if (params.has('t')) params.set('t', SEALED);
  params.sort();
  const query = params.toString();
  return query ? `${pathname}?${query}` : pathname;
}

function normaliseValue(attribute: string, value: string): string {
  if (ANY_VALUE.has(attribute)) return '*';
  if (attribute === 'uui') {
    const m = /^([A-Za-z0-9+/=]*);encoding=base64$/.exec(value);
    if (m) return `${Buffer.from(m[1] ?? '', 'base64').toString('utf8')};encoding=base64 (decoded)`;
  }
  return normaliseUrl(value).replace(ISO_TIME, '<time>');
}

function normalise(element: CanonicalElement, map: (s: string) => string): CanonicalElement {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(element.attributes)) attributes[k] = map(normaliseValue(k, v));
  return {
    name: element.name,
    attributes,
    children: element.children.map((c) => (typeof c === 'string' ? map(c.replace(ISO_TIME, '<time>')) : normalise(c, map))),
  };
}

/** Canonical, normalised form of a BXML document; `map` rewrites values (id shifting). */
export function normalisedBxml(xml: string, map: (s: string) => string = (s) => s): CanonicalElement {
  return normalise(canonicalize(xml), map);
}

/** Every difference between two BXML documents, as readable lines; empty when they match. */
export function diffBxml(expectedXml: string, actualXml: string, mapExpected: (s: string) => string = (s) => s): string[] {
  let expected: CanonicalElement;
  let actual: CanonicalElement;
  try {
    expected = normalisedBxml(expectedXml, mapExpected);
  } catch (err) {
    return [`the recorded BXML does not parse: ${(err as Error).message}`];
  }
  try {
    actual = normalisedBxml(actualXml);
  } catch (err) {
    return [`the response is not well-formed BXML: ${(err as Error).message}`];
  }
  const out: string[] = [];
  diffElement(expected, actual, '', out);
  return out;
}

type Node = CanonicalElement | string;
const keyOf = (n: Node) => (typeof n === 'string' ? '#text' : n.name);

function diffElement(exp: CanonicalElement, act: CanonicalElement, parent: string, out: string[]): void {
  const here = `${parent}${parent ? '/' : ''}<${exp.name}>`;
  if (exp.name !== act.name) {
    out.push(`${parent || '(root)'}: expected ${summary(exp)}, got ${summary(act)}`);
    return;
  }
  for (const k of new Set([...Object.keys(exp.attributes), ...Object.keys(act.attributes)])) {
    const e = exp.attributes[k];
    const a = act.attributes[k];
    if (e === a) continue;
    if (a === undefined) out.push(`${here}: attribute ${k} missing; expected ${k}="${e}"`);
    else if (e === undefined) out.push(`${here}: unexpected attribute ${k}="${a}"`);
    else out.push(`${here}: attribute ${k} differs; expected "${e}", got "${a}"`);
  }
  // Align children by LCS on their names, so one inserted or removed verb is reported as exactly that.
  const ec = exp.children;
  const ac = act.children;
  const lcs: number[][] = Array.from({ length: ec.length + 1 }, () => new Array<number>(ac.length + 1).fill(0));
  for (let i = ec.length - 1; i >= 0; i--) {
    for (let j = ac.length - 1; j >= 0; j--) {
      lcs[i]![j] = keyOf(ec[i]!) === keyOf(ac[j]!) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < ec.length || j < ac.length) {
    const e = ec[i];
    const a = ac[j];
    if (e !== undefined && a !== undefined && keyOf(e) === keyOf(a)) {
      if (typeof e === 'string' || typeof a === 'string') {
        if (e !== a) out.push(`${here}: text differs; expected "${clip(String(e))}", got "${clip(String(a))}"`);
      } else {
        diffElement(e, a, here, out);
      }
      i++;
      j++;
    } else if (e !== undefined && (a === undefined || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(typeof e === 'string' ? `${here}: text "${clip(e)}" missing` : `<${e.name}> missing; expected ${here}/${summary(e)}`);
      i++;
    } else if (a !== undefined) {
      out.push(typeof a === 'string' ? `${here}: unexpected text "${clip(a)}"` : `unexpected <${a.name}>: got ${here}/${summary(a)}`);
      j++;
    }
  }
}

function summary(e: CanonicalElement): string {
  const attrs = Object.entries(e.attributes)
    .map(([k, v]) => ` ${k}="${v}"`)
    .join('');
  const text = e.children.map((c) => (typeof c === 'string' ? c : `<${c.name}…>`)).join(' ');
  return clip(text ? `<${e.name}${attrs}>${text}</${e.name}>` : `<${e.name}${attrs}/>`, 200);
}

function clip(s: string, max = 120): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
