import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TemplateCatalog, TEMPLATE_SPECS } from '../../src/bandwidth/bxml/catalog';
import { BxmlTemplate, escapeXml, TemplateError } from '../../src/bandwidth/bxml/template';
import { isSwitchboardError } from '../../src/errors';
import { startSwitchboard } from '../../src/main';
import { createLogger } from '../../src/log';
import { bxml, text } from '../helpers/bxml';

const TEMPLATES_DIR = path.join(__dirname, '../../bxml-templates');

function compileError(source: string, name: keyof typeof TEMPLATE_SPECS = 'reject'): TemplateError {
  try {
    BxmlTemplate.compile(name, `/t/${name}.xml`, source, TEMPLATE_SPECS[name]);
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected the template to be refused');
}

describe('BXML templates', () => {
  it('the shipped templates all load', () => {
    expect(() => TemplateCatalog.load(TEMPLATES_DIR)).not.toThrow();
  });

  it('escapes every value for XML, in text and in attributes', () => {
    const catalog = TemplateCatalog.load(TEMPLATES_DIR);
    const xml = catalog.render('hangup', { message: `Tom & Jerry's <"shop">`, speakVoice: `a"b` });
    const doc = bxml(xml);
    expect(text(doc.one('SpeakSentence'))).toBe(`Tom & Jerry's <"shop">`);
    expect(doc.one('SpeakSentence').attributes.voice).toBe('a"b');
    expect(xml).toContain('Tom &amp; Jerry&apos;s &lt;&quot;shop&quot;&gt;');
  });

  it('drops characters XML cannot carry instead of producing a broken document', () => {
    expect(escapeXml('a\u0000b\u0007c\td\ne')).toBe('abc\td\ne');
  });

  it('strips template comments from what Bandwidth receives', () => {
    const xml = TemplateCatalog.load(TEMPLATES_DIR).render('reject', {});
    expect(xml).not.toContain('{{!');
    expect(xml).not.toContain('rejected calls are not charged');
  });

  describe('refuses a broken template, naming file and line', () => {
    it('unknown verb', () => {
      const err = compileError('<Response>\n  <Hangup/>\n  <Dance/>\n</Response>\n');
      expect(err.message).toBe('/t/reject.xml:3: unknown verb <Dance>');
    });

    it('unclosed tag', () => {
      const err = compileError('<Response>\n  <SpeakSentence>hello\n</Response>\n');
      expect(err.message).toMatch(/^\/t\/reject\.xml:3: XML: .*SpeakSentence/);
    });

    it('unknown placeholder, with the ones that are known', () => {
      const err = compileError('<Response>\n\n  <SpeakSentence voice="{{speakVoice}}">{{callerName}}</SpeakSentence>\n</Response>\n', 'hangup');
      expect(err.message).toMatch(/^\/t\/hangup\.xml:3: unknown placeholder \{\{callerName\}\}; known here: .*message/);
    });

    it('unknown attribute', () => {
      const err = compileError('<Response>\n  <Hangup reason="x"/>\n</Response>\n');
      expect(err.message).toBe('/t/reject.xml:2: unknown attribute reason on <Hangup>');
    });

    it('wrong root element', () => {
      expect(compileError('<Reply>\n  <Hangup/>\n</Reply>\n').message).toMatch(/reject\.xml:1: root element must be <Response>/);
    });

    it('more than 64 KB', () => {
      const err = compileError(`<Response>\n<SpeakSentence>${'a'.repeat(70_000)}</SpeakSentence>\n</Response>\n`);
      expect(err.message).toMatch(/limited to 65536/);
    });

    it('a callback URL without credentials (verb callbacks do not inherit them)', () => {
      const err = compileError('<Response>\n  <Redirect redirectUrl="{{callbackBaseUrl}}/x"/>\n</Response>\n');
      expect(err.message).toMatch(/reject\.xml:2: <Redirect> has a callback URL but no username attribute/);
    });

    it('a verb after Redirect, which would never run', () => {
      const err = compileError(
        '<Response>\n  <Redirect redirectUrl="https://x/y" username="{{callbackUsername}}" password="{{callbackPassword}}"/>\n  <Hangup/>\n</Response>\n',
      );
      expect(err.message).toMatch(/reject\.xml:3: <Hangup> after <Redirect> never runs/);
    });

    it('a Transfer in the whisper template (forbidden on transferAnswer, BW §1.3)', () => {
      const err = compileError('<Response>\n  <Transfer><PhoneNumber>+19195550177</PhoneNumber></Transfer>\n</Response>\n', 'whisper');
      expect(err.message).toMatch(/whisper\.xml:2: <Transfer> is not allowed in this document/);
    });

    it('an unescaped placeholder', () => {
      expect(compileError('<Response>{{{from}}}<Hangup/></Response>').message).toMatch(/unescaped placeholder/);
    });

    it('an unclosed section', () => {
      expect(compileError('<Response>\n{{#from}}\n<Hangup/>\n</Response>\n').message).toMatch(/reject\.xml:\d+: template syntax: Unclosed section "from"/);
    });

    it('a stream template that forgets the media URL', () => {
      const err = compileError('<Response>\n  <Pause duration="1"/>\n</Response>\n', 'stream');
      expect(err.message).toMatch(/must use \{\{mediaUrl\}\}/);
    });

    it('an optional value outside a section renders an empty attribute', () => {
      const err = compileError('<Response>\n  <SpeakSentence voice="{{message}}">x</SpeakSentence>\n  <Hangup/>\n</Response>\n', 'hangup');
      expect(err.message).toMatch(/hangup\.xml:2: attribute voice on <SpeakSentence> is empty/);
    });

    it('the line is the template line even after multi-line comments and sections', () => {
      const source = '<Response>\n{{! a\ncomment\nover lines }}\n{{#message}}\n<SpeakSentence>{{message}}</SpeakSentence>\n{{/message}}\n  <Bogus/>\n</Response>\n';
      expect(compileError(source, 'hangup').message).toBe('/t/hangup.xml:8: unknown verb <Bogus>');
    });
  });

  describe('at start-up', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-templates-'));
      for (const f of fs.readdirSync(TEMPLATES_DIR)) fs.copyFileSync(path.join(TEMPLATES_DIR, f), path.join(dir, f));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const start = () =>
      startSwitchboard({
        env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: path.join(dir, 'data'), BXML_TEMPLATES_DIR: dir },
        print: () => undefined,
        logger: createLogger('silent'),
      });

    it('a broken template stops the start with file and line, and nothing listens', async () => {
      const file = path.join(dir, 'fallback.xml');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('<Hangup/>', '<Hangup/>\n  <Teleport/>'));
      const err = await start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSwitchboardError(err, 'template_invalid')).toBe(true);
      expect((err as Error).message).toContain(`${file}:`);
      expect((err as Error).message).toMatch(/fallback\.xml:\d+: unknown verb <Teleport>/);
    });

    it('every broken template is reported at once', async () => {
      fs.writeFileSync(path.join(dir, 'reject.xml'), '<Response><Hangup/>');
      fs.writeFileSync(path.join(dir, 'hangup.xml'), '<Response>{{nope}}<Hangup/></Response>');
      fs.rmSync(path.join(dir, 'whisper.xml'));
      const err = (await start().catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/reject\.xml:1: XML/);
      expect(err.message).toMatch(/hangup\.xml:1: unknown placeholder \{\{nope\}\}/);
      expect(err.message).toMatch(/whisper\.xml: missing/);
    });

    it('a template that also answers outbound calls may not carry diversion (BW §2.5): refused at start with file and line', async () => {
      const file = path.join(dir, 'transfer-sip.xml');
      const source = fs.readFileSync(file, 'utf8');
      // An operator hard-codes diversion instead of leaving it to the (inbound-only) placeholder.
      fs.writeFileSync(file, source.replace('{{#diversionTreatment}} diversionTreatment="{{diversionTreatment}}"{{/diversionTreatment}}', ' diversionTreatment="propagate"'));
      const line = source.split('\n').findIndex((l) => l.includes('<Transfer{{#transferCallerId}}')) + 1;
      const err = (await start().catch((e: unknown) => e)) as Error;
      expect(isSwitchboardError(err, 'template_invalid')).toBe(true);
      expect(err.message).toContain(`${file}:${line}: diversionTreatment must not be used when transferring an outbound call (BW §2.5)`);
    });

    it('a template that also answers outbound calls may not Forward (BW §2.4): refused at start with file and line', async () => {
      const file = path.join(dir, 'stream.xml');
      fs.writeFileSync(file, '<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  <Forward to="sip:agent@example.com"/>\n  <StartStream destination="{{mediaUrl}}" destinationUsername="{{mediaUsername}}" destinationPassword="{{mediaPassword}}"/>\n</Response>\n');
      const err = (await start().catch((e: unknown) => e)) as Error;
      expect(err.message).toContain(`${file}:3: <Forward> only forwards an unanswered inbound call (BW §2.4); use <Transfer>, and this template also answers outbound calls`);
    });

    it('the inbound-only forward-sip template keeps Forward and diversion', () => {
      const xml = TemplateCatalog.load(dir).render('forward-sip', { sipTarget: 'sip:agent@example.com', forwardFrom: '+19195550100', callTimeout: 30, diversionTreatment: 'stack', diversionReason: 'unconditional' });
      expect(bxml(xml).one('Forward').attributes).toMatchObject({ diversionTreatment: 'stack', diversionReason: 'unconditional' });
    });

    it('an unknown template file is refused rather than silently ignored', async () => {
      fs.writeFileSync(path.join(dir, 'strem.xml'), '<Response/>');
      expect(((await start().catch((e: unknown) => e)) as Error).message).toMatch(/strem\.xml: not a known template/);
    });
  });
});
