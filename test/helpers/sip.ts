import { waitFor } from '../../src/clock';
import { callIncomingEvent, signWebhook } from '../../src/sim/openai-webhooks';
import type { RealtimeStandIn } from '../../src/sim/realtime-server';
import type { RealtimeSimSession } from '../../src/sim/realtime-session';

/** What the carrier put on an INVITE to OpenAI's SIP endpoint (the `realtime.call.incoming` webhook's sip_headers). */
export interface SipInvite {
  from?: string;
  to?: string;
  contact?: string;
  /** Our UUI as call-flows writes it on a Transfer to OpenAI: `sb=<Bandwidth call id>;agent=<id>`. */
  uui?: { parentCallId: string; agentId: string } | string;
}

/**
 * An OpenAI SIP call reaching a test server the way OpenAI delivers one: the stand-in holds the call, the
 * signed `realtime.call.incoming` webhook is answered 200, and the server's sideband opens. Returns the
 * sideband session.
 */
export async function deliverSipCall(target: { url: string }, openai: RealtimeStandIn, webhookSecret: string, callId: string, invite: SipInvite = {}): Promise<RealtimeSimSession> {
  openai.incomingSipCall(callId);
  const headers = [
    { name: 'From', value: invite.from ?? '<sip:+19195550142@67.231.4.10:5060>;tag=a' },
    { name: 'To', value: invite.to ?? '<sip:+19195550100@sip.api.openai.com>' },
    ...(invite.contact ? [{ name: 'Contact', value: invite.contact }] : []),
    ...(invite.uui ? [{ name: 'User-to-User', value: typeof invite.uui === 'string' ? invite.uui : uuiFor(invite.uui.parentCallId, invite.uui.agentId) }] : []),
  ];
  const body = JSON.stringify(callIncomingEvent(callId, headers));
  const res = await fetch(`${target.url}/openai/webhook`, { method: 'POST', headers: signWebhook(webhookSecret, body), body });
  if (res.status !== 200) throw new Error(`the webhook for ${callId} was answered ${res.status}: ${await res.text()}`);
  await waitFor(() => (openai.sipCalls.get(callId)?.sessions.length ?? 0) === 1, 5000, 'the sideband');
  return openai.sipCalls.get(callId)!.sessions[0]!;
}

function uuiFor(parentCallId: string, agentId: string): string {
  return `${Buffer.from(`sb=${parentCallId};agent=${agentId}`).toString('base64')};encoding=base64`;
}
