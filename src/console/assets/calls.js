// Call history (docs/console.md): GET /api/calls with the API's own filters and cursor. The filters live in
// this page's query string, so a filtered view can be bookmarked; "Older calls" follows the API's nextCursor.
import { api, callDurationMs, el, formatDuration, formatTime, renderChrome, showError, testCallMark } from './common.js';

renderChrome('calls');
const errors = document.getElementById('errors');
const body = document.querySelector('#calls tbody');
const next = document.getElementById('next-page');
const params = new URLSearchParams(location.search);
const FILTERS = ['agentId', 'number', 'state', 'outcome', 'cause', 'since', 'until'];

async function fillChoices() {
  // The allowed states and outcomes are the API's own, from its OpenAPI document.
  const doc = await api('/api/openapi.json');
  const query = doc.paths['/api/calls']?.get?.parameters ?? [];
  for (const name of ['state', 'outcome']) {
    const values = query.find((p) => p.name === name)?.schema?.enum ?? [];
    const select = document.getElementById(`f-${name}`);
    for (const v of values) select.append(el('option', { value: v }, v));
  }
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

async function load() {
  await fillChoices().catch(() => undefined);
  for (const name of FILTERS) {
    const input = document.getElementById(`f-${name}`);
    const value = params.get(name) ?? '';
    input.value = input.type === 'datetime-local' && value ? toLocalInput(value) : value;
  }
  const query = { limit: 50, cursor: params.get('cursor') ?? undefined };
  for (const name of FILTERS) {
    const v = params.get(name);
    if (!v) continue;
    // datetime-local has no zone: it is the browser's local time, sent to the API as an ISO instant.
    query[name] = name === 'since' || name === 'until' ? new Date(v).toISOString() : v;
  }
  try {
    const page = await api('calls', { query });
    body.replaceChildren(
      ...page.items.map((c) =>
        el(
          'tr',
          { 'data-call-id': c.id },
          el('td', {}, el('a', { href: `/console/calls/${encodeURIComponent(c.id)}` }, formatTime(c.startedAt ?? c.createdAt)), ' ', testCallMark(c)),
          el('td', {}, c.agentId ?? '—'),
          el('td', {}, c.mode ?? ''),
          el('td', {}, c.from ?? ''),
          el('td', {}, c.to ?? ''),
          el('td', {}, c.state),
          el('td', {}, c.outcome ?? ''),
          el('td', {}, formatDuration(callDurationMs(c))),
        ),
      ),
    );
    if (page.items.length === 0) body.append(el('tr', {}, el('td', { colspan: 8, class: 'empty' }, 'No calls match.')));
    if (page.nextCursor) {
      const p = new URLSearchParams(params);
      p.set('cursor', page.nextCursor);
      next.href = `/console/calls?${p}`;
      next.hidden = false;
    }
  } catch (err) {
    showError(errors, err);
  }
}

// Empty fields are left out of the URL; datetime-local values become ISO instants the API accepts.
document.getElementById('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  const p = new URLSearchParams();
  for (const name of FILTERS) {
    const v = document.getElementById(`f-${name}`).value.trim();
    if (v) p.set(name, name === 'since' || name === 'until' ? new Date(v).toISOString() : v);
  }
  location.assign(`/console/calls${[...p].length ? `?${p}` : ''}`);
});

void load();
