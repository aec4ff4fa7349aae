import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildWav, readWav, repairWavHeader, WavWriter } from '../src/bridge/wav';
import { ManualClock, waitFor } from '../src/clock';
import { WAV_HEADER_REFRESH_MS } from '../src/constants';
import { SimulatedCall } from '../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../src/sim/drive';
import { startRealtimeStandIn } from '../src/sim/realtime-server';
import { SqliteStore } from '../src/store/sqlite';
import { outcomeAtEnd } from '../src/outcomes';
import { startTestServer } from './helpers/server';

const UNKNOWN = 0xffffffff;

describe('recordings survive a crash', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-crash-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('repairWavHeader gives a never-closed recording the exact sizes of its whole frames', () => {
    const file = path.join(dir, 'cut.wav');
    const wav = buildWav({ encoding: 'pcm16', sampleRate: 8000, channels: 2, data: new Uint8Array(4 * 800).fill(7) });
    wav.writeUInt32LE(UNKNOWN, 4);
    wav.writeUInt32LE(UNKNOWN, 40);
    fs.writeFileSync(file, Buffer.concat([wav, Buffer.from([1, 2, 3])])); // a torn last frame
    expect(repairWavHeader(file)).toEqual({ repaired: true, dataBytes: 3200 });
    const header = fs.readFileSync(file).subarray(0, 44);
    expect(header.readUInt32LE(40)).toBe(3200);
    expect(header.readUInt32LE(4)).toBe(36 + 3200);
    expect(readWav(file).samples.length).toBe(1600);
    expect(repairWavHeader(file)).toEqual({ repaired: false, dataBytes: 3200 });
    fs.writeFileSync(path.join(dir, 'other.wav'), 'RIFF....WAVEjunk');
    expect(() => repairWavHeader(path.join(dir, 'other.wav'))).toThrow(/too short|not a PCM16 WAV/);
  });

  it('a recording in progress rewrites its header with what is on disk every few seconds of audio', async () => {
    const file = path.join(dir, 'live.wav');
    const writer = new WavWriter(file, { channels: 2, sampleRate: 8000 });
    const frame = new Int16Array(2 * 160).fill(100); // 20 ms stereo
    const refreshed = () => fs.existsSync(file) && fs.statSync(file).size >= 44 && fs.readFileSync(file).readUInt32LE(40) !== UNKNOWN;
    // Audio as a call writes it: frame after frame, the stream flushing in between. The first refresh comes
    // once the refresh interval of audio has been written and part of it has reached the disk.
    let frames = 0;
    while (!refreshed() && frames < (WAV_HEADER_REFRESH_MS / 20) * 6) {
      writer.write(frame);
      frames++;
      if (frames % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(refreshed()).toBe(true);
    expect(frames).toBeGreaterThanOrEqual(WAV_HEADER_REFRESH_MS / 20); // not before the interval
    const onDisk = fs.readFileSync(file);
    const claimed = onDisk.readUInt32LE(40);
    expect(claimed % 4).toBe(0);
    expect(claimed).toBeGreaterThan(0);
    expect(44 + claimed).toBeLessThanOrEqual(onDisk.length); // never claims what is not on disk
    await writer.close();
    expect(fs.readFileSync(file).readUInt32LE(40)).toBe(frames * frame.length * 2);
  });
});

describe('after a crash the restarted instance closes out the calls whose media it held', () => {
  it('gives them an honest final state, cause and event, mends their recordings, and leaves other instances’ calls alone', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-crash-data-'));
    try {
      // The state a kill -9 leaves: calls mid-stream owned by this instance and by another, a recording never closed.
      const recording = path.join(dataDir, 'recordings', 'c-live.wav');
      fs.mkdirSync(path.dirname(recording), { recursive: true });
      const wav = buildWav({ encoding: 'pcm16', sampleRate: 8000, channels: 2, data: new Uint8Array(4 * 8000) });
      wav.writeUInt32LE(UNKNOWN, 4);
      wav.writeUInt32LE(UNKNOWN, 40);
      fs.writeFileSync(recording, wav);
      const store = SqliteStore.open(path.join(dataDir, 'switchboard.db'));
      await store.calls.record({ id: 'c-live', state: 'streaming', agentId: 'default', mediaOwner: 'i-me', recordingPath: recording });
      await store.calls.record({ id: 'c-other', state: 'streaming', agentId: 'default', mediaOwner: 'i-other' });
      await store.calls.record({ id: 'c-done', state: 'completed', cause: 'hangup', mediaOwner: 'i-me', outcome: outcomeAtEnd('hangup') });
      await store.close();

      const server = await startTestServer({ DATA_DIR: dataDir, INSTANCE_ID: 'i-me' });
      try {
        const live = (await server.app.store.calls.get('c-live'))!;
        expect(live).toMatchObject({ state: 'completed', cause: 'server-restarted', mediaOwner: null });
        expect(live.endedAt).not.toBeNull();
        const events = (await server.app.store.events.list('c-live')).map((e) => e.type);
        expect(events).toEqual(['call.closed-out', 'recording.repaired']);
        expect(readWav(recording).samples.length).toBe(2 * 8000);
        expect(fs.readFileSync(recording).readUInt32LE(40)).toBe(4 * 8000);
        expect(await server.app.store.calls.get('c-other')).toMatchObject({ state: 'streaming', mediaOwner: 'i-other', cause: null });
        expect(await server.app.store.calls.get('c-done')).toMatchObject({ state: 'completed', cause: 'hangup', mediaOwner: null });
      } finally {
        await server.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a live stream call is owned by this instance while its media is held, and released when it ends', async () => {
    const clock = new ManualClock(0);
    const openai = await startRealtimeStandIn({ clock, script: () => ({ text: 'Hello.', audioMs: 400 }) });
    const server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '' }, { clock });
    try {
      expect(server.app.instanceId).toMatch(/^i-[0-9a-f]{12}$/);
      expect(fs.readFileSync(path.join(server.dataDir, 'instance-id'), 'utf8').trim()).toBe(server.app.instanceId);
      const { callbackUsername: username, callbackPassword: password } = server.app.credentials.credentials;
      const call = await dialThroughSetup(new SimulatedCall({ baseUrl: server.url, callbackAuth: { username, password }, clock, streamSetupMs: 400 }), 400, (ms) => clock.advanceAsync(ms));
      let owner: string | null | undefined;
      const watch = async () => {
        owner = (await server.app.store.calls.get(call.callId))?.mediaOwner;
      };
      await watch();
      expect(owner).toBe(server.app.instanceId);
      await call.hangup();
      await waitFor(() => server.app.bridge.size === 0, 5000, 'the session to end');
      await watch();
      expect(owner).toBeNull();
    } finally {
      await server.close();
      await openai.close();
    }
  });
});
