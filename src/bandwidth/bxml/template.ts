import Mustache from 'mustache';
import { BXML_MAX_BYTES } from '../../constants';
import { SwitchboardError } from '../../errors';
import { checkBxml } from './check';
import { parseXml, XmlSyntaxError } from './xml';

/**
 * Operator-editable BXML templates (DESIGN §4.2). The syntax is Mustache's — `{{name}}`, sections
 * `{{#name}}…{{/name}}` and inverted sections `{{^name}}…{{/name}}` — parsed by the mustache package.
 * Rendering is ours so that every value is XML-escaped (no triple-stash escape hatch) and so that each
 * output line maps back to its template line for error messages.
 */
export type FieldSpec = 'value' | { list: Record<string, 'value'> };

export interface TemplateSpec {
  /** The placeholders this template may use, and the shape of each. */
  fields: Record<string, FieldSpec>;
  /** Placeholders the template must use for Switchboard to work (for example the media URL). */
  requiredFields?: readonly string[];
  /** Views rendered at start-up to check the template; cover optional parts present and absent. */
  samples: readonly TemplateView[];
  /** Verbs this template may never contain (BW §1.3). */
  forbiddenVerbs?: readonly string[];
  /**
   * Views rendered as for an outbound call (an `answer`, or a later callback of an outbound call).
   * Their documents must not carry what only an inbound call may (BW §2.4 Forward, §2.5 diversion).
   * Absent: the template only ever answers inbound calls.
   */
  outboundSamples?: readonly TemplateView[];
}

export type TemplateValue = string | number | boolean | null | undefined;
export type TemplateView = { [field: string]: TemplateValue | readonly Record<string, TemplateValue>[] };

type Token = [type: string, value: string, start: number, end: number, children?: Token[], closeIndex?: number];

export class TemplateError extends SwitchboardError {
  constructor(
    readonly file: string,
    readonly problems: { line: number; message: string }[],
  ) {
    super('template_invalid', problems.map((p) => `${file}:${p.line}: ${p.message}`).join('\n'), { file, problems });
    this.name = 'TemplateError';
  }
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escape for XML text and attribute values; characters XML 1.0 cannot carry at all are dropped. */
export function escapeXml(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

export class BxmlTemplate {
  private constructor(
    readonly name: string,
    readonly file: string,
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  /** Parse and check a template; throws TemplateError naming the file and line of every problem. */
  static compile(name: string, file: string, source: string, spec: TemplateSpec): BxmlTemplate {
    const problems: { line: number; message: string }[] = [];
    const lineOf = lineLocator(source);
    if (Buffer.byteLength(source) > BXML_MAX_BYTES) {
      throw new TemplateError(file, [{ line: 1, message: `template is ${Buffer.byteLength(source)} bytes; BXML documents are limited to ${BXML_MAX_BYTES}` }]);
    }
    let tokens: Token[];
    try {
      tokens = Mustache.parse(source) as unknown as Token[];
    } catch (err) {
      const at = /at (\d+)/.exec((err as Error).message);
      throw new TemplateError(file, [{ line: at ? lineOf(Number(at[1])) : 1, message: `template syntax: ${(err as Error).message}` }]);
    }
    const used = new Set<string>();
    checkTokens(tokens, spec.fields, new Set(Object.keys(spec.fields)), lineOf, problems, used);
    for (const required of spec.requiredFields ?? []) {
      if (!used.has(required)) problems.push({ line: 1, message: `template must use {{${required}}}` });
    }
    if (problems.length > 0) throw new TemplateError(file, problems);

    const template = new BxmlTemplate(name, file, source, tokens);
    const samples = [
      ...spec.samples.map((view) => ({ view, outbound: false })),
      ...(spec.outboundSamples ?? []).map((view) => ({ view, outbound: true })),
    ];
    for (const { view: sample, outbound } of samples) {
      const { xml, lineMap } = template.renderWithLines(sample);
      const templateLine = (outputLine: number) => lineMap[Math.min(outputLine, lineMap.length) - 1] ?? 1;
      try {
        const root = parseXml(xml);
        for (const p of checkBxml(root, { forbiddenVerbs: spec.forbiddenVerbs, outbound })) {
          problems.push({ line: templateLine(p.line), message: p.message });
        }
      } catch (err) {
        if (!(err instanceof XmlSyntaxError)) throw err;
        problems.push({ line: templateLine(err.line), message: `XML: ${err.reason}` });
      }
      if (Buffer.byteLength(xml) > BXML_MAX_BYTES) {
        problems.push({ line: 1, message: `renders to more than ${BXML_MAX_BYTES} bytes` });
      }
      if (problems.length > 0) break; // one sample's problems are enough to act on
    }
    if (problems.length > 0) throw new TemplateError(file, dedupe(problems));
    return template;
  }

  /** Render for a live callback. Throws bxml_too_large rather than send a document Bandwidth refuses. */
  render(view: TemplateView): string {
    const out: string[] = [];
    renderTokens(this.tokens, [view], out, undefined);
    const xml = out.join('');
    if (Buffer.byteLength(xml) > BXML_MAX_BYTES) {
      throw new SwitchboardError('bxml_too_large', `${this.file} rendered ${Buffer.byteLength(xml)} bytes; the limit is ${BXML_MAX_BYTES}`);
    }
    return xml;
  }

  /** Render and remember, for each output line, the template line it came from. */
  private renderWithLines(view: TemplateView): { xml: string; lineMap: number[] } {
    const out: string[] = [];
    const lineOf = lineLocator(this.source);
    const lineMap: number[] = [0];
    renderTokens(this.tokens, [view], out, { lineOf, lineMap });
    for (let i = 0; i < lineMap.length; i++) if (lineMap[i] === 0) lineMap[i] = i > 0 ? lineMap[i - 1]! : 1;
    return { xml: out.join(''), lineMap };
  }
}

interface LineTracking {
  lineOf: (offset: number) => number;
  /** Template line of each output line; 0 while a new output line has no character yet. */
  lineMap: number[];
}

/**
 * Each output line maps to the template line of its first character. Mustache strips standalone
 * section and comment lines, so "the line after the previous newline" would be wrong.
 * `offsetOf(i)` is the template offset of the emitted text's i-th character.
 */
function trackLines(lines: LineTracking, emitted: string, offsetOf: (i: number) => number): void {
  if (emitted.length === 0) return;
  const map = lines.lineMap;
  if (map[map.length - 1] === 0) map[map.length - 1] = lines.lineOf(offsetOf(0));
  for (let i = emitted.indexOf('\n'); i >= 0; i = emitted.indexOf('\n', i + 1)) {
    map.push(i + 1 < emitted.length ? lines.lineOf(offsetOf(i + 1)) : 0);
  }
}

function renderTokens(tokens: Token[], stack: unknown[], out: string[], lines: LineTracking | undefined): void {
  for (const token of tokens) {
    const [type, value, start] = token;
    switch (type) {
      case 'text': {
        out.push(value);
        if (lines) trackLines(lines, value, (i) => start + i);
        break;
      }
      case 'name': {
        const text = escapeXml(stringify(lookup(stack, value)));
        out.push(text);
        if (lines) trackLines(lines, text, () => start);
        break;
      }
      case '#': {
        const v = lookup(stack, value);
        if (Array.isArray(v)) for (const item of v) renderTokens(token[4] ?? [], [...stack, item], out, lines);
        else if (v) renderTokens(token[4] ?? [], [...stack, v], out, lines);
        break;
      }
      case '^': {
        const v = lookup(stack, value);
        if (!v || (Array.isArray(v) && v.length === 0)) renderTokens(token[4] ?? [], stack, out, lines);
        break;
      }
      default:
        break; // comments; other tag types were refused at compile time
    }
  }
}

function lookup(stack: unknown[], name: string): unknown {
  for (let i = stack.length - 1; i >= 0; i--) {
    const context = stack[i];
    if (context !== null && typeof context === 'object' && Object.prototype.hasOwnProperty.call(context, name)) {
      return (context as Record<string, unknown>)[name];
    }
  }
  return undefined;
}

function stringify(value: unknown): string {
  if (value === undefined || value === null || value === false) return '';
  return String(value);
}

function checkTokens(
  tokens: Token[],
  fields: Record<string, FieldSpec>,
  scope: Set<string>,
  lineOf: (offset: number) => number,
  problems: { line: number; message: string }[],
  used: Set<string>,
): void {
  for (const token of tokens) {
    const [type, value, start] = token;
    const line = lineOf(start);
    switch (type) {
      case 'text':
      case '!':
        break;
      case 'name':
      case '#':
      case '^': {
        used.add(value);
        if (!scope.has(value)) {
          problems.push({ line, message: `unknown placeholder {{${value}}}; known here: ${[...scope].sort().join(', ')}` });
          break;
        }
        if (type === 'name') break;
        const field = fields[value];
        const inner = new Set(scope);
        if (field && typeof field === 'object') for (const item of Object.keys(field.list)) inner.add(item);
        checkTokens(token[4] ?? [], fields, inner, lineOf, problems, used);
        break;
      }
      case '&':
      case '{':
        problems.push({ line, message: `unescaped placeholder {{{${value}}}} / {{&${value}}} is not allowed: every value is XML-escaped` });
        break;
      case '>':
        problems.push({ line, message: `partials ({{>${value}}}) are not supported` });
        break;
      case '=':
        problems.push({ line, message: 'changing delimiters is not supported' });
        break;
      default:
        problems.push({ line, message: `unsupported template tag "${type}"` });
    }
  }
}

function lineLocator(source: string): (offset: number) => number {
  const starts = [0];
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

function dedupe(problems: { line: number; message: string }[]): { line: number; message: string }[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
