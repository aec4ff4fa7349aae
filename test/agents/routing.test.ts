import { numberCandidates, sipParameter } from '../../src/agents/routing';
import { decodeUui, encodeUui, readUui } from '../../src/sip-uui';

const agentIdFromUui = (uui: string | undefined) => readUui(uui).agentId;

describe('routing helpers', () => {
  it('finds the numbers to look up for E.164 and SIP values', () => {
    expect(numberCandidates('+19195550100')).toEqual(['+19195550100']);
    expect(numberCandidates('sip:+19195550100@bw.example.com;user=phone')).toEqual(['sip:+19195550100@bw.example.com', '+19195550100']);
    expect(numberCandidates('sip:9195550100@pbx')).toEqual(['sip:9195550100@pbx', '9195550100', '+9195550100', '+19195550100']);
    expect(numberCandidates(undefined)).toEqual([]);
  });

  it('reads SIP URI parameters', () => {
    expect(sipParameter('sip:+1919@h;user=phone;agent=sales', 'agent')).toBe('sales');
    expect(sipParameter('sip:+1919@h', 'agent')).toBeUndefined();
    expect(sipParameter('+19195550100', 'agent')).toBeUndefined();
  });

  it('decodes uui in each documented encoding (BW §1.5)', () => {
    expect(decodeUui('aGVsbG8gd29ybGQ;encoding=base64')).toBe('hello world');
    expect(decodeUui(`${Buffer.from('agent=x').toString('hex')};encoding=hex`)).toBe('agent=x');
    const jwt = `e30.${Buffer.from('{"agentId":"jwt-agent"}').toString('base64url')}.sig`;
    expect(agentIdFromUui(`${jwt};encoding=jwt`)).toBe('jwt-agent');
    expect(agentIdFromUui(`${Buffer.from('sb=c-1;agent=sales').toString('base64')};encoding=base64`)).toBe('sales');
    expect(agentIdFromUui(`${Buffer.from('{"agentId":"json"}').toString('base64')};encoding=base64`)).toBe('json');
    expect(agentIdFromUui('aGVsbG8gd29ybGQ;encoding=base64')).toBeUndefined();
    expect(agentIdFromUui(undefined)).toBeUndefined();
  });

  it('encodes context within the uui length limit, keeping the call id first', () => {
    const short = encodeUui({ sb: 'c-1', agent: 'a' }, 256);
    expect(decodeUui(short)).toBe('sb=c-1;agent=a');
    const long = encodeUui({ sb: 'c-1', agent: 'a', reason: 'x'.repeat(400) }, 256);
    expect(long.length).toBeLessThanOrEqual(256);
    expect(decodeUui(long)).toBe('sb=c-1;agent=a');
  });
});
