/**
 * `switchboard replay --media`: replays a whole-call recording offline and compares (README "Record, replay,
 * and the dev tunnel"). It starts its own Switchboard in this process with the recording's settings
 * (`meta.env`), wired to stand-ins on loopback in playback mode — Bandwidth's side from the recording
 * (caller-playback.ts), OpenAI's from the recorded model events (realtime-playback.ts), Bandwidth's Calls API
 * stand-in for redirects — all on one ManualClock, so the replay is deterministic: as fast as possible
 * (`fast`) or moved at the recorded pace. The replay server records the call again, and the two
 * recordings are compared (record/whole-call-compare.ts). Nothing is sent to any other host: the OpenAI and
 * Bandwidth endpoints of the recorded settings are replaced by the stand-ins.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../clock';
import { PLAYOUT_TICK_MS } from '../constants';
import { createLogger } from '../log';
import { startSwitchboard, type RunningSwitchboard } from '../main';
import { scenarioMeta } from '../record/scenario';
import { readWholeCall } from '../record/tape-reader';
import { compareWholeCalls, DEFAULT_TOLERANCES, formatCallDiff, type CallDiff, type CompareTolerances } from '../record/whole-call-compare';
import { SimulatedCall } from './bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from './bandwidth-rest';
import { callerPlayback } from './caller-playback';
import { dialThroughSetup } from './drive';
import { realtimePlayback } from './realtime-playback';
import { startRealtimeStandIn, type RealtimeStandIn } from './realtime-server';

export interface WholeCallReplayOptions {
  /** `fast` (default): the manual clock runs as fast as the sockets allow; `recorded`: it moves in real time. */
  pace?: 'fast' | 'recorded';
  tolerances?: CompareTolerances;
  /** Settings on top of the recording's (e.g. a deliberate change, to see the comparison catch it). */
  env?: Record<string, string>;
}

export interface WholeCallReplayResult {
  name: string;
  diffs: CallDiff[];
  ok: boolean;
  /** The readable report (formatCallDiff). */
  report: string;
}

/** After the recorded disconnect, how long the replay runs on for late callbacks and events. */
const TAIL_MS = 2_000;

export async function replayWholeCall(target: string, options: WholeCallReplayOptions = {}): Promise<WholeCallReplayResult> {
  const recorded = readWholeCall(target);
  const caller = callerPlayback(recorded);
  const model = realtimePlayback(recorded);
  const name = path.basename(recorded.scenarioFile);
  const clock = new ManualClock(0);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-media-replay-'));
  let openai: RealtimeStandIn | undefined;
  let rest: BandwidthRestStandIn | undefined;
  let app: RunningSwitchboard | undefined;
  try {
    openai = await startRealtimeStandIn({ clock, script: model.script, transcribe: model.transcribe, ...(model.refuse ? { refuse: model.refuse } : {}) });
    rest = await startBandwidthRestStandIn();
    app = await startSwitchboard({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        ...(scenarioMeta(recorded.steps).env ?? {}),
        ...options.env,
        DATA_DIR: path.join(tmp, 'data'),
        RECORD_DIR: path.join(tmp, 'record'),
        PUBLIC_BASE_URL: '',
        OPENAI_API_KEY: openai.apiKey,
        OPENAI_BASE_URL: openai.url,
        BANDWIDTH_ACCOUNT_ID: '9901234',
        BANDWIDTH_CLIENT_ID: 'client-id',
        BANDWIDTH_CLIENT_SECRET: 'client-secret',
        BANDWIDTH_API_BASE_URL: rest.apiBaseUrl,
        BANDWIDTH_OAUTH_URL: rest.oauthUrl,
      },
      clock,
      print: () => undefined,
      logger: createLogger('silent'),
    });
    const { callbackUsername: username, callbackPassword: password } = app.credentials.credentials;
    const transfers = [...caller.transfers];
    const call = new SimulatedCall({
      baseUrl: app.localUrl.replace('0.0.0.0', '127.0.0.1'),
      callbackAuth: { username, password },
      clock,
      callId: caller.callId,
      from: caller.from,
      to: caller.to,
      streamSetupMs: caller.streamSetupMs,
      audio: caller.audio,
      transfer: () => transfers.shift() ?? { outcome: 'no-answer' },
    });
    rest.attach(call);
    const advance = options.pace === 'recorded' ? (ms: number) => realTime(clock, ms) : (ms: number) => clock.advanceAsync(ms);
    await dialThroughSetup(call, caller.streamSetupMs, advance);
    while (!call.ended && clock.now() < caller.disconnectAtMs) await advance(PLAYOUT_TICK_MS);
    if (!call.ended) await call.hangup();
    await advance(TAIL_MS);
    await rest.idle();
    const file = app.recorder!.fileFor(caller.callId);
    await app.close(0);
    app = undefined;
    const replayed = readWholeCall(file);
    const diffs = compareWholeCalls(recorded, replayed, options.tolerances ?? DEFAULT_TOLERANCES);
    return { name, diffs, ok: diffs.every((d) => d.lines.length === 0), report: formatCallDiff(name, diffs) };
  } finally {
    await app?.close(0);
    await openai?.close();
    await rest?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The recorded pace: each 20 ms of the manual clock waits 20 ms of real time. */
async function realTime(clock: ManualClock, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += PLAYOUT_TICK_MS) {
    await new Promise((resolve) => setTimeout(resolve, PLAYOUT_TICK_MS));
    await clock.advanceAsync(PLAYOUT_TICK_MS);
  }
}
