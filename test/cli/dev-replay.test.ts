import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDev, type TunnelProvider } from '../../src/cli/dev';
import { runReplay } from '../../src/cli/replay';
import { createLogger } from '../../src/log';
import { startTestServer } from '../helpers/server';
import { signIn } from '../console/sign-in';
import { waitFor } from '../../src/clock';

describe('switchboard dev', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const env = (extra: Record<string, string>) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-dev-'));
    dirs.push(dataDir);
    return { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...extra };
  };

  it('with NGROK_AUTHTOKEN opens the tunnel, serves under its URL and prints what to paste', async () => {
    const opened: { port: number; authtoken: string }[] = [];
    let closed = false;
    const tunnel: TunnelProvider = {
      open: async (o) => {
        opened.push(o);
        return { url: 'https://abc123.ngrok-free.app', close: async () => void (closed = true) };
      },
    };
    const printed: string[] = [];
    const dev = await runDev({ env: env({ NGROK_AUTHTOKEN: 'ngrok-token-1234' }), tunnel, print: (t) => printed.push(t), startOptions: { logger: createLogger('silent'), print: () => undefined } });
    try {
      expect(opened).toHaveLength(1);
      expect(opened[0]!.authtoken).toBe('ngrok-token-1234');
      expect(new URL(dev.running.localUrl).port).toBe(String(opened[0]!.port));
      expect(dev.running.publicBaseUrl).toBe('https://abc123.ngrok-free.app');
      const text = printed.join('\n');
      const c = dev.running.credentials.credentials;
      expect(text).toContain('Call-initiated callback URL   https://abc123.ngrok-free.app/bandwidth/voice/initiate');
      expect(text).toContain('Call-status callback URL      https://abc123.ngrok-free.app/bandwidth/voice/status');
      expect(text).toContain(`Callback username             ${c.callbackUsername}`);
      expect(text).toContain(`Callback password             ${c.callbackPassword}`);
      expect(text).not.toContain('ngrok-token-1234');
      const health = await fetch(`${dev.running.localUrl}/bandwidth/voice/initiate`, { method: 'POST' });
      expect(health.status).toBe(401);
    } finally {
      await dev.close();
    }
    expect(closed).toBe(true);
  });

  it('without a token prints how to run ngrok by hand and set PUBLIC_BASE_URL', async () => {
    const tunnel: TunnelProvider = { open: () => Promise.reject(new Error('must not be called')) };
    const printed: string[] = [];
    const dev = await runDev({ env: env({}), tunnel, print: (t) => printed.push(t), startOptions: { logger: createLogger('silent'), print: () => undefined } });
    try {
      const port = new URL(dev.running.localUrl).port;
      expect(printed.join('\n')).toContain(`ngrok http ${port}`);
      expect(printed.join('\n')).toContain('PUBLIC_BASE_URL');
    } finally {
      await dev.close();
    }
  });
});

describe('switchboard dev --offline', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('runs the Realtime stand-in as OpenAI with no key, opens no tunnel, prints the test-call page, and the test call reaches the model', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-dev-'));
    dirs.push(dataDir);
    const tunnel: TunnelProvider = { open: () => Promise.reject(new Error('must not be called')) };
    const printed: string[] = [];
    // No OPENAI_API_KEY, and an NGROK_AUTHTOKEN that must be ignored offline.
    const env = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', NGROK_AUTHTOKEN: 'ngrok-token-1234' };
    const dev = await runDev({ env, offline: true, tunnel, print: (t) => printed.push(t), startOptions: { logger: createLogger('silent'), print: () => undefined } });
    try {
      const text = printed.join('\n');
      expect(dev.realtime).toBeDefined();
      expect(text).toContain(`${dev.running.localUrl}/console/test-call`);
      expect(text).toContain(dev.realtime!.url);
      expect(text).toMatch(/admin token/i);
      expect(dev.running.config.env.OPENAI_BASE_URL).toBe(dev.realtime!.url);
      // The printed address is a console page: without a session it is the sign-in form, which returns to it.
      const unsigned = await fetch(`${dev.running.localUrl}/console/test-call`);
      expect(unsigned.status).toBe(401);
      expect(await unsigned.text()).toContain('name="next" value="/console/test-call"');
      const { cookie } = await signIn(dev.running.localUrl, dev.running.credentials.credentials.adminToken);
      const page = await fetch(`${dev.running.localUrl}/console/test-call`, { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Test call · Switchboard console</title>');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      const res = await fetch(`${dev.running.localUrl}/api/test-calls`, {
        method: 'POST',
        headers: { authorization: `Bearer ${dev.running.credentials.credentials.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agentId: 'default' }),
      });
      expect(res.status).toBe(201);
      // Pre-warmed against the stand-in: no key, no internet.
      await waitFor(() => dev.realtime!.connections === 1, 5000, 'the stand-in session');
    } finally {
      await dev.close();
    }
  });
});

describe('switchboard replay', () => {
  it('replays files with the target credentials, prints a summary and exits 0, or 1 on a mismatch', async () => {
    const server = await startTestServer({});
    try {
      const c = server.app.credentials.credentials;
      const fixtures = path.join(__dirname, '../../fixtures/replay');
      const out: string[] = [];
      const ok = await runReplay(
        [path.join(fixtures, 'stream-rejected.json'), path.join(fixtures, 'outbound-answered.json')],
        { url: server.url, username: c.callbackUsername, password: c.callbackPassword, signingSecret: c.urlSigningSecret, token: c.adminToken, shift: true },
        {},
        { out: (t) => out.push(t), err: (t) => out.push(t) },
      );
      expect(out.join('')).toMatch(/PASS .*stream-rejected\.json: 4\/4 callbacks matched/);
      expect(out.join('')).toMatch(/PASS: 2\/2 scenarios replayed green/);
      expect(ok).toBe(0);
      // Wrong target password: every callback is refused, the exit code says so.
      const bad: string[] = [];
      const code = await runReplay([path.join(fixtures, 'stream-rejected.json')], { url: server.url, username: c.callbackUsername, password: 'nope', signingSecret: c.urlSigningSecret, token: c.adminToken, shift: true }, {}, { out: (t) => bad.push(t), err: (t) => bad.push(t) });
      expect(code).toBe(1);
      expect(bad.join('')).toMatch(/status: expected 200, got 401/);
    } finally {
      await server.close();
    }
  });

  it("with a local server's data directory, re-minted redirect tokens name a context stored in its database", async () => {
    const server = await startTestServer({ TRANSFER_TO: '+19195550177' });
    try {
      const out: string[] = [];
      const code = await runReplay([path.join(__dirname, '../../fixtures/replay/agent-transfer-whisper.json')], { url: server.url, dataDir: server.dataDir, shift: true }, {}, { out: (t) => out.push(t), err: (t) => out.push(t) });
      expect(out.join('')).toMatch(/PASS .*agent-transfer-whisper\.json/);
      expect(code).toBe(0);
    } finally {
      await server.close();
    }
  });
});
