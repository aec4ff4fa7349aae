// Agents, numbers and transfer destinations (docs/console.md): viewed and changed through the admin API
// only. The edit forms are built from the API's own OpenAPI document (field types and allowed values), and
// a 400's message, which names each refused field (`instructions: …`), is shown next to that field.
import { api, el, fieldErrors, formatTime, renderChrome, showError } from './common.js';

renderChrome('agents');
const errors = document.getElementById('errors');
let openapi = { paths: {} };

/** The JSON Schema properties of a route's request body, from the OpenAPI document. */
function bodyProperties(path, method) {
  return openapi.paths[path]?.[method]?.requestBody?.content?.['application/json']?.schema?.properties ?? {};
}

const LONG_TEXT = new Set(['instructions', 'greeting', 'description', 'holdMessage']);

/**
 * A form of `fields` (name → JSON Schema) filled from `values`. Text, numbers, checkboxes and choices are
 * plain inputs; objects and arrays are JSON. `onSubmit(changes)` gets only the fields the user changed
 * (all filled fields with `all`), and its ApiError is shown field by field.
 */
function editForm({ id, fields, values = {}, submitLabel, all = false, onSubmit }) {
  const controls = new Map();
  const formError = el('div', { class: 'form-error', id: `${id}-error` });
  const form = el('form', { class: 'edit card', id, novalidate: true });
  for (const [name, schema] of Object.entries(fields)) {
    const value = values[name];
    const inputId = `${id}-${name}`;
    const kind = schema.enum ? 'enum' : schema.type === 'boolean' ? 'boolean' : schema.type === 'number' || schema.type === 'integer' ? 'number' : schema.type === 'string' ? 'string' : 'json';
    let input;
    if (kind === 'enum') input = el('select', { id: inputId, name }, (value === undefined ? [''] : []).concat(schema.enum).map((v) => el('option', { value: v, selected: v === value }, v)));
    else if (kind === 'boolean') input = el('input', { id: inputId, name, type: 'checkbox', checked: value === true });
    else if (kind === 'number') input = el('input', { id: inputId, name, type: 'number', step: 'any', value: value ?? '' });
    else if (kind === 'string' && !LONG_TEXT.has(name)) input = el('input', { id: inputId, name, value: value ?? '' });
    else input = el('textarea', { id: inputId, name, rows: kind === 'json' ? 4 : 6 });
    if (input.tagName === 'TEXTAREA') input.value = kind === 'json' ? (value === undefined ? '' : JSON.stringify(value, null, 2)) : (value ?? '');
    const message = el('p', { class: 'field-error', id: `${inputId}-error`, hidden: true });
    const field = el('div', { class: 'field', 'data-field': name }, el('label', { for: inputId }, name, schema.description ? el('span', { class: 'muted' }, ` — ${schema.description}`) : null), input, message);
    controls.set(name, { kind, input, message, field, original: value });
    form.append(field);
  }
  form.append(formError, el('div', { class: 'row-actions' }, el('button', { class: 'primary', type: 'submit' }, submitLabel)));

  const clear = () => {
    formError.replaceChildren();
    for (const c of controls.values()) {
      c.message.hidden = true;
      c.message.textContent = '';
      c.field.classList.remove('invalid');
    }
  };
  const mark = (name, text) => {
    const c = controls.get(name);
    if (!c) return void formError.append(el('div', { class: 'banner', role: 'alert' }, text));
    c.message.textContent = c.message.textContent ? `${c.message.textContent}; ${text}` : text;
    c.message.hidden = false;
    c.field.classList.add('invalid');
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear();
    const changes = {};
    let local = false;
    for (const [name, c] of controls) {
      let value;
      if (c.kind === 'boolean') value = c.input.checked;
      else if (c.kind === 'number') value = c.input.value === '' ? undefined : Number(c.input.value);
      else if (c.kind === 'json') {
        if (c.input.value.trim() === '') value = undefined;
        else {
          try {
            value = JSON.parse(c.input.value);
          } catch (err) {
            mark(name, `${name}: not valid JSON (${err.message})`);
            local = true;
            continue;
          }
        }
      } else value = c.input.value === '' && c.original === undefined ? undefined : c.input.value;
      if (value === undefined) continue;
      if (all || JSON.stringify(value) !== JSON.stringify(c.original)) changes[name] = value;
    }
    if (local) return;
    try {
      await onSubmit(changes);
    } catch (err) {
      if (err.status !== 400) return void mark('', err.message);
      for (const [name, texts] of fieldErrors(err, [...controls.keys()])) for (const t of texts) mark(name, t);
    }
  });
  return form;
}

// ---- agents ---------------------------------------------------------------------------------------
const VIEW_ONLY = ['id', 'numbers', 'source', 'createdAt', 'updatedAt', 'destinations'];

async function loadAgents() {
  const agents = await api('agents');
  const body = document.querySelector('#agents tbody');
  body.replaceChildren(
    ...agents.map((a) =>
      el(
        'tr',
        { 'data-agent-id': a.id },
        el('td', {}, a.id),
        el('td', {}, a.name),
        el('td', {}, a.mode),
        el('td', {}, a.numbers.join(', ')),
        el('td', {}, a.source),
        el(
          'td',
          { class: 'row-actions' },
          el('button', { type: 'button', 'data-edit-agent': a.id, onclick: () => editAgent(a) }, a.source === 'env' ? 'View' : 'Edit'),
          a.source === 'env' ? null : el('button', { type: 'button', onclick: () => void removeAgent(a) }, 'Delete'),
        ),
      ),
    ),
  );
  if (agents.length === 0) body.append(el('tr', {}, el('td', { colspan: 6, class: 'empty' }, 'No agents yet.')));
  return agents;
}

function editAgent(agent) {
  const fields = bodyProperties('/api/agents/{id}', 'patch');
  const editor = document.getElementById('agent-editor');
  const note = agent.source === 'env' ? el('p', { class: 'muted' }, 'This agent comes from the AGENT_* environment variables: change them and restart. Saving here is refused.') : null;
  editor.replaceChildren(
    el('h2', {}, `Edit agent ${agent.id}`),
    ...(note ? [note] : []),
    editForm({
      id: 'agent-form',
      fields,
      values: { ...agent, destinationIds: agent.destinations.map((d) => d.id) },
      submitLabel: 'Save agent',
      onSubmit: async (changes) => {
        const saved = await api(`agents/${encodeURIComponent(agent.id)}`, { method: 'PATCH', body: changes });
        await loadAgents();
        editAgent(saved);
        editor.prepend(el('p', { class: 'saved', role: 'status' }, `Saved ${saved.id} at ${formatTime(saved.updatedAt)}.`));
      },
    }),
  );
  editor.scrollIntoView({ block: 'start' });
}

async function removeAgent(agent) {
  if (!confirm(`Delete agent ${agent.id}?`)) return;
  try {
    await api(`agents/${encodeURIComponent(agent.id)}`, { method: 'DELETE' });
    await refresh();
  } catch (err) {
    showError(errors, err);
  }
}

// ---- numbers --------------------------------------------------------------------------------------
async function loadNumbers() {
  const numbers = await api('numbers');
  const body = document.querySelector('#numbers tbody');
  body.replaceChildren(
    ...numbers.map((n) =>
      el(
        'tr',
        { 'data-number': n.number },
        el('td', {}, n.number),
        el('td', {}, n.agentId),
        el('td', {}, formatTime(n.createdAt)),
        el('td', {}, el('button', { type: 'button', onclick: () => void unassign(n.number) }, 'Unassign')),
      ),
    ),
  );
  if (numbers.length === 0) body.append(el('tr', {}, el('td', { colspan: 4, class: 'empty' }, 'No numbers assigned.')));
}

async function unassign(number) {
  try {
    await api(`numbers/${encodeURIComponent(number)}`, { method: 'DELETE' });
    await loadNumbers();
    await loadAgents();
  } catch (err) {
    showError(errors, err);
  }
}

// ---- destinations ---------------------------------------------------------------------------------
async function loadDestinations() {
  const destinations = await api('destinations');
  const body = document.querySelector('#destinations tbody');
  body.replaceChildren(
    ...destinations.map((d) =>
      el(
        'tr',
        { 'data-destination-id': d.id },
        el('td', {}, d.id),
        el('td', {}, d.name),
        el('td', {}, d.kind),
        el('td', {}, d.value ?? ''),
        el(
          'td',
          { class: 'row-actions' },
          el('button', { type: 'button', onclick: () => editDestination(d) }, 'Edit'),
          el('button', { type: 'button', onclick: () => void removeDestination(d) }, 'Delete'),
        ),
      ),
    ),
  );
  if (destinations.length === 0) body.append(el('tr', {}, el('td', { colspan: 5, class: 'empty' }, 'No transfer destinations.')));
}

function editDestination(dest) {
  const editor = document.getElementById('destination-editor');
  editor.replaceChildren(
    el('h2', {}, `Edit destination ${dest.id}`),
    editForm({
      id: 'destination-form',
      fields: bodyProperties('/api/destinations/{id}', 'patch'),
      values: dest,
      submitLabel: 'Save destination',
      onSubmit: async (changes) => {
        const saved = await api(`destinations/${encodeURIComponent(dest.id)}`, { method: 'PATCH', body: changes });
        await loadDestinations();
        editDestination(saved);
      },
    }),
  );
}

async function removeDestination(dest) {
  if (!confirm(`Delete destination ${dest.id}?`)) return;
  try {
    await api(`destinations/${encodeURIComponent(dest.id)}`, { method: 'DELETE' });
    await refresh();
  } catch (err) {
    showError(errors, err);
  }
}

// ---- create forms -----------------------------------------------------------------------------------
function pick(properties, names) {
  return Object.fromEntries(names.filter((n) => properties[n]).map((n) => [n, properties[n]]));
}

function createForms() {
  document.getElementById('agent-create').replaceChildren(
    editForm({
      id: 'agent-new',
      fields: pick(bodyProperties('/api/agents', 'post'), ['name', 'id', 'mode', 'instructions', 'greeting', 'voice']),
      submitLabel: 'Create agent',
      onSubmit: async (body) => {
        const agent = await api('agents', { method: 'POST', body });
        document.getElementById('agent-new').reset();
        await loadAgents();
        editAgent(agent);
      },
    }),
  );
  document.getElementById('destination-create').replaceChildren(
    editForm({
      id: 'destination-new',
      fields: pick(bodyProperties('/api/destinations', 'post'), ['name', 'id', 'kind', 'value', 'description', 'warm']),
      submitLabel: 'Create destination',
      onSubmit: async (body) => {
        await api('destinations', { method: 'POST', body });
        document.getElementById('destination-new').reset();
        await loadDestinations();
      },
    }),
  );
  document.getElementById('number-assign').replaceChildren(
    el('h3', {}, 'Assign a number'),
    editForm({
      id: 'number-new',
      fields: bodyProperties('/api/numbers', 'post'),
      submitLabel: 'Assign number',
      all: true,
      onSubmit: async (body) => {
        await api('numbers', { method: 'POST', body });
        document.getElementById('number-new').reset();
        await loadNumbers();
        await loadAgents();
      },
    }),
  );
}

async function refresh() {
  await Promise.all([loadAgents(), loadNumbers(), loadDestinations()]);
}

async function start() {
  try {
    openapi = await api('/api/openapi.json');
    createForms();
    const agents = await loadAgents();
    await Promise.all([loadNumbers(), loadDestinations()]);
    // /console/agents#ID opens that agent's editor.
    const wanted = decodeURIComponent(location.hash.slice(1));
    const agent = agents.find((a) => a.id === wanted);
    if (agent) editAgent(agent);
  } catch (err) {
    showError(errors, err);
  }
}

void start();
