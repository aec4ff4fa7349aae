/**
 * How the Bandwidth caller stand-in sends its callbacks (BW §1.7, §1.8): records each one, retries an
 * asynchronous callback once on a connection exception, and for a BXML callback checks the answer
 * (200, XML content type, parseable) and tries the fallback URL when the primary fails.
 */
import { parseXml, type XmlElement } from '../bandwidth/bxml/xml';
import type { Clock } from '../clock';
import type { BxmlDocument, CallbackRecord, SimulatedCallOptions } from './bandwidth-call-types';
import { deliverCallback, type CallbackAuth } from './callback-delivery';

/** Real-time limit for each callback when the options give none: Bandwidth waits 15 s (BW §1.7). */
const DEFAULT_CALLBACK_TIMEOUT_MS = 15_000;

export type HttpMethod = 'POST' | 'GET';

/** Where a BXML callback goes: one URL, its method and its credentials. */
export interface CallbackTarget {
  url: string;
  method: HttpMethod;
  auth: CallbackAuth | undefined;
}

export type FetchedBxml = { ok: true; doc: BxmlDocument; record: CallbackRecord } | { ok: false; invalid: boolean; error: string; record: CallbackRecord };

/** A verb's credentials attributes (`username`/`password` or the fallback pair), if it has either. */
export function credsOf(el: XmlElement, user = 'username', pass = 'password'): CallbackAuth | undefined {
  const username = el.attributes[user];
  const password = el.attributes[pass];
  return username !== undefined || password !== undefined ? { username: username ?? '', password: password ?? '' } : undefined;
}

/** A verb's `…Method` attribute: GET when it says so, else POST. */
export function methodOf(value: string | undefined): HttpMethod {
  return value?.toUpperCase() === 'GET' ? 'GET' : 'POST';
}

/**
 * A verb's BXML callback and its fallback, resolved against the document's URL: `<prefix>Url` and
 * `<prefix>Method` with `username`/`password`; `<prefix>FallbackUrl` and `<prefix>FallbackMethod` with
 * `fallbackUsername`/`fallbackPassword` (BW §1.7, §2.5). The caller has checked `<prefix>Url` is set.
 */
export function callbackTargets(el: XmlElement, prefix: string, docUrl: string): { primary: CallbackTarget; fallback: CallbackTarget | undefined } {
  const a = el.attributes;
  const primary: CallbackTarget = { url: new URL(a[`${prefix}Url`] ?? '', docUrl).toString(), method: methodOf(a[`${prefix}Method`]), auth: credsOf(el) };
  const fallbackUrl = a[`${prefix}FallbackUrl`];
  const fallback: CallbackTarget | undefined = fallbackUrl
    ? { url: new URL(fallbackUrl, docUrl).toString(), method: methodOf(a[`${prefix}FallbackMethod`]), auth: credsOf(el, 'fallbackUsername', 'fallbackPassword') }
    : undefined;
  return { primary, fallback };
}

export class CallbackSender {
  constructor(
    private readonly clock: Clock,
    private readonly opts: Pick<SimulatedCallOptions, 'callbackTimeoutMs' | 'callbackAuthMode'>,
    /** The call's record of every callback sent, in order. */
    private readonly callbacks: CallbackRecord[],
    /** The call's record of every BXML document received. */
    private readonly documents: BxmlDocument[],
  ) {}

  async send(eventType: string, url: string, method: HttpMethod, body: Record<string, unknown>, auth: CallbackAuth | undefined, retry: boolean): Promise<CallbackRecord> {
    const record: CallbackRecord = { atMs: this.clock.now(), eventType, method, url, body };
    const headers: Record<string, string> = {};
    let target = url;
    let payload: string | undefined;
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    } else {
      const u = new URL(url);
      for (const [k, v] of Object.entries(body)) u.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
      target = u.toString();
    }
    this.callbacks.push(record);
    for (let attempt = 0; ; attempt++) {
      try {
        const delivery = await deliverCallback(target, { method, headers, body: payload, timeoutMs: this.opts.callbackTimeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS }, auth, this.opts.callbackAuthMode);
        const res = delivery.response;
        record.authorization = delivery.authorization;
        record.challenged = delivery.challenged || undefined;
        record.status = res.status;
        record.contentType = res.headers.get('content-type') ?? undefined;
        record.responseText = await res.text();
        record.error = undefined;
        return record;
      } catch (err) {
        record.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        // Asynchronous callbacks are retried once on a connection exception (BW §1.7).
        if (!retry || attempt >= 1) return record;
      }
    }
  }

  /** An asynchronous callback (no BXML expected; any body ignored). */
  sendAsync(eventType: string, url: string, method: HttpMethod, body: Record<string, unknown>, auth: CallbackAuth | undefined): Promise<CallbackRecord> {
    return this.send(eventType, url, method, body, auth, true);
  }

  async fetchBxml(eventType: string, url: string, method: HttpMethod, body: Record<string, unknown>, auth: CallbackAuth | undefined): Promise<FetchedBxml> {
    const record = await this.send(eventType, url, method, body, auth, false);
    if (record.error) return { ok: false, invalid: false, error: `${url}: ${record.error}`, record };
    if (record.status !== 200) return { ok: false, invalid: false, error: `${url} answered ${record.status}`, record };
    if (!/^(application|text)\/xml\b/i.test(record.contentType ?? '')) {
      return { ok: false, invalid: false, error: `${url} answered 200 with content-type ${record.contentType ?? '(none)'}, not XML`, record };
    }
    let root: XmlElement;
    try {
      root = parseXml(record.responseText ?? '');
    } catch (err) {
      return { ok: false, invalid: true, error: `invalid BXML from ${url}: ${err instanceof Error ? err.message : String(err)}`, record };
    }
    const doc: BxmlDocument = { atMs: this.clock.now(), eventType, url, xml: record.responseText ?? '', root };
    this.documents.push(doc);
    return { ok: true, doc, record };
  }

  /**
   * A BXML callback with its fallback (BW §1.7): when the primary fails, the same event (fresh
   * eventTime) goes to the fallback URL with the fallback credentials. Which failures trigger the
   * fallback on the real platform is unconfirmed (BW §1.7 [U], §9.9); this stand-in treats a connection
   * error, a timeout, and any answer that is not a 200 with an XML body (so any non-2xx) as a failure
   * of the primary. A 200 whose BXML does not parse is `invalid-bxml`, not a reason to fall back.
   * `checkLive` runs after each request: it throws when the call ended or its BXML was replaced meanwhile.
   */
  async fetchBxmlWithFallback(eventType: string, body: () => Record<string, unknown>, primary: CallbackTarget, fallback: CallbackTarget | undefined, checkLive: () => void): Promise<FetchedBxml> {
    let fetched = await this.fetchBxml(eventType, primary.url, primary.method, body(), primary.auth);
    checkLive();
    if (!fetched.ok && !fetched.invalid && fallback) {
      fetched = await this.fetchBxml(eventType, fallback.url, fallback.method, body(), fallback.auth);
      checkLive();
    }
    return fetched;
  }
}
