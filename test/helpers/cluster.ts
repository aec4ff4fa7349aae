import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import type { Clock } from '../../src/clock';
import { waitFor } from '../../src/clock';
import { createLogger } from '../../src/log';
import { startSwitchboard, type RunningSwitchboard } from '../../src/main';
import { SimulatedCall, type SimulatedCallOptions } from '../../src/sim/bandwidth-caller';
import type { Store } from '../../src/store/types';
import { instanceStore, type InstanceStore } from './instance-store';
import { RoundRobinProxy } from './round-robin-proxy';

/**
 * Several Switchboard instances on one store behind one address (docs/architecture.md, "Several instances"):
 * the round-robin proxy is PUBLIC_BASE_URL, each instance's INSTANCE_PUBLIC_URL is its prefix on the proxy,
 * and every instance shares the credentials an operator would give them all (callback, signing, admin).
 * `kill` ends an instance the way a crash does (no drain, sockets destroyed, nothing more written);
 * `restart` starts it again under the same INSTANCE_ID.
 */
export interface StoreBackend {
  readonly name: string;
  /** The store instance `name` uses: one shared object (SQLite in-process), or its own connection (PostgreSQL). */
  storeFor(instance: string): Promise<Store>;
  /** After an instance died: let go of what its store held (its connections), as the process's end would. */
  released(instance: string, store: Store): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterInstance {
  name: string;
  app: RunningSwitchboard;
  view: InstanceStore;
  store: Store;
  /** Every socket the instance's server accepted (HTTP and media): a crash destroys them. */
  sockets: Set<net.Socket>;
  dataDir: string;
}

export const CLUSTER_CREDENTIALS = {
  BANDWIDTH_CALLBACK_USERNAME: 'bandwidth-callbacks',
  BANDWIDTH_CALLBACK_PASSWORD: 'callback-password-shared-by-every-instance',
  URL_SIGNING_SECRET: 'url-signing-secret-shared-by-every-instance-0123456789',
  ADMIN_TOKEN: 'admin-token-shared-by-every-instance',
} as const;

export class Cluster {
  readonly instances = new Map<string, ClusterInstance>();

  private constructor(
    readonly proxy: RoundRobinProxy,
    private readonly backend: StoreBackend,
    private readonly env: Record<string, string>,
    private readonly clock: Clock,
  ) {}

  /** The proxy and one instance per name, all up. `env` is the instances' environment beyond the cluster's own. */
  static async start(names: readonly string[], backend: StoreBackend, env: Record<string, string>, clock: Clock): Promise<Cluster> {
    const proxy = await RoundRobinProxy.start(names);
    const cluster = new Cluster(proxy, backend, env, clock);
    for (const name of names) await cluster.startInstance(name);
    return cluster;
  }

  get(name: string): ClusterInstance {
    const instance = this.instances.get(name);
    if (!instance) throw new Error(`instance ${name} is not running`);
    return instance;
  }

  async startInstance(name: string): Promise<ClusterInstance> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-${name}-`));
    const store = await this.backend.storeFor(name);
    const view = instanceStore(store);
    const app = await startSwitchboard({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        ...this.env,
        ...CLUSTER_CREDENTIALS,
        PUBLIC_BASE_URL: this.proxy.url,
        INSTANCE_PUBLIC_URL: this.proxy.instanceUrl(name),
        INSTANCE_ID: name,
      },
      print: () => undefined,
      logger: createLogger('silent'),
      clock: this.clock,
      store: view.store,
    });
    const sockets = new Set<net.Socket>();
    app.server.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    this.proxy.setBackend(name, app.localUrl);
    const instance = { name, app, view, store, sockets, dataDir };
    this.instances.set(name, instance);
    return instance;
  }

  /**
   * A crash: the instance stops listening, every socket it had (callbacks, media) is destroyed, and from now on
   * nothing it does reaches the store or the bus. Its leftovers in this process run on into the void.
   */
  async kill(name: string): Promise<void> {
    const instance = this.get(name);
    this.instances.delete(name);
    instance.view.kill();
    instance.app.server.close();
    for (const socket of instance.sockets) socket.destroy();
    await this.backend.released(name, instance.store);
    fs.rmSync(instance.dataDir, { recursive: true, force: true });
  }

  /** The same instance (INSTANCE_ID) started again, on a new port behind the same prefix. */
  restart(name: string): Promise<ClusterInstance> {
    return this.startInstance(name);
  }

  /** Bandwidth's side of a call to the shared address. */
  caller(options: Partial<SimulatedCallOptions> = {}): SimulatedCall {
    return new SimulatedCall({
      baseUrl: this.proxy.url,
      callbackAuth: { username: CLUSTER_CREDENTIALS.BANDWIDTH_CALLBACK_USERNAME, password: CLUSTER_CREDENTIALS.BANDWIDTH_CALLBACK_PASSWORD },
      clock: this.clock,
      streamSetupMs: 400,
      ...options,
    });
  }

  /** The instance whose registry holds the call's live session (its media attached), if any. */
  holderOf(callId: string): ClusterInstance | undefined {
    return [...this.instances.values()].find((i) => i.app.bridge.get(callId)?.state === 'live');
  }

  /** POST a voice callback to one instance directly (not through the proxy). */
  post(name: string, route: string, body: unknown): Promise<Response> {
    const auth = Buffer.from(`${CLUSTER_CREDENTIALS.BANDWIDTH_CALLBACK_USERNAME}:${CLUSTER_CREDENTIALS.BANDWIDTH_CALLBACK_PASSWORD}`).toString('base64');
    return fetch(`${this.get(name).app.localUrl}/bandwidth/voice/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Basic ${auth}` }, body: JSON.stringify(body) });
  }

  async close(): Promise<void> {
    for (const instance of this.instances.values()) {
      await instance.app.close(0);
      fs.rmSync(instance.dataDir, { recursive: true, force: true });
    }
    this.instances.clear();
    await this.proxy.close();
    await this.backend.close();
  }
}

/**
 * Dial several calls at once: every initiate answered, Bandwidth's stream set-up (`setupMs`) passed once on
 * the clock, every stream up.
 */
export async function dialAll(calls: readonly SimulatedCall[], setupMs: number, advance: (ms: number) => Promise<void>): Promise<void> {
  let settled = 0;
  const dialing = calls.map((call) => call.dial().finally(() => settled++));
  await waitFor(() => calls.every((call) => call.callbacks.some((c) => c.eventType === 'initiate' && c.status !== undefined)), 20_000, 'every initiate to be answered');
  await advance(setupMs);
  await waitFor(() => settled === calls.length, 20_000, 'every media stream to start');
  await Promise.all(dialing);
}
