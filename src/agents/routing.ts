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
  uui?: string;
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
      [agentIdFromUui(input.uui), 'uui'],
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

/**
 * BW §1.5: `uui` is `<data>;encoding=base64|hex|jwt`. We read an agent id from `agent=ID` / `agentId=ID`
 * pairs (separated by `;`, `&` or `,`) or a JSON object with `agentId`. A JWT's payload is read without
 * verification: it only chooses among agents the operator configured, it grants nothing.
 */
export function agentIdFromUui(uui: string | undefined): string | undefined {
  const text = decodeUui(uui);
  if (!text) return undefined;
  try {
    const json = JSON.parse(text) as unknown;
    if (json && typeof json === 'object' && typeof (json as { agentId?: unknown }).agentId === 'string') {
      return (json as { agentId: string }).agentId;
    }
  } catch {
    // not JSON; try key=value pairs
  }
  for (const pair of text.split(/[;&,]/)) {
    const [key, value] = pair.split('=').map((s) => s.trim());
    if ((key === 'agent' || key === 'agentId') && value) return value;
  }
  return undefined;
}

export function decodeUui(uui: string | undefined): string | undefined {
  if (!uui) return undefined;
  const [data = '', ...params] = uui.split(';');
  const encoding = params.map((p) => p.split('=')).find(([k]) => k?.trim().toLowerCase() === 'encoding')?.[1]?.trim().toLowerCase();
  try {
    if (encoding === 'hex') return Buffer.from(data, 'hex').toString('utf8');
    if (encoding === 'jwt') return Buffer.from(data.split('.')[1] ?? '', 'base64url').toString('utf8');
    return Buffer.from(data, 'base64').toString('utf8'); // base64 is the documented default
  } catch {
    return undefined;
  }
}

/** Encode Switchboard's context for a SIP leg's `uui` (BW §2.5: base64, at most 256 characters). */
export function encodeUui(fields: Record<string, string>, maxChars: number): string {
  const suffix = ';encoding=base64';
  const pairs = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
  // Drop trailing fields until it fits: the call id comes first and is the one that must survive.
  while (pairs.length > 0) {
    const encoded = `${Buffer.from(pairs.join(';')).toString('base64')}${suffix}`;
    if (encoded.length <= maxChars) return encoded;
    pairs.pop();
  }
  return `${Buffer.from('').toString('base64')}${suffix}`;
}
