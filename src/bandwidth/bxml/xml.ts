import { SwitchboardError } from '../../errors';
import { SaxesParser } from 'saxes';

/** A minimal XML tree with source lines, enough to check and compare BXML documents. */
export interface XmlElement {
  kind: 'element';
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  /** 1-based line of the element's `<` in the parsed text. */
  line: number;
}
export interface XmlText {
  kind: 'text';
  text: string;
  line: number;
}
export type XmlNode = XmlElement | XmlText;

export class XmlSyntaxError extends SwitchboardError {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super('xml_syntax', `${reason} (line ${line}, column ${column})`, { line, column });
    this.name = 'XmlSyntaxError';
  }
}

/** Parse a whole document; throws XmlSyntaxError with the position of the first problem. */
export function parseXml(xml: string): XmlElement {
  const parser = new SaxesParser({ position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: XmlSyntaxError | undefined;
  let startLine = 1;
  let lastClosed: { element: XmlElement; position: number } | undefined;

  parser.on('error', (err) => {
    if (!failure) {
      // saxes prefixes "line:column: " to its messages; keep the reason only.
      let reason = err.message.replace(/^\d+:\d+: /, '').replace(/\.$/, '');
      // saxes closes the unclosed element just before reporting the stray close tag; name that element.
      const open = lastClosed?.position === parser.position ? lastClosed.element : stack[stack.length - 1];
      if (open && /close tag/.test(reason)) reason += `: <${open.name}> opened on line ${open.line} is not closed`;
      failure = new XmlSyntaxError(reason, parser.line, parser.column);
    }
  });
  parser.on('opentagstart', () => {
    startLine = parser.line;
  });
  parser.on('opentag', (tag) => {
    const element: XmlElement = { kind: 'element', name: tag.name, attributes: { ...(tag.attributes as Record<string, string>) }, children: [], line: startLine };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else if (!root) root = element;
    stack.push(element);
  });
  parser.on('closetag', () => {
    const element = stack.pop();
    if (element) lastClosed = { element, position: parser.position };
  });
  const addText = (text: string) => {
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push({ kind: 'text', text, line: parser.line });
  };
  parser.on('text', addText);
  parser.on('cdata', addText);

  parser.write(xml).close();
  if (failure) throw failure;
  if (!root) throw new XmlSyntaxError('document has no root element', 1, 1);
  return root;
}

/** The element children of a node, whitespace-only text dropped. */
export function elementChildren(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => c.kind === 'element');
}

/** Concatenated text content of an element (direct and nested text). */
export function textContent(node: XmlNode): string {
  if (node.kind === 'text') return node.text;
  return node.children.map(textContent).join('');
}
