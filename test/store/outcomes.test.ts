import { CALL_OUTCOMES, mergeOutcome, outcomeAtEnd, OUTCOME_TIERS, type CallOutcome } from '../../src/outcomes';

const o = (outcome: CallOutcome['outcome'], reason: string = outcome): CallOutcome => ({ outcome, reason });

describe('call outcomes: one per call, by the rule of src/outcomes.ts', () => {
  it('a decision stands; a provisional outcome yields to a later decision; the end only fills an empty outcome', () => {
    expect(mergeOutcome(undefined, o('caller-hung-up'))).toEqual(o('caller-hung-up'));
    expect(mergeOutcome(o('completed-by-agent'), o('caller-hung-up'))).toEqual(o('completed-by-agent'));
    expect(mergeOutcome(o('no-input'), o('transferred'))).toEqual(o('no-input'));
    expect(mergeOutcome(o('transfer-failed-returned'), o('caller-hung-up'))).toEqual(o('transfer-failed-returned'));
    expect(mergeOutcome(o('transfer-failed-returned', 'first'), o('transfer-failed-returned', 'second'))).toEqual(o('transfer-failed-returned', 'second'));
    expect(mergeOutcome(o('transfer-failed-returned'), o('transferred'))).toEqual(o('transferred'));
    expect(mergeOutcome(o('caller-hung-up'), o('error'))).toEqual(o('caller-hung-up'));
    expect(mergeOutcome(o('error'), o('fallback'))).toEqual(o('fallback'));
    for (const kind of CALL_OUTCOMES) expect([0, 1, 2]).toContain(OUTCOME_TIERS[kind]);
  });

  it('the end of a call: a hang-up is the caller’s, anything else an error with the carrier’s words', () => {
    expect(outcomeAtEnd('hangup')).toEqual({ outcome: 'caller-hung-up', reason: 'the caller hung up' });
    expect(outcomeAtEnd(undefined)).toMatchObject({ outcome: 'caller-hung-up' });
    expect(outcomeAtEnd('error', 'media server failed')).toEqual({ outcome: 'error', reason: 'error: media server failed' });
    expect(outcomeAtEnd('cancel')).toMatchObject({ outcome: 'caller-hung-up' });
    expect(outcomeAtEnd('busy')).toEqual({ outcome: 'no-answer', reason: 'the line was busy' });
    expect(outcomeAtEnd('timeout')).toMatchObject({ outcome: 'no-answer' });
    expect(outcomeAtEnd('some-new-cause')).toEqual({ outcome: 'error', reason: 'some-new-cause' });
    // A cause is anyone's string: never a key into an object's prototype.
    for (const cause of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) expect(outcomeAtEnd(cause)).toEqual({ outcome: 'error', reason: cause });
  });
});
