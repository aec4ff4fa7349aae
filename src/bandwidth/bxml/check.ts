import {
  INBOUND_ONLY_ATTRIBUTES,
  INBOUND_ONLY_VERBS,
  isCallbackUrlAttribute,
  isFallbackUrlAttribute,
  ROOT_ELEMENTS,
  SSML_ELEMENTS,
  VERBS,
} from './verbs';
import { elementChildren, textContent, type XmlElement } from './xml';

export interface BxmlProblem {
  line: number;
  message: string;
}

export interface CheckOptions {
  /** Verbs that may not appear anywhere in this document (for example on transferAnswer, BW §1.3). */
  forbiddenVerbs?: readonly string[];
  /** The document answers an outbound call: what only an inbound call may carry is refused (BW §2.4, §2.5). */
  outbound?: boolean;
}

/**
 * Check a parsed BXML document against the verb table: root element, known verbs and attributes,
 * required attributes, allowed children, text content, callback credentials beside every callback URL
 * (BW §1.8: verb callbacks do not inherit the application's credentials) and Redirect placement
 * (BW §2.1: verbs after Redirect never run).
 */
export function checkBxml(root: XmlElement, options: CheckOptions = {}): BxmlProblem[] {
  const problems: BxmlProblem[] = [];
  if (!(ROOT_ELEMENTS as readonly string[]).includes(root.name)) {
    problems.push({ line: root.line, message: `root element must be <Response> (or <Bxml>), found <${root.name}>` });
    return problems;
  }
  checkElement(root, problems, options);
  const verbs = elementChildren(root);
  const redirectIndex = verbs.findIndex((v) => v.name === 'Redirect');
  if (redirectIndex >= 0 && redirectIndex < verbs.length - 1) {
    const after = verbs[redirectIndex + 1]!;
    problems.push({ line: after.line, message: `<${after.name}> after <Redirect> never runs: Redirect must be the last verb` });
  }
  return problems;
}

function checkElement(element: XmlElement, problems: BxmlProblem[], options: CheckOptions): void {
  const spec = VERBS[element.name];
  if (!spec) {
    problems.push({ line: element.line, message: `unknown verb <${element.name}>` });
    return;
  }
  if (options.forbiddenVerbs?.includes(element.name)) {
    problems.push({ line: element.line, message: `<${element.name}> is not allowed in this document` });
  }
  if (options.outbound && INBOUND_ONLY_VERBS[element.name]) {
    problems.push({ line: element.line, message: `${INBOUND_ONLY_VERBS[element.name]}, and this template also answers outbound calls` });
  }
  for (const attribute of options.outbound ? Object.keys(element.attributes) : []) {
    const why = INBOUND_ONLY_ATTRIBUTES[attribute];
    if (why) problems.push({ line: element.line, message: `${why}, and this template also answers outbound calls (attribute on <${element.name}>)` });
  }
  for (const attribute of Object.keys(element.attributes)) {
    if (!spec.attributes.includes(attribute)) {
      problems.push({ line: element.line, message: `unknown attribute ${attribute} on <${element.name}>` });
    }
  }
  for (const [attribute, value] of Object.entries(element.attributes)) {
    if (value.trim() === '') {
      problems.push({ line: element.line, message: `attribute ${attribute} on <${element.name}> is empty (put optional attributes inside a {{#section}})` });
    }
  }
  for (const attribute of spec.required ?? []) {
    if (!element.attributes[attribute]) {
      problems.push({ line: element.line, message: `<${element.name}> needs a non-empty ${attribute} attribute` });
    }
  }
  const attributes = Object.keys(element.attributes);
  if (attributes.some((a) => isCallbackUrlAttribute(a) && !isFallbackUrlAttribute(a) && element.attributes[a])) {
    for (const needed of ['username', 'password']) {
      if (!element.attributes[needed]) {
        problems.push({ line: element.line, message: `<${element.name}> has a callback URL but no ${needed} attribute (verb callbacks do not inherit the application's credentials)` });
      }
    }
  }
  if (attributes.some((a) => isFallbackUrlAttribute(a) && element.attributes[a])) {
    for (const needed of ['fallbackUsername', 'fallbackPassword']) {
      if (!element.attributes[needed]) {
        problems.push({ line: element.line, message: `<${element.name}> has a fallback URL but no ${needed} attribute` });
      }
    }
  }

  const children = elementChildren(element);
  for (const child of children) {
    if (spec.text === 'ssml' && (SSML_ELEMENTS as readonly string[]).includes(child.name)) continue; // SSML is free-form inside
    if (!VERBS[child.name]) {
      problems.push({ line: child.line, message: `unknown verb <${child.name}>` });
      continue;
    }
    if (!spec.children?.includes(child.name)) {
      problems.push({ line: child.line, message: `<${child.name}> is not allowed inside <${element.name}>` });
      continue;
    }
    checkElement(child, problems, options);
  }
  if (spec.minChildren !== undefined && children.length < spec.minChildren) {
    problems.push({ line: element.line, message: `<${element.name}> needs at least ${spec.minChildren} child element(s)` });
  }
  if (spec.maxChildren !== undefined && children.length > spec.maxChildren) {
    problems.push({ line: element.line, message: `<${element.name}> allows at most ${spec.maxChildren} child elements` });
  }
  const text = element.children
    .filter((c) => c.kind === 'text')
    .map(textContent)
    .join('')
    .trim();
  if (spec.text === 'required' && !text) {
    problems.push({ line: element.line, message: `<${element.name}> needs text content` });
  }
  if (!spec.text && text) {
    problems.push({ line: element.line, message: `<${element.name}> does not take text content (found "${text.slice(0, 40)}")` });
  }
}
