import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SimulatedCall } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { callbackFixture } from '../helpers/fixtures';
import { basicAuth } from '../helpers/server';
import { CallbackFuzzer, sendCallbackInputs } from './callback-fuzz';
import { startChildServer, type ChildServer } from './child-server';
import { recordFigures, round2, sleep, seedFor } from './harness';

/**
 * The same callback fuzz against the built server in its own process (`node dist/cli/main.js serve`), so
 * "never crashes" is literal: the process is still running afterwards, and still answers a real call.
 */
const INPUTS_PER_ROUTE = 60;
const CREDENTIALS = { BANDWIDTH_CALLBACK_USERNAME: 'bw-fuzz', BANDWIDTH_CALLBACK_PASSWORD: 'fuzz-callback-password', ADMIN_TOKEN: 'sb_fuzz_admin_token' };

describe('fuzzing the server process', () => {
  let dataDir: string;
  let openai: RealtimeStandIn;
  let server: ChildServer | undefined;
  afterAll(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await openai?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('the callback routes: no answer ≥ 500, the process keeps running, and a call still connects', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-fuzz-child-'));
    openai = await startRealtimeStandIn({ script: () => ({ text: 'Hello.', audioMs: 1000 }) });
    server = await startChildServer({ ...CREDENTIALS, DATA_DIR: dataDir, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url });
    const auth = basicAuth(CREDENTIALS.BANDWIDTH_CALLBACK_USERNAME, CREDENTIALS.BANDWIDTH_CALLBACK_PASSWORD);
    const { seed, rand } = seedFor('callbacks-child');
    const fuzzer = new CallbackFuzzer(rand);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/bandwidth/voice/initiate`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ ...callbackFixture('initiate'), callId: `c-child-token-${i}` }) });
      fuzzer.harvest(await res.text());
    }
    const inputs = fuzzer.inputs(INPUTS_PER_ROUTE, 'c-child');
    const r = await sendCallbackInputs(server.url, auth, inputs, 4);

    const alive = server.child.exitCode === null && server.child.signalCode === null;
    const health = (await fetch(`${server.url}/healthz`)).status;
    const call = await dialThroughSetup(new SimulatedCall({ baseUrl: server.url, callbackAuth: { username: CREDENTIALS.BANDWIDTH_CALLBACK_USERNAME, password: CREDENTIALS.BANDWIDTH_CALLBACK_PASSWORD }, streamSetupMs: 100 }), 100, sleep);
    await sleep(600);
    const heardMs = call.heard.totalMs;
    await call.hangup();
    recordFigures('fuzz-child', { seed, inputs: r.all.total, statuses: r.all.counts, maxMs: round2(Math.max(...r.durationsMs)), processAlive: alive, healthz: health, callHeardMs: heardMs });
    expect(r.fiveHundreds).toEqual([]);
    expect(r.unexpectedErrors).toEqual([]);
    expect(alive).toBe(true);
    expect(health).toBe(200);
    expect(heardMs).toBeGreaterThan(0);
    expect(server.output()).not.toMatch(/uncaught|unhandled|FATAL/i);
  });
});
