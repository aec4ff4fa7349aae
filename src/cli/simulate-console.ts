import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../clock';
import { createLogger } from '../log';
import { startSwitchboard, type RunningSwitchboard } from '../main';
import { SimulatedCall } from '../sim/bandwidth-caller';
import { dialThroughSetup } from '../sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../sim/realtime-server';
import { CALLER_AUDIO, CALLER_TURNS, CONVERSATION_PLANS, conversation, GREETING } from './simulate';

/**
 * `switchboard simulate --console`: the simulated conversation (simulate.ts), placed again and again on the
 * wall clock against a server that stays up, so an operator can sign in to its console (docs/console.md) and
 * watch calls appear live, then open them afterwards with their recordings. Its own temporary data
 * directory and credentials, both stand-ins on loopback: no network, no keys. Stops with Ctrl-C.
 */
export interface ConsoleSimulationOptions {
  port: number;
  /** How many calls to place; 0 places them until stopped. */
  calls: number;
  /** Between one call's end and the next call. */
  pauseMs: number;
  print: (text: string) => void;
  /** Time for the calls; tests pass a ManualClock and its `advance`. */
  clock?: Clock;
  advance?: (ms: number) => Promise<void>;
}

export interface ConsoleSimulation {
  consoleUrl: string;
  adminToken: string;
  app: RunningSwitchboard;
  /** Settles with the number of calls placed, once `calls` are done (or it is closed). */
  done: Promise<number>;
  close(): Promise<void>;
}

export async function runConsoleSimulation(options: ConsoleSimulationOptions): Promise<ConsoleSimulation> {
  const clock = options.clock ?? systemClock;
  const advance = options.advance ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-console-sim-'));
  let openai: RealtimeStandIn | undefined;
  let app: RunningSwitchboard;
  try {
    openai = await startRealtimeStandIn({ clock, script: (ctx) => CONVERSATION_PLANS[Math.min(ctx.n - 1, CONVERSATION_PLANS.length - 1)]!, transcribe: CALLER_TURNS });
    app = await startSwitchboard({
      env: { PORT: String(options.port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url, AGENT_GREETING: GREETING, AGENT_NAME: 'Acme Plumbing', AGENT_RECORD: 'true' },
      print: () => undefined,
      logger: createLogger('silent'),
      clock,
    });
  } catch (err) {
    await openai?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const localUrl = app.localUrl;
  const consoleUrl = `${localUrl}/console`;
  const adminToken = app.credentials.credentials.adminToken;
  options.print(`Console: ${consoleUrl}\nAdmin token: ${adminToken}\n(sign in with it; a simulated call starts every few seconds; Ctrl-C stops)\n`);

  let stopped = false;
  let live: SimulatedCall | undefined;
  const { callbackUsername: username, callbackPassword: password } = app.credentials.credentials;
  const done = (async () => {
    let placed = 0;
    while (!stopped && (options.calls === 0 || placed < options.calls)) {
      live = new SimulatedCall({ baseUrl: localUrl, callbackAuth: { username, password }, clock, streamSetupMs: 400, audio: CALLER_AUDIO() });
      placed++;
      options.print(`call ${placed}: dialling`);
      await dialThroughSetup(live, 400, advance);
      options.print(`call ${placed}: ${live.callId} is live`);
      await conversation(live, advance, (step) => options.print(`call ${placed}: ${step}`));
      live.destroy();
      live = undefined;
      if (!stopped && (options.calls === 0 || placed < options.calls)) await advance(options.pauseMs);
    }
    return placed;
  })();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopped = true;
      live?.destroy();
      await app.close(0);
      await openai.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    })();
    return closing;
  };
  return { consoleUrl, adminToken, app, done, close };
}
