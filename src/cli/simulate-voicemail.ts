import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, settleIo, systemClock, waitFor, type Clock } from '../clock';
import { createLogger } from '../log';
import { startSwitchboard } from '../main';
import { SimulatedCall } from '../sim/bandwidth-caller';
import { startBandwidthRestStandIn } from '../sim/bandwidth-rest';
import { dialThroughSetup } from '../sim/drive';
import { startRealtimeStandIn } from '../sim/realtime-server';
import type { SimulationOptions, SimulationReport, TimelineEntry } from './simulate';

/**
 * `npm run demo -- --scenario voicemail`: an outbound call (POST /api/calls) that an answering machine picks
 * up. Bandwidth's machine detection (the REST and caller stand-ins model it) waits for the greeting's end; the
 * agent then leaves its message and hangs up, and the call's outcome is `voicemail`
 * (docs/architecture.md#key-presses-and-voicemail).
 */
const GREETING = 'Hi, this is Acme Plumbing calling about your appointment.';
const MESSAGE = 'Hello, this is Acme Plumbing. Your plumber comes tomorrow between eight and ten. Call us back on 919 555 0100 if that does not suit you.';
const CALLEE = '+19195550142';
const FROM = '+19195550100';
/** The answering machine's greeting, "leave a message after the tone", ms from the answer to the tone. */
const MACHINE_GREETING_MS = 6_000;

export async function runVoicemailSimulation(options: SimulationOptions = {}): Promise<SimulationReport> {
  const manual = options.realtime ? undefined : new ManualClock(0);
  const clock: Clock = manual ?? systemClock;
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-sim-'));
  const openai = await startRealtimeStandIn({ clock, script: (ctx) => (ctx.n === 1 ? { text: GREETING, audioMs: 3000 } : { text: MESSAGE, audioMs: 7000 }) });
  const rest = await startBandwidthRestStandIn();
  const app = await startSwitchboard({
    env: {
      PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url,
      AGENT_GREETING: GREETING, AGENT_NAME: 'Acme Plumbing', AGENT_VOICEMAIL_DETECT: 'true', AGENT_VOICEMAIL_ACTION: 'leave-message', AGENT_VOICEMAIL_MESSAGE: MESSAGE,
      BANDWIDTH_ACCOUNT_ID: '9901234', BANDWIDTH_APPLICATION_ID: '3f2b8c1e-7a4d-4e9b-b1c6-5d8e2f0a9c47', BANDWIDTH_CLIENT_ID: 'client-id', BANDWIDTH_CLIENT_SECRET: 'client-secret',
      BANDWIDTH_API_BASE_URL: rest.apiBaseUrl, BANDWIDTH_OAUTH_URL: rest.oauthUrl,
    },
    print: () => undefined,
    logger: createLogger('silent'),
    clock,
  });
  const baseUrl = app.localUrl.replace('0.0.0.0', '127.0.0.1');
  const advance = async (ms: number) => {
    if (manual) await manual.advanceAsync(ms);
    else await new Promise((resolve) => setTimeout(resolve, ms));
  };
  const progress = options.progress ?? (() => undefined);
  let call: SimulatedCall | undefined;
  try {
    progress('placing the call: POST /api/calls → createCall with async machine detection');
    const placed = await fetch(`${baseUrl}/api/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.credentials.credentials.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agentId: 'default', to: CALLEE, from: FROM }),
    });
    if (placed.status !== 201) throw new Error(`POST /api/calls answered ${placed.status}: ${await placed.text()}`);
    const { callId } = (await placed.json()) as { callId: string };
    const created = rest.requests.filter((r) => r.operation === 'createCall').pop()!.body as { answerUrl: string; machineDetection: Record<string, unknown> };
    const { callbackUsername: username, callbackPassword: password } = app.credentials.credentials;
    call = new SimulatedCall({
      baseUrl, callId, from: FROM, to: CALLEE, answerUrl: created.answerUrl, machineDetection: created.machineDetection,
      callee: { result: 'answering-machine', greetingMs: MACHINE_GREETING_MS }, callbackAuth: { username, password }, clock, streamSetupMs: 400,
    });
    rest.attach(call);
    progress('an answering machine answers; the agent greets while its greeting plays');
    await dialThroughSetup(call, 400, advance);
    progress('the machine greeting ends: machineDetectionComplete (answering-machine) → the agent leaves its message');
    for (let elapsedMs = 0; elapsedMs < 30_000 && !call.ended; elapsedMs += 500) await advance(500);
    await settleIo();
    await waitFor(() => app.bridge.size === 0, 5_000, 'the session to end');
    progress('the message was heard in full: the agent hung up (outcome voicemail)');
    const events = await app.store.events.list(callId);
    const transcript = await app.store.transcripts.list(callId);
    const row = await app.store.calls.get(callId);
    const startedAt = call.streamStartedAtMs ?? 0;
    const timeline: TimelineEntry[] = [];
    const add = (atMs: number, who: TimelineEntry['who'], what: string) => timeline.push({ atMs: atMs - startedAt, who, what });
    for (const cb of call.callbacks) {
      const value = (cb.body.machineDetectionResult as { value?: string } | undefined)?.value;
      add(cb.atMs, 'bandwidth', `${cb.eventType}${value ? ` (${value})` : ''} → ${cb.status ?? 'no answer'}`);
    }
    // The Calls API request ends the call: the caller stand-in records when its end began.
    for (const r of rest.requests) if (r.operation === 'updateCall') add(call.ended?.atMs ?? clock.now(), 'switchboard', `Calls API ${JSON.stringify(r.body)}: hang up`);
    for (const e of openai.sessions[0]?.sent ?? []) {
      if (e.type === 'response.created') add(e.atMs, 'openai', 'response.created: the agent starts speaking');
      if (e.type === 'response.done') add(e.atMs, 'openai', 'response.done');
    }
    timeline.sort((a, b) => a.atMs - b.atMs);
    return {
      callId,
      timeline,
      transcript,
      events,
      firstHeardMs: call.heard.firstHeardMs,
      heardMs: call.heard.totalMs,
      truncatedAtMs: openai.sessions[0]?.truncates[0]?.audio_end_ms,
      outcome: row?.outcome ?? null,
      outcomeReason: row?.outcomeReason ?? null,
    };
  } finally {
    call?.destroy();
    await app.close();
    await rest.close();
    await openai.close();
    if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
