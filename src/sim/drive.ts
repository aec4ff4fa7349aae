import { waitFor } from '../clock';
import type { SimulatedCall } from './bandwidth-caller';

/**
 * Dial a simulated call and let Bandwidth's stream setup time pass: POST initiate, wait (real I/O) for
 * its answer, move the clock through `setupMs` (the call was built with `streamSetupMs`), and wait
 * until the media stream is up. `advance` moves time: a ManualClock's advanceAsync, or a real sleep.
 */
export async function dialThroughSetup(call: SimulatedCall, setupMs: number, advance: (ms: number) => Promise<void>): Promise<SimulatedCall> {
  let dialed = false;
  const dialing = call.dial().finally(() => {
    dialed = true;
  });
  await waitFor(() => dialed || call.callbacks.some((c) => c.eventType === 'initiate' && c.status !== undefined), 10_000, 'initiate to be answered');
  await advance(setupMs);
  await waitFor(() => dialed, 10_000, 'the media stream to start');
  return dialing;
}
