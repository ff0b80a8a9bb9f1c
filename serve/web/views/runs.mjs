/*
 * runs.mjs - the runs of a dataflow, as `dnnprov runs`: best first by the
 * chosen metric, the task and that metric pinned on the left, the sort in
 * the header; a --where filter and a status filter; pages of 100 from the
 * server; grouping by a hyperparameter, status or tag (count, mean ± std
 * of the metric, best run, and one curve per group with its band).
 *
 * URL: #runs?df=&where=&status=&metric=&sort=&page=&by=&sel=&sel=
 */
import { h, clear, card } from '../js/dom.mjs';
import { api, apiURL } from '../js/api.mjs';
import { kindOf, hypColumns, rankColumn, chosenMetric, metricColumns } from '../js/answer.mjs';
import { cellText, meanStd } from '../js/format.mjs';
import { dataTable, pinColumns } from '../js/table.mjs';
import { andWhere, quote } from '../js/where.mjs';
import { pageOf } from '../js/state.mjs';
import { bandSeries, curveOption, makeChart, PALETTE } from '../js/charts.mjs';
import { errorBox, runHref, metricSelect } from '../js/ui.mjs';

export const PAGE = 100;

/* Columns a person hid or showed, per dataflow, for this visit. */
const chosen = new Map();

/* The sort param: "-best(val_loss)" -> {col, desc}. */
export function parseSort(s) {
  if (!s) return null;
  return s[0] === '-' ? { col: s.slice(1), desc: true } : { col: s.replace(/^\+/, ''), desc: false };
}

export function sortParam(sort) {
  return sort ? (sort.desc ? '-' : '') + sort.col : '';
}

/* Hyperparameters with one value in every row of the page, and the start
 * (tables show the duration and last activity): hidden at first, as the
 * CLI's table hides them. */
export function defaultHidden(a) {
  const hide = new Set(['start']);
  if (a.rows.length > 1)
    for (const c of hypColumns(a)) {
      const vals = new Set(a.rows.map((r) => JSON.stringify(r[c])));
      if (vals.size === 1) hide.add(c);
    }
  if (a.rows.every((r) => r.attempts === 1)) ['attempts', 'active'].forEach((c) => hide.add(c));
  return hide;
}

export async function render(ctx) {
  const { main, df, params } = ctx;
  const page = pageOf(params);
  const where = params.where || '', status = params.status || '', by = params.by || '';
  const selected = new Set(params.sel);
  let sort = parseSort(params.sort);

  const whereInput = h('input', { type: 'text', class: 'where', id: 'runs-where', value: where, 'aria-label': 'where',
    placeholder: "--where, e.g.  LEARNING_RATE <= 0.01 and epochs >= 10" });
  const apply = () => ctx.set({ where: whereInput.value.trim(), page: '' });
  whereInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
  const statusSel = h('select', { id: 'runs-status', 'aria-label': 'status', onchange: (e) => ctx.set({ status: e.target.value, page: '' }) },
    h('option', { value: '' }, 'every status'), status ? h('option', { value: status, selected: true }, status) : null);
  const metricBox = h('span');
  const byInput = h('input', { type: 'text', id: 'runs-by', list: 'runs-by-list', value: by, class: 'narrow-text',
    placeholder: 'none: a hyperparameter, status, tags.KEY', 'aria-label': 'group by' });
  const byList = h('datalist', { id: 'runs-by-list' });
  byInput.addEventListener('change', () => ctx.set({ by: byInput.value.trim() }));
  const colpick = h('div', { class: 'colpick', hidden: true, id: 'colpick' });
  const compareBtn = h('button', { id: 'compare-selected', onclick: () => ctx.go('compare', { task: [...selected] }) });
  const diffBtn = h('button', { id: 'diff-selected', onclick: () => { const [a, b] = [...selected]; ctx.go('diff', { a, b }); } });
  const exportBtn = h('button', { id: 'export-selected', onclick: () => ctx.go('export', { task: [...selected] }) }, 'Export selected');
  const updateButtons = () => {
    compareBtn.textContent = 'Compare selected (' + selected.size + ')';
    compareBtn.disabled = !selected.size;
    diffBtn.textContent = 'Diff the two selected';
    diffBtn.disabled = selected.size !== 2;
    exportBtn.disabled = !selected.size;
  };
  updateButtons();
  const errBox = h('div', { id: 'runs-error' });
  const groupsBox = h('div', { id: 'runs-groups' });
  const sortInfo = h('p', { class: 'sortinfo', id: 'runs-sort' });
  const winner = h('div', { id: 'runs-best' });
  const tableBox = h('div', { id: 'runs-table' });
  const info = h('span', { class: 'muted', id: 'runs-info' });
  const pager = h('div', { class: 'pager' });
  const downloads = h('span', { class: 'controls' });
  const same = h('p', { class: 'muted', id: 'runs-same' });

  main.append(h('h2', null, 'Runs of ', df));
  main.append(h('div', { class: 'controls' },
    whereInput, h('button', { class: 'primary', onclick: apply, id: 'runs-apply' }, 'Filter'),
    h('label', null, 'status', statusSel),
    h('label', null, 'metric', metricBox),
    h('label', null, 'group by', byInput, byList),
    h('button', { onclick: () => { colpick.hidden = !colpick.hidden; } }, 'Columns'),
    compareBtn, diffBtn, exportBtn, downloads));
  main.append(colpick, errBox, winner, groupsBox, sortInfo, tableBox, h('div', { class: 'pager' }, pager, info), same);

  /* What describe says (every status with runs, the metrics, the
   * hyperparameters), when it has said it: not waited for. */
  const fillSpec = (spec) => {
    if (!spec || ctx.stale()) return;
    statusSel.replaceChildren(h('option', { value: '' }, 'every status'),
      ...Object.entries(spec.statuses).map(([s, n]) => h('option', { value: s, selected: s === status }, s + ' (' + n + ')')));
    metricBox.replaceChildren(metricSelect(spec.metrics, params.metric || '', (m) => ctx.set({ metric: m, sort: '', page: '' }), 'main metric'));
    byList.replaceChildren(...spec.hyps.map((x) => h('option', { value: x.name })), h('option', { value: 'status' }));
  };
  if (ctx.spec) fillSpec(ctx.spec); else ctx.specReady().then(fillSpec);

  const filter = andWhere(where, status ? 'status = ' + quote(status) : '');

  async function show() {
    /* Without a sort: best first by the chosen metric, as the server
     * names its column (one row sorted by task costs a lookup). */
    if (!sort) {
      const probe = await api('runs', { df, metric: params.metric, sort: 'task', limit: 1 });
      const col = rankColumn(probe), m = chosenMetric(probe);
      sort = col ? { col, desc: !m.lowerIsBetter } : { col: 'start', desc: true };
    }
    const q = { df, where: filter, metric: params.metric, sort: sortParam(sort), limit: PAGE, offset: (page - 1) * PAGE };
    let a;
    try {
      a = await api('runs', q);
    } catch (e) {
      clear(errBox).append(errorBox(e));
      clear(tableBox);
      return;
    }
    if (ctx.stale()) return;
    clear(errBox);
    clear(downloads).append(
      h('a', { class: 'button', href: apiURL('runs', Object.assign({}, q, { format: 'csv' })), download: '' }, 'CSV'),
      h('a', { class: 'button', href: apiURL('runs', q), download: '' }, 'JSON'));
    if (!chosen.has(df)) chosen.set(df, defaultHidden(a));
    const hidden = chosen.get(df);
    const m = chosenMetric(a);
    const rank = rankColumn(a);
    const sameCols = hypColumns(a).filter((c) => hidden.has(c) && a.rows.length &&
      a.rows.every((x) => JSON.stringify(x[c]) === JSON.stringify(a.rows[0][c])) && a.rows[0][c] !== null);
    same.textContent = sameCols.length ? 'same in every row: ' + sameCols.map((c) => c + '=' + cellText(kindOf(a, c), a.rows[0][c])).join(', ') : '';
    clear(colpick).append(a.columns.map((c) => h('label', null, h('input', { type: 'checkbox', checked: !hidden.has(c),
      onchange: (e) => { if (e.target.checked) hidden.delete(c); else hidden.add(c); show(); } }), c)));
    showWinner(a, hidden, rank, m);
    const metricKind = kindOf(a, sort.col);
    sortInfo.textContent = 'sorted by ' + sort.col + (sort.desc ? ', highest first' : ', lowest first') +
      (metricKind.kind === 'metric' && metricKind.goal ? ' (' + (metricKind.goal === 'min' ? 'lower' : 'higher') + ' is better)' : '') +
      (m ? ' \u00B7 metric ' + m.metric : '');
    const wrap = dataTable(a, {
      id: 'runs', hidden, sort, pinned: ['task', rank, metricColumns(a).includes(sort.col) ? sort.col : null],
      taskCol: 'task', taskHref: (id) => runHref(df, id),
      select: {
        has: (id) => selected.has(id),
        toggle: (id, on) => {
          if (on) selected.add(id); else selected.delete(id);
          ctx.remember({ sel: [...selected] });
          updateButtons();
        },
      },
      onSort: (c) => ctx.set({ sort: sortParam({ col: c, desc: sort.col === c ? !sort.desc : kindOf(a, c).goal === 'max' }), page: '' }),
    });
    clear(tableBox).append(wrap);
    pinColumns(wrap);
    const total = a.total !== undefined ? a.total : a.rows.length;
    const from = (page - 1) * PAGE;
    info.textContent = total ? 'runs ' + (from + 1) + '\u2013' + (from + a.rows.length) + ' of ' + total : 'no runs match';
    const last = Math.max(1, Math.ceil(total / PAGE));
    clear(pager).append(
      h('button', { disabled: page <= 1, onclick: () => ctx.set({ page: '' }) }, '\u00AB first'),
      h('button', { disabled: page <= 1, onclick: () => ctx.set({ page: page - 1 > 1 ? page - 1 : '' }) }, '\u2039 previous'),
      h('button', { disabled: page >= last, onclick: () => ctx.set({ page: page + 1 }) }, 'next \u203A'),
      h('button', { disabled: page >= last, onclick: () => ctx.set({ page: last }) }, 'last \u00BB'));
  }

  /* Which configuration won, at a glance: on the first page sorted best
   * first, the first run, its value, the hyperparameters that tell the
   * runs shown apart, and the runner-up to diff it with. */
  function showWinner(a, hidden, rank, m) {
    clear(winner);
    const bestFirst = rank && sort.col === rank && sort.desc === !m.lowerIsBetter && page === 1;
    const [first, second] = a.rows;
    if (!bestFirst || !first || first[rank] === null || first[rank] === undefined) return;
    const varied = hypColumns(a).filter((c) => !hidden.has(c));
    winner.append(h('div', { class: 'winner' },
      h('span', { class: 'label' }, 'Best by ' + m.metric + ' (' + (m.lowerIsBetter ? 'lowest' : 'highest') + ')'),
      h('a', { href: runHref(df, first.task), class: 'task', id: 'best-task' }, first.task),
      h('span', { class: 'value' }, cellText(kindOf(a, rank), first[rank])),
      varied.length ? h('span', { class: 'hyps' }, varied.map((c) => h('span', { class: 'hyp' }, c + ' ', h('b', null, cellText(kindOf(a, c), first[c]))))) : null,
      second ? h('a', { class: 'button', href: '#diff?' + new URLSearchParams({ df, a: second.task, b: first.task }) },
        'Diff with the runner-up') : null));
  }

  async function showGroups() {
    if (!by) return clear(groupsBox);
    let g, b;
    try {
      [g, b] = await Promise.all([
        api('groups', { df, by, metric: params.metric, where: filter }),
        api('bands', { df, by, metric: params.metric, where: filter }),
      ]);
    } catch (e) {
      clear(groupsBox).append(errorBox(e));
      return;
    }
    if (ctx.stale()) return;
    const key = g.columns[0], m = chosenMetric(g), meanKind = kindOf(g, 'mean');
    const rows = g.rows.map((r) => ({ [key]: r[key], runs: r.runs, n: r.n, 'mean \u00B1 std': meanStd(r.mean, r.std),
      min: r.min, max: r.max, best_task: r.best_task, best: r.best }));
    const shown = { columns: [key, 'runs', 'n', 'mean \u00B1 std', 'min', 'max', 'best_task', 'best'],
      kinds: [kindOf(g, key), { kind: 'integer' }, { kind: 'integer' }, { kind: 'text' }, meanKind, meanKind, { kind: 'text' }, meanKind],
      rows };
    const chartBox = h('div', { class: 'chart small', id: 'groups-chart' });
    clear(groupsBox).append(card('Grouped by ' + key + ' \u00B7 ' + m.metric + (m.agg ? ' (' + m.agg + ' of each run)' : ''),
      dataTable(shown, { id: 'groups', taskCol: 'best_task', taskHref: (id) => runHref(df, id) }),
      chartBox));
    const bm = chosenMetric(b);
    const { series, values } = bandSeries(b, b.columns[0], PALETTE, bm.bounds);
    makeChart(chartBox, curveOption({ series, values, metric: bm.metric, bounds: bm.bounds,
      title: bm.metric + ' by epoch, per ' + key + ': mean \u00B1 std' }));
  }

  await Promise.all([show(), showGroups()]);
  return { refresh: () => Promise.all([show(), showGroups()]) };
}

