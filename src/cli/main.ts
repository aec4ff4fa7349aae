#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import dotenv from 'dotenv';
import { loadConfig } from '../config';
import { resolveCredentials } from '../credentials';
import { isSwitchboardError, SwitchboardError } from '../errors';
import { PACKAGE_ROOT, startSwitchboard } from '../main';
import { exitCodeFor, registerAdminCommands } from './commands';
import { runDev } from './dev';
import { registerReplayCommand } from './replay';
import { formatReport, runSimulation, SIMULATION_SCENARIOS, type SimulationScenario } from './simulate';
import { runVoicemailSimulation } from './simulate-voicemail';
import { runConsoleSimulation } from './simulate-console';
import { SIMULATE_CONSOLE_PAUSE_MS } from '../constants';

/** The `switchboard` command. `.env` in the working directory is read first; real env vars win. */
dotenv.config({ quiet: true });

const program = new Command();
program
  .name('switchboard')
  .description('OpenAI Realtime voice agents on Bandwidth phone numbers')
  .version((JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version, '-V, --version');
// Usage errors (unknown command or option, missing argument) throw instead of exiting with commander's 1,
// so they exit 2 as documented; subcommands inherit this from the program.
program.exitOverride();

program
  .command('serve', { isDefault: true })
  .description('start the server (Bandwidth callbacks)')
  .option('-p, --port <port>', 'port to listen on (PORT)')
  .option('-d, --data-dir <dir>', 'data directory (DATA_DIR)')
  .option('--record <dir>', 'record every callback as a replayable scenario file per call (RECORD_DIR)')
  .option('--redact', "with --record: replace phone numbers, transcripts, tool-call arguments and outputs, transfer summaries and key presses by placeholders (RECORD_REDACT); the audio files are kept: they are the call's speech")
  .action(async (opts: { port?: string; dataDir?: string; record?: string; redact?: boolean }) => {
    const env = { ...process.env };
    if (opts.port) env.PORT = opts.port;
    if (opts.dataDir) env.DATA_DIR = opts.dataDir;
    const running = await startSwitchboard({ env, recordDir: opts.record, recordRedact: opts.redact ? true : undefined }).catch(failedToStart);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      running.logger.info({ signal }, 'shutting down');
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program
  .command('credentials')
  .description('print the Bandwidth callback credentials, the admin token, the report signing secret, the callback URLs and the console URL again')
  .option('-d, --data-dir <dir>', 'data directory (DATA_DIR)')
  .action((opts: { dataDir?: string }) => {
    const env = { ...process.env };
    if (opts.dataDir) env.DATA_DIR = opts.dataDir;
    const config = loadConfig(env, PACKAGE_ROOT);
    const { credentials, file } = resolveCredentials(config.env, config.dataDir, { generate: false });
    const base = config.publicBaseUrl ?? `http://localhost:${config.port}`;
    process.stdout.write(
      [
        `Call-initiated callback URL  ${base}/bandwidth/voice/initiate`,
        `Call-status callback URL     ${base}/bandwidth/voice/status`,
        `Callback username            ${credentials.callbackUsername}`,
        `Callback password            ${credentials.callbackPassword}`,
        `Admin API token              ${credentials.adminToken}`,
        `Report signing secret        ${credentials.reportSigningSecret}`,
        `Console (sign in with the admin token)  ${base}/console`,
        `(from the environment, else ${file})`,
        '',
      ].join('\n'),
    );
  });

registerAdminCommands(program);
registerReplayCommand(program);

program
  .command('dev')
  .description('start the server for development; with NGROK_AUTHTOKEN, behind an ngrok tunnel; --offline: with the Realtime stand-in, no key needed')
  .option('-p, --port <port>', 'port to listen on (PORT)')
  .option('--record <dir>', 'record every callback as a replayable scenario file per call (RECORD_DIR)')
  .option('--offline', 'use the local OpenAI Realtime stand-in (scripted replies) instead of OpenAI: try an agent from the browser with no key and no internet; opens no tunnel')
  .action(async (opts: { port?: string; record?: string; offline?: boolean }) => {
    const env = { ...process.env };
    if (opts.port) env.PORT = opts.port;
    const dev = await runDev({ env, offline: opts.offline, startOptions: { recordDir: opts.record } });
    const stop = () => dev.close().then(() => process.exit(0), () => process.exit(1));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

program
  .command('simulate')
  .description('run a complete call offline against scripted Bandwidth and OpenAI stand-ins and print it')
  .option('--realtime', 'pace the call on the wall clock instead of simulated time')
  .option('--console', 'keep a server up on --port and place a simulated call every few seconds, to watch in its console (Ctrl-C stops)')
  .option('-p, --port <port>', 'with --console: the port to serve on', '3000')
  .addOption(
    new Option('--scenario <name>', 'what the call shows: a conversation with a barge-in, the silence watchdog (no-input), the maximum duration (time-limit), or an outbound call an answering machine picks up (voicemail)')
      .choices([...SIMULATION_SCENARIOS, 'voicemail'])
      .default('conversation'),
  )
  .action(async (opts: { realtime?: boolean; console?: boolean; port: string; scenario: SimulationScenario | 'voicemail' }) => {
    if (opts.console) {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SwitchboardError('config_invalid', `--port: ${opts.port} is not a port number`);
      const sim = await runConsoleSimulation({ port, calls: 0, pauseMs: SIMULATE_CONSOLE_PAUSE_MS, print: (text) => process.stdout.write(`${text}\n`) });
      const stop = () => sim.close().then(() => process.exit(0), () => process.exit(1));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      await sim.done;
      return;
    }
    // Steps go to stderr as they happen (a real-time run takes about 15 s); the report goes to stdout.
    const progress = (step: string) => process.stderr.write(`… ${step}\n`);
    const report = opts.scenario === 'voicemail' ? await runVoicemailSimulation({ realtime: opts.realtime, progress }) : await runSimulation({ realtime: opts.realtime, scenario: opts.scenario, progress });
    process.stdout.write(formatReport(report));
  });

/**
 * A start that fails for a reason that is not a configuration problem (a corrupt database, DATA_DIR a file)
 * is a failure (exit 1), not bad usage (exit 2, which admin commands use for bad input files).
 */
function failedToStart(err: unknown): never {
  if (isSwitchboardError(err)) throw err;
  throw new SwitchboardError('unavailable', `could not start: ${(err as Error).message}`);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  // commander has already printed its message (or the help the user asked for).
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  process.stderr.write(`switchboard: ${(err as Error).message ?? String(err)}\n`);
  if (isSwitchboardError(err)) process.exit(err.code === 'config_invalid' || err.code === 'template_invalid' ? 78 : 1);
  process.exit(exitCodeFor(err));
});
