import { waitFor } from '../clock';
import type { SimulatedCall } from './bandwidth-caller';

/**
 * Dial a simulated call and let Bandwidth's stream setup time pass: POST initiate (or answer, for an
 * outbound call), wait (real I/O) for its reply, move the clock through `setupMs` (the call was built
 * with `streamSetupMs`), and wait until the media stream is up. `advance` moves time: a ManualClock's advanceAsync, or a real sleep.
 */
export async function dialThroughSetup(call: SimulatedCall, setupMs: number, advance: (ms: number) => Promise<void>): Promise<SimulatedCall> {
  let dialed = false;
  const dialing = call.dial().finally(() => {
    dialed = true;
  });
  await waitFor(() => dialed || call.callbacks.some((c) => (c.eventType === 'initiate' || c.eventType === 'answer') && c.status !== undefined), 10_000, 'initiate (or answer) to be answered');
  await advance(setupMs);
  await waitFor(() => dialed, 10_000, 'the media stream to start');
  return dialing;
}
