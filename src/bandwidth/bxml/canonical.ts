import { parseXml, type XmlElement } from './xml';

/**
 * A BXML document in canonical form, for comparing documents by meaning rather than bytes:
 * attribute order, indentation and the XML declaration do not matter; text is whitespace-folded and
 * kept in document order (SpeakSentence may mix text with SSML elements).
 * Used by the tests (our templates vs. bandwidth-sdk's builders) and by webhook replay.
 */
export interface CanonicalElement {
  name: string;
  attributes: Record<string, string>;
  children: (CanonicalElement | string)[];
}

export type AttributeFilter = (element: string, attribute: string) => boolean;

export function canonicalize(xml: string, ignoreAttribute?: AttributeFilter): CanonicalElement {
  return canon(parseXml(xml), ignoreAttribute);
}

function canon(element: XmlElement, ignore?: AttributeFilter): CanonicalElement {
  const attributes: Record<string, string> = {};
  for (const key of Object.keys(element.attributes).sort()) {
    if (!ignore?.(element.name, key)) attributes[key] = element.attributes[key] ?? '';
  }
  const children: (CanonicalElement | string)[] = [];
  for (const child of element.children) {
    if (child.kind === 'element') {
      children.push(canon(child, ignore));
      continue;
    }
    const text = child.text.replace(/\s+/g, ' ').trim();
    if (!text) continue;
    const last = children[children.length - 1];
    if (typeof last === 'string') children[children.length - 1] = `${last} ${text}`;
    else children.push(text);
  }
  return { name: element.name, attributes, children };
}
