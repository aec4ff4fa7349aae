import type { Response } from 'express';

/**
 * How every console response is sent (docs/console.md, "Security model"): a strict Content-Security-Policy
 * (this origin only, no inline script or style, no framing), no MIME sniffing, no referrer to other sites, and no caching
 * of anything that may hold data.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function consoleHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with the sign-in form, which the origin check must refuse.
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  // The test call's page asks for the microphone; nothing else may.
  res.setHeader('Permissions-Policy', 'microphone=(self), camera=(), geolocation=()');
  res.setHeader('Cache-Control', 'no-store');
}

/** Text made safe for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Where to go after signing in: a console page of this origin only (never `//host` or a scheme), else the
 * live view. The value comes from the form, so it is checked, not trusted.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string') return '/console/live';
  if (!/^\/console(\/[A-Za-z0-9._~%/-]*)?(\?[A-Za-z0-9._~%&=+-]*)?$/.test(next) || next.includes('//') || next.startsWith('/console/sign-')) return '/console/live';
  return next;
}
