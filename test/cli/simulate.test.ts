import { formatReport, runSimulation } from '../../src/cli/simulate';
import { runVoicemailSimulation } from '../../src/cli/simulate-voicemail';

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

describe('switchboard simulate --scenario voicemail', () => {
  it('places an outbound call an answering machine takes: the message after the greeting, then outcome voicemail', async () => {
    const report = await runVoicemailSimulation();
    expect(report.outcome).toBe('voicemail (left a voicemail message)');
    expect(report.transcript.map((t) => t.role)).toEqual(['agent', 'agent']);
    const text = formatReport(report);
    expect(text).toMatch(/machineDetectionComplete \(answering-machine\) → 204/);
    expect(text).toMatch(/Calls API \{"state":"completed"\}/);
    expect(text).toContain('Outcome: voicemail (left a voicemail message)');
  }, 30_000);
});
