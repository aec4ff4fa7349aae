import fs from 'node:fs';
import type { Command } from 'commander';
import { remintToken } from '../bandwidth/callback-contexts';
import { loadConfig } from '../config';
import { resolveCredentials } from '../credentials';
import { isSwitchboardError } from '../errors';
import { PACKAGE_ROOT } from '../main';
import { formatReplay, replayScenario, type ReplayOptions, type ReplayResult } from '../record/replay';
import { readScenario, scenarioRequires, type Scenario } from '../record/scenario';
import { NO_REQUIREMENTS, requirementsKey, type ScenarioRequires } from '../record/scenario-settings';
import { checkTargetSettings, type TargetAdminApi } from '../record/settings-check';
import { UrlSigner } from '../security/signing';
import { SqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { runMediaReplay } from './media-replay';
import { startSelfServer } from './self-server';

export interface ReplayCommandOptions {
  /** A running target; without it the replay starts its own server (`--self`). */
  url?: string;
  self?: boolean;
  username?: string;
  password?: string;
  signingSecret?: string;
  /** The target's admin token, for checking its settings. */
  token?: string;
  dataDir?: string;
  /** commander's `--no-check`: false skips the settings check against `--url`. */
  check?: boolean;
  shift?: boolean;
  verbose?: boolean;
  media?: boolean;
  fast?: boolean;
  recordTest?: string;
}

export interface ReplayIo {
  /** The report: one block per scenario and a summary. */
  out: (text: string) => void;
  /** Why the command failed, when it did. */
  err: (text: string) => void;
}

/** Exit codes, as the admin commands use them (README): */
export const REPLAY_EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

interface Loaded {
  file: string;
  steps: Scenario;
  requires: ScenarioRequires | undefined;
}

/**
 * `switchboard replay FILE…`: replays each scenario and prints a diff per mismatching callback and a
 * summary line per file. Returns the exit code: 0 all green, 1 a scenario failed (a mismatch, or the target
 * lacks a setting it requires), 2 bad usage or a bad scenario file (nothing is replayed then), 3 the target
 * cannot be reached.
 *
 * Without `--url` (`--self`): each group of scenarios with equal requirements gets a server of its own
 * (self-server.ts), ids are shifted so no two replays collide, and the server is removed after.
 *
 * With `--url`: the target's callback credentials come from the flags, else BANDWIDTH_CALLBACK_USERNAME/
 * PASSWORD and URL_SIGNING_SECRET, else the data directory's credentials.json (a local server's own); its
 * admin token from --token, ADMIN_TOKEN or the data directory, to check first that the target has the
 * settings each scenario requires (settings-check.ts). With a local server's data directory, its database
 * also receives the recorded contexts of re-minted redirect and transfer tokens.
 */
export async function runReplay(files: string[], opts: ReplayCommandOptions, env: NodeJS.ProcessEnv, io: ReplayIo): Promise<number> {
  if (opts.url && opts.self) return usage(io, '--self and --url exclude each other: replay on a server of its own, or against the one at --url');
  if (!opts.url) {
    // These describe a target; on its own server replay has its own, so a flag here is a mistake to report.
    const targetFlags = { '--username': opts.username, '--password': opts.password, '--signing-secret': opts.signingSecret, '--token': opts.token, '--data-dir': opts.dataDir, '--no-check': opts.check === false ? true : undefined };
    const given = Object.entries(targetFlags).filter(([, v]) => v !== undefined).map(([k]) => k);
    if (given.length > 0) return usage(io, `${given.join(', ')} only apply with --url: without it, replay uses a server of its own with its own credentials`);
  }
  let target: URL | undefined;
  if (opts.url) {
    try {
      target = new URL(opts.url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('not http');
    } catch {
      return usage(io, `--url ${opts.url} is not an http:// or https:// URL`);
    }
  }
  const loaded: Loaded[] = [];
  const bad: string[] = [];
  for (const file of files) {
    try {
      const steps = readScenario(file);
      loaded.push({ file, steps, requires: scenarioRequires(steps) });
    } catch (err) {
      if (!isSwitchboardError(err, 'scenario_invalid')) throw err;
      bad.push(err.message);
    }
  }
  if (bad.length > 0) {
    io.err(`${bad.map((m) => `switchboard replay: ${m}`).join('\n')}\nswitchboard replay: nothing was replayed (fix the file${bad.length > 1 ? 's' : ''} above, or leave ${bad.length > 1 ? 'them' : 'it'} out)\n`);
    return REPLAY_EXIT.usage;
  }
  const outcome = target ? await replayAgainst(target.href.replace(/\/+$/, ''), loaded, opts, env, io) : await replaySelf(loaded, opts, io);
  if (typeof outcome === 'number') return outcome;
  const failed = outcome.filter((ok) => !ok).length;
  if (loaded.length > 1) io.out(`${failed === 0 ? 'PASS' : 'FAIL'}: ${loaded.length - failed}/${loaded.length} scenarios replayed green\n`);
  if (failed > 0) {
    io.err(`switchboard replay: ${failed} of ${loaded.length} scenario${loaded.length > 1 ? 's' : ''} did not replay green (see above)\n`);
    return REPLAY_EXIT.failed;
  }
  return REPLAY_EXIT.ok;
}

/** `--self`: one server per group of scenarios that require the same thing. Returns green/not per scenario. */
async function replaySelf(loaded: Loaded[], opts: ReplayCommandOptions, io: ReplayIo): Promise<boolean[] | number> {
  const groups = new Map<string, Loaded[]>();
  for (const l of loaded) {
    const key = requirementsKey(l.requires ?? NO_REQUIREMENTS);
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  const green = new Map<Loaded, boolean>();
  for (const group of groups.values()) {
    let server: Awaited<ReturnType<typeof startSelfServer>>;
    try {
      server = await startSelfServer(group[0]!.requires ?? NO_REQUIREMENTS);
    } catch (err) {
      io.err(`switchboard replay: ${group.map((l) => l.file).join(', ')}: ${(err as Error).message}\n`);
      return REPLAY_EXIT.usage;
    }
    try {
      for (const l of group) {
        const result = await replayScenario(l.steps, { ...server.replayOptions, shiftIds: true, shiftTimes: true }, l.file);
        io.out(formatReplay(result, { verbose: opts.verbose }));
        if (!result.ok && !l.requires) {
          io.out(`  note: ${l.file} does not say which agent settings it needs (meta.requires), so its server had the defaults; if it was recorded with others, state them there (README, "What a scenario requires")\n`);
        }
        green.set(l, result.ok);
      }
    } finally {
      await server.close();
    }
  }
  return loaded.map((l) => green.get(l) ?? false);
}

/** `--url`: check each scenario's requirements on the target, then replay it. */
async function replayAgainst(baseUrl: string, loaded: Loaded[], opts: ReplayCommandOptions, env: NodeJS.ProcessEnv, io: ReplayIo): Promise<boolean[] | number> {
  const local = localServer(opts, env);
  const username = opts.username ?? env.BANDWIDTH_CALLBACK_USERNAME ?? local?.callbackUsername;
  const password = opts.password ?? env.BANDWIDTH_CALLBACK_PASSWORD ?? local?.callbackPassword;
  const secret = opts.signingSecret ?? env.URL_SIGNING_SECRET ?? local?.urlSigningSecret;
  const token = opts.token ?? env.ADMIN_TOKEN ?? local?.adminToken;
  if (!username || !password) {
    return usage(io, "the target's callback credentials are needed: --username/--password, BANDWIDTH_CALLBACK_USERNAME/PASSWORD, or --data-dir of a local server");
  }
  const checking = opts.check !== false && loaded.some((l) => l.requires);
  if (checking && !token) {
    return usage(io, "checking that the target has the settings the scenarios require needs its admin token: --token, ADMIN_TOKEN, or --data-dir of a local server (or --no-check to replay without checking)");
  }
  const api = token ? targetAdminApi(baseUrl, token) : undefined;
  const signer = secret ? new UrlSigner(secret) : undefined;
  // A redirect's or transfer's token names a context in the target's store (DESIGN §4.6): re-minting one
  // stores the recorded context there first, which needs the local server's database.
  const store = signer ? await localStore(local) : undefined;
  const replayOptions: ReplayOptions = {
    baseUrl,
    auth: { username, password },
    signer,
    remint: store && signer ? (purpose, sealed) => remintToken(store.contexts, signer, purpose, sealed) : undefined,
    shiftIds: opts.shift,
    shiftTimes: opts.shift,
  };
  const green: boolean[] = [];
  try {
    for (const l of loaded) {
      if (checking && l.requires && api) {
        let problems: string[];
        try {
          problems = await checkTargetSettings(l.steps, l.requires, api);
        } catch (err) {
          if (err instanceof TargetUnreachable) {
            io.err(`switchboard replay: ${err.message}\n`);
            return REPLAY_EXIT.unreachable;
          }
          io.err(`switchboard replay: ${l.file}: could not check the target's settings: ${(err as Error).message}\n`);
          return REPLAY_EXIT.failed;
        }
        if (problems.length > 0) {
          io.out(`${problems.map((p) => `  NEEDS ${p}`).join('\n')}\nFAIL ${l.file}: the target lacks settings this scenario requires (meta.requires); nothing was sent\n`);
          green.push(false);
          continue;
        }
      }
      const result = await replayScenario(l.steps, replayOptions, l.file);
      io.out(formatReplay(result, { verbose: opts.verbose }));
      if (unreachable(result)) {
        io.err(`switchboard replay: cannot reach ${baseUrl}: ${result.outcomes[0]?.problems[0] ?? ''}\n`);
        return REPLAY_EXIT.unreachable;
      }
      green.push(result.ok);
    }
  } finally {
    await store?.close();
  }
  return green;
}

/** Every callback failed to connect: the target is not there (rather than answering wrongly). */
function unreachable(result: ReplayResult): boolean {
  return result.outcomes.length > 0 && result.outcomes.every((o) => o.status === undefined && o.problems.some((p) => p.startsWith('request failed')));
}

interface LocalServer {
  callbackUsername?: string;
  callbackPassword?: string;
  urlSigningSecret?: string;
  adminToken?: string;
  databasePath?: string;
  /** The local server's PostgreSQL (DATABASE_URL), which it uses instead of databasePath. */
  databaseUrl?: string;
}

/** The local server's store: its PostgreSQL when DATABASE_URL names one, else its SQLite file if there is one. */
async function localStore(local: LocalServer | undefined): Promise<Store | undefined> {
  // Loaded only when chosen, as in main.ts.
  if (local?.databaseUrl) return (require('../store/postgres') as typeof import('../store/postgres')).PostgresStore.open(local.databaseUrl);
  return local?.databasePath ? SqliteStore.open(local.databasePath) : undefined;
}

/** The credentials and database of a local server's data directory (--data-dir, else DATA_DIR or ./data). */
function localServer(opts: ReplayCommandOptions, env: NodeJS.ProcessEnv): LocalServer | undefined {
  try {
    const config = loadConfig(opts.dataDir ? { ...env, DATA_DIR: opts.dataDir } : env, PACKAGE_ROOT);
    const { credentials } = resolveCredentials(config.env, config.dataDir, { generate: false });
    return { ...credentials, databasePath: fs.existsSync(config.databasePath) ? config.databasePath : undefined, databaseUrl: config.databaseUrl };
  } catch {
    return undefined; // no local server: the flags and environment must do
  }
}

class TargetUnreachable extends Error {}

/** The target's admin API as the settings check reads it (GET only). */
export function targetAdminApi(baseUrl: string, token: string): TargetAdminApi {
  return {
    async get<T>(path: string): Promise<T | undefined> {
      let res: Response;
      try {
        res = await fetch(`${baseUrl}/api${path}`, { headers: { authorization: `Bearer ${token}` } });
      } catch (err) {
        throw new TargetUnreachable(`cannot reach ${baseUrl}: ${(err as Error).message}`);
      }
      if (res.status === 404) return undefined;
      const text = await res.text();
      if (!res.ok) {
        let message = text.slice(0, 200);
        try {
          message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
        } catch {
          /* not JSON */
        }
        const hint = res.status === 401 ? ' (is the admin token the target\'s? --token, ADMIN_TOKEN or --data-dir)' : '';
        throw new Error(`GET /api${path}: HTTP ${res.status}: ${message}${hint}`);
      }
      return JSON.parse(text) as T;
    },
  };
}

function usage(io: ReplayIo, message: string): number {
  io.err(`switchboard replay: ${message}\n`);
  return REPLAY_EXIT.usage;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      'replay recorded callbacks and compare the answers with the recorded ones: on a server of its own configured as each scenario requires (default), or against a running Switchboard (--url), whose settings are checked first',
    )
    .argument('<files...>', 'scenario files (RECORD_DIR/*.json, fixtures/replay/*.json)')
    .option('--self', 'replay on an in-process server of its own, with the settings each scenario requires (the default without --url)')
    .option('--url <url>', 'replay against the running server at this URL, e.g. http://localhost:3000')
    .option('--username <user>', "with --url: the target's callback username (BANDWIDTH_CALLBACK_USERNAME)")
    .option('--password <password>', "with --url: the target's callback password (BANDWIDTH_CALLBACK_PASSWORD)")
    .option('--signing-secret <secret>', "with --url: the target's URL_SIGNING_SECRET, to re-mint tokens no response handed out")
    .option('--token <token>', "with --url: the target's admin token (ADMIN_TOKEN), to check its settings first")
    .option('-d, --data-dir <dir>', 'with --url: read the credentials and database of a local server from this data directory (DATA_DIR, default ./data)')
    .option('--no-check', "with --url: do not check the target's settings first (a missing one then shows as a BXML diff)")
    .option('--shift', 'with --url: give calls fresh ids and move timestamps to now, so the replay collides with no stored call (always on with --self)')
    .option('-v, --verbose', 'list matching callbacks too')
    .option('--media', 'whole calls (FILE.json + FILE.call/, or a directory of them): replay offline against an in-process server and compare BXML, OpenAI events and playout')
    .option('--fast', 'with --media: run the manual clock as fast as possible instead of at the recorded pace')
    .option('--record-test <name>', 'with --media: also write test/replay/NAME.test.ts, a jest test that replays these recordings')
    .action(async (files: string[], opts: ReplayCommandOptions) => {
      if (opts.media) {
        if (opts.url) {
          process.stderr.write('switchboard replay: --media replays whole calls offline on a server of its own; it takes no --url\n');
          process.exitCode = REPLAY_EXIT.usage;
          return;
        }
        process.exitCode = await runMediaReplay(files, opts, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
        return;
      }
      process.exitCode = await runReplay(files, opts, process.env, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
    });
}
