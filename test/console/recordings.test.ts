import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import { bodyOf, signIn } from './sign-in';

/** A call's recording, streamed for the console's <audio> element (docs/console.md, "Call detail"). */
describe('GET /api/calls/:id/recording', () => {
  let server: TestServer;
  let bearer: Record<string, string>;
  let wav: Buffer;

  beforeEach(async () => {
    server = await startTestServer();
    bearer = { authorization: `Bearer ${server.app.credentials.credentials.adminToken}` };
    const dir = path.join(server.dataDir, 'recordings');
    fs.mkdirSync(dir, { recursive: true });
    wav = Buffer.alloc(8044);
    for (let i = 0; i < wav.length; i++) wav[i] = i % 251;
    fs.writeFileSync(path.join(dir, 'c-rec.wav'), wav);
    const done = { state: 'completed' as const, outcome: { outcome: 'caller-hung-up' as const, reason: 'test' } };
    await server.app.store.calls.record({ id: 'c-rec', leg: 'caller', ...done, recordingPath: path.join(dir, 'c-rec.wav') });
    await server.app.store.calls.record({ id: 'c-none', leg: 'caller', ...done });
    fs.writeFileSync(path.join(server.dataDir, 'outside.wav'), wav);
    await server.app.store.calls.record({ id: 'c-outside', leg: 'caller', ...done, recordingPath: path.join(dir, '..', 'outside.wav') });
    fs.symlinkSync(path.join(server.dataDir, 'outside.wav'), path.join(dir, 'link.wav'));
    await server.app.store.calls.record({ id: 'c-link', leg: 'caller', ...done, recordingPath: path.join(dir, 'link.wav') });
    await server.app.store.calls.record({ id: 'c-gone', leg: 'caller', ...done, recordingPath: path.join(dir, 'gone.wav') });
  });
  afterEach(async () => {
    await server.close();
  });

  const get = (id: string, headers: Record<string, string> = bearer) => fetch(`${server.url}/api/calls/${id}/recording`, { headers });

  it('streams the whole WAV, saying it takes ranges', async () => {
    const res = await get('c-rec');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(wav.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(wav)).toBe(true);
  });

  it('answers a range with 206 and Content-Range, and an unsatisfiable one with 416', async () => {
    const part = await get('c-rec', { ...bearer, range: 'bytes=44-1043' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 44-1043/${wav.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(wav.subarray(44, 1044))).toBe(true);
    const tail = await get('c-rec', { ...bearer, range: 'bytes=-100' });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(wav.subarray(wav.length - 100))).toBe(true);
    const past = await get('c-rec', { ...bearer, range: `bytes=${wav.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${wav.length}`);
    expect((await bodyOf(past)).error.message).toBe(`range bytes=${wav.length}- is not satisfiable: the recording has ${wav.length} bytes`);
  });

  it('serves a console session too, and nobody without one', async () => {
    const { cookie } = await signIn(server.url, server.app.credentials.credentials.adminToken);
    expect((await get('c-rec', { cookie, range: 'bytes=0-9' })).status).toBe(206);
    expect((await get('c-rec', {})).status).toBe(401);
    expect((await get('c-rec', { cookie: 'sb_session=forged' })).status).toBe(401);
  });

  it('says why there is nothing to play, and never serves a file outside the recordings directory', async () => {
    const message = async (id: string) => {
      const res = await get(id);
      expect(res.status).toBe(404);
      return (await bodyOf(res)).error.message;
    };
    expect(await message('c-unknown')).toBe('call c-unknown does not exist');
    expect(await message('c-none')).toBe('call c-none has no recording');
    expect(await message('c-gone')).toBe('the recording of call c-gone is missing from the recordings directory');
    expect(await message('c-outside')).toBe('the recording of call c-outside is not in the recordings directory');
    expect(await message('c-link')).toBe('the recording of call c-link is not in the recordings directory');
  });
});
