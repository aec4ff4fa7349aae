import fs from 'node:fs';
import path from 'node:path';
import { BandwidthSpec } from './bandwidth-spec';

/**
 * Every callback body we keep as a fixture — the recorded examples, the replay scenarios, and the
 * shared reference copies — is one Bandwidth could send, by the schemas in the SDK's bandwidth.yml.
 */
const spec = BandwidthSpec.load();
const ROOT = path.join(__dirname, '../..');
const SHARED_CALLBACKS = '/work/shared/reference/bandwidth-fixtures/callbacks';

function jsonFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return jsonFiles(full);
    return e.name.endsWith('.json') ? [full] : [];
  });
}

interface Step {
  kind?: string;
  request?: { body?: unknown };
}

/** One body per plain callback file; every callback step of a scenario whose answer was not a 400. */
function callbackBodies(): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const files = [...jsonFiles(path.join(ROOT, 'fixtures')), ...jsonFiles(SHARED_CALLBACKS)];
  for (const file of files) {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    const name = file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
    if (file.includes(`${path.sep}callbacks${path.sep}`)) {
      out.push([name, json]);
      continue;
    }
    if (!Array.isArray(json)) continue;
    const steps = json as Step[];
    steps.forEach((step, i) => {
      if (step.kind !== 'callback' || !step.request?.body || typeof step.request.body !== 'object') return;
      // Deliberately malformed bodies (answered 400) are fixtures of our refusals, not of Bandwidth.
      const answer = steps[i + 1] as { response?: { status?: number } } | undefined;
      if (answer?.response?.status === 400) return;
      out.push([`${name} step ${i}`, step.request.body]);
    });
  }
  return out;
}

const bodies = callbackBodies();

describe('callback fixtures conform to bandwidth.yml', () => {
  it('finds the fixtures (plain callbacks, scenarios and the shared reference copies)', () => {
    expect(bodies.filter(([n]) => n.startsWith(SHARED_CALLBACKS)).length).toBeGreaterThanOrEqual(17);
    expect(bodies.filter(([n]) => n.startsWith('fixtures/replay')).length).toBeGreaterThan(20);
    expect(bodies.filter(([n]) => n.startsWith('fixtures/bandwidth/scenarios')).length).toBeGreaterThan(5);
  });

  it.each(bodies)('%s', (_name, body) => {
    expect(spec.validateCallback(body)).toEqual([]);
  });
});

describe('the validator itself', () => {
  const initiate = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/bandwidth/callbacks/initiate.json'), 'utf8')) as Record<string, unknown>;
  it('refuses a field the schema does not have', () => {
    expect(spec.validateCallback({ ...initiate, streamSid: 'x' })).toEqual(['streamSid: not a field of this schema']);
  });
  it('refuses a null the spec does not allow, and accepts one it does', () => {
    expect(spec.validateCallback({ ...initiate, from: null })).toEqual(['from: null, but the spec does not mark it nullable']);
    expect(spec.validateCallback({ ...initiate, eventType: 'disconnect', tag: null, cause: 'hangup', privacy: undefined, callerDisplayName: undefined })).toEqual([]);
  });
  it('checks types, enums and formats', () => {
    expect(spec.validateCallback({ ...initiate, direction: 'sideways', startTime: 'yesterday', to: 5 })).toEqual([
      'to: expected string, got number',
      'direction: "sideways" is not one of ["inbound","outbound"]',
      'startTime: "yesterday" is not a date-time',
    ]);
  });
  it('knows the media-stream events from BW §3, since bandwidth.yml has none', () => {
    expect(spec.source('mediaStreamStopped')).toBe('notes');
    expect(spec.source('transferComplete')).toBe('spec');
  });
});
