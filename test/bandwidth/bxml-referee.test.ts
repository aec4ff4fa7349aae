/**
 * bandwidth-sdk's BXML builders as an independent referee for our templates (BW §6.5).
 *
 * Each case renders one template from bxml-templates/ with a realistic view, builds the same document with
 * `Bxml.*` from the same inputs, and compares the two after canonicalize() (attribute order, whitespace and
 * the XML declaration do not matter; entities are decoded, so escaping is compared by what it means).
 *
 * SDK attribute types: every attribute our templates emit today exists in the SDK 8.1.4 attribute
 * interfaces, so no cast is needed. The attributes the SDK lacks (BW §6.7: Forward `privacy` /
 * `callerDisplayName`, Transfer `privacy`) are not used by any template; if one is added, pass it as
 * `{ ...attrs, privacy: 'true' } as Bxml.TransferAttributes` with a comment saying why.
 *
 * Referee limit: to let SSML through, the SDK's toBxml() runs /&lt;([a-zA-Z\/].*?)&gt;/g over the whole
 * serialized document and un-escapes every match, in text and attributes alike, even across elements.
 * Any value with `<` before a letter or `/` therefore comes out of the SDK as markup (or as broken XML).
 * The views below put `<` only before digits, spaces or `&`, and refereeSafe() refuses anything else.
 * Also, xmlbuilder2 (under the SDK) does not escape an `&` that already starts an entity reference
 * (`&amp;`, `&#38;`), so a literal "&amp;" in a value reaches Bandwidth as "&"; refereeSafe() refuses those
 * too. Our escapeXml() escapes every `&`, which is what the referee cannot check for such values.
 */
import path from 'node:path';
import { Bxml } from 'bandwidth-sdk';
import { agentSchema } from '../../src/agents/agent';
import { canonicalize, type CanonicalElement } from '../../src/bandwidth/bxml/canonical';
import { TEMPLATE_NAMES, TemplateCatalog, type TemplateName, type TemplateViews } from '../../src/bandwidth/bxml/catalog';
import { UrlSigner } from '../../src/security/signing';
import { rebuildWithSdk } from '../conformance/bxml-sdk';
import { tokenOf } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';

const catalog = TemplateCatalog.load(path.join(__dirname, '..', '..', 'bxml-templates'));

// ---- inputs -------------------------------------------------------------------------------------------

const HOST = 'https://switchboard.example.com/bandwidth/voice';

const common = {
  callId: 'c-6f2a91d4-8b3c17e0-4a5d-4c1e-9f7b-2d6e8a0c4b13',
  agentId: 'front-desk',
  agentName: `O'Brien & Sons "Front desk" <24/7>`, // text field with & < > " '
  from: '+19195550142',
  to: '+19195550100',
  callbackBaseUrl: HOST,
  callbackUsername: 'bw-callbacks',
  callbackPassword: `s3cr3t&<>"'Pass`, // attribute with & < > " '
  speakVoice: 'julie',
};
const auth = { username: common.callbackUsername, password: common.callbackPassword };

const stream = {
  ...common,
  streamName: 'ai-agent',
  tracks: 'inbound',
  mediaUrl: 'wss://switchboard.example.com/media?callId=c-6f2a91d4&sig=abc.def',
  mediaUsername: 'bw-media',
  mediaPassword: `Med1a&WS"'Pass`,
  streamEventsUrl: `${HOST}/stream-events`,
  streamEndedUrl: `${HOST}/stream-ended?t=abc.def&v=1`,
};

const transferUrls = {
  transferCompleteUrl: `${HOST}/transfer-complete?t=abc.def&v=1`,
  transferAnswerUrl: `${HOST}/transfer-answer?t=abc.def&v=1`,
  transferDisconnectUrl: `${HOST}/transfer-disconnect?t=abc.def&v=1`,
};

interface TransferFixture {
  target: string;
  holdMessage?: string;
  uui?: string;
  diversionTreatment?: string;
  diversionReason?: string;
}
const transferView = (f: TransferFixture) => ({
  ...common,
  ...transferUrls,
  streamName: 'ai-agent',
  transferCallerId: '+19195550142',
  callTimeout: 30,
  tag: 'sb:transfer:sales&support',
  ...f,
});
const holdExtras = {
  holdMessage: `Please hold, I'm connecting you to "Sales & Billing" (< 1 minute > usual).`,
  diversionTreatment: 'stack',
  diversionReason: 'unconditional',
};
const UUI = 'eyJzYiI6ImMtNmYyYTkxZDQiLCJhZ2VudCI6ImZyb250LWRlc2sifQ;encoding=base64';

const fallbackMessage = `Sorry, our assistant can't take calls right now & "Support" opens at 8 > 7.`;

// ---- SDK documents ------------------------------------------------------------------------------------

const speak = (text: string) => new Bxml.SpeakSentence(text, { voice: common.speakVoice });

const startStream = () =>
  new Bxml.StartStream(
    {
      name: stream.streamName,
      mode: 'bidirectional',
      tracks: stream.tracks,
      destination: stream.mediaUrl,
      destinationUsername: stream.mediaUsername,
      destinationPassword: stream.mediaPassword,
      streamEventUrl: stream.streamEventsUrl,
      streamEventMethod: 'POST',
      ...auth,
    },
    [new Bxml.StreamParam({ name: 'callId', value: stream.callId }), new Bxml.StreamParam({ name: 'agentId', value: stream.agentId })],
  );

/** transfer-phone / transfer-sip: StopStream, optional hold message, Transfer to one recipient. */
function sdkTransfer(kind: 'phone' | 'sip', f: TransferFixture): Bxml.Response {
  const v = transferView(f);
  const recipientAttributes = {
    transferAnswerUrl: v.transferAnswerUrl,
    transferAnswerMethod: 'POST',
    transferDisconnectUrl: v.transferDisconnectUrl,
    transferDisconnectMethod: 'POST',
    ...auth,
  };
  const recipient =
    kind === 'phone' ? new Bxml.PhoneNumber(v.target, recipientAttributes) : new Bxml.SipUri(v.target, { uui: v.uui, ...recipientAttributes });
  return new Bxml.Response([
    new Bxml.StopStream({ name: v.streamName }),
    ...(v.holdMessage ? [speak(v.holdMessage)] : []),
    new Bxml.Transfer(
      {
        transferCallerId: v.transferCallerId,
        callTimeout: v.callTimeout,
        tag: v.tag,
        diversionTreatment: v.diversionTreatment,
        diversionReason: v.diversionReason,
        transferCompleteUrl: v.transferCompleteUrl,
        transferCompleteMethod: 'POST',
        ...auth,
      },
      recipient,
    ),
  ]);
}

/** fallback with a transfer destination: apology, then Transfer tagged sb:fallback (no per-recipient methods). */
function sdkFallbackTransfer(recipient: (attributes: Bxml.PhoneNumberAttributes) => Bxml.PhoneNumber | Bxml.SipUri): Bxml.Response {
  return new Bxml.Response([
    speak(fallbackMessage),
    new Bxml.Transfer(
      { transferCallerId: common.from, callTimeout: 30, tag: 'sb:fallback', transferCompleteUrl: transferUrls.transferCompleteUrl, transferCompleteMethod: 'POST', ...auth },
      recipient({ transferAnswerUrl: transferUrls.transferAnswerUrl, transferDisconnectUrl: transferUrls.transferDisconnectUrl, ...auth }),
    ),
  ]);
}

// ---- cases --------------------------------------------------------------------------------------------

interface RefereeCase {
  title: string;
  template: TemplateName;
  ours: () => string;
  sdk: () => Bxml.Response;
  /** Values (decoded) that must survive the round trip verbatim, so escaping is really exercised. */
  survives: string[];
}

function refereeCase<N extends TemplateName>(
  title: string,
  template: N,
  view: TemplateViews[N],
  sdk: () => Bxml.Response,
  survives: string[] = [],
): RefereeCase {
  refereeSafe(view as Record<string, unknown>);
  return { title, template, ours: () => catalog.render(template, view), sdk, survives };
}

/** See the header: the SDK mangles these values, so it cannot referee them. */
function refereeSafe(view: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(view)) {
    if (typeof value !== 'string') continue;
    if (/<[a-zA-Z/]/.test(value)) throw new Error(`view field ${field} has "<" before a letter or "/", which bandwidth-sdk un-escapes into markup`);
    if (/&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z][\w.-]*);/.test(value)) throw new Error(`view field ${field} has an entity reference, which bandwidth-sdk passes through unescaped`);
  }
}

const whisperFull = { ...common, caller: '+1 919 555 0142', reason: `billing & "card" question`, summary: `Card ending 4242 was declined; it's < 3 days old.` };

const cases: RefereeCase[] = [
  refereeCase(
    'stream',
    'stream',
    stream,
    () =>
      new Bxml.Response([
        startStream(),
        new Bxml.StopStream({ name: stream.streamName, wait: true }),
        new Bxml.Redirect({ redirectUrl: stream.streamEndedUrl, redirectMethod: 'POST', ...auth }),
      ]),
    [common.callbackPassword, stream.mediaPassword, stream.streamEndedUrl],
  ),
  refereeCase('stream-pause', 'stream-pause', stream, () => new Bxml.Response([startStream(), new Bxml.Pause({ duration: 86400 })]), [
    common.callbackPassword,
    stream.mediaUrl,
  ]),
  refereeCase(
    'forward-sip with diversion and uui',
    'forward-sip',
    {
      ...common,
      sipTarget: 'sip:proj_abc@sip.api.openai.com;transport=tls',
      forwardFrom: '+19195550100',
      callTimeout: 45,
      diversionTreatment: 'stack',
      diversionReason: 'unconditional',
      uui: UUI,
    },
    () =>
      new Bxml.Response(
        new Bxml.Forward({
          to: 'sip:proj_abc@sip.api.openai.com;transport=tls',
          from: '+19195550100',
          callTimeout: 45,
          diversionTreatment: 'stack',
          diversionReason: 'unconditional',
          uui: UUI,
        }),
      ),
  ),
  refereeCase(
    'forward-sip without the optional attributes',
    'forward-sip',
    { ...common, sipTarget: 'sip:agent@example.com', forwardFrom: '+19195550100', callTimeout: 30 },
    () => new Bxml.Response(new Bxml.Forward({ to: 'sip:agent@example.com', from: '+19195550100', callTimeout: 30 })),
  ),
  refereeCase(
    'transfer-sip with uui, hold message and diversion',
    'transfer-sip',
    transferView({ target: 'sip:agent@pbx.example.com', uui: UUI, ...holdExtras }),
    () => sdkTransfer('sip', { target: 'sip:agent@pbx.example.com', uui: UUI, ...holdExtras }),
    [holdExtras.holdMessage, common.callbackPassword, transferUrls.transferCompleteUrl],
  ),
  refereeCase(
    'transfer-sip without the optional parts',
    'transfer-sip',
    transferView({ target: 'sip:agent@pbx.example.com' }),
    () => sdkTransfer('sip', { target: 'sip:agent@pbx.example.com' }),
    [common.callbackPassword, 'sb:transfer:sales&support'],
  ),
  refereeCase(
    'transfer-phone with hold message and diversion',
    'transfer-phone',
    transferView({ target: '+19195550177', ...holdExtras }),
    () => sdkTransfer('phone', { target: '+19195550177', ...holdExtras }),
    [holdExtras.holdMessage, common.callbackPassword],
  ),
  refereeCase(
    'transfer-phone without the optional parts',
    'transfer-phone',
    transferView({ target: '+19195550177' }),
    () => sdkTransfer('phone', { target: '+19195550177' }),
    [common.callbackPassword],
  ),
  refereeCase(
    'whisper with caller (SSML say-as), reason and summary',
    'whisper',
    whisperFull,
    () =>
      new Bxml.Response(
        // SSML goes into the SDK as literal markup in the text; toBxml() un-escapes it (see the header).
        speak(
          `Incoming call from ${common.agentName}. The caller is <say-as interpret-as="telephone">${whisperFull.caller}</say-as>.` +
            ` Reason: ${whisperFull.reason}. ${whisperFull.summary}`,
        ),
      ),
    [whisperFull.reason, whisperFull.summary],
  ),
  refereeCase('whisper with the agent name only', 'whisper', { ...common }, () => new Bxml.Response(speak(`Incoming call from ${common.agentName}.`)), [
    `Incoming call from ${common.agentName}.`,
  ]),
  refereeCase(
    'fallback with a phone transfer destination',
    'fallback',
    { ...common, ...transferUrls, message: fallbackMessage, hasTransfer: true, transferPhone: '+19195550177', transferCallerId: common.from, callTimeout: 30 },
    () => sdkFallbackTransfer((attributes) => new Bxml.PhoneNumber('+19195550177', attributes)),
    [fallbackMessage, common.callbackPassword],
  ),
  refereeCase(
    'fallback with a SIP transfer destination',
    'fallback',
    { ...common, ...transferUrls, message: fallbackMessage, hasTransfer: true, transferSip: 'sip:desk@pbx.example.com', transferCallerId: common.from, callTimeout: 30 },
    () => sdkFallbackTransfer((attributes) => new Bxml.SipUri('sip:desk@pbx.example.com', attributes)),
    [fallbackMessage],
  ),
  refereeCase('fallback without a transfer destination', 'fallback', { ...common, message: fallbackMessage }, () => new Bxml.Response([speak(fallbackMessage), new Bxml.Hangup()]), [
    fallbackMessage,
  ]),
  refereeCase('reject', 'reject', common, () => new Bxml.Response(new Bxml.Hangup())),
  refereeCase('hangup with a message', 'hangup', { ...common, message: fallbackMessage }, () => new Bxml.Response([speak(fallbackMessage), new Bxml.Hangup()]), [
    fallbackMessage,
  ]),
  refereeCase('hangup without a message', 'hangup', common, () => new Bxml.Response(new Bxml.Hangup())),
];

// ---- helpers ------------------------------------------------------------------------------------------

/** Every attribute value and text node in a canonical tree. */
function valuesOf(tree: CanonicalElement): string[] {
  return [...Object.values(tree.attributes), ...tree.children.flatMap((c) => (typeof c === 'string' ? [c] : valuesOf(c)))];
}

function find(tree: CanonicalElement, name: string): CanonicalElement | undefined {
  if (tree.name === name) return tree;
  for (const child of tree.children) {
    const hit = typeof child === 'string' ? undefined : find(child, name);
    if (hit) return hit;
  }
  return undefined;
}

// ---- tests --------------------------------------------------------------------------------------------

describe('BXML templates agree with bandwidth-sdk builders', () => {
  it('covers every template', () => {
    const covered = new Set(cases.map((c) => c.template));
    expect([...covered].sort()).toEqual(
      (['stream', 'stream-pause', 'forward-sip', 'transfer-sip', 'transfer-phone', 'whisper', 'fallback', 'reject', 'hangup'] satisfies TemplateName[]).sort(),
    );
  });

  it.each(cases)('$title', ({ ours, sdk, survives }) => {
    const ourTree = canonicalize(ours());
    const sdkTree = canonicalize(sdk().toBxml());
    expect(ourTree).toEqual(sdkTree);
    // Every attribute we emit is one the SDK's attribute interface declares, with its declared type.
    expect(rebuildWithSdk(ours()).problems).toEqual([]);
    const values = valuesOf(ourTree);
    for (const value of survives) expect(values.some((v) => v.includes(value))).toBe(true);
  });

  it('whisper: say-as is real SSML markup on both sides, not escaped text', () => {
    const whisper = cases.find((c) => c.title.startsWith('whisper with caller'))!;
    for (const tree of [canonicalize(whisper.ours()), canonicalize(whisper.sdk().toBxml())]) {
      const speakSentence = find(tree, 'SpeakSentence')!;
      expect(speakSentence.children).toEqual([
        `Incoming call from ${common.agentName}. The caller is`,
        { name: 'say-as', attributes: { 'interpret-as': 'telephone' }, children: [whisperFull.caller] },
        `. Reason: ${whisperFull.reason}. ${whisperFull.summary}`,
      ]);
    }
  });
});

describe('the comparison can fail (negative controls)', () => {
  const streamCase = cases.find((c) => c.title === 'stream')!;
  const whisperCase = cases.find((c) => c.title.startsWith('whisper with caller'))!;
  const controls: { title: string; ours: () => string; sdk: () => Bxml.Response }[] = [
    {
      title: 'StopStream without wait="true"',
      ours: streamCase.ours,
      sdk: () =>
        new Bxml.Response([
          startStream(),
          new Bxml.StopStream({ name: stream.streamName }),
          new Bxml.Redirect({ redirectUrl: stream.streamEndedUrl, redirectMethod: 'POST', ...auth }),
        ]),
    },
    {
      title: 'a password one character short (the apostrophe)',
      ours: streamCase.ours,
      sdk: () =>
        new Bxml.Response([
          startStream(),
          new Bxml.StopStream({ name: stream.streamName, wait: true }),
          new Bxml.Redirect({ redirectUrl: stream.streamEndedUrl, redirectMethod: 'POST', ...auth, password: `s3cr3t&<>"Pass` }),
        ]),
    },
    {
      title: 'SSML left as plain text',
      ours: whisperCase.ours,
      sdk: () =>
        new Bxml.Response(
          speak(`Incoming call from ${common.agentName}. The caller is ${whisperFull.caller}. Reason: ${whisperFull.reason}. ${whisperFull.summary}`),
        ),
    },
  ];

  it.each(controls)('$title differs', ({ ours, sdk }) => {
    expect(canonicalize(ours())).not.toEqual(canonicalize(sdk().toBxml()));
  });

  it('an attribute the SDK does not declare, a mistyped one, or an unmapped verb is reported', () => {
    const xml = '<Response><StopStream name="ai-agent" wait="yes" privacy="true"/><Pause duration="long"/><Ring/></Response>';
    expect(rebuildWithSdk(xml).problems).toEqual([
      '<StopStream wait="yes">: the SDK declares a boolean',
      "<StopStream privacy>: not an attribute of bandwidth-sdk's StopStreamAttributes",
      '<Pause duration="long">: the SDK declares a number',
      '<Ring>: this referee has no bandwidth-sdk class mapped for it',
    ]);
  });
});

describe('referee limits', () => {
  it('the SDK turns "<word>" in spoken text into markup; our templates keep it as text', () => {
    const message = 'Say <b>yes</b> to continue.';
    expect(() => refereeCase('hangup', 'hangup', { ...common, message }, () => new Bxml.Response())).toThrow(/un-escapes into markup/);
    const ours = find(canonicalize(catalog.render('hangup', { ...common, message })), 'SpeakSentence')!;
    const sdk = find(canonicalize(new Bxml.Response(speak(message)).toBxml()), 'SpeakSentence')!;
    expect(ours.children).toEqual([message]);
    expect(sdk.children).toEqual(['Say', { name: 'b', attributes: {}, children: ['yes'] }, 'to continue.']);
  });

  it('the SDK passes entity references in values through unescaped; our templates escape every "&"', () => {
    const message = 'Fish &amp; chips.';
    expect(() => refereeCase('hangup', 'hangup', { ...common, message }, () => new Bxml.Response())).toThrow(/entity reference/);
    const ours = find(canonicalize(catalog.render('hangup', { ...common, message })), 'SpeakSentence')!;
    const sdk = find(canonicalize(new Bxml.Response(speak(message)).toBxml()), 'SpeakSentence')!;
    expect(ours.children).toEqual([message]);
    expect(sdk.children).toEqual(['Fish & chips.']);
  });
});

/**
 * What the running server really answers, in both call directions (inbound `initiate`, outbound
 * `answer`, BW §1.3) and on every later BXML callback, for every template: each document is rebuilt
 * with the SDK's verb classes from its own elements (test/conformance/bxml-sdk.ts), with every
 * attribute checked against the SDK's attribute interfaces, and the two must mean the same.
 */
describe('live answers in both call directions build through bandwidth-sdk', () => {
  const HUMAN = '+19195550177';
  const SIP_AI = 'sip:proj_abc@sip.api.openai.com;transport=tls';
  let server: TestServer;
  let signer: UrlSigner;
  const served = new Set<string>();
  const agents = [
    { id: 'default', number: '+19195550100', template: 'stream' },
    { id: 'pauser', number: '+19195550101', template: 'stream-pause', settings: { streamHold: 'pause' } },
    { id: 'sip-fwd', number: '+19195550102', template: 'forward-sip', settings: { mode: 'openai-sip', sip: { target: SIP_AI, verb: 'forward', diversionTreatment: 'stack', diversionReason: 'unconditional' } } },
    { id: 'sip-xfer', number: '+19195550103', template: 'transfer-sip', settings: { mode: 'sip-forward', sip: { target: 'sip:agent@pbx.example.com', verb: 'transfer' } } },
  ] as const;

  beforeAll(async () => {
    server = await startTestServer({ TRANSFER_TO: HUMAN, AGENT_FALLBACK_MESSAGE: `Sorry & goodbye, "friend".` });
    signer = new UrlSigner(server.app.credentials.credentials.urlSigningSecret);
    for (const a of agents) {
      if (a.id !== 'default') await server.app.store.agents.upsert(agentSchema.parse({ id: a.id, name: a.id, ...('settings' in a ? a.settings : {}) }), 'api');
      await server.app.store.numbers.assign(a.number, a.id);
    }
  });
  afterAll(() => server.close());

  async function expectSdkBuilds(route: string, body: Record<string, unknown>, query?: string): Promise<string> {
    const res = await server.post(route, body, query ? { query } : {});
    expect(res.status).toBe(200);
    const xml = await res.text();
    const rebuilt = rebuildWithSdk(xml);
    expect(rebuilt.problems).toEqual([]);
    expect(canonicalize(xml)).toEqual(canonicalize(rebuilt.xml));
    return xml;
  }

  it.each(agents.map((a) => [a.template, a] as const))('%s on inbound initiate and outbound answer', async (_t, a) => {
    const inbound = await expectSdkBuilds('initiate', { ...callbackFixture('initiate'), callId: `c-in-${a.id}`, to: a.number });
    const t = signer.sign('answer', { agentId: a.id }, 60_000);
    const outbound = await expectSdkBuilds('answer', { ...callbackFixture('answer'), callId: `c-out-${a.id}`, from: a.number, to: '+19195550142', direction: 'outbound' }, `t=${t}`);
    for (const xml of [inbound, outbound]) expect(canonicalize(xml).children.length).toBeGreaterThan(0);
    served.add(a.template);
  });

  it('transfer-phone (redirect), whisper (transferAnswer), fallback (stream-ended), hangup (failed fallback transfer)', async () => {
    const human = { id: 'default-human', name: 'human', kind: 'phone' as const, value: HUMAN, warm: true, callTimeoutS: 25 };
    const callId = 'c-later-callbacks';
    await expectSdkBuilds('initiate', { ...callbackFixture('initiate'), callId });
    // Tokens as Switchboard mints them: ids sealed, the context stored (DESIGN §4.6).
    const contexts = server.app.contexts;
    const transferToken = async (ctx: Parameters<typeof contexts.transferUrls>[0]) => {
      const { urls, saved } = contexts.transferUrls(ctx);
      await saved;
      return tokenOf(urls.transferCompleteUrl);
    };
    const redirect = tokenOf(await contexts.redirectUrl(callId, 'default', { type: 'transfer', destination: human, reason: 'billing', summary: 'Wants a refund.' }));
    expect(await expectSdkBuilds('redirect', { ...callbackFixture('redirect'), callId }, `t=${redirect}`)).toContain('<PhoneNumber');
    const whisper = await transferToken({ callId, agentId: 'default', destination: human, reason: 'billing', summary: 'Wants a refund.', origin: 'agent' });
    expect(await expectSdkBuilds('transfer-answer', { ...callbackFixture('transferAnswer'), parentCallId: callId }, `t=${whisper}`)).toContain('<SpeakSentence');
    await expectSdkBuilds('initiate', { ...callbackFixture('initiate'), callId: 'c-stream-ended' });
    expect(await expectSdkBuilds('stream-ended', { ...callbackFixture('redirect'), callId: 'c-stream-ended' })).toContain('<Transfer');
    const fallback = await transferToken({ callId, agentId: 'default', destination: { ...human, warm: false }, origin: 'fallback' });
    expect(await expectSdkBuilds('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId }, `t=${fallback}`)).toContain('<Hangup');
    for (const t of ['transfer-phone', 'whisper', 'fallback', 'hangup']) served.add(t);
  });

  it('reject, in both directions, once no agent answers (the default agent deleted)', async () => {
    await server.app.store.numbers.unassign('+19195550100');
    await server.app.store.agents.delete('default');
    expect(await expectSdkBuilds('initiate', { ...callbackFixture('initiate'), callId: 'c-in-nobody', to: '+19195550199' })).toContain('<Hangup');
    const t = signer.sign('answer', { agentId: 'default' }, 60_000);
    expect(await expectSdkBuilds('answer', { ...callbackFixture('answer'), callId: 'c-out-nobody', from: '+19195550199', direction: 'outbound' }, `t=${t}`)).toContain('<Hangup');
    served.add('reject');
  });

  it('covered every template', () => {
    expect([...served].sort()).toEqual([...TEMPLATE_NAMES].sort());
  });
});
