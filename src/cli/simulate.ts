import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, settleIo, systemClock, type Clock } from '../clock';
import { createLogger } from '../log';
import { startSwitchboard } from '../main';
import { SimulatedCall, speechLikeAudio } from '../sim/bandwidth-caller';
import { dialThroughSetup } from '../sim/drive';
import { startRealtimeStandIn } from '../sim/realtime-server';
import type { CallEventRecord, TranscriptItemRecord } from '../store/types';

/**
 * `switchboard simulate` / `npm run demo`: the real server with both stand-ins on
 * loopback, one complete call — greeting, a caller turn, a barge-in, hang-up — then a readable
 * timeline and the stored transcript. No network, no keys. By default time is simulated (a ManualClock
 * stepped in 20 ms frames, so it runs faster than real time); `realtime` uses the wall clock.
 */
export interface SimulationOptions {
  realtime?: boolean;
  /** Where the simulated server keeps its data (default: a temporary directory, removed afterwards). */
  dataDir?: string;
  /** Told what the call is doing as it goes (a real-time run takes about 15 s). */
  progress?: (step: string) => void;
}

export interface TimelineEntry {
  atMs: number;
  who: 'caller' | 'bandwidth' | 'switchboard' | 'openai';
  what: string;
}

export interface SimulationReport {
  callId: string;
  timeline: TimelineEntry[];
  transcript: TranscriptItemRecord[];
  events: CallEventRecord[];
  firstHeardMs: number | undefined;
  heardMs: number;
  truncatedAtMs: number | undefined;
  /** The call's outcome and reason, when the scenario shows one (src/outcomes.ts). */
  outcome?: string;
}

const GREETING = 'Thanks for calling Acme Plumbing. How can I help you today?';
const ANSWER = 'I am sorry to hear that. I can send a plumber tomorrow between eight and ten. Does that work?';
const CONFIRM = 'Great, you are booked. Goodbye!';

export async function runSimulation(options: SimulationOptions = {}): Promise<SimulationReport> {
  const manual = options.realtime ? undefined : new ManualClock(0);
  const clock: Clock = manual ?? systemClock;
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-sim-'));
  const plans = [
    { text: GREETING, audioMs: 3200 },
    { text: ANSWER, audioMs: 5200 },
    { text: CONFIRM, audioMs: 1800 },
  ];
  const openai = await startRealtimeStandIn({
    clock,
    script: (ctx) => plans[Math.min(ctx.n - 1, plans.length - 1)]!,
    transcribe: (_ms, n) => (n === 1 ? 'Hi, my kitchen sink is leaking everywhere.' : 'Yes, tomorrow morning works.'),
  });
  const app = await startSwitchboard({
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url, AGENT_GREETING: GREETING, AGENT_NAME: 'Acme Plumbing' },
    print: () => undefined,
    logger: createLogger('silent'),
    clock,
  });
  const { callbackUsername: username, callbackPassword: password } = app.credentials.credentials;
  // The caller talks over the agent's answer (barge-in at 6.2 s), then confirms after the next question.
  const call = new SimulatedCall({
    baseUrl: app.localUrl.replace('0.0.0.0', '127.0.0.1'),
    callbackAuth: { username, password },
    clock,
    streamSetupMs: 400,
    audio: speechLikeAudio({ startMs: 3600, durationMs: 1500, seed: 3 }),
  });
  const advance = async (ms: number) => {
    if (manual) await manual.advanceAsync(ms);
    else await new Promise((resolve) => setTimeout(resolve, ms));
  };
  const progress = options.progress ?? (() => undefined);
  try {
    progress('dialling: Bandwidth asks Switchboard what to do, the media stream opens');
    await dialThroughSetup(call, 400, advance);
    progress('the agent greets; the caller describes the problem and talks over the answer (barge-in)');
    await advance(7000);
    progress('the caller confirms the booking');
    call.say(speechLikeAudio({ durationMs: 1200, seed: 11 }));
    await advance(6500);
    progress('hanging up');
    await call.hangup();
    await advance(200);
    await settleIo();
    const session = app.bridge.get(call.callId);
    session?.end('simulation over');
    const events = await app.store.events.list(call.callId);
    const transcript = await app.store.transcripts.list(call.callId);
    const rt = openai.sessions[0];
    const startedAt = call.streamStartedAtMs ?? 0;
    const timeline: TimelineEntry[] = [];
    const add = (atMs: number, who: TimelineEntry['who'], what: string) => timeline.push({ atMs: atMs - startedAt, who, what });
    for (const cb of call.callbacks) add(cb.atMs, 'bandwidth', `${cb.eventType} → ${cb.status ?? 'no answer'}`);
    if (call.heard.firstHeardAtMs !== undefined) add(call.heard.firstHeardAtMs, 'caller', 'hears the agent for the first time');
    for (const r of call.receivedOf('clear')) add(r.atMs, 'switchboard', `clear: the caller's playout is emptied (${((r.clearedBytes ?? 0) / 8).toFixed(0)} ms dropped)`);
    for (const e of rt?.sent ?? []) {
      if (e.type === 'input_audio_buffer.speech_started') add(e.atMs, 'openai', 'speech_started: the caller is talking');
      if (e.type === 'input_audio_buffer.speech_stopped') add(e.atMs, 'openai', 'speech_stopped');
      if (e.type === 'response.created') add(e.atMs, 'openai', 'response.created: the agent starts a reply');
      if (e.type === 'response.done') add(e.atMs, 'openai', `response.done (${String((e.event.response as { status?: string } | undefined)?.status ?? '')})`);
    }
    for (const t of rt?.truncates ?? []) add(t.atMs, 'switchboard', `truncate ${t.item_id} at ${t.audio_end_ms} ms heard${t.ok ? '' : ` (refused: ${t.error})`}`);
    timeline.sort((a, b) => a.atMs - b.atMs);
    return {
      callId: call.callId,
      timeline,
      transcript,
      events,
      firstHeardMs: call.heard.firstHeardMs,
      heardMs: call.heard.totalMs,
      truncatedAtMs: rt?.truncates[0]?.audio_end_ms,
    };
  } finally {
    call.destroy();
    await app.close();
    await openai.close();
    if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export function formatReport(report: SimulationReport): string {
  const lines = [`Simulated call ${report.callId}`, '', 'Timeline (seconds from the media stream starting):'];
  for (const e of report.timeline) lines.push(`  ${(e.atMs / 1000).toFixed(3).padStart(7)}  ${e.who.padEnd(11)} ${e.what}`);
  lines.push('', `First agent audio heard ${report.firstHeardMs ?? '–'} ms after the stream started; ${Math.round(report.heardMs)} ms of agent audio heard in all.`);
  if (report.truncatedAtMs !== undefined) lines.push(`Barge-in: the interrupted reply was truncated at ${report.truncatedAtMs} ms, what the caller had heard.`);
  if (report.outcome) lines.push(`Outcome: ${report.outcome}`);
  lines.push('', 'Stored transcript:');
  for (const t of report.transcript) {
    const cut = t.truncated ? `  [cut off after ${t.heardMs} ms]` : '';
    lines.push(`  ${t.role.padEnd(6)} ${t.text}${cut}`);
  }
  lines.push('');
  return lines.join('\n');
}
