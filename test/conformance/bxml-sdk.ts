import fs from 'node:fs';
import path from 'node:path';
import { Bxml } from 'bandwidth-sdk';
import { parseXml, type XmlElement, type XmlNode } from '../../src/bandwidth/bxml/xml';

/**
 * Rebuild a BXML document we sent with bandwidth-sdk's own verb classes (BW §6.5), checking each
 * attribute against the verb's attribute interface in the SDK's .d.ts: an attribute the SDK does not
 * know, or a value that is not of its declared type, is a problem. The rebuilt document can then be
 * compared with ours by meaning (canonicalize).
 */
const VERBS_DIR = path.join(path.dirname(require.resolve('bandwidth-sdk/package.json')), 'dist/models/bxml/verbs');

type AttributeType = 'string' | 'number' | 'boolean';

/** `{ verb: { attribute: type } }` from `export interface <Verb>Attributes { … }` in each verb's .d.ts. */
function sdkAttributeTypes(): Map<string, Map<string, AttributeType>> {
  const out = new Map<string, Map<string, AttributeType>>();
  for (const file of fs.readdirSync(VERBS_DIR).filter((f) => f.endsWith('.d.ts') && f !== 'index.d.ts')) {
    const verb = file.replace('.d.ts', '');
    const fields = new Map<string, AttributeType>();
    const body = new RegExp(`export interface ${verb}Attributes \\{([^}]*)\\}`).exec(fs.readFileSync(path.join(VERBS_DIR, file), 'utf8'))?.[1] ?? '';
    for (const m of body.matchAll(/(\w+)\??:\s*(string|number|boolean)\s*;/g)) fields.set(m[1]!, m[2] as AttributeType);
    out.set(verb, fields);
  }
  return out;
}

const ATTRIBUTES = sdkAttributeTypes();

export interface SdkRebuild {
  /** The document as the SDK serialises it. */
  xml: string;
  /** Attributes the SDK does not have, values of the wrong type, verbs it has no class for. */
  problems: string[];
}

export function rebuildWithSdk(ourXml: string): SdkRebuild {
  const problems: string[] = [];
  const root = parseXml(ourXml);
  if (root.name !== 'Response' && root.name !== 'Bxml') problems.push(`root <${root.name}> is neither Response nor Bxml`);
  const verbs = elements(root.children).map((e) => build(e, problems));
  const doc = root.name === 'Bxml' ? new Bxml.Bxml(verbs) : new Bxml.Response(verbs);
  return { xml: doc.toBxml(), problems };
}

function elements(nodes: XmlNode[]): XmlElement[] {
  return nodes.filter((n): n is XmlElement => n.kind === 'element');
}

/** The element's attributes, typed as the SDK declares them. */
function attributesOf(e: XmlElement, problems: string[]): Record<string, string | number | boolean> {
  const known = ATTRIBUTES.get(e.name);
  const out: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(e.attributes)) {
    const type = known?.get(name);
    if (!type) {
      problems.push(`<${e.name} ${name}>: not an attribute of bandwidth-sdk's ${e.name}Attributes`);
      out[name] = value;
    } else if (type === 'number') {
      if (!/^-?\d+(\.\d+)?$/.test(value)) problems.push(`<${e.name} ${name}="${value}">: the SDK declares a number`);
      out[name] = Number(value);
    } else if (type === 'boolean') {
      if (value !== 'true' && value !== 'false') problems.push(`<${e.name} ${name}="${value}">: the SDK declares a boolean`);
      out[name] = value === 'true';
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** Text content with nested elements (SSML) written back as markup, which the SDK passes through. */
function innerXml(nodes: XmlNode[]): string {
  return nodes
    .map((n) => {
      if (n.kind === 'text') return n.text;
      const attrs = Object.entries(n.attributes).map(([k, v]) => ` ${k}="${v.replace(/"/g, '&quot;')}"`).join('');
      return `<${n.name}${attrs}>${innerXml(n.children)}</${n.name}>`;
    })
    .join('');
}

/** bandwidth-sdk's Verb base class (not exported under Bxml): what a Response nests. */
type Verb = Exclude<NonNullable<ConstructorParameters<typeof Bxml.Response>[0]>, unknown[]>;

function build(e: XmlElement, problems: string[]): Verb {
  const a = attributesOf(e, problems) as never;
  const text = innerXml(e.children).trim();
  const nested = () => elements(e.children).map((c) => build(c, problems));
  switch (e.name) {
    case 'StartStream':
      return new Bxml.StartStream(a, nested() as Bxml.StreamParam[]);
    case 'StreamParam':
      return new Bxml.StreamParam(a);
    case 'StartGather':
      return new Bxml.StartGather(a);
    case 'StopGather':
      return new Bxml.StopGather();
    case 'StopStream':
      return new Bxml.StopStream(a);
    case 'Redirect':
      return new Bxml.Redirect(a);
    case 'Pause':
      return new Bxml.Pause(a);
    case 'Hangup':
      return new Bxml.Hangup();
    case 'Forward':
      return new Bxml.Forward(a);
    case 'Transfer':
      return new Bxml.Transfer(a, nested() as Array<Bxml.PhoneNumber | Bxml.SipUri>);
    case 'PhoneNumber':
      return new Bxml.PhoneNumber(text, a);
    case 'SipUri':
      return new Bxml.SipUri(text, a);
    case 'SpeakSentence':
      return new Bxml.SpeakSentence(text, a);
    case 'PlayAudio':
      return new Bxml.PlayAudio(text, a);
    case 'Tag':
      return new Bxml.Tag(text);
    default:
      problems.push(`<${e.name}>: this referee has no bandwidth-sdk class mapped for it`);
      return new Bxml.Tag('');
  }
}
