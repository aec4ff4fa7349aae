import { REDACTED, SEALED } from './scenario';

/**
 * What keeps recorded scenarios free of secrets (always) and of phone numbers (with --redact).
 * Everything here works on text, so it covers JSON bodies, URLs and BXML alike.
 */

/** BXML / JSON attributes whose values are credentials (verb callbacks carry them, BW §1.8). */
const CREDENTIAL_NAMES = ['username', 'password', 'destinationUsername', 'destinationPassword', 'fallbackUsername', 'fallbackPassword'];
const CREDENTIAL_ATTR = new RegExp(`\\b(${CREDENTIAL_NAMES.join('|')})="[^"]*"`, 'g');
/** Sealed tokens: `?t=…` (also `&amp;t=`) and the media socket's `/media/<token>` path segment. */
const QUERY_TOKEN = /([?&](?:amp;)?t=)[A-Za-z0-9_%.~-]+/g;
const MEDIA_TOKEN = /(\/media\/)[A-Za-z0-9_-]{16,}/g;

export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAMES.includes(name) || /secret|token|authorization|api[-_]?key/i.test(name);
}

/** Strip tokens from a URL or any text holding URLs. */
export function stripTokens(text: string): string {
  return text.replace(QUERY_TOKEN, `$1${SEALED}`).replace(MEDIA_TOKEN, `$1${SEALED}`);
}

/** Strip credential attribute values and tokens from BXML (or any XML-ish text). */
export function scrubXml(xml: string): string {
  return stripTokens(xml.replace(CREDENTIAL_ATTR, `$1="${REDACTED}"`));
}

/** Deep copy of a JSON value with credential-named fields redacted and tokens stripped from strings. */
export function scrubJson(value: unknown): unknown {
  if (typeof value === 'string') return stripTokens(value);
  if (Array.isArray(value)) return value.map(scrubJson);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isCredentialName(k) && v !== undefined && v !== null && v !== '' ? REDACTED : scrubJson(v);
    return out;
  }
  return value;
}

/** Replace every occurrence of the given secret values (defence in depth: the final pass over a file). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 6) out = out.split(s).join(REDACTED);
  return out;
}

/**
 * Consistent phone-number placeholders within one file: the first distinct number becomes
 * +15550000001, the next +15550000002, … E.164 numbers anywhere in the text (JSON strings, URLs,
 * SIP URIs, BXML text) are replaced, and so are the same digits without the `+` (e.g. in a
 * `say-as` or a URL-encoded `%2B`), and in their national forms with separators (`919-555-0142`,
 * `(919) 555 0142`, `1.919.555.0142` for a NANP number), so no number of the call survives in any form.
 */
export class PhoneRedactor {
  private readonly map = new Map<string, string>();
  /** Placeholders already in a file this redactor carries on (a restart): never handed out again. */
  private readonly reserved = new Set<string>();
  private next = 1;

  placeholderFor(digits: string): string {
    let placeholder = this.map.get(digits);
    if (!placeholder) {
      do placeholder = `+1555${String(this.next++).padStart(7, '0')}`;
      while (this.reserved.has(placeholder));
      this.map.set(digits, placeholder);
    }
    return placeholder;
  }

  /**
   * Carrying on a redacted file whose number map is gone (only the placeholders were written): the
   * placeholders in it are not handed out again, so no two numbers share one. A number met again after
   * the restart gets a new placeholder.
   */
  reservePlaceholdersIn(text: string): void {
    for (const m of text.matchAll(/\+1555\d{7}(?!\d)/g)) this.reserved.add(m[0]);
  }

  redact(text: string): string {
    // Pass 1: learn and replace `+digits` (and %2B-encoded) numbers.
    let out = text.replace(/(\+|%2B)([1-9]\d{6,14})(?!\d)/gi, (_m, plus: string, digits: string) => {
      if (this.isPlaceholder(digits)) return `${plus}${digits}`;
      const p = this.placeholderFor(digits);
      return plus === '+' ? p : `%2B${p.slice(1)}`;
    });
    // Pass 2: the same numbers written without the plus.
    for (const [digits, placeholder] of this.map) {
      out = out.replace(new RegExp(`(?<![\\d+])${digits}(?!\\d)`, 'g'), placeholder.slice(1));
    }
    // Pass 3: NANP numbers in their national forms, digits apart (919-555-0142, (919) 555 0142, 1.919.555.0142).
    for (const [digits, placeholder] of this.map) {
      if (!/^1\d{10}$/.test(digits)) continue;
      const sep = '[\\s.()-]{0,2}';
      const national = digits.slice(1).split('').join(sep);
      out = out.replace(new RegExp(`(?<![\\d+])(?:1${sep})?\\(?${national}(?!\\d)`, 'g'), placeholder.slice(2));
    }
    return out;
  }

  private isPlaceholder(digits: string): boolean {
    const p = `+${digits}`;
    return /^1555\d{7}$/.test(digits) && (this.reserved.has(p) || [...this.map.values()].includes(p));
  }
}
