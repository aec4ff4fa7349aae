/**
 * The SIP User-to-User header as Bandwidth carries it (BW §1.5 `uui`, BW §2.5 the `uui` attribute of
 * `<SipUri>`): `<data>;encoding=base64|hex|jwt`, at most 256 characters. Switchboard writes its own context
 * there (`sb=<Bandwidth call id>;agent=<agent id>`) when it hands a call to an AI SIP endpoint, and reads an
 * agent id from it on calls that arrive with one. One module for the format, used by both wires.
 */

/** The data of a `uui` value, decoded; undefined when it cannot be. */
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

/**
 * What a `uui` says: its `key=value` pairs (separated by `;`, `&` or `,`), and an agent id from `agent=ID`,
 * `agentId=ID` or a JSON object with `agentId`. A JWT's payload is read without verification: the agent id
 * only chooses among agents the operator configured, it grants nothing.
 */
export function readUui(uui: string | undefined): { agentId?: string; fields: Record<string, string> } {
  const text = decodeUui(uui);
  if (!text) return { fields: {} };
  try {
    const json = JSON.parse(text) as unknown;
    if (json && typeof json === 'object' && typeof (json as { agentId?: unknown }).agentId === 'string') {
      return { agentId: (json as { agentId: string }).agentId, fields: {} };
    }
  } catch {
    // not JSON; key=value pairs
  }
  const fields: Record<string, string> = {};
  for (const pair of text.split(/[;&,]/)) {
    const [key, ...value] = pair.split('=');
    if (key?.trim()) fields[key.trim()] = value.join('=').trim();
  }
  const agentId = fields.agent || fields.agentId || undefined;
  return agentId ? { agentId, fields } : { fields };
}

/** Encode Switchboard's context for a SIP leg's `uui` (base64, at most `maxChars`). */
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
