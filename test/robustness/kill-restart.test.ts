import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { readWav } from '../../src/bridge/wav';
import { waitFor } from '../../src/clock';
import { SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { startChildServer, type ChildServer } from './child-server';
import { recordFigures, round2, sleep } from './harness';

/**
 * kill -9 mid-call, then a restart on the same DATA_DIR (docs/reliability.md, "A crash loses nothing and
 * leaves nothing half-open"). The server is the built CLI in a child process, so the kill is real: no
 * handler runs, no WAV header is closed, no store is flushed. What was committed before the kill is counted
 * through a read-only connection of our own, and compared row by row after the restart.
 */
const CREDENTIALS = { BANDWIDTH_CALLBACK_USERNAME: 'bw-robust', BANDWIDTH_CALLBACK_PASSWORD: 'robustness-callback-password', ADMIN_TOKEN: 'sb_robustness_admin_token' };

describe('kill -9 mid-call and restart', () => {
  let dataDir: string;
  let openai: RealtimeStandIn;
  const children: ChildServer[] = [];
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-kill9-'));
    openai = await startRealtimeStandIn({ chunkMs: 100, script: (ctx) => ({ text: ctx.n === 1 ? 'Thanks for calling, how can I help?' : 'I can help with that.', audioMs: ctx.n === 1 ? 3000 : 6000 }), transcribe: () => 'My sink is leaking.' });
  });
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await openai?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('the restarted instance closes the call out, loses no committed row, and its recording is a playable WAV', async () => {
    const env = { ...CREDENTIALS, DATA_DIR: dataDir, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, AGENT_RECORD: 'true', INSTANCE_ID: 'i-robust' };
    const first = await startChildServer(env);
    children.push(first);
    const call = await dialThroughSetup(
      new SimulatedCall({ baseUrl: first.url, callbackAuth: { username: CREDENTIALS.BANDWIDTH_CALLBACK_USERNAME, password: CREDENTIALS.BANDWIDTH_CALLBACK_PASSWORD }, streamSetupMs: 200, audio: speechLikeAudio({ startMs: 3500, durationMs: 1200, seed: 11 }) }),
      200,
      sleep,
    );
    const streamUpAtMs = performance.now();
    // Past the greeting, the caller's turn, into the reply, and past one WAV header refresh (5 s of audio).
    await sleep(6500);
    const db = path.join(dataDir, 'switchboard.db');
    const committed = () => {
      const ro = new Database(db, { readonly: true, fileMustExist: true });
      try {
        return {
          call: ro.prepare('SELECT state, cause, media_owner AS mediaOwner, recording_path AS recordingPath FROM calls WHERE id = ?').get(call.callId) as { state: string; cause: string | null; mediaOwner: string | null; recordingPath: string | null },
          events: ro.prepare('SELECT id, type, data FROM call_events WHERE call_id = ? ORDER BY id').all(call.callId) as { id: number; type: string; data: string }[],
          transcript: ro.prepare('SELECT id, role, text FROM transcript_items WHERE call_id = ? ORDER BY id').all(call.callId) as { id: number; role: string; text: string }[],
        };
      } finally {
        ro.close();
      }
    };
    const before = committed();
    expect(before.call).toMatchObject({ state: 'streaming', mediaOwner: 'i-robust' });
    expect(before.transcript.length).toBeGreaterThanOrEqual(2); // the greeting and the caller's turn at least

    const killedAtMs = performance.now();
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    call.destroy(); // the carrier's side is gone with the server; nothing more is sent

    const restartStartedMs = performance.now();
    const second = await startChildServer(env);
    children.push(second);
    const restartMs = performance.now() - restartStartedMs;
    // The close-out is part of start-up, before the server listens; wait only for its commit to be visible.
    let after = committed();
    await waitFor(() => (after = committed()).call.state === 'completed', 5000, 'the close-out to be committed');

    expect(after.call).toMatchObject({ state: 'completed', cause: 'server-restarted', mediaOwner: null });
    expect(after.events.map((e) => e.type)).toContain('call.closed-out');
    // Zero rows lost: every event and transcript item committed before the kill is still there, unchanged.
    const lostEvents = before.events.filter((b) => !after.events.some((a) => a.id === b.id && a.type === b.type && a.data === b.data));
    const lostTranscript = before.transcript.filter((b) => !after.transcript.some((a) => a.id === b.id && a.text === b.text && a.role === b.role));
    expect(lostEvents).toEqual([]);
    expect(lostTranscript).toEqual([]);

    const recording = after.call.recordingPath!;
    expect(recording).toBeTruthy();
    const sizeBytes = fs.statSync(recording).size;
    const wav = readWav(recording);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 2 });
    const recordedMs = (wav.samples.length / 2 / 8000) * 1000;
    const header = fs.readFileSync(recording).subarray(0, 44);
    expect(44 + header.readUInt32LE(40)).toBe(sizeBytes); // the header claims exactly what is on disk
    expect(header.readUInt32LE(4)).toBe(36 + header.readUInt32LE(40));
    // Sane: most of the call up to the kill, never more than it lasted.
    const callMs = killedAtMs - streamUpAtMs;
    expect(recordedMs).toBeGreaterThan(3000);
    expect(recordedMs).toBeLessThanOrEqual(callMs + 1000);
    const repaired = after.events.some((e) => e.type === 'recording.repaired');

    second.child.kill('SIGTERM');
    await second.exited;
    recordFigures('kill-restart', {
      eventsBeforeKill: before.events.length, eventsAfterRestart: after.events.length, eventsLost: lostEvents.length,
      transcriptBeforeKill: before.transcript.length, transcriptAfterRestart: after.transcript.length, transcriptLost: lostTranscript.length,
      stateAfter: after.call.state, causeAfter: after.call.cause, restartToHealthyMs: round2(restartMs), callMsAtKill: round2(callMs),
      recordingMs: round2(recordedMs), recordingBytes: sizeBytes, recordingRepairedEvent: repaired,
    });
  });
});
