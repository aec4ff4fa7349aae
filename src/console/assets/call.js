// Call detail (docs/console.md): GET /api/calls/:id (src/reports/call-history.ts) — the facts, transcript
// with heard/truncated marks, transfer, usage and cost, legs, the timeline of callbacks and events — and
// the recording, streamed (seekable) from GET /api/calls/:id/recording.
import { api, callDurationMs, el, formatDuration, formatTime, renderChrome, showError, testCallMark, transcriptLine } from './common.js';

renderChrome('calls');
const errors = document.getElementById('errors');
const callId = decodeURIComponent(location.pathname.replace(/^\/console\/calls\//, ''));

function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-fact': k }, String(v))]));
}

async function load() {
  let call;
  try {
    call = await api(`calls/${encodeURIComponent(callId)}`);
  } catch (err) {
    showError(errors, err);
    return;
  }
  document.getElementById('title').replaceChildren(`Call ${call.id}`, testCallMark(call) ?? '');
  document.title = `${call.direction === 'browser' ? 'Test call' : 'Call'} ${call.id} · Switchboard console`;
  document.getElementById('summary').replaceChildren(
    facts([
      ['Agent', call.agentId],
      ['Mode', call.mode],
      ['Direction', call.direction === 'browser' ? 'browser (a test call from the console)' : call.direction],
      ['From', call.from],
      ['To', call.to],
      ['State', call.state],
      ['Outcome', call.outcome],
      ['Outcome reason', call.outcomeReason],
      ['Cause', call.cause],
      ['Error', call.errorMessage],
      ['Started', formatTime(call.startedAt)],
      ['Answered', formatTime(call.answeredAt)],
      ['Ended', formatTime(call.endedAt)],
      ['Duration', formatDuration(callDurationMs(call))],
    ]),
  );

  if (call.recordingPath) {
    document.getElementById('recording-section').hidden = false;
    document.getElementById('recording').src = `/api/calls/${encodeURIComponent(call.id)}/recording`;
  }

  const transcript = document.getElementById('transcript');
  transcript.replaceChildren(...call.transcript.map((t) => transcriptLine({ ...t, heardMs: t.heardMs ?? null })));
  if (call.transcript.length === 0) transcript.append(el('li', { class: 'empty' }, 'Nothing was said.'));

  const transfer = document.getElementById('transfer');
  transfer.replaceChildren(
    call.transfer
      ? facts([
          ['Outcome', call.transfer.outcome],
          ['Destination', call.transfer.destination],
          ['Cause', call.transfer.cause],
          ['Talked', call.transfer.durationMs === null ? null : formatDuration(call.transfer.durationMs)],
        ])
      : el('p', { class: 'empty' }, 'No transfer.'),
  );
  const attempts = call.events.filter((e) => /transfer/i.test(e.type));
  if (attempts.length > 0) {
    transfer.append(el('h3', {}, 'Attempts'), el('ul', { id: 'transfer-attempts' }, attempts.map((e) => el('li', {}, `${formatTime(e.at)} ${e.type}`))));
  }

  const usage = document.getElementById('usage');
  usage.replaceChildren(
    call.usage ? facts(Object.entries(call.usage)) : el('p', { class: 'empty' }, 'No model usage recorded.'),
    call.cost
      ? el('p', { id: 'cost' }, `Estimated cost: $${call.cost.totalUsd.toFixed(4)} (${call.cost.model})`)
      : el('p', { class: 'muted', id: 'cost' }, 'No cost estimate (no usage, or no price for the model).'),
  );

  const legs = document.getElementById('legs');
  legs.replaceChildren(
    call.legs.length === 0
      ? el('p', { class: 'empty' }, 'Only the caller’s leg.')
      : el(
          'table',
          {},
          el('thead', {}, el('tr', {}, ['Leg', 'Id', 'State', 'Cause', 'Outcome'].map((h) => el('th', {}, h)))),
          el('tbody', {}, call.legs.map((l) => el('tr', {}, el('td', {}, l.leg), el('td', {}, l.id), el('td', {}, l.state), el('td', {}, l.cause ?? ''), el('td', {}, l.outcome ?? '')))),
        ),
  );

  document.querySelector('#timeline tbody').replaceChildren(
    ...call.events.map((e) =>
      el(
        'tr',
        { 'data-event-type': e.type },
        el('td', {}, formatTime(e.at)),
        el('td', {}, e.callId === call.id ? 'caller' : e.callId),
        el('td', {}, e.source),
        el('td', {}, e.type),
        el('td', {}, e.data === null || e.data === undefined ? '' : el('details', {}, el('summary', {}, 'data'), el('pre', { class: 'data' }, JSON.stringify(e.data, null, 2)))),
      ),
    ),
  );
}

void load();
