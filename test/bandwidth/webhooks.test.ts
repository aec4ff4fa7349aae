import net from 'node:net';
import { MEDIA_USERNAME } from '../../src/constants';
import type { RedirectAction, TransferContext } from '../../src/bandwidth/callback-contexts';
import { UrlSigner } from '../../src/security/signing';
import { bxml, text, tokenOf } from '../helpers/bxml';
import { callbackFixture } from '../helpers/fixtures';
import { basicAuth, PUBLIC_BASE, startTestServer, type TestServer } from '../helpers/server';

const CALL_ID = 'c-6f2a91d4-8b3c17e0-4a5d-4c1e-9f7b-2d6e8a0c4b13';
const B_LEG_ID = 'c-6f2a91d4-d05b7e29-71c3-4e8a-a2f4-9b1c3d5e7f60';
const HUMAN = '+19195550177';

const ROUTES = [
  'initiate',
  'answer',
  'status',
  'redirect',
  'stream-events',
  'stream-ended',
  'transfer-answer',
  'transfer-complete',
  'transfer-disconnect',
];

describe('Bandwidth voice webhooks', () => {
  let server: TestServer;
  let signer: UrlSigner;

  beforeAll(async () => {
    server = await startTestServer({ TRANSFER_TO: HUMAN, AGENT_FALLBACK_MESSAGE: 'Sorry, one moment & thanks.' });
    signer = new UrlSigner(server.app.credentials.credentials.urlSigningSecret);
  });
  afterAll(() => server.close());

  const creds = () => server.app.credentials.credentials;
  /** Tokens as Switchboard mints them: ids sealed, the context stored (DESIGN §4.6). */
  const redirectToken = async (callId: string, action: RedirectAction) => tokenOf(await server.app.contexts.redirectUrl(callId, 'default', action));
  const transferToken = async (ctx: TransferContext) => {
    const { urls, saved } = server.app.contexts.transferUrls(ctx);
    await saved;
    return tokenOf(urls.transferCompleteUrl);
  };

  async function xmlOf(res: Response): Promise<string> {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    return res.text();
  }

  /** Every verb with a callback URL carries the callback credentials (BW §1.8). */
  function expectCredentialsOnCallbackVerbs(doc: ReturnType<typeof bxml>): void {
    for (const name of ['StartStream', 'Redirect', 'Transfer', 'PhoneNumber', 'SipUri']) {
      for (const e of doc.all(name)) {
        if (Object.keys(e.attributes).some((a) => /Url$/.test(a))) {
          expect(e.attributes.username).toBe(creds().callbackUsername);
          expect(e.attributes.password).toBe(creds().callbackPassword);
        }
      }
    }
  }

  describe('authentication and validation', () => {
    it.each(ROUTES)('%s: 401 without credentials, with WWW-Authenticate, and nothing stored', async (route) => {
      const callId = `c-unauthenticated-${route}`;
      const res = await server.post(route, { ...callbackFixture('initiate'), callId }, { auth: null });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await server.app.store.calls.get(callId)).toBeUndefined();
      expect(await server.app.store.events.list(callId)).toEqual([]);
    });

    it.each(ROUTES)('%s: 401 with wrong credentials', async (route) => {
      const res = await server.post(route, callbackFixture('initiate'), { auth: basicAuth(creds().callbackUsername, 'wrong') });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/wrong callback credentials/);
    });

    it.each(ROUTES)('%s: malformed JSON is a 400 that says so', async (route) => {
      const res = await server.post(route, '{"eventType": "initiate",');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/malformed JSON/);
    });

    it.each(ROUTES)('%s: JSON nested thousands deep is a 400 that says so, and nothing is stored', async (route) => {
      const callId = `c-deep-${route}`;
      const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      const res = await server.post(route, JSON.stringify({ ...callbackFixture('initiate'), callId, extra: 0 }).replace('"extra":0', `"extra":${deep}`));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/nested deeper than 16 levels/);
      expect(await server.app.store.calls.get(callId)).toBeUndefined();
    });

    it('brackets inside JSON strings are text, not nesting', async () => {
      const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-brackets', tag: '[{'.repeat(200) });
      expect(res.status).toBe(200);
    });

    it.each(ROUTES)('%s: a missing callId is a 400 naming callId', async (route) => {
      const { callId: _drop, ...body } = callbackFixture('initiate');
      const res = await server.post(route, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/callId is required/);
    });

    it('initiate names every missing field at once', async () => {
      const res = await server.post('initiate', { eventType: 'initiate', callId: 'c-missing-fields' });
      expect(res.status).toBe(400);
      const message = ((await res.json()) as { error: { message: string } }).error.message;
      expect(message).toMatch(/from is required/);
      expect(message).toMatch(/to is required/);
      expect(await server.app.store.calls.get('c-missing-fields')).toBeUndefined();
    });

    it('a wrongly typed field is a 400 naming the field', async () => {
      const res = await server.post('status', { ...callbackFixture('disconnect'), callId: 'c-typed', privacy: 'maybe' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/privacy/);
    });

    it('rejects other methods with 405', async () => {
      const res = await fetch(`${server.url}/bandwidth/voice/initiate`, { method: 'PUT', headers: { authorization: server.auth } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST, GET');
    });

    it('a body over 64 KB is a 413 that names the limit, and nothing is stored', async () => {
      const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-too-large', padding: 'x'.repeat(70_000) });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/larger than 65536 bytes/);
      expect(await server.app.store.calls.get('c-too-large')).toBeUndefined();
    });

    it('a caller that hangs up halfway through its body leaves nothing behind', async () => {
      const url = new URL(server.url);
      const body = JSON.stringify({ ...callbackFixture('initiate'), callId: 'c-half-body' });
      const socket = net.connect(Number(url.port), url.hostname);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`POST /bandwidth/voice/initiate HTTP/1.1\r\nHost: x\r\nAuthorization: ${server.auth}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 40)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await server.app.store.calls.get('c-half-body')).toBeUndefined();
      expect((await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-after-half-body' })).status).toBe(200);
    });

    it('an empty body is a 400 naming the missing fields', async () => {
      const res = await server.post('initiate', '');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/callId is required/);
    });

    it('an unknown route under /bandwidth/voice needs the credentials too, then is a 404', async () => {
      expect((await server.post('no-such-route', callbackFixture('initiate'), { auth: null })).status).toBe(401);
      const res = await server.post('no-such-route', callbackFixture('initiate'));
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe('no route for POST /bandwidth/voice/no-such-route');
    });

    it('an unexpected failure is a 500 that tells nothing of the internals', async () => {
      const spy = jest.spyOn(server.app.store.calls, 'recordMany').mockRejectedValueOnce(new Error('SQLITE_FULL at /var/lib/secret.db'));
      try {
        const res = await server.post('initiate', { ...callbackFixture('initiate'), callId: 'c-store-fails' });
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ error: { code: 'internal', message: 'internal error; see the server log' } });
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('initiate (stream mode, default agent)', () => {
    let doc: ReturnType<typeof bxml>;

    beforeAll(async () => {
      doc = bxml(await xmlOf(await server.post('initiate', callbackFixture('initiate'))));
    });

    it('starts a bidirectional stream to our media socket, holds it, then redirects to stream-ended', () => {
      expect(doc.root.name).toBe('Response');
      expect(doc.verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
      const start = doc.one('StartStream');
      expect(start.attributes).toMatchObject({ name: 'ai-agent', mode: 'bidirectional', tracks: 'inbound', streamEventMethod: 'POST' });
      expect(start.attributes.destination).toMatch(/^wss:\/\/switchboard\.test\/media\/[A-Za-z0-9_-]+$/);
      expect(start.attributes.streamEventUrl).toBe(`${PUBLIC_BASE}/bandwidth/voice/stream-events`);
      expect(doc.one('StopStream').attributes).toEqual({ name: 'ai-agent', wait: 'true' });
      expect(doc.one('Redirect').attributes.redirectUrl).toMatch(/^https:\/\/switchboard\.test\/bandwidth\/voice\/stream-ended\?t=/);
      expectCredentialsOnCallbackVerbs(doc);
    });

    it('binds the media socket to this call: token names the call, password is per call', () => {
      const start = doc.one('StartStream');
      const token = start.attributes.destination!.split('/media/')[1]!;
      expect(signer.verify(token, 'media')).toEqual({ callId: CALL_ID, agentId: 'default' });
      expect(start.attributes.destinationUsername).toBe(MEDIA_USERNAME);
      expect(start.attributes.destinationPassword).toBe(signer.mediaPassword(CALL_ID));
      expect(start.attributes.destinationPassword).not.toBe(signer.mediaPassword('c-another-call'));
      const params = Object.fromEntries(doc.all('StreamParam').map((p) => [p.attributes.name, p.attributes.value]));
      expect(params).toEqual({ callId: CALL_ID, agentId: 'default' });
    });

    it('stores the call and the raw callback before answering', async () => {
      const call = await server.app.store.calls.get(CALL_ID);
      expect(call).toMatchObject({ state: 'streaming', agentId: 'default', mode: 'stream', direction: 'inbound', from: '+19195550142', to: '+19195550100', accountId: '9901234' });
      const events = await server.app.store.events.list(CALL_ID);
      const initiate = events.find((e) => e.type === 'initiate');
      expect(initiate).toBeDefined();
      expect((initiate!.data as { callback: Record<string, unknown> }).callback).toMatchObject({ privacy: false, callerDisplayName: '', callUrl: callbackFixture('initiate').callUrl });
    });
  });

  it('initiate keeps diversion, STIR/SHAKEN and uui in the stored event', async () => {
    const body: Record<string, unknown> = { ...callbackFixture('initiate-diversion-stirshaken-uui'), callId: 'c-diversion' };
    await xmlOf(await server.post('initiate', body));
    const [event] = await server.app.store.events.list('c-diversion');
    const stored = (event!.data as { callback: Record<string, unknown> }).callback;
    expect(stored.diversion).toEqual(body.diversion);
    expect(stored.stirShaken).toEqual(body.stirShaken);
    expect(stored.uui).toBe(body.uui);
  });

  it('accepts GET callbacks with query fields (BW §1.1)', async () => {
    const q = new URLSearchParams({ eventType: 'initiate', callId: 'c-get-1', from: '+19195550142', to: '+19195550100', direction: 'inbound', privacy: 'true' });
    const res = await fetch(`${server.url}/bandwidth/voice/initiate?${q}`, { headers: { authorization: server.auth } });
    expect(bxml(await xmlOf(res)).verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
    const [event] = await server.app.store.events.list('c-get-1');
    expect((event!.data as { callback: { privacy: boolean } }).callback.privacy).toBe(true);
  });

  it('answer (outbound) answers with the agent BXML, routing by our number in `from`', async () => {
    const doc = bxml(await xmlOf(await server.post('answer', callbackFixture('answer'))));
    expect(doc.verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
    const call = await server.app.store.calls.get(callbackFixture('answer').callId as string);
    expect(call).toMatchObject({ state: 'streaming', direction: 'outbound', tag: 'campaign=renewal-reminder' });
  });

  it('answer follows the agent named in a signed answer URL, and ignores a forged one', async () => {
    await server.app.store.agents.upsert({ ...(await server.app.store.agents.get('default'))!.agent, id: 'outbound-sales', name: 'Sales' }, 'api');
    const good = signer.sign('answer', { agentId: 'outbound-sales' }, 60_000);
    await xmlOf(await server.post('answer', { ...callbackFixture('answer'), callId: 'c-out-signed' }, { query: `t=${good}` }));
    expect((await server.app.store.calls.get('c-out-signed'))?.agentId).toBe('outbound-sales');
    const forged = `${good.slice(0, -4)}AAAA`;
    await xmlOf(await server.post('answer', { ...callbackFixture('answer'), callId: 'c-out-forged' }, { query: `t=${forged}` }));
    expect((await server.app.store.calls.get('c-out-forged'))?.agentId).toBe('default');
  });

  describe('stream lifecycle', () => {
    it.each(['mediaStreamStarted', 'mediaStreamStopped', 'mediaStreamRejected-connection-error', 'mediaStreamStopped-connection-error', 'mediaStreamRejected-duplicate'])(
      '%s → 204 and stored',
      async (name) => {
        const body: Record<string, unknown> = { ...callbackFixture(name), callId: `c-${name}` };
        const res = await server.post('stream-events', body);
        expect(res.status).toBe(204);
        expect(await res.text()).toBe('');
        const events = await server.app.store.events.list(`c-${name}`);
        expect(events.map((e) => e.type)).toEqual([body.eventType]);
        expect((events[0]!.data as { callback: { mediaStream: { id: string } } }).callback.mediaStream.id).toBe((body.mediaStream as { id: string }).id);
      },
    );

    it('a rejected stream records why, and stream-ended then sends the caller to the fallback', async () => {
      const callId = 'c-rejected-stream';
      const initiateDoc = bxml(await xmlOf(await server.post('initiate', { ...callbackFixture('initiate'), callId })));
      expect((await server.post('stream-events', { ...callbackFixture('mediaStreamRejected-connection-error'), callId })).status).toBe(204);
      const streamEnded = tokenOf(initiateDoc.one('Redirect').attributes.redirectUrl);
      const doc = bxml(await xmlOf(await server.post('stream-ended', { ...callbackFixture('redirect'), callId }, { query: `t=${streamEnded}` })));
      expect(doc.verbs).toEqual(['SpeakSentence', 'Transfer']);
      expect(text(doc.one('SpeakSentence'))).toBe('Sorry, one moment & thanks.');
      expect(text(doc.one('PhoneNumber'))).toBe(HUMAN);
      expectCredentialsOnCallbackVerbs(doc);
      const call = await server.app.store.calls.get(callId);
      expect(call?.state).toBe('fallback');
      expect(call?.errorMessage).toMatch(/media stream rejected: connection-error/);
    });
  });

  describe('transfer flow', () => {
    const destination = { id: 'default-human', name: 'human', kind: 'phone' as const, value: HUMAN, warm: true, callTimeoutS: 25 };
    let transferDoc: ReturnType<typeof bxml>;

    beforeAll(async () => {
      await xmlOf(await server.post('initiate', callbackFixture('initiate')));
      const t = await redirectToken(CALL_ID, { type: 'transfer', destination, reason: 'billing <question>', summary: 'Wants a refund.' });
      transferDoc = bxml(await xmlOf(await server.post('redirect', callbackFixture('redirect'), { query: `t=${t}` })));
    });

    it('redirect with a signed transfer action stops the stream and transfers with signed callbacks', async () => {
      expect(transferDoc.verbs).toEqual(['StopStream', 'Transfer']);
      expect(transferDoc.one('StopStream').attributes).toEqual({ name: 'ai-agent' });
      const transfer = transferDoc.one('Transfer');
      expect(transfer.attributes).toMatchObject({ transferCallerId: '+19195550142', callTimeout: '25', transferCompleteMethod: 'POST' });
      expect(transfer.attributes.transferCompleteUrl).toMatch(/\/bandwidth\/voice\/transfer-complete\?t=/);
      const phone = transferDoc.one('PhoneNumber');
      expect(text(phone)).toBe(HUMAN);
      expect(phone.attributes.transferAnswerUrl).toMatch(/\/bandwidth\/voice\/transfer-answer\?t=/);
      expect(phone.attributes.transferDisconnectUrl).toMatch(/\/bandwidth\/voice\/transfer-disconnect\?t=/);
      expectCredentialsOnCallbackVerbs(transferDoc);
      expect((await server.app.store.calls.get(CALL_ID))?.state).toBe('transferring');
    });

    it('the transfer URLs do not reveal the destination or summary', () => {
      const url = transferDoc.one('Transfer').attributes.transferCompleteUrl!;
      expect(decodeURIComponent(url)).not.toContain('19195550177');
      expect(Buffer.from(tokenOf(url), 'base64url').toString('latin1')).not.toContain('refund');
    });

    it('transferAnswer on a warm transfer whispers caller, reason and summary to the human only', async () => {
      const t = tokenOf(transferDoc.one('PhoneNumber').attributes.transferAnswerUrl);
      const doc = bxml(await xmlOf(await server.post('transfer-answer', callbackFixture('transferAnswer'), { query: `t=${t}` })));
      expect(doc.verbs).toEqual(['SpeakSentence']);
      const spoken = text(doc.one('SpeakSentence'));
      expect(spoken).toContain('+19195550142');
      expect(spoken).toContain('billing <question>');
      expect(spoken).toContain('Wants a refund.');
      expect(doc.one('say-as').attributes['interpret-as']).toBe('telephone');
      const leg = await server.app.store.calls.get(B_LEG_ID);
      expect(leg).toMatchObject({ leg: 'transfer', parentCallId: CALL_ID, state: 'transferred', to: HUMAN });
      expect((await server.app.store.calls.get(CALL_ID))?.state).toBe('transferred');
    });

    it('transferDisconnect closes the human leg record (204)', async () => {
      const t = tokenOf(transferDoc.one('PhoneNumber').attributes.transferDisconnectUrl);
      const res = await server.post('transfer-disconnect', callbackFixture('transferDisconnect'), { query: `t=${t}` });
      expect(res.status).toBe(204);
      const leg = await server.app.store.calls.get(B_LEG_ID);
      expect(leg).toMatchObject({ state: 'completed', cause: 'hangup', answeredAt: '2026-11-20T15:06:52.071Z', endedAt: '2026-11-20T15:11:30.455Z' });
    });

    it('transferComplete after a bridged call hangs up the caller leg', async () => {
      const t = tokenOf(transferDoc.one('Transfer').attributes.transferCompleteUrl);
      const doc = bxml(await xmlOf(await server.post('transfer-complete', callbackFixture('transferComplete'), { query: `t=${t}` })));
      expect(doc.verbs).toEqual(['Hangup']);
      const events = await server.app.store.events.list(CALL_ID);
      const complete = events.find((e) => e.type === 'transferComplete');
      expect((complete!.data as { switchboard: { transfer: string } }).switchboard.transfer).toBe('completed');
    });

    it('status disconnect ends the call with its cause (204)', async () => {
      const res = await server.post('status', callbackFixture('disconnect'));
      expect(res.status).toBe(204);
      expect(await server.app.store.calls.get(CALL_ID)).toMatchObject({ state: 'completed', cause: 'hangup', endedAt: '2026-11-20T15:05:58.874Z' });
    });

    it('a late callback does not reopen a completed call', async () => {
      await server.post('stream-events', callbackFixture('mediaStreamStopped'));
      expect((await server.app.store.calls.get(CALL_ID))?.state).toBe('completed');
    });
  });

  describe('failed transfers', () => {
    const callId = 'c-busy-transfer';
    const destination = { id: 'default-human', name: 'human', kind: 'phone' as const, value: HUMAN, warm: false, callTimeoutS: 30 };

    it('a busy human brings the caller back to the stream agent on a new stream', async () => {
      await xmlOf(await server.post('initiate', { ...callbackFixture('initiate'), callId }));
      const t = await transferToken({ callId, agentId: 'default', destination, reason: 'sales', origin: 'agent' });
      const doc = bxml(await xmlOf(await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId }, { query: `t=${t}` })));
      expect(doc.verbs).toEqual(['StartGather', 'StartStream', 'StopStream', 'Redirect']);
      expect((await server.app.store.calls.get(callId))?.state).toBe('streaming');
      const complete = (await server.app.store.events.list(callId)).find((e) => e.type === 'transferComplete');
      expect((complete!.data as { switchboard: { reason: string; transfer: string } }).switchboard).toMatchObject({
        transfer: 'failed',
        reason: expect.stringMatching(/transfer to human failed \(busy: Callee is busy\)/),
      });
    });

    it('a failed fallback transfer apologises and hangs up instead of looping', async () => {
      const t = await transferToken({ callId, agentId: 'default', destination, origin: 'fallback' });
      const doc = bxml(await xmlOf(await server.post('transfer-complete', { ...callbackFixture('transferComplete-busy'), callId }, { query: `t=${t}` })));
      expect(doc.verbs).toEqual(['SpeakSentence', 'Hangup']);
    });

    it('transferAnswer for a cold transfer answers an empty document (no whisper)', async () => {
      // A call of its own: the one above has ended, and a transferAnswer for an ended call hangs up.
      const coldCallId = 'c-cold-transfer';
      await xmlOf(await server.post('initiate', { ...callbackFixture('initiate'), callId: coldCallId }));
      const t = await transferToken({ callId: coldCallId, agentId: 'default', destination, origin: 'agent' });
      const doc = bxml(await xmlOf(await server.post('transfer-answer', { ...callbackFixture('transferAnswer'), callId: 'c-cold-leg', parentCallId: coldCallId }, { query: `t=${t}` })));
      expect(doc.root.name).toBe('Response');
      expect(doc.verbs).toEqual([]);
    });
  });

  describe('a forged or expired transfer URL is refused', () => {
    it.each([
      ['missing', ''],
      ['tampered', 'AAAA'],
      ['expired', 'expired'],
      ['for another call', 'other-call'],
    ])('redirect with a %s token: 403, logged, and transferred nowhere', async (_label, kind) => {
      const callId = `c-forged-${kind || 'missing'}`;
      await xmlOf(await server.post('initiate', { ...callbackFixture('initiate'), callId }));
      const attacker = { id: 'x', name: 'attacker', kind: 'phone' as const, value: '+19005550199', warm: false, callTimeoutS: 30 };
      let query: string | undefined;
      if (kind === 'AAAA') query = `t=${signer.sign('redirect', { callId, agentId: 'default', action: { type: 'transfer', destination: attacker } }, 60_000).slice(0, -4)}AAAA`;
      if (kind === 'expired') query = `t=${signer.sign('redirect', { callId, agentId: 'default', action: { type: 'transfer', destination: attacker } }, -1)}`;
      if (kind === 'other-call') query = `t=${await redirectToken('c-someone-else', { type: 'transfer', destination: attacker })}`;
      const res = await server.post('redirect', { ...callbackFixture('redirect'), callId }, query ? { query } : {});
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('19005550199');
      const events = await server.app.store.events.list(callId);
      expect(events.map((e) => e.type)).toContain('redirect.refused');
      expect((await server.app.store.calls.get(callId))?.state).toBe('streaming');
    });

    it("Bandwidth's fallback for a refused redirect lands on the agent's fallback (/stream-ended, no token)", async () => {
      const callId = 'c-refused-fallback';
      await xmlOf(await server.post('initiate', { ...callbackFixture('initiate'), callId }));
      const doc = bxml(await xmlOf(await server.post('stream-ended', { ...callbackFixture('redirect'), callId })));
      expect(doc.verbs).toEqual(['SpeakSentence', 'Transfer']);
      expect(text(doc.one('PhoneNumber'))).toBe(HUMAN); // the agent's configured fallback
    });
  });

  it('an unknown eventType is stored and answered safely', async () => {
    const res = await server.post('status', { ...callbackFixture('disconnect'), callId: 'c-unknown-event', eventType: 'somethingNew' });
    expect(res.status).toBe(204);
    const [event] = await server.app.store.events.list('c-unknown-event');
    expect(event?.type).toBe('somethingNew');
    expect((event!.data as { switchboard: { unknownEventType: boolean } }).switchboard.unknownEventType).toBe(true);
    expect((await server.app.store.calls.get('c-unknown-event'))?.state).not.toBe('completed');
  });

  it('health and readiness', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { store: true, templates: true, 'accepting-calls': true } });
  });
});
