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

describe('switchboard simulate --scenario (the watchdogs)', () => {
  it('no-input: the caller says nothing; the agent asks, says goodbye and hangs up', async () => {
    const report = await runSimulation({ scenario: 'no-input' });
    expect(report.outcome).toBe('no-input');
    expect(report.transcript.map((t) => [t.role, t.text])).toEqual([
      ['agent', 'Thanks for calling Acme Plumbing. How can I help you today?'],
      ['agent', 'Are you still there?'],
      ['agent', "I haven't heard anything, so I'll end the call now. Goodbye!"],
    ]);
    const text = formatReport(report);
    expect(text).toMatch(/switchboard +asks the agent to say "Are you still there\?"/);
    expect(text).toContain('Outcome: no-input (no input from the caller)');
  }, 30_000);

  it('time-limit: the warning, then the goodbye at the limit', async () => {
    const report = await runSimulation({ scenario: 'time-limit' });
    expect(report.outcome).toBe('time-limit');
    expect(report.transcript.map((t) => t.text)).toEqual([
      'Thanks for calling Acme Plumbing. How can I help you today?',
      'Just so you know, we only have about a minute left on this call.',
      "We've reached the time limit for this call, so I'll have to end it now. Goodbye!",
    ]);
    const warnedAt = report.timeline.find((e) => e.what.includes('a minute left'))!.atMs;
    const endedAt = report.timeline.find((e) => e.what.includes('time limit for this call'))!.atMs;
    expect(endedAt - warnedAt).toBe(20_000);
    expect(formatReport(report)).toMatch(/Outcome: time-limit \(the call reached its time limit/);
  }, 30_000);
});

describe('switchboard simulate --scenario voicemail', () => {
  it('places an outbound call an answering machine takes: the message after the greeting, then outcome voicemail', async () => {
    const report = await runVoicemailSimulation();
    expect([report.outcome, report.outcomeReason]).toEqual(['voicemail', 'left a voicemail message']);
    expect(report.transcript.map((t) => t.role)).toEqual(['agent', 'agent']);
    const text = formatReport(report);
    expect(text).toMatch(/machineDetectionComplete \(answering-machine\) → 204/);
    expect(text).toMatch(/Calls API \{"state":"completed"\}/);
    expect(text).toContain('Outcome: voicemail (left a voicemail message)');
  }, 30_000);
});
