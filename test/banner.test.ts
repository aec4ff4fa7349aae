import { startTestServer } from './helpers/server';

describe('the start-up banner', () => {
  const SIP = { AGENT_MODE: 'openai-sip', AGENT_SIP_TARGET: 'sip:proj_1@sip.api.openai.com' };

  it('shows the OpenAI webhook URL for openai-sip agents and warns when its secret is missing', async () => {
    const printed: string[] = [];
    const server = await startTestServer(SIP, { print: (t) => printed.push(t) });
    await server.close();
    const banner = printed.join('\n');
    expect(banner).toContain('OpenAI SIP (agents default): in the OpenAI platform, add a project webhook for realtime.call.incoming:');
    expect(banner).toContain('Webhook URL                   https://switchboard.test/openai/webhook');
    expect(banner).toMatch(/Warning: OPENAI_WEBHOOK_SECRET is not set/);
  });

  it('says where the secret comes from when it is set, and says nothing of OpenAI SIP for stream agents', async () => {
    const printed: string[] = [];
    const withSecret = await startTestServer({ ...SIP, OPENAI_WEBHOOK_SECRET: 'whsec_abc' }, { print: (t) => printed.push(t) });
    await withSecret.close();
    expect(printed.join('\n')).toContain('Signing secret                (from OPENAI_WEBHOOK_SECRET)');
    const plain: string[] = [];
    const stream = await startTestServer({}, { print: (t) => plain.push(t) });
    await stream.close();
    expect(plain.join('\n')).not.toContain('OpenAI SIP');
  });
});
