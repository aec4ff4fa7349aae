import type { Store } from '../store/types';
import { idSchema, type AgentWithDestinations } from './agent';

/**
 * Which agent answers a call: an explicit agent id first (a signed answer URL, the
 * initiate's `uui`, or an `agent=` parameter on a SIP `to` URI), then the dialled number's assignment,
 * then the default agent. No match → undefined, and the caller gets the reject template.
 */
export interface RouteInput {
  direction?: string;
  from?: string;
  to?: string;
  /** The agent id the wire found in the call's UUI (sip-uui.ts): untrusted, it only chooses among configured agents. */
  uuiAgentId?: string;
  /** From a signed URL we minted (outbound calls): trusted. */
  agentId?: string;
}

export type RouteVia = 'explicit' | 'uui' | 'sip-parameter' | 'number' | 'default';
export interface RouteResult {
  agent: AgentWithDestinations;
  via: RouteVia;
}

export class AgentRouter {
  constructor(
    private readonly store: Store,
    /** The agent for numbers nobody owns; undefined → reject them. */
    private readonly defaultAgentId: string | undefined,
  ) {}

  async resolve(input: RouteInput): Promise<RouteResult | undefined> {
    const candidates: [string | undefined, RouteVia][] = [
      [input.agentId, 'explicit'],
      [input.uuiAgentId, 'uui'],
      [sipParameter(input.to, 'agent'), 'sip-parameter'],
    ];
    for (const [id, via] of candidates) {
      if (!id || !idSchema.safeParse(id).success) continue;
      const stored = await this.store.agents.get(id);
      if (stored) return { agent: stored.agent, via };
    }
    // Our number is `to` on inbound calls and `from` on outbound ones (BW §1.4).
    const ours = input.direction === 'outbound' ? input.from : input.to;
    for (const number of numberCandidates(ours)) {
      const agentId = await this.store.numbers.agentIdFor(number);
      const stored = agentId ? await this.store.agents.get(agentId) : undefined;
      if (stored) return { agent: stored.agent, via: 'number' };
    }
    if (this.defaultAgentId) {
      const stored = await this.store.agents.get(this.defaultAgentId);
      if (stored) return { agent: stored.agent, via: 'default' };
    }
    return undefined;
  }
}

/**
 * The numbers to look up for a `to`/`from` value: E.164 as is; for a SIP URI (`sip:+19195550100@host;…`)
 * the URI itself and its user part, with a leading "+" added to bare digits.
 */
export function numberCandidates(value: string | undefined): string[] {
  if (!value) return [];
  const trimmed = value.trim();
  const sip = /^sips?:([^@;]+)@/i.exec(trimmed);
  if (!sip) return [trimmed];
  const user = decodeURIComponent(sip[1]!);
  const out = [trimmed.replace(/;.*$/, ''), user];
  if (/^\d{7,15}$/.test(user)) out.push(`+${user}`);
  if (/^\d{10}$/.test(user)) out.push(`+1${user}`); // NANP national format, common on SIP trunks
  return [...new Set(out)];
}

/** A `;name=value` parameter of a SIP URI (`sip:+1919…@host;agent=sales`). */
export function sipParameter(uri: string | undefined, name: string): string | undefined {
  if (!uri || !/^sips?:/i.test(uri)) return undefined;
  for (const part of uri.split(';').slice(1)) {
    const [key, ...rest] = part.split('=');
    if (key?.trim().toLowerCase() === name) return decodeURIComponent(rest.join('=').trim());
  }
  return undefined;
}
