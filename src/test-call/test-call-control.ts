import type { TransferDestination } from '../agents/agent';
import type { CallControl, HandOffCall, HandOffOutcome } from '../bridge/transports';
import { SwitchboardError } from '../errors';
import type { TestCalls } from './test-calls';

/**
 * How a call leaves the agent (docs/architecture.md#hand-off-how-a-call-leaves-the-agent), for a server whose
 * stream calls come from Bandwidth or from a browser (docs/console.md, "Test call"). A browser's call goes nowhere: a
 * transfer is refused when the agent asks for it, so the tool's result tells the agent at once (it then tells
 * the tester, instead of saying goodbye and leaving them in silence); a hang-up or a fallback ends the
 * stream, which closes the page's socket. Every other call goes to the carrier's control unchanged.
 */
export const TEST_CALL_TRANSFER_REFUSAL =
  'this is a browser test call: it cannot be transferred to a phone or SIP destination. Tell the caller the transfer would happen here on a real call, and carry on.';

export class TestCallControl implements CallControl {
  constructor(
    private readonly carrier: CallControl,
    private readonly testCalls: TestCalls,
  ) {}

  checkTransfer(call: HandOffCall, destination: TransferDestination): void {
    if (this.testCalls.isTestCall(call.callId)) {
      if (destination.kind !== 'hangup') throw new SwitchboardError('invalid_request', TEST_CALL_TRANSFER_REFUSAL);
      return;
    }
    this.carrier.checkTransfer?.(call, destination);
  }

  async transfer(call: HandOffCall, destination: TransferDestination, reason: string, summary: string): Promise<HandOffOutcome> {
    if (!this.testCalls.isTestCall(call.callId)) return this.carrier.transfer(call, destination, reason, summary);
    if (destination.kind !== 'hangup') return { refused: TEST_CALL_TRANSFER_REFUSAL };
    // A "hangup" destination ends the call, as its BXML would on Bandwidth (bxml-answers.ts transfer()).
    this.testCalls.decided(call.callId, { outcome: 'completed-by-agent', reason: `destination ${destination.name} ends the call` });
    return 'on-stream-end';
  }

  async hangUp(call: HandOffCall, reason: string): Promise<HandOffOutcome> {
    if (!this.testCalls.isTestCall(call.callId)) return this.carrier.hangUp(call, reason);
    return 'on-stream-end';
  }

  async fallback(call: HandOffCall, reason: string): Promise<HandOffOutcome> {
    if (!this.testCalls.isTestCall(call.callId)) return this.carrier.fallback(call, reason);
    this.testCalls.failed(call.callId, reason);
    return 'on-stream-end';
  }

  sessionEnded(call: HandOffCall, reason: string): void {
    if (this.testCalls.isTestCall(call.callId)) this.testCalls.ended(call.callId, reason);
    else this.carrier.sessionEnded?.(call, reason);
  }
}
