import crypto from 'node:crypto';
import type { AgentWithDestinations } from '../agents/agent';
import type { TestCallDoor } from '../bandwidth/media/gateway';
import type { CallbackUrls } from '../bandwidth/urls';
import type { CallCapacity } from '../capacity';
import type { CallLifecycleListener } from '../bridge/transports';
import type { Clock } from '../clock';
import { SwitchboardError } from '../errors';
import type { Logger } from '../log';
import type { CallOutcome } from '../outcomes';
import type { Store } from '../store/types';

/**
 * Browser test calls (docs/console.md, "Test call"): an operator talks to an agent from the console with no phone
 * network in between. A test call is minted as `initiate` answers a stream call (DESIGN §3): a call record,
 * the agent's OpenAI session pre-warmed, a one-time media token bound to the call; then the browser opens the
 * media socket and speaks Bandwidth's media-stream protocol (BW §4) into the very same bridge.
 *
 * What differs is the carrier: there is none. Nothing can ring a phone from a browser, and no status
 * callback reports the call's end, so this class is also the test call's carrier (TestCallControl asks it):
 * it knows which live calls are browsers' and closes their records when their sessions end.
 */
export interface TestCallsDeps {
  store: Store;
  urls: CallbackUrls;
  /** The bridge: pre-warms the agent's session (as `initiate` does) and says whether it takes new calls. */
  bridge: Required<Pick<CallLifecycleListener, 'streamAnswered' | 'streamRejected' | 'accepting'>>;
  clock: Clock;
  logger: Logger;
  /** MAX_CONCURRENT_CALLS (src/capacity.ts): a test call is a live call like any other and takes a place. */
  capacity: Pick<CallCapacity, 'hasRoom' | 'live' | 'maxCalls'>;
  /** Why no model can answer (OPENAI_API_KEY unset), or undefined when one can. */
  modelUnavailable?: string;
}

export interface MintedTestCall {
  callId: string;
  agentId: string;
  /** The media socket on the server's public base URL. */
  url: string;
  /** The same socket's path: the page opens it on the origin it was served from. */
  path: string;
  expiresAt: string;
}

interface LiveTestCall {
  /** The browser's media socket was accepted. */
  connected: boolean;
  /** The AI side failed (or the server is shutting down): why. */
  failed?: string;
  /** How the agent ended the call, when it did through a hand-off this carrier carries out by ending the stream. */
  decided?: CallOutcome;
}

export class TestCalls implements TestCallDoor {
  /** This instance's live test calls: minted here, or whose socket was accepted here. */
  private readonly live = new Map<string, LiveTestCall>();

  constructor(private readonly deps: TestCallsDeps) {}

  get publicBaseUrl(): string {
    return this.deps.urls.base;
  }

  /** Record, pre-warm and mint: what `initiate` does for a stream call (src/bandwidth/bxml-answers.ts stream()). */
  async mint(agent: AgentWithDestinations): Promise<MintedTestCall> {
    if (agent.mode !== 'stream') {
      throw new SwitchboardError('invalid_request', `agent ${agent.id} uses mode ${agent.mode}: a browser test call reaches only stream agents (the SIP modes talk to the model over SIP, which a browser cannot place)`, { fields: ['agentId'] });
    }
    if (this.deps.modelUnavailable) throw new SwitchboardError('unavailable', this.deps.modelUnavailable);
    if (!this.deps.bridge.accepting()) throw new SwitchboardError('unavailable', 'the server is shutting down: it takes no new calls');
    // Checked in the same turn as streamAnswered creates the session (which then counts as held), so hasRoom
    // needs no reservation; refused before anything is recorded or pre-warmed, like a carrier call at the cap.
    const { capacity } = this.deps;
    if (!capacity.hasRoom()) {
      const reason = `at capacity: ${capacity.live} calls live on this instance (MAX_CONCURRENT_CALLS ${capacity.maxCalls}); try again when one ends`;
      this.deps.logger.warn({ agentId: agent.id, liveCalls: capacity.live, maxCalls: capacity.maxCalls }, 'at capacity: test call refused');
      throw new SwitchboardError('unavailable', reason);
    }
    const callId = `test-${crypto.randomUUID()}`;
    const nowIso = new Date(this.deps.clock.wallNow()).toISOString();
    const socket = this.deps.urls.testCallMedia({ callId, agentId: agent.id });
    this.live.set(callId, { connected: false });
    // Pre-warm first, as initiate does: the OpenAI connect overlaps the store's commit.
    this.deps.bridge.streamAnswered({ callId, agent, direction: 'browser' });
    try {
      await this.deps.store.calls.record(
        { id: callId, leg: 'caller', direction: 'browser', agentId: agent.id, mode: agent.mode, state: 'streaming', startedAt: nowIso, answeredAt: nowIso, tag: 'sb:test-call' },
        { callId, source: 'switchboard', type: 'test-call.created', data: { agentId: agent.id, expiresAt: socket.expiresAt } },
      );
    } catch (err) {
      // No socket will follow a failed mint: do not leave the pre-warmed (billed) session behind.
      this.deps.bridge.streamRejected(callId);
      throw err;
    }
    return { callId, agentId: agent.id, ...socket };
  }

  /** The gateway accepted this call's browser socket (on this instance, which may not be the one that minted it). */
  connected(callId: string): void {
    const call = this.live.get(callId);
    if (call) call.connected = true;
    else this.live.set(callId, { connected: true });
  }

  isTestCall(callId: string): boolean {
    return this.live.has(callId);
  }

  /** The AI side failed, or the server is shutting down: the call ends with the agent's fallback as its outcome. */
  failed(callId: string, reason: string): void {
    const call = this.live.get(callId);
    if (call) call.failed ??= reason;
  }

  /** The agent ended the call by a hand-off that only ends the stream here (a `hangup`-kind transfer destination). */
  decided(callId: string, outcome: CallOutcome): void {
    const call = this.live.get(callId);
    if (call) call.decided ??= outcome;
  }

  /**
   * The session is over: close the call's record, as a Bandwidth disconnect callback would (src/outcomes.ts:
   * the outcome proposed here only fills one nothing decided, e.g. the tester pressing Hang up).
   */
  ended(callId: string, reason: string): void {
    const call = this.live.get(callId);
    if (!call) return;
    this.live.delete(callId);
    const outcome: CallOutcome = call.failed
      ? { outcome: 'fallback', reason: call.failed }
      : call.decided
        ? call.decided
        : call.connected
        ? { outcome: 'caller-hung-up', reason: 'the tester hung up' }
        : { outcome: 'no-answer', reason: 'the browser never opened the media socket' };
    const cause = call.failed ? 'fallback' : call.decided ? 'agent-hangup' : call.connected ? 'hangup' : 'no-media';
    void this.close(callId, { reason, cause, outcome }).catch((err: Error) => {
      this.deps.logger.error({ callId, err: err.message }, 'could not close the record of a browser test call');
    });
  }

  private async close(callId: string, end: { reason: string; cause: string; outcome: CallOutcome }): Promise<void> {
    // Keep a cause already decided (the agent hung up), as the status callback does for Bandwidth calls.
    const existing = await this.deps.store.calls.get(callId);
    await this.deps.store.calls.record(
      { id: callId, state: 'completed', cause: existing?.cause ?? end.cause, endedAt: new Date(this.deps.clock.wallNow()).toISOString(), outcome: end.outcome },
      { callId, source: 'switchboard', type: 'test-call.ended', data: { reason: end.reason } },
    );
  }
}
