import fs from 'node:fs';
import type { Command } from 'commander';
import { remintToken } from '../bandwidth/callback-contexts';
import { loadConfig } from '../config';
import { resolveCredentials } from '../credentials';
import { PACKAGE_ROOT } from '../main';
import { formatReplay, replayScenario } from '../record/replay';
import { readScenario } from '../record/scenario';
import { UrlSigner } from '../security/signing';
import { SqliteStore } from '../store/sqlite';
import { runMediaReplay } from './media-replay';

export interface ReplayCommandOptions {
  url: string;
  username?: string;
  password?: string;
  signingSecret?: string;
  dataDir?: string;
  shift?: boolean;
  verbose?: boolean;
  media?: boolean;
  fast?: boolean;
  recordTest?: string;
}

/**
 * `switchboard replay FILE… --url URL`: replays each scenario against the target and prints a diff per
 * mismatching callback and a summary line per file. Returns the exit code (1 on any mismatch).
 * The target's credentials come from the flags, else BANDWIDTH_CALLBACK_USERNAME/PASSWORD and
 * URL_SIGNING_SECRET, else the data directory's credentials.json (a local server's own). With a local
 * server's data directory, its database also receives the recorded contexts of re-minted redirect and
 * transfer tokens; without it, those steps are sent with tokens the target cannot resolve.
 */
export async function runReplay(files: string[], opts: ReplayCommandOptions, env: NodeJS.ProcessEnv, out: (text: string) => void): Promise<number> {
  let username = opts.username ?? env.BANDWIDTH_CALLBACK_USERNAME;
  let password = opts.password ?? env.BANDWIDTH_CALLBACK_PASSWORD;
  let secret = opts.signingSecret ?? env.URL_SIGNING_SECRET;
  let databasePath: string | undefined;
  if (!username || !password || !secret || opts.dataDir) {
    try {
      const config = loadConfig(opts.dataDir ? { ...env, DATA_DIR: opts.dataDir } : env, PACKAGE_ROOT);
      if (fs.existsSync(config.databasePath)) databasePath = config.databasePath;
      const { credentials } = resolveCredentials(config.env, config.dataDir, { generate: false });
      username ??= credentials.callbackUsername;
      password ??= credentials.callbackPassword;
      secret ??= credentials.urlSigningSecret;
    } catch {
      /* no local credentials: the flags must do */
    }
  }
  if (!username || !password) {
    out('switchboard replay: the target\'s callback credentials are needed: --username/--password, BANDWIDTH_CALLBACK_USERNAME/PASSWORD, or --data-dir of a local server\n');
    return 2;
  }
  let failed = 0;
  let total = 0;
  const signer = secret ? new UrlSigner(secret) : undefined;
  // A redirect's or transfer's token names a context in the target's store (DESIGN §4.6): re-minting one
  // stores the recorded context there first, which needs the local server's database.
  const store = signer && databasePath ? SqliteStore.open(databasePath) : undefined;
  try {
    for (const file of files) {
      const remint = store && signer ? (purpose: Parameters<typeof remintToken>[2], sealed: Parameters<typeof remintToken>[3]) => remintToken(store.contexts, signer, purpose, sealed) : undefined;
      const result = await replayScenario(readScenario(file), { baseUrl: opts.url, auth: { username, password }, signer, remint, shiftIds: opts.shift, shiftTimes: opts.shift }, file);
      out(formatReplay(result, { verbose: opts.verbose }));
      total++;
      if (!result.ok) failed++;
    }
  } finally {
    await store?.close();
  }
  if (files.length > 1) out(`${failed === 0 ? 'PASS' : 'FAIL'}: ${total - failed}/${total} scenarios replayed green\n`);
  return failed === 0 ? 0 : 1;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('send recorded callbacks to a running Switchboard and compare its answers with the recorded ones')
    .argument('<files...>', 'scenario files (RECORD_DIR/*.json, fixtures/replay/*.json)')
    .option('--url <url>', 'the server to replay against, e.g. http://localhost:3000 (not with --media)')
    .option('--username <user>', "the target's callback username (BANDWIDTH_CALLBACK_USERNAME)")
    .option('--password <password>', "the target's callback password (BANDWIDTH_CALLBACK_PASSWORD)")
    .option('--signing-secret <secret>', "the target's URL_SIGNING_SECRET, to re-mint tokens no response handed out")
    .option('-d, --data-dir <dir>', 'read the credentials of a local server from this data directory (DATA_DIR)')
    .option('--shift', 'give calls fresh ids and move timestamps to now, so the replay collides with no stored call')
    .option('-v, --verbose', 'list matching callbacks too')
    .option('--media', 'whole calls (FILE.json + FILE.call/, or a directory of them): replay offline against an in-process server and compare BXML, OpenAI events and playout')
    .option('--fast', 'with --media: run the manual clock as fast as possible instead of at the recorded pace')
    .option('--record-test <name>', 'with --media: also write test/replay/NAME.test.ts, a jest test that replays these recordings')
    .action(async (files: string[], opts: ReplayCommandOptions) => {
      const write = (t: string) => process.stdout.write(t);
      if (opts.media) {
        process.exitCode = await runMediaReplay(files, opts, write);
        return;
      }
      if (!opts.url) {
        write("switchboard replay: --url is required (the server to replay against), or --media to replay whole calls offline\n");
        process.exitCode = 2;
        return;
      }
      process.exitCode = await runReplay(files, opts as ReplayCommandOptions & { url: string }, process.env, write);
    });
}
