// The console's shared page chrome (docs/console.md): the navigation with sign-out, the admin API fetch
// wrapper (session cookie + x-csrf-token double submit), error display and small DOM helpers. Every
// console page, the test call's included, imports this module; nothing here holds data between pages.

export const CSRF_COOKIE = 'sb_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const NAV = [
  ['live', '/console/live', 'Live'],
  ['calls', '/console/calls', 'Calls'],
  ['agents', '/console/agents', 'Agents'],
  ['test-call', '/console/test-call', 'Test call'],
  ['api-docs', '/api/docs', 'API docs'],
];

/** The value of a cookie the page may read (the CSRF token; the session cookie is HttpOnly). */
export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

/** An admin API refusal: the server's status, code, message and (for 400s) the fields it names. */
export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields ?? [];
  }
}

/**
 * Call the admin API with this browser's session. State-changing methods carry the CSRF token; a 401 (the
 * session expired) goes back to the sign-in page, which returns here afterwards.
 */
export async function api(path, { method = 'GET', body, query } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] = cookie(CSRF_COOKIE);
  if (body !== undefined) headers['content-type'] = 'application/json';
  let url = path.startsWith('/') ? path : `/api/${path}`;
  if (query) {
    const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''));
    if ([...q].length > 0) url += `?${q}`;
  }
  const res = await fetch(url, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    location.assign(`/console/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'unauthorized', 'your console session has ended: sign in again');
  }
  if (res.status === 204) return undefined;
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json && json.error;
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`, e?.fields);
  }
  return json;
}

/** Build an element: `el('a', { href: '/x', class: 'y' }, 'text', child)`. Text is always text, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** The header with navigation and sign-out, and a place for page-wide errors; `active` names this page. */
export function renderChrome(active) {
  const signOut = el('button', { type: 'button', id: 'sign-out', onclick: () => void signOutNow() }, 'Sign out');
  const header = el(
    'header',
    { class: 'chrome' },
    el('span', { class: 'brand' }, 'Switchboard'),
    el('nav', {}, NAV.map(([id, href, label]) => el('a', { href, 'aria-current': id === active ? 'page' : undefined, 'data-nav': id }, label))),
    signOut,
  );
  document.body.prepend(header);
  return header;
}

async function signOutNow() {
  try {
    await fetch('/console/sign-out', { method: 'POST', credentials: 'same-origin', headers: { [CSRF_HEADER]: cookie(CSRF_COOKIE) } });
  } finally {
    location.assign('/console/sign-in');
  }
}

/** Show an error (an ApiError's server message, or any Error) in `target`, or clear it with null. */
export function showError(target, err) {
  target.replaceChildren();
  target.hidden = !err;
  if (err) target.append(el('div', { class: 'banner', role: 'alert' }, err.message ?? String(err)));
}

/**
 * The API's 400 message names each field it refuses (`instructions: Too small…; voice: …`): the messages
 * by top-level field, and the ones naming no known field under '' (shown with the form).
 */
export function fieldErrors(err, knownFields) {
  const byField = new Map();
  for (const part of String(err.message).split('; ')) {
    const m = /^([A-Za-z0-9_.]+): (.*)$/.exec(part);
    const field = m ? m[1].split('.')[0] : '';
    const key = knownFields.includes(field) ? field : '';
    byField.set(key, [...(byField.get(key) ?? []), part]);
  }
  return byField;
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** 83000 → "1:23"; over an hour "1:02:03". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** How long a call lasted (or has lasted, while live). */
export function callDurationMs(call, nowMs = Date.now()) {
  const start = Date.parse(call.answeredAt ?? call.startedAt ?? call.createdAt);
  const end = call.endedAt ? Date.parse(call.endedAt) : nowMs;
  return Number.isNaN(start) ? null : Math.max(0, end - start);
}

export const FINAL_STATES = ['completed', 'rejected'];

/**
 * The mark of a browser test call (direction `browser`, placed from the Test call page, docs/console.md), or
 * null for any other call: the operator tells it from a phone call at a glance.
 */
export function testCallMark(call) {
  return call.direction === 'browser' ? el('span', { class: 'badge test-call-mark', title: 'placed from the console’s Test call page, not by a phone' }, 'Test call') : null;
}

/** One transcript line: role, text, and what the caller heard of an agent line cut by a barge-in. */
export function transcriptLine(line) {
  return el(
    'li',
    { class: `line role-${line.role}`, 'data-truncated': line.truncated ? 'true' : undefined },
    el('span', { class: 'role' }, line.role),
    el('span', { class: 'text' }, line.text),
    line.heardMs !== null && line.heardMs !== undefined ? el('span', { class: 'heard', title: 'audio the caller heard' }, `heard ${formatDuration(line.heardMs)} (${line.heardMs} ms)`) : null,
    line.truncated ? el('span', { class: 'mark', title: 'cut off by the caller (barge-in)' }, 'truncated') : null,
  );
}
