import { agentSipSchema, renderReferTarget } from '../../src/agents/agent';
import { DEFAULT_SIP_REFER_TARGET } from '../../src/constants';

/** openai-sip REFER targets (OpenAI reference §4.4): a template that must yield a sip:/sips: URI. */
describe('sip.referTarget', () => {
  const parse = (referTarget: string) => agentSipSchema.safeParse({ target: 'sip:proj_1@sip.api.openai.com', referTarget });

  it('renders the default as today: the number on the carrier host of the INVITE', () => {
    expect(renderReferTarget(DEFAULT_SIP_REFER_TARGET, { number: '+19195550177', contactHost: '67.231.4.10:5060' })).toBe('sip:+19195550177@67.231.4.10:5060');
  });

  it('refuses to render without a value the template needs, saying which', () => {
    expect(() => renderReferTarget(DEFAULT_SIP_REFER_TARGET, { number: '+19195550177', contactHost: undefined })).toThrow(/cannot fill \{contactHost\}/);
    expect(renderReferTarget('sip:{number}@pbx.example.com', { number: '+19195550177', contactHost: undefined })).toBe('sip:+19195550177@pbx.example.com');
  });

  it('accepts sip: and sips: templates, fixed URIs included; is optional', () => {
    expect(parse('sips:{number}@{contactHost};transport=tls').success).toBe(true);
    expect(parse('sip:operator@pbx.example.com').success).toBe(true);
    expect(agentSipSchema.parse({ target: 'sip:proj_1@sip.api.openai.com' }).referTarget).toBeUndefined();
  });

  it.each([
    ['tel:{number}', /must produce a sip: or sips: URI/],
    ['{number}@{contactHost}', /must produce a sip: or sips: URI/],
    ['sip:{number}', /must produce a sip: or sips: URI/],
    ['sip:{ext}@{contactHost}', /unknown placeholder \{ext\}/],
  ])('refuses %s, naming the field', (template, message) => {
    const r = parse(template);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['referTarget', expect.stringMatching(message)]]);
    expect(r.error!.issues[0]!.message).toMatch(/^sip\.referTarget/);
  });
});
