/*
 * ui.mjs - the page's small parts: an error with what it may have meant,
 * a task id that links to its run, a field that completes task ids as
 * they are typed, a choice of metric.
 */
import { h } from './dom.mjs';
import { api } from './api.mjs';
import { hashOf } from './state.mjs';

let uid = 0;

/* The fragment of a run's own page. */
export function runHref(df, task) {
  return hashOf('run', { df, task });
}

export function taskLink(df, task, label) {
  return h('a', { href: runHref(df, task), class: 'task' }, label || task);
}

/* An error of the API, with the parameter it is about; for an unknown
 * task, the ids it may have meant, each a button that picks it. */
export function errorBox(err, onPick) {
  const where = err.parameter && (err.status === 404 || err.status === 400) ? err.parameter + ': ' : '';
  const box = h('div', { class: 'error', role: 'alert' }, h('pre', null, where + err.message));
  if (err.didYouMean && err.didYouMean.length)
    box.append(h('p', { class: 'didyoumean' }, 'Did you mean ',
      err.didYouMean.map((id, i) => [i ? ', ' : '', onPick
        ? h('button', { class: 'link', type: 'button', onclick: () => onPick(id) }, id)
        : h('span', { class: 'task' }, id)]), '?'));
  return box;
}

/* A text field for a task id, offering the ids that begin with or hold
 * what is typed (/api/tasks), as the browser's own list. */
export function taskInput(df, attrs) {
  const listId = 'task-ids-' + ++uid;
  const list = h('datalist', { id: listId });
  const input = h('input', Object.assign({ type: 'text', list: listId, autocomplete: 'off', spellcheck: 'false',
    class: 'taskid' }, attrs || {}));
  let timer = null, asked = null;
  const fill = async () => {
    const text = input.value.trim();
    if (text === asked) return;
    asked = text;
    try {
      const a = await api('tasks', { df, match: text, limit: 20 });
      if (asked !== text) return;
      list.replaceChildren(...a.rows.map((r) => h('option', { value: r.task }, r.status || '')));
    } catch (e) {
      list.replaceChildren();
    }
  };
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(fill, 120); });
  input.addEventListener('focus', fill);
  return h('span', { class: 'taskfield' }, input, list);
}

/* A choice of metric among `metrics`; `empty` offers the server's choice. */
export function metricSelect(metrics, value, onchange, empty) {
  return h('select', { 'aria-label': 'metric', onchange: (e) => onchange(e.target.value) },
    empty ? h('option', { value: '' }, empty) : null,
    metrics.map((m) => h('option', { value: m, selected: m === value }, m)));
}

/* A choice among values; `labels` (optional) maps a value to its text. */
export function choice(label, values, value, onchange, labels) {
  return h('label', null, label, h('select', { 'aria-label': label, onchange: (e) => onchange(e.target.value) },
    values.map((v) => h('option', { value: v, selected: v === value }, labels ? labels(v) : v))));
}

export function statusBadge(status) {
  return h('span', { class: 'badge status ' + status }, status);
}
