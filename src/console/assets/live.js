// Live calls (docs/console.md): the server-sent event stream /api/live (src/console/live.ts) says which
// calls are live and sends each one's transcript as it is stored; calls leave when they reach a final state.
import { callDurationMs, el, FINAL_STATES, formatDuration, renderChrome, showError, testCallMark, transcriptLine } from './common.js';

renderChrome('live');
const list = document.getElementById('calls');
const status = document.getElementById('live-status');
const errors = document.getElementById('errors');
/** callId → { call, card, transcripts: Map(legId → lines) } */
const shown = new Map();

function render(entry) {
  const { call } = entry;
  const head = el(
    'div',
    { class: 'head' },
    el('a', { href: `/console/calls/${encodeURIComponent(call.id)}`, class: 'call-id' }, call.id),
    testCallMark(call),
    el('span', {}, 'agent ', el('strong', { class: 'agent' }, call.agentId ?? '—')),
    el('span', { class: 'mode' }, call.mode ?? ''),
    el('span', { class: 'parties' }, call.direction === 'browser' ? 'from the browser' : `${call.from ?? '?'} → ${call.to ?? '?'}`),
    el('span', { class: 'state', 'data-state': call.state }, call.state),
    el('span', { class: 'duration', 'data-started': call.answeredAt ?? call.startedAt ?? call.createdAt }, formatDuration(callDurationMs(call))),
  );
  const lines = [...entry.transcripts.values()].flat();
  const transcript = el('ul', { class: 'transcript' }, lines.map(transcriptLine));
  entry.card.replaceChildren(head, transcript);
}

function upsert(call) {
  if (FINAL_STATES.includes(call.state)) {
    shown.get(call.id)?.card.remove();
    shown.delete(call.id);
  } else {
    let entry = shown.get(call.id);
    if (!entry) {
      entry = { call, card: el('article', { class: 'card live-call', 'data-call-id': call.id }), transcripts: new Map() };
      shown.set(call.id, entry);
      list.prepend(entry.card);
    }
    entry.call = call;
    render(entry);
  }
  showEmpty();
}

function showEmpty() {
  const empty = document.getElementById('no-calls');
  if (shown.size === 0 && !empty) list.append(el('p', { class: 'empty', id: 'no-calls' }, 'No live calls right now. They appear here as they start.'));
  if (shown.size > 0) empty?.remove();
}

const source = new EventSource('/api/live', { withCredentials: true });
source.addEventListener('open', () => {
  status.textContent = 'Connected: calls appear as they start and leave when they end.';
  showError(errors, null);
});
source.addEventListener('error', () => {
  // EventSource reconnects by itself (the server's retry:); a closed session shows as a refused stream.
  status.textContent = 'Disconnected: reconnecting…';
  void fetch('/api/live', { method: 'HEAD', credentials: 'same-origin' }).then((res) => {
    if (res.status === 401) location.assign(`/console/sign-in?next=${encodeURIComponent(location.pathname)}`);
    else if (res.status === 503) showError(errors, new Error('too many live streams are open: close another console tab'));
  }, () => undefined);
});
source.addEventListener('snapshot', (e) => {
  const { calls } = JSON.parse(e.data);
  for (const entry of shown.values()) entry.card.remove();
  shown.clear();
  for (const call of calls) upsert(call);
  showEmpty();
});
source.addEventListener('call', (e) => upsert(JSON.parse(e.data).call));
// The session ended (signed out in another tab, or expired): the server stopped the stream.
source.addEventListener('signed-out', () => {
  source.close();
  location.assign(`/console/sign-in?next=${encodeURIComponent(location.pathname)}`);
});
source.addEventListener('transcript', (e) => {
  const { callId, legId, lines } = JSON.parse(e.data);
  const entry = shown.get(callId);
  if (!entry) return;
  entry.transcripts.set(legId, lines);
  render(entry);
});

// The durations tick on the page; the server sends only what changed.
setInterval(() => {
  for (const entry of shown.values()) {
    const d = entry.card.querySelector('.duration');
    if (d) d.textContent = formatDuration(callDurationMs(entry.call));
  }
}, 1000);
