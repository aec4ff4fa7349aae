/**
 * Whether a browser's `Origin` is this server's own: its PUBLIC_BASE_URL's, or the address the browser reached
 * it by (the Host header). Both count because a reverse proxy may rewrite Host to its upstream's address
 * (nginx's default `proxy_set_header Host $proxy_host`), while `switchboard dev` on localhost behind a tunnel
 * is reached both ways. Browsers set Origin themselves, so another site's page cannot claim ours
 * (RFC 6454 §7, RFC 6455 §10.2).
 */
export function isOwnOrigin(origin: string, host: string | undefined, publicBaseUrl: string | undefined): boolean {
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  if (publicBaseUrl && parsed.origin === originOf(publicBaseUrl)) return true;
  return host !== undefined && parsed.host === host.toLowerCase();
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
