import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TokenPurpose } from '../../src/security/signing';
import { UrlSigner } from '../../src/security/signing';
import { BandwidthSpec } from '../conformance/bandwidth-spec';
import { tokenOf } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * BW §1.5 "Nulls": a `null` in a callback field means "not set". For every route Switchboard serves and
 * every field the SDK's bandwidth.yml marks nullable for that route's event type (derived from the yml
 * here, so the list cannot drift), a body with the field set to null is answered exactly as the same
 * body without the field.
 */
const spec = BandwidthSpec.load();
const HUMAN = '+19195550177';
const PURPOSES: TokenPurpose[] = ['media', 'redirect', 'transfer', 'answer', 'stream-ended'];

/**
 * Fields our notes (BW §1.4–§1.5) list as sent-or-null that the yml does not mark nullable: a null in
 * them must not fail a callback either, where the route does not need them.
 */
const NOTES_NULLABLE = ['tag', 'parentCallId', 'uui', 'machineDetectionResult', 'errorMessage', 'errorId', 'callerDisplayName', 'diversion', 'stirShaken', 'enqueuedTime', 'answerTime'];

interface RouteCase {
  route: string;
  fixture: string;
  /** The route refuses a body without these. */
  needs?: string[];
  token?: (server: TestServer, signer: UrlSigner, callId: string) => Promise<string>;
}

const warmHuman = { id: 'default-human', name: 'human', kind: 'phone' as const, value: HUMAN, warm: true, callTimeoutS: 25 };
/** Tokens as Switchboard mints them: ids sealed, the context stored (DESIGN §4.6). */
const transferToken = async (server: TestServer, _signer: UrlSigner, callId: string) => {
  const { urls, saved } = server.app.contexts.transferUrls({ callId, agentId: 'default', destination: warmHuman, reason: 'billing', summary: 'Wants a refund.', origin: 'agent' });
  await saved;
  return tokenOf(urls.transferCompleteUrl);
};

/** Every route of webhooks.ts, with a body its event type really has (the recorded fixtures). */
const ROUTES: RouteCase[] = [
  { route: 'initiate', fixture: 'initiate-diversion-stirshaken-uui', needs: ['from', 'to'] },
  { route: 'answer', fixture: 'answer', token: async (_server, s) => s.sign('answer', { agentId: 'default' }, 60_000) },
  { route: 'status', fixture: 'disconnect-callback-error' },
  { route: 'redirect', fixture: 'redirect', token: async (server, _s, callId) => tokenOf(await server.app.contexts.redirectUrl(callId, 'default', { type: 'transfer', destination: warmHuman, reason: 'billing' })) },
  { route: 'stream-events', fixture: 'mediaStreamStarted' },
  { route: 'stream-events', fixture: 'mediaStreamStopped-connection-error' },
  { route: 'stream-events', fixture: 'mediaStreamRejected-duplicate' },
  { route: 'stream-ended', fixture: 'redirect', token: async (_server, s, callId) => s.sign('stream-ended', { callId, agentId: 'default' }, 60_000) },
  // A B-leg callback must name its A-leg (the token's call) in parentCallId (DESIGN §4.6): it is needed.
  { route: 'transfer-answer', fixture: 'transferAnswer', token: transferToken, needs: ['parentCallId'] },
  { route: 'transfer-complete', fixture: 'transferComplete-busy', token: transferToken },
  { route: 'transfer-disconnect', fixture: 'transferDisconnect', token: transferToken, needs: ['parentCallId'] },
  { route: 'dtmf', fixture: 'dtmf', needs: ['digit'] },
  // machineDetectionResult is nullable (bandwidth.yml): a null verdict is an undecided one, never a 400.
  { route: 'machine-detection', fixture: 'machineDetectionComplete' },
];

function casesFor(rc: RouteCase): Array<[string, string, string, RouteCase]> {
  const eventType = String(callbackFixture(rc.fixture).eventType);
  const fromSpec = spec.nullableFields(eventType).map((f) => [rc.route, eventType, f, rc] as [string, string, string, RouteCase]);
  const fromNotes = NOTES_NULLABLE.filter((f) => !spec.nullableFields(eventType).includes(f) && !rc.needs?.includes(f)).map(
    (f) => [rc.route, eventType, `${f} (notes)`, rc] as [string, string, string, RouteCase],
  );
  return [...fromSpec, ...fromNotes];
}

describe('a null callback field is an absent one', () => {
  let server: TestServer;
  let signer: UrlSigner;
  let n = 0;

  beforeAll(async () => {
    server = await startTestServer({ TRANSFER_TO: HUMAN });
    signer = new UrlSigner(server.app.credentials.credentials.urlSigningSecret);
  });
  afterAll(() => server.close());

  /** The answer with every per-call secret replaced by what it stands for, so two calls compare. */
  function normalise(body: string, callId: string): string {
    const unsealed = body.replace(/([?&]t=|\/media\/)([A-Za-z0-9_-]{24,})/g, (_m, prefix: string, token: string) => {
      for (const purpose of PURPOSES) {
        try {
          const data = signer.verify(token, purpose) as Record<string, unknown>;
          // A stored context's id is random per answer; what it names is the same.
          return `${prefix}${purpose}:${JSON.stringify('ctx' in data ? { ...data, ctx: '{ctx}' } : data)}`;
        } catch {
          // try the next purpose
        }
      }
      return `${prefix}<unverifiable token>`;
    });
    return unsealed.split(signer.mediaPassword(callId)).join('{mediaPassword}').split(callId).join('{callId}');
  }

  async function answerFor(rc: RouteCase, body: Record<string, unknown>): Promise<{ status: number; contentType: string | null; body: string }> {
    const callId = `${String(body.callId)}-${++n}`;
    // The B-leg events name the A-leg in parentCallId; the token is bound to whichever leg the flow checks.
    const boundTo = rc.needs?.includes('parentCallId') ? String(callbackFixture(rc.fixture).parentCallId) : callId;
    const query = rc.token ? `t=${await rc.token(server, signer, boundTo)}` : undefined;
    const res = await server.post(rc.route, { ...body, callId }, { query });
    return { status: res.status, contentType: res.headers.get('content-type'), body: normalise(await res.text(), callId) };
  }

  it('the spec gives nullable fields to the event types Switchboard serves (so this test is not vacuous)', () => {
    expect(spec.nullableFields('answer')).toEqual(expect.arrayContaining(['enqueuedTime', 'answerTime', 'tag', 'machineDetectionResult']));
    expect(spec.nullableFields('disconnect')).toEqual(expect.arrayContaining(['errorMessage', 'errorId', 'tag']));
    expect(spec.nullableFields('transferComplete')).toEqual(expect.arrayContaining(['errorMessage', 'errorId', 'tag', 'answerTime']));
  });

  describe.each(ROUTES.map((rc) => [`${rc.route} (${rc.fixture})`, rc] as const))('%s', (_name, rc) => {
    it.each(casesFor(rc))('%s %s: %s = null is answered as if absent', async (_route, _eventType, label, c) => {
      const field = label.replace(' (notes)', '');
      const { [field]: _drop, ...without } = callbackFixture(c.fixture);
      const absent = await answerFor(c, without);
      const asNull = await answerFor(c, { ...without, [field]: null });
      expect([200, 204]).toContain(absent.status);
      expect(asNull).toEqual(absent);
    });
  });

  it('a null needed field is refused, saying it was null rather than missing', async () => {
    const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-null-from', from: null });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('invalid initiate callback: from: expected a non-empty string, got null');
    const res2 = await server.post('status', { ...callbackFixture('disconnect'), callId: null });
    expect(((await res2.json()) as { error: { message: string } }).error.message).toBe('invalid status callback: callId: expected a string, got null');
  });

  it('a present field of the wrong type is refused with what was expected and what came', async () => {
    const res = await server.post('redirect', { ...callbackFixture('redirect'), callId: 'c-tag-number', tag: 5 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('invalid redirect callback: tag: expected a string, got number');
    const res2 = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-diversion-string', diversion: 'yes' });
    expect(((await res2.json()) as { error: { message: string } }).error.message).toBe('invalid initiate callback: diversion: expected an object, got string');
    const res3 = await server.post('status', { ...callbackFixture('disconnect'), callId: '' });
    expect(((await res3.json()) as { error: { message: string } }).error.message).toBe('invalid status callback: callId: expected a non-empty string, got an empty string');
  });

  it('unknown fields are tolerated and kept; nulls reach the handlers as absent', async () => {
    const res = await server.post('status', { ...callbackFixture('disconnect'), callId: 'c-unknown-field', somethingNew: { nested: true }, tag: null, errorId: null });
    expect(res.status).toBe(204);
    const [event] = await server.app.store.events.list('c-unknown-field');
    const stored = (event!.data as { callback: Record<string, unknown> }).callback;
    expect(stored.somethingNew).toEqual({ nested: true });
    expect('tag' in stored).toBe(false);
    expect('errorId' in stored).toBe(false);
    expect((await server.app.store.calls.get('c-unknown-field'))?.tag).toBeNull();
  });
});

describe('a malformed callback', () => {
  let server: TestServer;
  let recordDir: string;

  beforeAll(async () => {
    recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-nulls-record-'));
    server = await startTestServer({}, { recordDir });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(recordDir, { recursive: true, force: true });
  });

  it('is a 400 naming the field, and its raw body is still recorded as it came', async () => {
    const body = { ...callbackFixture('transferComplete'), callId: 'c-malformed-raw', cause: ['busy'], tag: null };
    const res = await server.post('transfer-complete', body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('invalid transfer-complete callback: cause: expected a string, got array');
    const steps = JSON.parse(fs.readFileSync(server.app.recorder!.fileFor('c-malformed-raw'), 'utf8')) as Array<{ kind: string; request?: { body?: unknown }; response?: { status?: number } }>;
    const at = steps.findIndex((s) => s.kind === 'callback');
    expect(steps[at]!.request!.body).toMatchObject({ cause: ['busy'], tag: null });
    expect(steps[at + 1]!.response!.status).toBe(400);
    // Kept raw in the call's timeline too, where the operator looks; the call's state is not touched.
    const events = await server.app.store.events.list('c-malformed-raw');
    expect(events.map((e) => e.type)).toEqual(['callback.invalid']);
    expect(events[0]!.data).toMatchObject({ route: 'transfer-complete', problems: ['cause: expected a string, got array'], raw: { cause: ['busy'], tag: null } });
    expect(await server.app.store.calls.get('c-malformed-raw')).toBeUndefined();
  });

  it('a non-object body is a 400 that says so', async () => {
    const res = await server.post('initiate', 'null');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('invalid initiate callback: body must be a JSON object');
  });
});
