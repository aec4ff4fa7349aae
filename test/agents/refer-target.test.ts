import { agentSipSchema, renderReferTarget } from '../../src/agents/agent';
import { DEFAULT_SIP_REFER_TARGET } from '../../src/constants';

/** openai-sip REFER targets (OpenAI reference §4.4): a template that must yield a sip:/sips: URI. */
describe('sip.referTarget', () => {
  const parse = (referTarget: string) => agentSipSchema.safeParse({ target: 'sip:proj_1@sip.api.openai.com', referTarget });

  it('renders the default as today: the number on the carrier host of the INVITE', () => {
    expect(renderReferTarget(DEFAULT_SIP_REFER_TARGET, { number: '+19195550177', contactHost: '67.231.4.10:5060' })).toBe('sip:+19195550177@67.231.4.10:5060');
  });

  it('refuses to render a value from the call that is not a plain host (it comes from the carrier INVITE)', () => {
    for (const contactHost of ['carrier.example, <sip:attacker@evil.example', 'host>x', 'h ost', 'host?x=1']) {
      expect(() => renderReferTarget(DEFAULT_SIP_REFER_TARGET, { number: '+19195550177', contactHost })).toThrow(/not a plain sip: or sips: URI/);
    }
    expect(renderReferTarget(DEFAULT_SIP_REFER_TARGET, { number: '+19195550177', contactHost: '[2001:db8::1]:5061' })).toBe('sip:+19195550177@[2001:db8::1]:5061');
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
    ['sip:{number}@{contactHost}?Replaces=abc%3Bto-tag%3D1', /one plain URI without headers/],
    ['sip:{number}@{contactHost}, <sip:x@evil.example>', /one plain URI without headers/],
  ])('refuses %s, naming the field', (template, message) => {
    const r = parse(template);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['referTarget', expect.stringMatching(message)]]);
    expect(r.error!.issues[0]!.message).toMatch(/^sip\.referTarget/);
  });
});
