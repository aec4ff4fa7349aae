import { ManualClock } from '../../src/clock';
import { runConsoleSimulation } from '../../src/cli/simulate-console';
import { signIn } from '../console/sign-in';

/** `switchboard simulate --console` (README, "Console"): a server that stays up and places simulated calls to watch. */
describe('simulate --console', () => {
  it('prints the console URL and token, places the simulated conversation, and its console shows the recorded call', async () => {
    const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
    const printed: string[] = [];
    const sim = await runConsoleSimulation({ port: 0, calls: 1, pauseMs: 1000, print: (t) => printed.push(t), clock, advance: (ms) => clock.advanceAsync(ms) });
    try {
      expect(printed[0]).toBe(`Console: ${sim.consoleUrl}\nAdmin token: ${sim.adminToken}\n(sign in with it; a simulated call starts every few seconds; Ctrl-C stops)\n`);
      await expect(sim.done).resolves.toBe(1);
      expect(printed).toEqual(expect.arrayContaining(['call 1: dialling', 'call 1: hanging up']));
      const base = sim.consoleUrl.replace(/\/console$/, '');
      const { cookie } = await signIn(base, sim.adminToken);
      const page = (await (await fetch(`${base}/api/calls`, { headers: { cookie } })).json()) as { items: { id: string; state: string; recordingPath: string | null; outcome: string }[] };
      expect(page.items).toHaveLength(1);
      expect(page.items[0]).toMatchObject({ state: 'completed', outcome: 'caller-hung-up', recordingPath: expect.stringMatching(/\.wav$/) });
      const transcript = await sim.app.store.transcripts.list(page.items[0]!.id);
      expect(transcript.map((t) => t.role)).toEqual(['agent', 'caller', 'agent', 'caller', 'agent']);
    } finally {
      await sim.close();
    }
  });
});
