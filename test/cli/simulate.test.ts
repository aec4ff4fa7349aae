import { formatReport, runSimulation } from '../../src/cli/simulate';

describe('switchboard simulate (npm run demo)', () => {
  it('runs a whole call offline: greeting, caller turns, a barge-in, hang-up, transcript', async () => {
    const report = await runSimulation();
    expect(report.firstHeardMs).toBeDefined();
    expect(report.firstHeardMs!).toBeLessThanOrEqual(40);
    expect(report.truncatedAtMs).toBeGreaterThan(0);
    expect(report.transcript.map((t) => t.role)).toEqual(['agent', 'caller', 'agent', 'caller', 'agent']);
    expect(report.transcript.filter((t) => t.truncated)).toHaveLength(1);
    const text = formatReport(report);
    expect(text).toContain('Stored transcript:');
    expect(text).toMatch(/clear: the caller's playout is emptied/);
    expect(text).toMatch(/disconnect → 204/);
  }, 30_000);
});
