import { systemClock } from '../../src/clock';
import { SimulatedCall, speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { startTestServer } from '../helpers/server';

it('adhoc against real switchboard', async () => {
  const server = await startTestServer({});
  const url = server.url;
  const s = await startTestServer({ PUBLIC_BASE_URL: url });
  await server.close();
  const c = s.app.credentials.credentials;
  const call = new SimulatedCall({ baseUrl: s.url, callbackAuth: { username: c.callbackUsername, password: c.callbackPassword }, clock: systemClock, audio: speechLikeAudio({ durationMs: 500 }) });
  try {
    await call.dial();
  } catch (e) { console.log('dial error', e); }
  await new Promise((r) => setTimeout(r, 300));
  console.log(call.initiateBxml?.xml);
  console.log(JSON.stringify(call.callbacks.map((x) => [x.eventType, x.url, x.status, x.error, (x.body as any).cause, (x.body as any).errorMessage]), null, 1));
  console.log(call.stream, call.stats, call.ended, call.afterStream?.xml, call.received.slice(0, 3));
  await call.hangup();
  await s.close();
});
