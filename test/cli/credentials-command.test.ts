import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

// `switchboard credentials` names the addresses this server is configured with, not a default port.
describe('switchboard credentials (child process)', () => {
  jest.setTimeout(30_000);
  const secrets = {
    BANDWIDTH_CALLBACK_USERNAME: 'bw-user',
    BANDWIDTH_CALLBACK_PASSWORD: 'bw-password-0123456789',
    ADMIN_TOKEN: 'sb_admin_token_0123456789abcdef',
    URL_SIGNING_SECRET: 'signing-secret-0123456789abcdef0123456789',
    REPORT_SIGNING_SECRET: 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
  };
  const run = (env: Record<string, string>) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-credentials-'));
    try {
      return execFileSync(process.execPath, [CLI, 'credentials'], { env: { PATH: process.env.PATH, DATA_DIR: dataDir, ...secrets, ...env }, encoding: 'utf8' });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };

  it('prints the callback and console URLs of the configured port', () => {
    const out = run({ PORT: '4123' });
    expect(out).toContain('Call-initiated callback URL  http://localhost:4123/bandwidth/voice/initiate');
    expect(out).toContain('http://localhost:4123/console');
    expect(out).toContain(`Admin API token              ${secrets.ADMIN_TOKEN}`);
  });

  it('prints the public base URL when one is set', () => {
    const out = run({ PORT: '4123', PUBLIC_BASE_URL: 'https://voice.example.com' });
    expect(out).toContain('Call-status callback URL     https://voice.example.com/bandwidth/voice/status');
    expect(out).toContain('https://voice.example.com/console');
    expect(out).not.toContain('localhost');
  });
});
