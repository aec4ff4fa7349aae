import path from 'node:path';
import { agentSchema } from '../../src/agents/agent';
import { loadConfig } from '../../src/config';
import { startTestServer, type TestServer } from '../helpers/server';

const ROOT = path.join(__dirname, '../..');

/** The `telephony` agent setting: defaults keep old agents valid; bad values are refused naming the field. */
describe('telephony settings', () => {
  it('an agent stored before telephony existed gets the defaults: keys heard, no interrupt, no detection', () => {
    const agent = agentSchema.parse({ id: 'old', name: 'Old agent' });
    expect(agent.telephony).toEqual({
      keyPresses: { enabled: true, interrupt: false },
      voicemail: { detect: false, action: 'hang-up', message: '', detectionTimeoutS: 15, silenceTimeoutS: 10, greetingEndSilenceS: 5 },
    });
    // A partial setting keeps the other defaults.
    expect(agentSchema.parse({ id: 'p', name: 'P', telephony: { voicemail: { detect: true } } }).telephony.keyPresses).toEqual({ enabled: true, interrupt: false });
  });

  it('AGENT_* builds the default agent’s setting and refuses a bad value with the variable’s name', () => {
    const config = loadConfig({ AGENT_KEY_PRESS_INTERRUPTS: 'true', AGENT_VOICEMAIL_DETECT: 'true', AGENT_VOICEMAIL_ACTION: 'leave-message', AGENT_VOICEMAIL_MESSAGE: 'Call us back.' }, ROOT);
    expect(config.envAgent.agent.telephony).toMatchObject({ keyPresses: { enabled: true, interrupt: true }, voicemail: { detect: true, action: 'leave-message', message: 'Call us back.' } });
    expect(() => loadConfig({ AGENT_VOICEMAIL_ACTION: 'beep' }, ROOT)).toThrow(/AGENT_VOICEMAIL_ACTION/);
    expect(() => loadConfig({ AGENT_KEY_PRESSES: 'yes' }, ROOT)).toThrow(/AGENT_KEY_PRESSES/);
  });

  describe('over the admin API', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer();
    });
    afterAll(() => server.close());
    const admin = () => ({ authorization: `Bearer ${server.app.credentials.credentials.adminToken}`, 'content-type': 'application/json' });

    it('refuses a bad value with a 400 naming each field', async () => {
      const res = await fetch(`${server.url}/api/agents`, {
        method: 'POST',
        headers: admin(),
        body: JSON.stringify({ id: 'vm', name: 'VM', telephony: { keyPresses: { interrupt: 'yes' }, voicemail: { action: 'beep', detectionTimeoutS: 2.5, message: 'x'.repeat(1001) } } }),
      });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string; fields?: string[] } };
      expect(error.message).toMatch(/telephony\.keyPresses\.interrupt/);
      expect(error.message).toMatch(/telephony\.voicemail\.action/);
      expect(error.message).toMatch(/telephony\.voicemail\.detectionTimeoutS: must be a whole number of seconds/);
      expect(error.message).toMatch(/telephony\.voicemail\.message/);
    });

    it('stores and shows a valid setting, and a PATCH replaces it', async () => {
      const created = await fetch(`${server.url}/api/agents`, { method: 'POST', headers: admin(), body: JSON.stringify({ id: 'vm2', name: 'VM', telephony: { voicemail: { detect: true, action: 'leave-message' } } }) });
      expect(created.status).toBe(201);
      expect(((await created.json()) as { telephony: unknown }).telephony).toMatchObject({ voicemail: { detect: true, action: 'leave-message', message: '' } });
      const patched = await fetch(`${server.url}/api/agents/vm2`, { method: 'PATCH', headers: admin(), body: JSON.stringify({ telephony: { keyPresses: { enabled: false } } }) });
      expect(patched.status).toBe(200);
      expect(((await patched.json()) as { telephony: unknown }).telephony).toMatchObject({ keyPresses: { enabled: false, interrupt: false }, voicemail: { detect: false } });
    });
  });
});
