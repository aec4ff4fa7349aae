import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';

const ROOT = path.join(__dirname, '..', '..');

describe('the default agent’s MCP servers and per-call context from the environment', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-mcp-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('AGENT_MCP_SERVERS_FILE, AGENT_TIMEZONE, AGENT_CONTEXT_*: validated into the agent', () => {
    const file = path.join(dir, 'mcp.json');
    fs.writeFileSync(file, JSON.stringify([{ label: 'crm', url: 'https://mcp.crm.example/mcp', headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } }]));
    const { agent } = loadConfig(
      {
        AGENT_MCP_SERVERS_FILE: file,
        AGENT_GREETING: 'Hello {{customerName}}!',
        AGENT_TIMEZONE: 'America/Denver',
        AGENT_CONTEXT_VARIABLES: '{"customerName":"there"}',
        AGENT_CONTEXT_HOOK_URL: 'https://crm.example.com/ctx',
        AGENT_CONTEXT_HOOK_TIMEOUT_MS: '250',
        AGENT_CONTEXT_HOOK_HEADERS: '{"Authorization":"Bearer ${TOOL_SECRET_CRM}"}',
      },
      ROOT,
    ).envAgent;
    expect(agent.mcpServers).toEqual([{ label: 'crm', url: 'https://mcp.crm.example/mcp', requireApproval: 'never', autoApprove: [], headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } }]);
    expect(agent.context).toEqual({ timezone: 'America/Denver', variables: { customerName: 'there' }, hook: { url: 'https://crm.example.com/ctx', timeoutMs: 250, headers: { Authorization: 'Bearer ${TOOL_SECRET_CRM}' } } });
    // Unset: no servers, UTC, no variables, no hook.
    const plain = loadConfig({}, ROOT).envAgent.agent;
    expect([plain.mcpServers, plain.context]).toEqual([[], { timezone: 'UTC', variables: {} }]);
  });

  it('every problem is reported at start-up, naming the variable', () => {
    const file = path.join(dir, 'mcp.json');
    fs.writeFileSync(file, JSON.stringify([{ label: 'crm', url: 'ftp://nope' }]));
    expect(() => loadConfig({ AGENT_MCP_SERVERS_FILE: file }, ROOT)).toThrow(/AGENT_MCP_SERVERS_FILE .*mcp\.json: \[0\.url\]: must be an http/);
    expect(() => loadConfig({ AGENT_MCP_SERVERS_FILE: file, PORT: 'eighty' }, ROOT)).toThrow(/PORT:[\s\S]*AGENT_MCP_SERVERS_FILE .*mcp\.json: \[0\.url\]/);
    expect(() => loadConfig({ AGENT_CONTEXT_VARIABLES: '{nope' }, ROOT)).toThrow(/AGENT_CONTEXT_VARIABLES: not JSON/);
    expect(() => loadConfig({ AGENT_GREETING: 'Hi {{who}}' }, ROOT)).toThrow(/default agent from AGENT_\* variables: greeting: unknown variable \{\{who\}\}/);
    expect(() => loadConfig({ AGENT_TIMEZONE: 'Nowhere/Land' }, ROOT)).toThrow(/context\.timezone: must be an IANA time zone/);
    expect(() => loadConfig({ AGENT_CONTEXT_HOOK_URL: 'https://crm.example.com/ctx', AGENT_CONTEXT_HOOK_TIMEOUT_MS: '5000' }, ROOT)).toThrow(/context\.hook\.timeoutMs/);
  });
});
