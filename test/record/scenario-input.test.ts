import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startSelfServer } from '../../src/cli/self-server';
import { isSwitchboardError } from '../../src/errors';
import { replayScenario } from '../../src/record/replay';
import { readScenario, type Step } from '../../src/record/scenario';

/**
 * Bad scenario files get an error naming the step and the field, never a stack; a JSON syntax error says
 * where. And a replay sends nothing to a host other than its target, whatever the file's URLs say.
 */
const FIXTURE = path.join(__dirname, '../../fixtures/replay/stream-rejected.json');

describe('scenario files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-scenario-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const errorOf = (file: string): string => {
    try {
      readScenario(file);
    } catch (err) {
      expect(isSwitchboardError(err, 'scenario_invalid')).toBe(true);
      return (err as Error).message;
    }
    throw new Error(`${file} was accepted`);
  };
  const steps = (): Step[] => JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Step[];

  it('an edited step names its seq, kind and field', () => {
    const edited = steps();
    (edited[3]!.request as Record<string, unknown>).url = 42;
    delete (edited[4]!.response as Record<string, unknown>).status;
    (edited[1]!.request as Record<string, unknown>).sealed = { purpose: 'party', data: {} };
    expect(errorOf(write('edited.json', JSON.stringify(edited)))).toBe(
      [
        'edited.json is not a valid scenario:',
        '  step 1 (callback): request.sealed.purpose: expected one of "media"|"redirect"|"transfer"|"answer"|"stream-ended"',
        '  step 3 (callback): request.url: expected a string',
        '  step 4 (callback-response): response.status: expected a number (the HTTP status)',
      ].join('\n'),
    );
  });

  it('a step without a usable seq is named by its index; steps out of order and a late meta are refused', () => {
    const edited = steps();
    delete (edited[2] as Partial<Step>).seq;
    edited[5]!.seq = 1;
    edited.push({ ...edited[0]! });
    edited[edited.length - 1]!.seq = 99;
    expect(errorOf(write('order.json', JSON.stringify(edited))).split('\n').slice(1)).toEqual([
      '  step at index 2 (callback-response): seq: expected a number',
      '  step 1 (callback): seq: 1 does not follow seq 4 (steps are in order, each seq larger than the last)',
      '  step 99 (meta): a meta step can only be the first step',
    ]);
  });

  it('meta.requires is validated, and the old meta.env is refused rather than ignored', () => {
    const edited = steps();
    edited[0]!.meta = { requires: { settings: { 'fallback.transferTo': 'the boss' } } };
    expect(errorOf(write('requires.json', JSON.stringify(edited)))).toMatch(/step 0 \(meta\): meta\.requires\.settings\.fallback\.transferTo: must be an E\.164 number/);
    edited[0]!.meta = { env: { TRANSFER_TO: '+19195550177' } };
    expect(errorOf(write('env.json', JSON.stringify(edited)))).toMatch(/step 0 \(meta\): meta\.env: is no longer read: state the agent settings this scenario needs as meta\.requires/);
  });

  it('a truncated file and a JSON syntax error say where', () => {
    const text = fs.readFileSync(FIXTURE, 'utf8');
    const cut = text.slice(0, 700);
    const line = cut.split('\n').length;
    expect(errorOf(write('cut.json', cut))).toMatch(new RegExp(`^cut\\.json is not JSON: line ${line}, column \\d+: .* \\(the file ends there: is it truncated\\?\\)$`));
    expect(errorOf(write('comma.json', '[\n  {"seq": 0,\n   "kind": "meta",}\n]'))).toBe('comma.json is not JSON: line 3, column 19: Expected double-quoted property name');
  });

  it('a foreign JSON file is not a scenario', () => {
    expect(errorOf(write('package.json', '{"name": "x"}'))).toBe('package.json is not a scenario: expected a JSON array of steps, got an object');
    expect(errorOf(write('list.json', '[1, "two"]')).split('\n').slice(1, 3)).toEqual(['  step at index 0: (the step): expected object, received number', '  step at index 1: (the step): expected object, received string']);
    expect(errorOf(path.join(dir, 'missing.json'))).toMatch(/missing\.json: cannot read: ENOENT/);
  });

  it('recorded URLs that point elsewhere are used for their path only: nothing reaches the other host', async () => {
    const elsewhere: string[] = [];
    const other = http.createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url}`);
      res.end();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherHost = `127.0.0.1:${(other.address() as AddressInfo).port}`;
    const server = await startSelfServer({ agent: 'default', settings: {} });
    try {
      const edited = steps();
      const forms = [`http://${otherHost}`, `https://${otherHost}`, `//${otherHost}`, `http://${otherHost}/`];
      let n = 0;
      for (const s of edited) {
        if (s.kind !== 'callback') continue;
        const request = s.request as { url: string };
        const { pathname, search } = new URL(request.url);
        request.url = `${forms[n++ % forms.length]}${pathname}${search}`;
      }
      const sent: string[] = [];
      const spy: typeof fetch = (input, init) => {
        sent.push(new URL(String(input)).origin);
        return fetch(input, init);
      };
      const result = await replayScenario(edited, { ...server.replayOptions, shiftIds: true, shiftTimes: true, fetchImpl: spy }, 'elsewhere.json');
      expect(result.ok).toBe(true);
      expect(sent).toEqual(result.outcomes.map(() => new URL(server.url).origin));
      expect(elsewhere).toEqual([]);
    } finally {
      await server.close();
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('every shipped scenario, and every hand-written protocol scenario, reads without a problem', () => {
    for (const d of ['../../fixtures/replay', '../../fixtures/bandwidth/scenarios']) {
      const full = path.join(__dirname, d);
      for (const f of fs.readdirSync(full).filter((x) => x.endsWith('.json'))) expect(() => readScenario(path.join(full, f))).not.toThrow();
    }
  });
});
