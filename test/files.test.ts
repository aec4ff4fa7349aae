import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileStemFor } from '../src/files';
import { CallRecorder } from '../src/bridge/recorder';
import { callbackFixture } from './helpers/fixtures';
import { startTestServer } from './helpers/server';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('fileStemFor', () => {
  it('keeps distinct ids apart, including the ones a replace-by-underscore merged', () => {
    const ids = ['c-a/b', 'c-a.b', 'c-a_b', 'c-a%2Fb', 'c-a%2F b', '..', '.', '', '%', 'é', '\u00e9x', 'e\u0301', '\ud800', '\ufffd', 'a'.repeat(400), `${'a'.repeat(400)}b`];
    const stems = ids.map(fileStemFor);
    expect(new Set(stems).size).toBe(ids.length);
    for (const s of stems) {
      expect(s).toMatch(/^[A-Za-z0-9_%~-]+$/);
      expect(Buffer.byteLength(s)).toBeLessThanOrEqual(200);
    }
    expect(fileStemFor('c-0a1b2c3d-4e5f')).toBe('c-0a1b2c3d-4e5f'); // Bandwidth's own ids stay readable
    expect(fileStemFor('c-a/b')).toBe('c-a%2Fb');
  });

  it('is injective over random ids (seeded)', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = ['a', 'b', '.', '/', '_', '-', '%', '2', 'F', 'u', '~', 'é', '\ud83d', '\ude00', ' '];
    const seen = new Map<string, string>();
    for (let i = 0; i < 5000; i++) {
      let id = '';
      const n = Math.floor(rand() * 8);
      for (let j = 0; j < n; j++) id += alphabet[Math.floor(rand() * alphabet.length)];
      const stem = fileStemFor(id);
      const other = seen.get(stem);
      if (other !== undefined) expect(other).toBe(id);
      seen.set(stem, id);
    }
  });
});

describe('files under DATA_DIR are private whatever the umask', () => {
  let oldUmask: number;
  beforeAll(() => {
    oldUmask = process.umask(0);
  });
  afterAll(() => {
    process.umask(oldUmask);
  });

  it('DATA_DIR 0700; database, WAL, SHM and credentials 0600, also when DATA_DIR existed open', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-open-'));
    fs.chmodSync(dir, 0o755);
    const server = await startTestServer({ DATA_DIR: dir });
    try {
      await server.post('initiate', callbackFixture('initiate')); // a write, so the WAL and SHM exist
      expect(mode(dir)).toBe(0o700);
      for (const f of ['switchboard.db', 'switchboard.db-wal', 'switchboard.db-shm', 'credentials.json']) {
        expect({ f, mode: mode(path.join(dir, f)) }).toEqual({ f, mode: 0o600 });
      }
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recordings and recorded scenarios are 0600 in 0700 directories, and colliding call ids keep both files', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-files-'));
    try {
      const recordings = path.join(dir, 'recordings');
      const a = new CallRecorder(path.join(recordings, `${fileStemFor('c-a/b')}.wav`));
      const b = new CallRecorder(path.join(recordings, `${fileStemFor('c-a.b')}.wav`));
      a.addCaller(new Uint8Array(160).fill(0x10));
      b.addCaller(new Uint8Array(320).fill(0x20));
      await Promise.all([a.close(), b.close()]);
      expect(mode(recordings)).toBe(0o700);
      expect(fs.readdirSync(recordings).sort()).toEqual(['c-a%2Eb.wav', 'c-a%2Fb.wav']);
      for (const f of fs.readdirSync(recordings)) expect(mode(path.join(recordings, f))).toBe(0o600);
      expect(fs.statSync(path.join(recordings, 'c-a%2Fb.wav')).size).not.toBe(fs.statSync(path.join(recordings, 'c-a%2Eb.wav')).size);

      const scenarios = path.join(dir, 'scenarios');
      const server = await startTestServer({ RECORD_DIR: scenarios });
      try {
        for (const callId of ['c-a/b', 'c-a.b']) {
          expect((await server.post('initiate', { ...callbackFixture('initiate'), callId })).status).toBe(200);
          expect((await server.post('status', { ...callbackFixture('disconnect'), callId })).status).toBeLessThan(300);
        }
      } finally {
        await server.close();
      }
      expect(mode(scenarios)).toBe(0o700);
      // Each call: its callback scenario and its whole-call recording directory (index and audio).
      expect(fs.readdirSync(scenarios).sort()).toEqual(['c-a%2Eb.call', 'c-a%2Eb.json', 'c-a%2Fb.call', 'c-a%2Fb.json']);
      for (const f of fs.readdirSync(scenarios)) {
        const p = path.join(scenarios, f);
        if (!f.endsWith('.call')) expect(mode(p)).toBe(0o600);
        else {
          expect(mode(p)).toBe(0o700);
          for (const g of fs.readdirSync(p)) expect(mode(path.join(p, g))).toBe(0o600);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
