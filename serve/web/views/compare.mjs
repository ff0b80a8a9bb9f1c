/*
 * compare.mjs - the curves of chosen runs overlaid: one metric against
 * the epoch, its axis stopped at the metric's natural bounds, each run's
 * adaptations marked (stacked where several fall at one epoch; their text
 * on hover), a legend that hides a run; their hyperparameters side by
 * side below.
 *
 * URL: #compare?df=&task=&task=&metric=&log=1&diff=1
 */
import { h, clear, card } from '../js/dom.mjs';
import { api } from '../js/api.mjs';
import { kindOf, chosenMetric } from '../js/answer.mjs';
import { cellText } from '../js/format.mjs';
import { quote } from '../js/where.mjs';
import { curvePoints, curveSeries, curveOption, curveBounds, makeChart } from '../js/charts.mjs';
import { errorBox, taskInput, taskLink, metricSelect } from '../js/ui.mjs';

export async function render(ctx) {
  const { main, df, params } = ctx;
  const tasks = params.task || [];
  const log = params.log === '1', diffOnly = params.diff === '1';
  const field = taskInput(df, { id: 'add-task', 'aria-label': 'add a task', placeholder: 'task id' });
  const input = field.firstChild;
  const addErr = h('div', { id: 'add-error' });
  const add = async (id) => {
    id = (id || input.value).trim();
    if (!id || tasks.includes(id)) return;
    /* An id the index lacks says what it may have meant, not every id. */
    try {
      await api('describe', { df, task: id });
      ctx.set({ task: tasks.concat([id]) });
    } catch (e) {
      clear(addErr).append(errorBox(e, (pick) => add(pick)));
    }
  };
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') add(); });
  const metricBox = h('span');
  main.append(h('h2', null, 'Compare runs'));
  main.append(h('div', { class: 'controls' },
    h('div', { class: 'chips', id: 'chips' }, tasks.length ? tasks.map((t) => h('span', { class: 'chip' }, taskLink(df, t),
      h('button', { 'aria-label': 'remove ' + t, onclick: () => ctx.set({ task: tasks.filter((x) => x !== t) }) }, '\u00D7')))
      : h('span', { class: 'muted' }, 'Tick runs in the Runs table, or add a task id:')),
    field, h('button', { id: 'add-button', onclick: () => add() }, 'Add'),
    h('label', null, 'metric', metricBox),
    h('label', null, h('input', { type: 'checkbox', id: 'log-scale', checked: log, onchange: (e) => ctx.set({ log: e.target.checked ? '1' : '' }, true) }), 'log scale'),
    tasks.length === 2 ? h('a', { class: 'button', href: '#diff?' + new URLSearchParams({ df, a: tasks[0], b: tasks[1] }) }, 'Diff these two') : null));
  main.append(addErr);
  const chartBox = h('div', { class: 'chart', id: 'compare-chart' });
  const hypBox = h('div', { id: 'compare-hyps' });
  const errs = h('div', { id: 'compare-errors' });
  main.append(card(null, chartBox, errs));
  main.append(card(null, h('div', { class: 'controls' }, h('h3', null, 'Hyperparameters side by side'),
    h('label', null, h('input', { type: 'checkbox', id: 'diff-only', checked: diffOnly, onchange: (e) => ctx.set({ diff: e.target.checked ? '1' : '' }, true) }), 'differences only')),
  hypBox));
  if (!tasks.length) return {};

  async function draw() {
    const spec = await ctx.specReady();
    const curves = await Promise.all(tasks.map((t) => api('curve', { df, task: t }).catch((e) => ({ error: e, task: t }))));
    const runs = await api('runs', { df, metric: params.metric, where: 'task in (' + tasks.map(quote).join(', ') + ')', limit: tasks.length });
    if (ctx.stale()) return;
    const metric = params.metric || (chosenMetric(runs) || {}).metric;
    if (spec) metricBox.replaceChildren(metricSelect(spec.metrics, metric, (m) => ctx.set({ metric: m })));
    const ok = curves.map((c, i) => ({ c, t: tasks[i] })).filter((x) => !x.c.error);
    clear(errs).append(curves.filter((c) => c.error).map((c) => errorBox(c.error)));
    const series = curveSeries(ok.map(({ c, t }) => Object.assign({ name: t }, curvePoints(c, metric))));
    const bounds = ok.length ? curveBounds(ok[0].c, metric) : [null, null];
    makeChart(chartBox, curveOption({ series, metric, bounds, log }));
    /* Hyperparameters and a few facts of the runs, side by side. */
    const names = runs.columns.filter((c) => ['hyperparameter', 'status', 'duration'].includes(kindOf(runs, c).kind) || c === 'epochs' || c === 'message');
    const rows = names.map((n) => {
      const vals = tasks.map((t) => { const r = runs.rows.find((x) => x.task === t); return r ? cellText(kindOf(runs, n), r[n]) : ''; });
      return { n, vals, same: vals.every((v) => v === vals[0]) };
    }).filter((r) => !diffOnly || !r.same);
    clear(hypBox).append(h('div', { class: 'tablewrap' }, h('table', { class: 'data', id: 'hyp-table' },
      h('thead', null, h('tr', null, h('th', null, 'hyperparameter'), tasks.map((t) => h('th', null, t)))),
      h('tbody', null, rows.map((r) => h('tr', { class: r.same ? 'same' : 'diff' }, h('td', null, r.n), r.vals.map((v) => h('td', null, v))))))));
  }

  await draw();
  return { refresh: draw };
}
