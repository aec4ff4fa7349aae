import net from 'node:net';
import { loadConfig } from '../config';
import { PACKAGE_ROOT, startSwitchboard, type RunningSwitchboard, type StartOptions } from '../main';
import { VOICE_PATH_PREFIX, VOICE_ROUTES } from '../bandwidth/urls';
import type { RealtimeStandIn } from '../sim/realtime-server';

/** Where the browser test call's page is served (the console's router, src/console/router.ts). */
export const TEST_CALL_PAGE_PATH = '/console/test-call';

/** Opens a public HTTPS tunnel to a local port. Injectable: tests pass a fake, `dev` uses ngrok. */
export interface TunnelProvider {
  open(options: { port: number; authtoken: string }): Promise<{ url: string; close(): Promise<void> }>;
}

/**
 * The real provider: @ngrok/ngrok, loaded lazily so Switchboard runs (and its tests pass) where its
 * native binary is not installed for the platform.
 */
export const ngrokTunnel: TunnelProvider = {
  async open({ port, authtoken }) {
    let ngrok: { forward(o: { addr: number; authtoken: string }): Promise<{ url(): string | null; close(): Promise<void> }> };
    try {
      ngrok = require('@ngrok/ngrok') as typeof ngrok;
    } catch {
      throw new Error('@ngrok/ngrok is not installed for this platform: run npm install @ngrok/ngrok to use dev tunnels');
    }
    const listener = await ngrok.forward({ addr: port, authtoken });
    const url = listener.url();
    if (!url) throw new Error('ngrok opened a tunnel without a public URL');
    return { url, close: () => listener.close() };
  },
};

export interface DevOptions {
  env: NodeJS.ProcessEnv;
  tunnel?: TunnelProvider;
  print?: (text: string) => void;
  start?: (options: StartOptions) => Promise<RunningSwitchboard>;
  startOptions?: Partial<StartOptions>;
  /**
   * No internet and no OpenAI key: the Realtime stand-in (src/sim/realtime-server.ts) runs in this process as
   * the OpenAI endpoint, so the browser test call works with nothing but this machine. No tunnel is opened.
   */
  offline?: boolean;
}

export interface DevSession {
  running: RunningSwitchboard;
  publicUrl: string | undefined;
  /** The in-process Realtime stand-in, with `offline`. */
  realtime: RealtimeStandIn | undefined;
  close(): Promise<void>;
}

/**
 * `switchboard dev`: with NGROK_AUTHTOKEN, open the tunnel first (the BXML URLs are fixed at start), start
 * the server with PUBLIC_BASE_URL set to the tunnel, and print what to paste into the Bandwidth dashboard.
 * Without a token: start on localhost and print how to run ngrok by hand.
 */
export async function runDev(options: DevOptions): Promise<DevSession> {
  const print = options.print ?? ((t: string) => process.stdout.write(`${t}\n`));
  const start = options.start ?? startSwitchboard;
  const env = { ...options.env };
  let realtime: RealtimeStandIn | undefined;
  if (options.offline) {
    // Loaded only here: every other command starts without the stand-in's modules.
    const { startRealtimeStandIn } = require('../sim/realtime-server') as typeof import('../sim/realtime-server');
    const standIn = await startRealtimeStandIn();
    realtime = standIn;
    env.OPENAI_BASE_URL = standIn.url;
    env.OPENAI_API_KEY = standIn.apiKey;
  }
  const config = loadConfig(env, PACKAGE_ROOT);
  const token = options.offline ? undefined : config.env.NGROK_AUTHTOKEN;
  let tunnel: { url: string; close(): Promise<void> } | undefined;
  if (token) {
    const port = config.port === 0 ? await freePort(config.host) : config.port;
    env.PORT = String(port);
    tunnel = await (options.tunnel ?? ngrokTunnel).open({ port, authtoken: token });
    env.PUBLIC_BASE_URL = tunnel.url.replace(/\/+$/, '');
  }
  let running: RunningSwitchboard;
  try {
    running = await start({ ...options.startOptions, env, print: options.startOptions?.print ?? print });
  } catch (err) {
    await tunnel?.close();
    await realtime?.close();
    throw err;
  }
  const c = running.credentials.credentials;
  if (realtime) {
    const generated = running.credentials.sources.adminToken === 'generated';
    print(
      [
        `Offline: OpenAI Realtime is the local stand-in at ${realtime.url} (scripted replies, no key, no internet).`,
        '',
        'Try your agent from the browser, in the console:',
        `  ${running.localUrl.replace('0.0.0.0', 'localhost')}${TEST_CALL_PAGE_PATH}`,
        // The console answers that address with its sign-in page, which returns to the test call (docs/console.md).
        generated
          ? `  Sign in with the admin token printed above (${c.adminToken.slice(0, 4)}…); the console then opens its Test call page.`
          : '  Sign in with the admin token (`switchboard credentials` prints it; ADMIN_TOKEN when set in the environment); the console then opens its Test call page.',
        '',
      ].join('\n'),
    );
    const standIn = realtime;
    return {
      running,
      publicUrl: undefined,
      realtime,
      close: async () => {
        await running.close(0);
        await standIn.close();
      },
    };
  }
  const voice = `${running.publicBaseUrl}${VOICE_PATH_PREFIX}`;
  if (tunnel) {
    print(
      [
        `Tunnel open: ${tunnel.url} -> ${running.localUrl}`,
        '',
        'Paste into the Bandwidth App > Applications > your Voice application:',
        `  Call-initiated callback URL   ${voice}/${VOICE_ROUTES.initiate}`,
        '  Call-initiated method         POST',
        `  Call-status callback URL      ${voice}/${VOICE_ROUTES.status}`,
        '  Call-status method            POST',
        `  Callback username             ${c.callbackUsername}`,
        `  Callback password             ${c.callbackPassword}`,
        '',
        'Free ngrok URLs change on every start: paste them again after a restart.',
        '',
      ].join('\n'),
    );
  } else {
    const port = new URL(running.localUrl).port;
    print(
      [
        'No NGROK_AUTHTOKEN: no tunnel was opened. Bandwidth cannot reach localhost. Either set NGROK_AUTHTOKEN',
        '(https://dashboard.ngrok.com/get-started/your-authtoken) and run `switchboard dev` again, or by hand:',
        `  ngrok http ${port}`,
        '  then set PUBLIC_BASE_URL=https://<the forwarding address> in .env and restart.',
        '',
      ].join('\n'),
    );
  }
  return {
    running,
    publicUrl: tunnel?.url,
    realtime: undefined,
    close: async () => {
      await running.close(0);
      await tunnel?.close();
    },
  };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
