import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SwitchboardError } from '../errors';
import { createLogger } from '../log';
import { startSwitchboard, type RunningSwitchboard, type StartOptions } from '../main';
import type { ReplayOptions } from '../record/replay';
import { installRequiredAgent } from '../record/required-agent';
import { settingsEnv, type ScenarioRequires } from '../record/scenario-settings';
import { UrlSigner } from '../security/signing';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../sim/bandwidth-rest';

/**
 * `switchboard replay` without `--url`: a Switchboard of the replayer's own, configured as a scenario
 * requires (scenario-settings.ts), on 127.0.0.1 port 0 with a temporary DATA_DIR — so its credentials, URL
 * signing secret and database are its own, and every recorded token can be re-minted and its context
 * stored. Nothing is inherited from the caller's environment or .env: the scenario's settings are the whole
 * configuration, which is what makes the replay the same on every machine.
 *
 * Stand-ins where the configuration needs them: a `pause`-held stream needs Bandwidth REST credentials
 * (config.ts), so a Bandwidth REST stand-in answers on loopback (it follows no redirect itself: the replay
 * sends the recorded callbacks). OpenAI is not configured, so a stream call's model side fails at once,
 * as when the scenarios were recorded without one (the whole-call replay passes its own stand-in in `env`).
 */
export interface SelfServer {
  app: RunningSwitchboard;
  /** http://127.0.0.1:PORT */
  url: string;
  dataDir: string;
  /** What replayScenario needs to talk to this server: its credentials, signer, and context store. */
  replayOptions: Pick<ReplayOptions, 'baseUrl' | 'auth' | 'signer' | 'remint'>;
  close(): Promise<void>;
}

export interface SelfServerOptions {
  /** More environment (the stand-ins of a whole-call replay); applied over the scenario's settings. */
  env?: Record<string, string>;
  /** A ManualClock, extra tools, … */
  startOptions?: Partial<StartOptions>;
}

export async function startSelfServer(requires: ScenarioRequires, options: SelfServerOptions = {}): Promise<SelfServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-replay-'));
  let rest: BandwidthRestStandIn | undefined;
  const cleanUp = async () => {
    await rest?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  let app: RunningSwitchboard;
  try {
    const settings = settingsEnv(requires);
    const restEnv: Record<string, string> = {};
    if (settings.AGENT_STREAM_HOLD === 'pause') {
      rest = await startBandwidthRestStandIn({ followRedirects: false });
      Object.assign(restEnv, {
        BANDWIDTH_ACCOUNT_ID: 'replay',
        BANDWIDTH_CLIENT_ID: 'client-id',
        BANDWIDTH_CLIENT_SECRET: 'client-secret',
        BANDWIDTH_API_BASE_URL: rest.apiBaseUrl,
        BANDWIDTH_OAUTH_URL: rest.oauthUrl,
      });
    }
    app = await startSwitchboard({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        PUBLIC_BASE_URL: '',
        LOG_LEVEL: 'silent',
        DEFAULT_AGENT_ID: requires.agent,
        ...restEnv,
        ...settings,
        ...options.env,
      },
      print: () => undefined,
      logger: createLogger('silent'),
      ...options.startOptions,
    });
  } catch (err) {
    await cleanUp();
    throw new SwitchboardError('scenario_invalid', `cannot start a server with the scenario's settings: ${(err as Error).message}`);
  }
  try {
    await installRequiredAgent(app, requires);
  } catch (err) {
    await app.close(0);
    await cleanUp();
    throw err;
  }
  const { callbackUsername: username, callbackPassword: password, urlSigningSecret } = app.credentials.credentials;
  const url = app.localUrl;
  return {
    app,
    url,
    dataDir,
    replayOptions: { baseUrl: url, auth: { username, password }, signer: new UrlSigner(urlSigningSecret), remint: (purpose, sealed) => app.contexts.remint(purpose, sealed) },
    close: async () => {
      await app.close(0);
      await cleanUp();
    },
  };
}
