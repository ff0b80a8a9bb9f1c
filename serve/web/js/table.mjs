/*
 * table.mjs - a table of an answer: each cell written by its column's
 * kind, the columns that matter pinned on the left (the task, the metric
 * the runs are ranked by), the sort in the header, task ids linking to
 * their run's page.
 */
import { h } from './dom.mjs';
import { kindOf } from './answer.mjs';
import { cellText, isNumericKind } from './format.mjs';

/* The columns to show, pinned ones first (in the order given), then the
 * others in the answer's order, without the hidden ones. */
export function orderColumns(columns, pinned, hidden) {
  const pins = (pinned || []).filter((c, i, all) => c && columns.includes(c) && all.indexOf(c) === i);
  const rest = columns.filter((c) => !pins.includes(c) && !(hidden && hidden.has(c)));
  return { pinned: pins, columns: pins.concat(rest) };
}

/* The arrow a sorted header shows. */
export function sortMark(sort, col) {
  if (!sort || sort.col !== col) return '';
  return sort.desc ? ' \u25BC' : ' \u25B2';
}

/* A table of answer a.  opts: pinned (columns), hidden (Set), sort
 * ({col, desc}) and onSort(col), select ({has(id), toggle(id)}), taskCol
 * and taskHref(id) (task ids as links), rowClass(row), id, className. */
export function dataTable(a, opts) {
  opts = opts || {};
  const { pinned, columns } = orderColumns(a.columns, opts.pinned, opts.hidden);
  const pin = (c) => pinned.includes(c);
  const head = h('tr', null,
    opts.select ? h('th', { class: 'pin' }, '') : null,
    columns.map((c) => {
      const sorted = opts.sort && opts.sort.col === c;
      const th = h('th', {
        class: [opts.onSort ? 'sortable' : '', pin(c) ? 'pin' : '', sorted ? 'sorted' : ''].join(' ').trim(),
        scope: 'col', 'data-col': c, title: opts.onSort ? 'sort by ' + c : null,
        'aria-sort': sorted ? (opts.sort.desc ? 'descending' : 'ascending') : null,
      }, c, sortMark(opts.sort, c));
      if (opts.onSort) th.addEventListener('click', () => opts.onSort(c));
      return th;
    }));
  const body = h('tbody', null, a.rows.map((r) => {
    const id = opts.taskCol ? r[opts.taskCol] : undefined;
    const tr = h('tr', {
      class: [(opts.select && opts.select.has(id) ? 'selected' : ''), opts.rowClass ? opts.rowClass(r) : ''].join(' ').trim() || null,
      'data-task': id,
    });
    if (opts.select) {
      tr.append(h('td', { class: 'pin' }, h('input', {
        type: 'checkbox', checked: opts.select.has(id), 'aria-label': 'select ' + id,
        onchange: (ev) => { opts.select.toggle(id, ev.target.checked); tr.classList.toggle('selected', ev.target.checked); },
      })));
    }
    for (const c of columns) {
      const k = kindOf(a, c), v = r[c];
      const cls = [isNumericKind(k) && typeof v !== 'string' ? 'num' : '', pin(c) ? 'pin' : '',
        k.kind === 'status' && v ? 'status ' + v : ''].join(' ').trim();
      const text = cellText(k, v);
      const content = opts.taskHref && c === opts.taskCol && v ? h('a', { href: opts.taskHref(v), class: 'task' }, text) : text;
      tr.append(h('td', { class: cls || null, title: typeof v === 'string' && v.length > 24 ? v : null }, content));
    }
    if (opts.onRow) tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'INPUT' && ev.target.tagName !== 'A') opts.onRow(r); });
    return tr;
  }));
  const table = h('table', { class: 'data' + (opts.className ? ' ' + opts.className : ''), id: opts.id || null }, h('thead', null, head), body);
  return h('div', { class: 'tablewrap' }, table);
}

/* Pins the pinned columns of a table in place: each sticks at the left
 * edge after the ones before it (their widths measured once drawn). */
export function pinColumns(wrap) {
  const table = wrap.querySelector('table');
  if (!table) return;
  const heads = [...table.querySelectorAll('thead th.pin')];
  let left = 0;
  const lefts = heads.map((th) => { const l = left; left += th.getBoundingClientRect().width; return l; });
  for (const tr of table.querySelectorAll('tr')) {
    [...tr.children].filter((c) => c.classList.contains('pin')).forEach((c, i) => {
      c.style.left = lefts[i] + 'px';
      if (i === lefts.length - 1) c.classList.add('pin-last');
    });
  }
}
