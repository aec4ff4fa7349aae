import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { AGENT_AUDIO_DEADLINE_MS } from '../src/constants';
import { resolveCredentials } from '../src/credentials';
import { isSwitchboardError } from '../src/errors';

const ROOT = path.join(__dirname, '..');

describe('loadConfig', () => {
  it('starts with zero config', () => {
    const config = loadConfig({}, ROOT);
    expect(config.port).toBe(3000);
    expect(config.publicBaseUrl).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.databasePath).toBe(path.resolve('./data/switchboard.db'));
    expect(config.templatesDir).toBe(path.join(ROOT, 'bxml-templates'));
    expect(config.env.BANDWIDTH_API_BASE_URL).toBe('https://voice.bandwidth.com/api/v2');
    expect(config.env.BANDWIDTH_OAUTH_URL).toBe('https://api.bandwidth.com/api/v1/oauth2/token');
    expect(config.env.OPENAI_BASE_URL).toBe('https://api.openai.com/v1');
  });

  it('refuses a DATABASE_URL whose password holds a bare %, naming the variable and the fix, never the password', () => {
    for (const [url, part] of [
      ['postgresql://bob:S3cret%PW@127.0.0.1:1/db', 'password'],
      ['postgres://b%ob:S3cret%PW@db.example.com/db', 'user name'],
      ['postgres://bob:pw@db.example.com/sw%tch', 'database name'],
    ] as const) {
      let error: unknown;
      try {
        loadConfig({ DATABASE_URL: url }, ROOT);
      } catch (err) {
        error = err;
      }
      expect(isSwitchboardError(error, 'config_invalid')).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain(`DATABASE_URL: ${part} is not percent-encoded`);
      expect(message).toContain(`percent-encode the ${part}`);
      expect(message).not.toContain('S3cret');
    }
    // Percent-encoded, the same password is accepted.
    expect(loadConfig({ DATABASE_URL: `postgresql://bob:${encodeURIComponent('S3cret%PW')}@127.0.0.1:1/db` }, ROOT).databaseUrl).toBeDefined();
  });

  it('reports every problem at once, naming each variable', () => {
    let message = '';
    try {
      loadConfig({ PORT: 'eighty', PUBLIC_BASE_URL: 'ftp://x', LOG_LEVEL: 'loud', TRANSFER_TO: '555-1234', OPENAI_BASE_URL: 'nope' }, ROOT);
    } catch (err) {
      expect(isSwitchboardError(err, 'config_invalid')).toBe(true);
      message = (err as Error).message;
    }
    for (const name of ['PORT', 'PUBLIC_BASE_URL', 'LOG_LEVEL', 'TRANSFER_TO', 'OPENAI_BASE_URL']) expect(message).toContain(`- ${name}:`);
  });

  it('metrics and capacity: defaults, and a bad value names its variable', () => {
    const env = loadConfig({}, ROOT).env;
    expect([env.MAX_CONCURRENT_CALLS, env.METRICS_TOKEN, env.METRICS_PORT, env.METRICS_HOST, env.AGENT_WHEN_BUSY]).toEqual([200, undefined, undefined, '127.0.0.1', 'fallback']);
    const set = loadConfig({ MAX_CONCURRENT_CALLS: '50', METRICS_TOKEN: 'a-scrape-token-of-16+', METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5', AGENT_WHEN_BUSY: 'reject' }, ROOT);
    expect([set.env.MAX_CONCURRENT_CALLS, set.env.METRICS_PORT, set.env.METRICS_HOST, set.envAgent.agent.fallback.whenBusy]).toEqual([50, 9464, '10.0.0.5', 'reject']);
    let message = '';
    try {
      loadConfig({ MAX_CONCURRENT_CALLS: '0', METRICS_TOKEN: 'short', METRICS_PORT: '70000', AGENT_WHEN_BUSY: 'queue' }, ROOT);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('- MAX_CONCURRENT_CALLS: MAX_CONCURRENT_CALLS must be at least 1');
    expect(message).toContain('- METRICS_TOKEN: METRICS_TOKEN must be at least 16 characters');
    expect(message).toContain('- METRICS_PORT: METRICS_PORT must be a port number (0-65535)');
    expect(message).toContain('- AGENT_WHEN_BUSY: AGENT_WHEN_BUSY must be fallback or reject');
    expect(message).not.toContain('short'); // the token is never echoed
  });

  it('takes the carrier playout delay in whole milliseconds, 0 to 1000, default 60', () => {
    expect(loadConfig({}, ROOT).env.CARRIER_PLAYOUT_DELAY_MS).toBe(60);
    expect(loadConfig({ CARRIER_PLAYOUT_DELAY_MS: '0' }, ROOT).env.CARRIER_PLAYOUT_DELAY_MS).toBe(0);
    expect(loadConfig({ CARRIER_PLAYOUT_DELAY_MS: '120' }, ROOT).env.CARRIER_PLAYOUT_DELAY_MS).toBe(120);
    expect(() => loadConfig({ CARRIER_PLAYOUT_DELAY_MS: '-5' }, ROOT)).toThrow(/CARRIER_PLAYOUT_DELAY_MS: CARRIER_PLAYOUT_DELAY_MS cannot be negative/);
    expect(() => loadConfig({ CARRIER_PLAYOUT_DELAY_MS: '2500' }, ROOT)).toThrow(/CARRIER_PLAYOUT_DELAY_MS: .*at most 1000 ms/);
    expect(() => loadConfig({ CARRIER_PLAYOUT_DELAY_MS: 'sixty' }, ROOT)).toThrow(/CARRIER_PLAYOUT_DELAY_MS: .*number of milliseconds/);
    expect(() => loadConfig({ CARRIER_PLAYOUT_DELAY_MS: '12.5' }, ROOT)).toThrow(/CARRIER_PLAYOUT_DELAY_MS: .*whole number/);
  });

  it('checks variables that only make sense together', () => {
    expect(() => loadConfig({ AGENT_MODE: 'openai-sip' }, ROOT)).toThrow(/AGENT_SIP_TARGET: required when AGENT_MODE is openai-sip/);
    expect(() => loadConfig({ BANDWIDTH_CALLBACK_USERNAME: 'u' }, ROOT)).toThrow(/set both or neither/);
    expect(() => loadConfig({ BANDWIDTH_CLIENT_ID: 'id' }, ROOT)).toThrow(/BANDWIDTH_CLIENT_ID \/ BANDWIDTH_CLIENT_SECRET/);
  });

  it('allows ws:// for a local Realtime stand-in and trims trailing slashes', () => {
    const config = loadConfig({ OPENAI_BASE_URL: 'ws://127.0.0.1:9999/v1/', PUBLIC_BASE_URL: 'https://sb.example.com/' }, ROOT);
    expect(config.env.OPENAI_BASE_URL).toBe('ws://127.0.0.1:9999/v1');
    expect(config.publicBaseUrl).toBe('https://sb.example.com');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: '', TRANSFER_TO: '  ' }, ROOT).publicBaseUrl).toBeUndefined();
  });
});

describe('resolveCredentials', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-creds-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = (extra: NodeJS.ProcessEnv = {}) => loadConfig({ DATA_DIR: dir, ...extra }, ROOT).env;

  it('generates every credential on first start, stores them 0600, and reuses them later', () => {
    const first = resolveCredentials(env(), path.join(dir, 'data'));
    expect(first.generated.sort()).toEqual(['adminToken', 'callbackPassword', 'callbackUsername', 'reportSigningSecret', 'urlSigningSecret']);
    expect(first.credentials.callbackPassword.length).toBeGreaterThanOrEqual(32);
    expect(first.credentials.adminToken).toMatch(/^sb_/);
    expect(first.credentials.reportSigningSecret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const stat = fs.statSync(first.file);
    expect(stat.mode & 0o777).toBe(0o600);
    const second = resolveCredentials(env(), path.join(dir, 'data'));
    expect(second.generated).toEqual([]);
    expect(second.credentials).toEqual(first.credentials);
    expect(Object.values(second.sources)).toEqual(['file', 'file', 'file', 'file', 'file']);
  });

  it('environment values win over generated and stored ones', () => {
    resolveCredentials(env(), dir);
    const resolved = resolveCredentials(env({ BANDWIDTH_CALLBACK_USERNAME: 'bw', BANDWIDTH_CALLBACK_PASSWORD: 'pw', ADMIN_TOKEN: 'admin' }), dir);
    expect(resolved.credentials).toMatchObject({ callbackUsername: 'bw', callbackPassword: 'pw', adminToken: 'admin' });
    expect(resolved.sources).toMatchObject({ callbackUsername: 'env', callbackPassword: 'env', adminToken: 'env', urlSigningSecret: 'file' });
  });

  it('refuses a corrupt credentials file instead of silently replacing the secrets', () => {
    fs.writeFileSync(path.join(dir, 'credentials.json'), '{oops');
    expect(() => resolveCredentials(env(), dir)).toThrow(/credentials\.json is not valid JSON/);
  });
});

describe('empty values', () => {
  it('mean "not set" for every variable, including PORT', () => {
    const config = loadConfig({ PORT: '', HOST: ' ', LOG_LEVEL: '', AGENT_MODE: '' }, ROOT);
    expect(config.port).toBe(3000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.logLevel).toBe('info');
  });
});

describe('AGENT_AUDIO_DEADLINE_MS', () => {
  it('defaults to the constant, takes milliseconds, and names itself when out of range', () => {
    expect(loadConfig({}, ROOT).env.AGENT_AUDIO_DEADLINE_MS).toBe(AGENT_AUDIO_DEADLINE_MS);
    expect(loadConfig({ AGENT_AUDIO_DEADLINE_MS: '3500' }, ROOT).env.AGENT_AUDIO_DEADLINE_MS).toBe(3500);
    expect(() => loadConfig({ AGENT_AUDIO_DEADLINE_MS: '10' }, ROOT)).toThrow(/- AGENT_AUDIO_DEADLINE_MS:/);
    expect(() => loadConfig({ AGENT_AUDIO_DEADLINE_MS: 'soon' }, ROOT)).toThrow(/- AGENT_AUDIO_DEADLINE_MS:/);
  });
});

describe('credentials without generating', () => {
  it('refuses to invent credentials when only reading them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-creds-'));
    expect(() => resolveCredentials(loadConfig({}, ROOT).env, dir, { generate: false })).toThrow(/start Switchboard once/);
    expect(fs.existsSync(path.join(dir, 'credentials.json'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('.env.example', () => {
  it('documents every variable of the schema, each with a comment above it', () => {
    const lines = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8').split('\n');
    const { envSchema } = jest.requireActual<typeof import('../src/config')>('../src/config');
    for (const name of Object.keys(envSchema.shape)) {
      const at = lines.findIndex((l) => new RegExp(`^(# )?${name}=`).test(l));
      expect({ name, documented: at >= 0 }).toEqual({ name, documented: true });
      // A comment in the variable's paragraph (a pair like CLIENT_ID/SECRET may share one).
      let i = at - 1;
      while (i >= 0 && lines[i]!.trim() !== '' && !/^# (?![A-Z_]+=)/.test(lines[i]!)) i--;
      expect({ name, commented: i >= 0 && /^# /.test(lines[i]!) }).toEqual({ name, commented: true });
    }
  });

  it('parses with the schema as shipped', () => {
    const values = Object.fromEntries(
      fs
        .readFileSync(path.join(ROOT, '.env.example'), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(() => loadConfig(values, ROOT)).not.toThrow();
  });
});

describe('AGENT_TOOLS_FILE', () => {
  it('gives the default agent its HTTP tools, validated', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tools-'));
    const file = path.join(dir, 'tools.json');
    fs.writeFileSync(file, JSON.stringify([{ name: 'lookup_order', description: 'Find an order', url: 'https://orders.example.com/lookup', headers: { Authorization: 'Bearer ${TOOL_SECRET_ORDERS_TOKEN}' } }]));
    const { agent } = loadConfig({ AGENT_TOOLS_FILE: file }, ROOT).envAgent;
    expect(agent.httpTools).toEqual([expect.objectContaining({ name: 'lookup_order', method: 'POST', timeoutMs: 5000 })]);
    fs.writeFileSync(file, JSON.stringify([{ name: 'hang_up', description: 'x', url: 'ftp://nope' }]));
    expect(() => loadConfig({ AGENT_TOOLS_FILE: file }, ROOT)).toThrow(/\[0\.name\]: is the name of a built-in tool[\s\S]*\[0\.url\]: must be an http/);
    // One report: a bad tools file is listed with every other problem, even when the schema fails too.
    expect(() => loadConfig({ AGENT_TOOLS_FILE: file, PORT: 'eighty', AGENT_SIP_TARGET: 'bogus' }, ROOT)).toThrow(
      /PORT:[\s\S]*AGENT_SIP_TARGET: must be a SIP URI[\s\S]*AGENT_TOOLS_FILE .*tools\.json: \[0\.name\]/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
