/**
 * `switchboard replay --media`: replays a whole-call recording offline and compares (README "Record, replay,
 * and the dev tunnel"). It starts its own Switchboard in this process with the recording's settings
 * (`meta.requires`, scenario-settings.ts), wired to stand-ins on loopback in playback mode — Bandwidth's side from the recording
 * (caller-playback.ts), OpenAI's from the recorded model events (realtime-playback.ts), Bandwidth's Calls API
 * stand-in for redirects — all on one ManualClock, so the replay is deterministic: as fast as possible
 * (`fast`) or moved at the recorded pace. The replay server records the call again, and the two
 * recordings are compared (record/whole-call-compare.ts). Nothing is sent to any other host: the OpenAI and
 * Bandwidth endpoints of the recorded settings are replaced by the stand-ins.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Agent } from '../agents/agent';
import { ManualClock } from '../clock';
import { PLAYOUT_TICK_MS } from '../constants';
import { createLogger } from '../log';
import { startSwitchboard, type RunningSwitchboard } from '../main';
import { installRequiredAgent } from '../record/required-agent';
import { scenarioRequires } from '../record/scenario';
import { NO_REQUIREMENTS, settingsEnv } from '../record/scenario-settings';
import { readWholeCall, RecordingError } from '../record/tape-reader';
import { compareWholeCalls, DEFAULT_TOLERANCES, formatCallDiff, type CallDiff, type CompareTolerances } from '../record/whole-call-compare';
import { SimulatedCall } from './bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from './bandwidth-rest';
import { callerPlayback } from './caller-playback';
import { callIncomingEvent, signWebhook } from './openai-webhooks';
import { dialThroughSetup } from './drive';
import { realtimePlayback, type Injection } from './realtime-playback';
import { startRealtimeStandIn, type RealtimeStandIn } from './realtime-server';

export interface WholeCallReplayOptions {
  /** `fast` (default): the manual clock runs as fast as the sockets allow; `recorded`: it moves in real time. */
  pace?: 'fast' | 'recorded';
  tolerances?: CompareTolerances;
  /** Server variables on top of the recording's settings (e.g. a deliberate change, to see the comparison catch it). */
  env?: Record<string, string>;
  /**
   * A deliberate change to the answering agent. A recording that states the agent's configuration
   * (meta.requires.config) gives the replay's server exactly that agent, whatever AGENT_* `env` sets.
   */
  agent?: (agent: Agent) => Agent;
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
  const requires = scenarioRequires(recorded.steps) ?? NO_REQUIREMENTS;
  // The replay's wall clock reads what the recording's did (callback timestamps, the context's date and time).
  const startedWallMs = Date.parse(recorded.header.startedAt);
  if (Number.isNaN(startedWallMs)) throw new RecordingError(`${path.basename(recorded.scenarioFile)}: index.jsonl line 1 (header): field startedAt: ${JSON.stringify(recorded.header.startedAt)} is not a date`);
  const clock = new ManualClock(0, startedWallMs);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-media-replay-'));
  // openai-sip: OpenAI's webhooks are delivered again, signed with a secret of this replay (recordings hold none).
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const webhooks = recorded.entries.filter((e) => e.src === 'openai-webhook');
  let openai: RealtimeStandIn | undefined;
  let rest: BandwidthRestStandIn | undefined;
  let app: RunningSwitchboard | undefined;
  try {
    openai = await startRealtimeStandIn({ clock, script: model.script, transcribe: model.transcribe, recordedVad: model.recordedVad, ...(model.refuse ? { refuse: model.refuse } : {}) });
    rest = await startBandwidthRestStandIn();
    app = await startSwitchboard({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        // The configuration the recording states it needs (scenario-settings.ts), as `replay --self` applies it.
        DEFAULT_AGENT_ID: requires.agent,
        ...settingsEnv(requires),
        ...options.env,
        ...(webhooks.length > 0 ? { OPENAI_WEBHOOK_SECRET: webhookSecret } : {}),
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
    // The answering agent as it was configured then (requires.config), or as its settings say (replay --self does the same).
    await installRequiredAgent(app, requires, options.agent);
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
      inboundFrameAtMs: caller.inboundFrameAtMs,
      transfer: () => transfers.shift() ?? { outcome: 'no-answer' },
    });
    rest.attach(call);
    const baseUrl = app.localUrl.replace('0.0.0.0', '127.0.0.1');
    const stand = openai;
    // What the recording shows arriving on its own, in time order: OpenAI's webhooks, sideband events (responses,
    // a SIP caller's keys), and the caller's key presses on the Bandwidth side.
    const due: { t: number; run: () => Promise<void> }[] = [
      ...webhooks.map((w) => ({ t: w.t, run: () => deliverWebhook(baseUrl, stand, webhookSecret, w.event?.body) })),
      ...model.injections.map((x) => ({ t: x.t, run: async () => inject(stand, x) })),
      ...caller.keys.map((k) => ({ t: k.atMs, run: () => pressKey(call, k.digit) })),
    ].sort((a, b) => a.t - b.t);
    const advance = options.pace === 'recorded' ? (ms: number) => realTime(clock, ms) : (ms: number) => clock.advanceAsync(ms);
    if (caller.streamSetupMs > 0) await dialThroughSetup(call, caller.streamSetupMs, advance);
    else await call.dial();
    while (!call.ended && clock.now() < caller.disconnectAtMs) {
      while (due.length > 0 && due[0]!.t <= clock.now()) await due.shift()!.run();
      await advance(PLAYOUT_TICK_MS);
    }
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

/** A recorded `realtime.call.incoming` (its call registered with the stand-in first, as OpenAI would have it), signed for this replay. */
async function deliverWebhook(baseUrl: string, openai: RealtimeStandIn, secret: string, recordedBody: unknown): Promise<void> {
  const event = (recordedBody ?? {}) as { type?: string; data?: { call_id?: string; sip_headers?: { name: string; value: string }[] } };
  const callId = event.data?.call_id;
  if (!callId) return;
  if (event.type === 'realtime.call.incoming') openai.incomingSipCall(callId);
  const body = JSON.stringify({ ...callIncomingEvent(callId, event.data?.sip_headers ?? []), ...event });
  await fetch(`${baseUrl}/openai/webhook`, { method: 'POST', headers: signWebhook(secret, body), body });
}

/** Send a model-initiated response's recorded events on the replay's matching session. */
function inject(openai: RealtimeStandIn, x: Injection): void {
  const session = openai.sipCalls.get(x.sessionCallId)?.sessions[0] ?? openai.sessions[x.session - 1];
  for (const event of x.events) session?.send(event as Parameters<NonNullable<typeof session>['send']>[0]);
}

/**
 * A recorded key press, pressed again. When the replayed call has no `<StartGather>` running then, Bandwidth
 * would report nothing: neither does the replay, and the missing `dtmf` callback shows in the comparison.
 */
async function pressKey(call: SimulatedCall, digit: string): Promise<void> {
  if (call.ended || !call.gather) return;
  await call.pressKeys(digit);
}

/** The recorded pace: each 20 ms of the manual clock waits 20 ms of real time. */
async function realTime(clock: ManualClock, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += PLAYOUT_TICK_MS) {
    await new Promise((resolve) => setTimeout(resolve, PLAYOUT_TICK_MS));
    await clock.advanceAsync(PLAYOUT_TICK_MS);
  }
}
