import fs from 'node:fs';
import path from 'node:path';
import { startSelfServer, type SelfServer } from '../../src/cli/self-server';
import { targetAdminApi } from '../../src/cli/replay';
import { replayScenario } from '../../src/record/replay';
import { parseScenario, readScenario, scenarioRequires, type Scenario } from '../../src/record/scenario';
import { requirementsKey, SETTING_NAMES, scenarioRequiresSchema, type ScenarioRequires, type SettingName, type SettingValue } from '../../src/record/scenario-settings';
import { checkTargetSettings } from '../../src/record/settings-check';

/**
 * meta.requires is exact: for every shipped scenario and every setting a scenario can require, a server that
 * differs from the requirements in that one setting fails the settings check if and only if it fails the
 * replay — a listed setting changes an answer, an unlisted one changes none, and the check says so before
 * anything is sent.
 */
const DIR = path.join(__dirname, '../../fixtures/replay');
const scenarios = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, steps: readScenario(path.join(DIR, file)) }))
  .filter((s) => scenarioRequires(s.steps));

/** A value of `name` other than `current` that a server can have. */
function otherValue(name: SettingName, current: SettingValue | undefined): SettingValue {
  switch (name) {
    case 'name':
      return 'Another agent';
    case 'mode':
      return current === 'sip-forward' ? 'stream' : 'sip-forward';
    case 'sip.target':
      return 'sip:other@ai.example.com';
    case 'sip.verb':
      return current === 'forward' ? 'transfer' : 'forward';
    case 'streamHold':
      return current === 'pause' ? 'stop-stream-wait' : 'pause';
    case 'speakVoice':
      return current === 'kate' ? 'julie' : 'kate';
    case 'holdMessage':
      return current ? null : 'Please hold while I connect you.';
    case 'fallback.message':
      return 'Another apology.';
    case 'fallback.transferTo':
      return current === '+19195550199' ? null : '+19195550199';
    case 'sip.callTimeoutS':
      return current === 45 ? 30 : 45;
    case 'sip.from':
      return current ? null : '+19195550111';
    case 'sip.diversionTreatment':
      return current ? null : 'propagate';
    case 'sip.diversionReason':
      return current ? null : 'unavailable';
  }
}

function perturbed(requires: ScenarioRequires, name: SettingName): ScenarioRequires {
  const settings = { ...requires.settings, [name]: otherValue(name, requires.settings[name]) };
  // A SIP mode, and any SIP detail, needs a SIP target (config.ts, agent.ts): give it one when the scenario
  // does not care which.
  const sipDetail = SETTING_NAMES.some((n) => n.startsWith('sip.') && n !== 'sip.target' && settings[n] !== undefined && settings[n] !== null);
  if (((settings.mode !== 'stream' && settings.mode !== undefined) || sipDetail) && !settings['sip.target']) settings['sip.target'] = 'sip:other@ai.example.com';
  return { ...requires, settings };
}

async function checkAndReplay(steps: Scenario, requires: ScenarioRequires, server: SelfServer): Promise<{ problems: string[]; green: boolean }> {
  const problems = await checkTargetSettings(steps, requires, targetAdminApi(server.url, server.app.credentials.credentials.adminToken));
  const result = await replayScenario(steps, { ...server.replayOptions, shiftIds: true, shiftTimes: true });
  return { problems, green: result.ok };
}

describe('meta.requires', () => {
  // Scenarios with equal requirements share their servers: one per setting changed.
  const groups = new Map<string, typeof scenarios>();
  for (const s of scenarios) {
    const key = requirementsKey(scenarioRequires(s.steps)!);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  it.each([...groups.values()].map((g) => [g.map((s) => s.file).join(', '), g] as const))('%s: the check fails exactly when the replay does, setting by setting', async (_files, group) => {
    const requires = scenarioRequires(group[0]!.steps)!;
    const verdicts: { file: string; name: string; listed: boolean; check: boolean; replay: boolean }[] = [];
    for (const name of SETTING_NAMES) {
      const server = await startSelfServer(perturbed(requires, name));
      try {
        for (const { file, steps } of group) {
          const { problems, green } = await checkAndReplay(steps, requires, server);
          verdicts.push({ file, name, listed: name in requires.settings, check: problems.length === 0, replay: green });
        }
      } finally {
        await server.close();
      }
    }
    // Listed: changing it breaks the replay and the check sees it. Unlisted: neither notices.
    expect(verdicts).toEqual(verdicts.map((v) => ({ ...v, check: !v.listed, replay: !v.listed })));
  });

  it('against a zero-config server, each unmet setting is named with the variable that sets it', async () => {
    const server = await startSelfServer({ agent: 'default', settings: {} });
    try {
      const busy = readScenario(path.join(DIR, 'fallback-transfer-busy.json'));
      const api = targetAdminApi(server.url, server.app.credentials.credentials.adminToken);
      expect(await checkTargetSettings(busy, scenarioRequires(busy)!, api)).toEqual([
        'agent "default": fallback.transferTo is not set; the scenario needs "+19195550177"',
        'to fix: start the target with TRANSFER_TO=+19195550177 (agent "default" is built from the AGENT_* variables at every start)',
      ]);
      const sip = readScenario(path.join(DIR, 'sip-forward-answered.json'));
      expect(await checkTargetSettings(sip, scenarioRequires(sip)!, api)).toEqual([
        'agent "default": mode is "stream"; the scenario needs "sip-forward"',
        'agent "default": sip.target is not set; the scenario needs "sip:agent@ai.example.com"',
        'to fix: start the target with AGENT_MODE=sip-forward, AGENT_SIP_TARGET=sip:agent@ai.example.com (agent "default" is built from the AGENT_* variables at every start)',
      ]);
    } finally {
      await server.close();
    }
  });

  it('a setting that must be unset, an agent managed through the API, and a number routed elsewhere', async () => {
    const rejected = readScenario(path.join(DIR, 'stream-rejected.json'));
    const server = await startSelfServer({ agent: 'default', settings: { 'fallback.transferTo': '+19195550177' } });
    try {
      const { adminToken } = server.app.credentials.credentials;
      const api = targetAdminApi(server.url, adminToken);
      expect(await checkTargetSettings(rejected, scenarioRequires(rejected)!, api)).toEqual([
        'agent "default": fallback.transferTo is "+19195550177"; the scenario needs it unset',
        'to fix: start the target without TRANSFER_TO (agent "default" is built from the AGENT_* variables at every start)',
      ]);

      // The same scenario answered by an agent "sales" the API manages: the fix is a PATCH, and it works.
      const forSales = withRequires(rejected, { ...scenarioRequires(rejected)!, agent: 'sales' });
      const admin = (method: string, p: string, body?: unknown) =>
        fetch(`${server.url}/api${p}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      expect((await admin('POST', '/agents', { id: 'sales', name: 'Sales', fallback: { message: 'Sorry.', transferTo: '+19195550123' } })).status).toBe(201);
      const problems = await checkTargetSettings(forSales, scenarioRequires(forSales)!, api);
      expect(problems[0]).toBe('a call to +19195550100 is answered by agent "default" (the default agent, DEFAULT_AGENT_ID); the scenario needs agent "sales": start the target with DEFAULT_AGENT_ID=sales, or assign the number to "sales" (POST /api/numbers)');
      expect((await admin('POST', '/numbers', { number: '+19195550100', agentId: 'sales' })).status).toBe(201);
      const settings = await checkTargetSettings(forSales, scenarioRequires(forSales)!, api);
      expect(settings.slice(0, 2)).toEqual([
        'agent "sales": fallback.message is "Sorry."; the scenario needs "Sorry, our assistant is unavailable right now. Please call again later."',
        'agent "sales": fallback.transferTo is "+19195550123"; the scenario needs it unset',
      ]);
      const fix = /^to fix: PATCH \/api\/agents\/sales with (\{.*\}) \(/.exec(settings[settings.length - 1]!);
      expect(fix).not.toBeNull();
      expect((await admin('PATCH', '/agents/sales', JSON.parse(fix![1]!))).status).toBe(200);
      expect(await checkTargetSettings(forSales, scenarioRequires(forSales)!, api)).toEqual([]);

      // And a number assigned to another agent than the one the scenario needs.
      expect(await checkTargetSettings(rejected, scenarioRequires(rejected)!, api)).toEqual([
        'a call to +19195550100 is answered by agent "sales" (the number is assigned to it); the scenario needs agent "default": unassign the number (DELETE /api/numbers/%2B19195550100) or assign it to "default"',
      ]);
    } finally {
      await server.close();
    }
  });

  it('its own server answers with the required agent when that is not the default one', async () => {
    const rejected = readScenario(path.join(DIR, 'stream-rejected.json'));
    const forSales = withRequires(rejected, { ...scenarioRequires(rejected)!, agent: 'sales' });
    const server = await startSelfServer(scenarioRequires(forSales)!);
    try {
      const api = targetAdminApi(server.url, server.app.credentials.credentials.adminToken);
      expect(await checkTargetSettings(forSales, scenarioRequires(forSales)!, api)).toEqual([]);
      expect(await api.get('/routing?to=%2B19195550100')).toEqual({ to: '+19195550100', agentId: 'sales', via: 'default' });
      // The agent id is part of the answer (the stream's agentId parameter): the recording made with "default" differs.
      const result = await replayScenario(forSales, { ...server.replayOptions, shiftIds: true, shiftTimes: true });
      expect(result.outcomes.flatMap((o) => o.problems)).toContain('<Response>/<StartStream>/<StreamParam>: attribute value differs; expected "default", got "sales"');
    } finally {
      await server.close();
    }
  });

  it('is validated: unknown settings, values no server could have, and null where a setting cannot be unset', () => {
    const problems = (requires: unknown) => {
      const parsed = scenarioRequiresSchema.safeParse(requires);
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems({ settings: { 'fallback.transferTo': '+19195550177', mode: 'stream' } })).toEqual([]);
    expect(problems({ settings: { TRANSFER_TO: '+19195550177' } })[0]).toMatch(/^settings: unknown setting TRANSFER_TO: the settings are name, mode, sip\.target/);
    expect(problems({ settings: { mode: 'telepathy' } })[0]).toMatch(/^settings\.mode: .*\(as AGENT_MODE\)$/);
    expect(problems({ settings: { 'fallback.transferTo': '555' } })[0]).toMatch(/^settings\.fallback\.transferTo: must be an E\.164 number/);
    expect(problems({ settings: { mode: null } })[0]).toMatch(/^settings\.mode: expected a string \(the value of AGENT_MODE\)/);
    expect(problems({ settings: { mode: 'sip-forward' } })).toEqual(['settings.sip.target: mode sip-forward needs sip.target (AGENT_SIP_TARGET): the call is handed to it']);
    expect(problems({ settings: { 'sip.callTimeoutS': 45 } })).toEqual(['settings.sip.target: sip.callTimeoutS need sip.target: an agent has SIP settings only with a SIP target']);
    expect(problems({ settings: { 'sip.target': 'sip:a@b.example', 'sip.callTimeoutS': 'soon' } })[0]).toMatch(/^settings\.sip\.callTimeoutS: .*expected number, received string/);
    expect(problems({ agent: 'no spaces please' })[0]).toMatch(/^agent: must be 1-64 letters/);
    expect(problems({ env: {} })[0]).toMatch(/^: unknown field env: the fields are agent, config, settings/);
  });
});

function withRequires(steps: Scenario, requires: ScenarioRequires): Scenario {
  const [meta, ...rest] = steps;
  return parseScenario([{ ...meta, meta: { ...meta!.meta, requires } }, ...rest], 'edited');
}
