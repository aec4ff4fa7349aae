import { parseXml, type XmlElement } from '../../src/bandwidth/bxml/xml';

/** Parse a BXML response and index its elements for assertions (parsed, never string-compared). */
export function bxml(xml: string): { root: XmlElement; verbs: string[]; all(name: string): XmlElement[]; one(name: string): XmlElement } {
  const root = parseXml(xml);
  const all = (name: string): XmlElement[] => {
    const out: XmlElement[] = [];
    const walk = (e: XmlElement) => {
      if (e.name === name) out.push(e);
      for (const c of e.children) if (c.kind === 'element') walk(c);
    };
    walk(root);
    return out;
  };
  return {
    root,
    verbs: root.children.filter((c): c is XmlElement => c.kind === 'element').map((c) => c.name),
    all,
    one: (name) => {
      const found = all(name);
      if (found.length !== 1) throw new Error(`expected exactly one <${name}>, found ${found.length} in:\n${xml}`);
      return found[0]!;
    },
  };
}

export function text(e: XmlElement): string {
  return e.children
    .map((c) => (c.kind === 'text' ? c.text : text(c)))
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The signed token in a callback URL's `t` parameter. */
export function tokenOf(url: string | undefined): string {
  const t = new URL(url ?? '').searchParams.get('t');
  if (!t) throw new Error(`no token in ${url}`);
  return t;
}
