import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import YAML from 'yaml';
import { ApiError } from '../../src/cli/api-client';
import { exitCodeFor, registerAdminCommands } from '../../src/cli/commands';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer } from '../helpers/server';

const EXAMPLE = path.join(__dirname, '../../fixtures/config/acme.yaml');

/** Run `switchboard …` in-process against the local data directory (or --url), collecting its output. */
async function run(args: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const lines: string[] = [];
  const program = new Command().exitOverride();
  registerAdminCommands(program, (t) => lines.push(t), env);
  await program.parseAsync(['node', 'switchboard', ...args]);
  return lines.flatMap((l) => l.split('\n'));
}

describe('switchboard admin commands', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-cli-test-'));
    env = { DATA_DIR: dataDir };
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('agents import of the example file is idempotent: the second run reports no changes', async () => {
    const first = await run(['agents', 'import', EXAMPLE], env);
    expect(first).toEqual(['created   destination acme-billing', 'created   destination acme-dispatch', 'created   agent acme-front-desk', 'created   number +19195550100', '4 changes']);
    const second = await run(['agents', 'import', EXAMPLE], env);
    expect(second[second.length - 1]).toBe('no changes');
    expect(second.filter((l) => l.startsWith('unchanged'))).toHaveLength(4);
  });

  it("agents import takes an openai-sip agent's sip.referTarget, and refuses one that is not a SIP URI, naming the field", async () => {
    const file = path.join(dataDir, 'sip.yaml');
    const agent = { id: 'sip-desk', name: 'SIP desk', mode: 'openai-sip', sip: { target: 'sip:proj_1@sip.api.openai.com', referTarget: 'sips:{number}@{contactHost}' } };
    fs.writeFileSync(file, YAML.stringify({ agents: [agent] }));
    expect(await run(['agents', 'import', file], env)).toEqual(['created   agent sip-desk', '1 change']);
    expect((await run(['agents', 'show', 'sip-desk'], env)).join('\n')).toContain('"referTarget": "sips:{number}@{contactHost}"');
    fs.writeFileSync(file, YAML.stringify({ agents: [{ ...agent, sip: { ...agent.sip, referTarget: 'tel:{number}' } }] }));
    const err = await run(['agents', 'import', file], env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as Error).message).toMatch(/agents\.0\.sip\.referTarget: sip\.referTarget must produce a sip: or sips: URI/);
  });

  it('an edited file updates only what changed; --dry-run writes nothing', async () => {
    await run(['agents', 'import', EXAMPLE], env);
    const edited = path.join(dataDir, 'edited.json');
    const doc = YAML.parse(fs.readFileSync(EXAMPLE, 'utf8')) as { agents: { voice: string }[] };
    doc.agents[0]!.voice = 'cedar';
    fs.writeFileSync(edited, JSON.stringify(doc));
    expect(await run(['agents', 'import', edited, '--dry-run'], env)).toContain('updated   agent acme-front-desk');
    expect((await run(['agents', 'show', 'acme-front-desk'], env)).join('\n')).toContain('"voice": "marin"');
    expect(await run(['agents', 'import', edited], env)).toContain('1 change');
    expect((await run(['agents', 'show', 'acme-front-desk'], env)).join('\n')).toContain('"voice": "cedar"');
  });

  it('agents, numbers and calls: list, create, assign, show; refusals carry the API message and exit code 1', async () => {
    expect(await run(['agents', 'create', 'helpdesk', '--name', 'Help desk', '--greeting', 'Hi!'], env)).toEqual(['created agent helpdesk']);
    expect((await run(['agents', 'list'], env))[0]).toMatch(/^ID\s+NAME\s+MODE/);
    expect(await run(['numbers', 'assign', '+19195550123', '--agent', 'helpdesk'], env)).toEqual(['+19195550123 → helpdesk']);
    const err = await run(['numbers', 'assign', '+19195550123', '--agent', 'default'], env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as Error).message).toBe('+19195550123 is already assigned to agent helpdesk');
    expect(exitCodeFor(err)).toBe(1);
    expect((await run(['numbers', 'list'], env)).join('\n')).toContain('+19195550123  helpdesk');
  });

  it('works against a running server with --url and --token, and shows a call readably', async () => {
    const server = await startTestServer();
    try {
      await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-cli-show' });
      await server.post('status', { ...callbackFixture('disconnect'), callId: 'c-cli-show' });
      await server.app.store.transcripts.append({ callId: 'c-cli-show', role: 'agent', text: 'Hello there.', heardMs: 400, truncated: true, position: 0 });
      const remote = ['--url', server.url, '--token', server.app.credentials.credentials.adminToken];
      const list = await run(['calls', 'list', ...remote], {});
      expect(list[1]).toMatch(/^c-cli-show .* inbound\s+\+1919•••0142 .* completed\s+caller-hung-up$/);
      const show = (await run(['calls', 'show', 'c-cli-show', ...remote], {})).join('\n');
      expect(show).toMatch(/^Call c-cli-show\s+inbound\s+\+1919•••0142 → \+1919•••0100/);
      expect(show).not.toContain('5550142');
      expect(show).toContain('State completed (hangup)');
      expect(show).toContain('Outcome: caller-hung-up (the caller hung up)');
      expect(show).toContain('agent  Hello there.  [cut off after 400 ms]');
      expect(show).toMatch(/Timeline:\n.*bandwidth\s+initiate/);
      const wrong = await run(['calls', 'list', '--url', server.url, '--token', 'nope'], {}).catch((e: unknown) => e);
      expect((wrong as Error).message).toBe('wrong admin token');
    } finally {
      await server.close();
    }
    const unreachable = await run(['calls', 'list', '--url', 'http://127.0.0.1:1', '--token', 'x'], {}).catch((e: unknown) => e);
    expect(exitCodeFor(unreachable)).toBe(3);
  });
});
