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
/**
 * What the simulated call shows: `conversation` (the default: greeting, caller turns, a barge-in, the caller
 * hangs up), `no-input` (the caller says nothing: the silence watchdog asks, then says goodbye and hangs up)
 * or `time-limit` (a call that reaches the agent's maximum duration: the warning, then goodbye and hang-up).
 */
export const SIMULATION_SCENARIOS = ['conversation', 'no-input', 'time-limit'] as const;
export type SimulationScenario = (typeof SIMULATION_SCENARIOS)[number];

export interface SimulationOptions {
  realtime?: boolean;
  scenario?: SimulationScenario;
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
  /** How the call ended (src/outcomes.ts), as stored. */
  outcome: string | null;
  outcomeReason: string | null;
}

export const GREETING = 'Thanks for calling Acme Plumbing. How can I help you today?';
const ANSWER = 'I am sorry to hear that. I can send a plumber tomorrow between eight and ten. Does that work?';
const CONFIRM = 'Great, you are booked. Goodbye!';
/** The agent's three replies, in order, for the Realtime stand-in. */
export const CONVERSATION_PLANS = [
  { text: GREETING, audioMs: 3200 },
  { text: ANSWER, audioMs: 5200 },
  { text: CONFIRM, audioMs: 1800 },
];
/** What the stand-in hears the caller say, turn by turn. */
export const CALLER_TURNS = (_ms: number, n: number) => (n === 1 ? 'Hi, my kitchen sink is leaking everywhere.' : 'Yes, tomorrow morning works.');
/** The caller's first turn: it talks over the agent's answer (barge-in at 6.2 s). */
export const CALLER_AUDIO = () => speechLikeAudio({ startMs: 3600, durationMs: 1500, seed: 3 });

/** The conversation scenario once the stream is up: the barge-in, the caller's confirmation, the hang-up. */
export async function conversation(call: SimulatedCall, advance: (ms: number) => Promise<void>, progress: (step: string) => void): Promise<void> {
  progress('the agent greets; the caller describes the problem and talks over the answer (barge-in)');
  await advance(7000);
  progress('the caller confirms the booking');
  call.say(speechLikeAudio({ durationMs: 1200, seed: 11 }));
  await advance(6500);
  progress('hanging up');
  await call.hangup();
}

/** The agent settings each watchdog scenario runs with (AGENT_* variables), and how long it may take. */
const WATCHDOG_SCENARIOS: Record<Exclude<SimulationScenario, 'conversation'>, { env: Record<string, string>; maxMs: number }> = {
  'no-input': { env: { AGENT_SILENCE_PROMPT_AFTER_MS: '6000', AGENT_SILENCE_HANGUP_AFTER_MS: '5000' }, maxMs: 30_000 },
  'time-limit': { env: { AGENT_SILENCE_WATCHDOG: 'false', AGENT_MAX_CALL_MS: '60000', AGENT_MAX_CALL_WARN_MS: '20000' }, maxMs: 70_000 },
};

export async function runSimulation(options: SimulationOptions = {}): Promise<SimulationReport> {
  const manual = options.realtime ? undefined : new ManualClock(0);
  const clock: Clock = manual ?? systemClock;
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-sim-'));
  const scenario = options.scenario ?? 'conversation';
  const watchdog = scenario === 'conversation' ? undefined : WATCHDOG_SCENARIOS[scenario];
  const plans = CONVERSATION_PLANS;
  const openai = await startRealtimeStandIn({
    clock,
    // The watchdogs' lines are instructed responses ("Say exactly this …: \"line\""): the stand-in says the line.
    script: (ctx) => (watchdog ? { text: quotedLine(ctx.instructions) ?? GREETING } : plans[Math.min(ctx.n - 1, plans.length - 1)]!),
    transcribe: CALLER_TURNS,
  });
  const app = await startSwitchboard({
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url, AGENT_GREETING: GREETING, AGENT_NAME: 'Acme Plumbing', ...watchdog?.env },
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
    audio: watchdog ? undefined : CALLER_AUDIO(),
  });
  const advance = async (ms: number) => {
    if (manual) await manual.advanceAsync(ms);
    else await new Promise((resolve) => setTimeout(resolve, ms));
  };
  const progress = options.progress ?? (() => undefined);
  try {
    progress('dialling: Bandwidth asks Switchboard what to do, the media stream opens');
    await dialThroughSetup(call, 400, advance);
    if (watchdog) {
      progress(scenario === 'no-input' ? 'the agent greets; the caller says nothing' : 'the agent greets; the call goes on towards its time limit');
      for (let waitedMs = 0; !call.ended && waitedMs < watchdog.maxMs; waitedMs += 500) await advance(500);
      if (!call.ended) await call.hangup();
    } else {
      await conversation(call, advance, progress);
    }
    await advance(200);
    await settleIo();
    const session = app.bridge.get(call.callId);
    session?.end('simulation over');
    const events = await app.store.events.list(call.callId);
    const row = await app.store.calls.get(call.callId);
    const transcript = await app.store.transcripts.list(call.callId);
    const rt = openai.sessions[0];
    const startedAt = call.streamStartedAtMs ?? 0;
    const timeline: TimelineEntry[] = [];
    const add = (atMs: number, who: TimelineEntry['who'], what: string) => timeline.push({ atMs: atMs - startedAt, who, what });
    for (const cb of call.callbacks) add(cb.atMs, 'bandwidth', `${cb.eventType} → ${cb.status ?? 'no answer'}`);
    if (call.heard.firstHeardAtMs !== undefined) add(call.heard.firstHeardAtMs, 'caller', 'hears the agent for the first time');
    for (const r of call.receivedOf('clear')) add(r.atMs, 'switchboard', `clear: the caller's playout is emptied (${((r.clearedBytes ?? 0) / 8).toFixed(0)} ms dropped)`);
    for (const e of rt?.received ?? []) {
      const line = e.type === 'response.create' ? quotedLine((e.event as { response?: { instructions?: string } }).response?.instructions ?? '') : undefined;
      if (line && line !== GREETING) add(e.atMs, 'switchboard', `asks the agent to say "${line}"`);
    }
    for (const e of rt?.sent ?? []) {
      if (e.type === 'input_audio_buffer.speech_started') add(e.atMs, 'openai', 'speech_started: the caller is talking');
      if (e.type === 'input_audio_buffer.speech_stopped') add(e.atMs, 'openai', 'speech_stopped');
      if (e.type === 'response.created') add(e.atMs, 'openai', 'response.created: the agent starts a reply');
      if (e.type === 'response.done') add(e.atMs, 'openai', `response.done (${String((e.event.response as { status?: string } | undefined)?.status ?? '')})`);
    }
    if (call.ended) add(call.ended.atMs, 'caller', `the call ends (${call.ended.reason})`);
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
      outcome: row?.outcome ?? null,
      outcomeReason: row?.outcomeReason ?? null,
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
  lines.push(`Outcome: ${report.outcome ?? '(none yet)'}${report.outcomeReason ? ` (${report.outcomeReason})` : ''}`);
  lines.push('', 'Stored transcript:');
  for (const t of report.transcript) {
    const cut = t.truncated ? `  [cut off after ${t.heardMs} ms]` : '';
    lines.push(`  ${t.role.padEnd(6)} ${t.text}${cut}`);
  }
  lines.push('');
  return lines.join('\n');
}

/** The line an instructed response asks the agent to say (the greeting's and the watchdogs' are quoted). */
function quotedLine(instructions: string): string | undefined {
  return /"([^"]+)"/.exec(instructions)?.[1];
}
