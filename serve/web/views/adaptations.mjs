/*
 * adaptations.mjs - every change of a hyperparameter during training, as
 * `dnnprov adaptations`, with the metric before it and some epochs after;
 * a row shows its run's curve with the changes marked.
 *
 * URL: #adaptations?df=&metric=&window=&where=&task=
 */
import { h, clear, card } from '../js/dom.mjs';
import { api } from '../js/api.mjs';
import { chosenMetric } from '../js/answer.mjs';
import { dataTable } from '../js/table.mjs';
import { curvePoints, curveSeries, curveOption, curveBounds, makeChart, disposeCharts } from '../js/charts.mjs';
import { errorBox, runHref, metricSelect } from '../js/ui.mjs';

export async function render(ctx) {
  const { main, df, params } = ctx;
  const spec = await ctx.specReady();
  const where = params.where || '', win = Number(params.window) || 1;
  const whereInput = h('input', { type: 'text', class: 'where', value: where, placeholder: '--where, e.g.  OPTIMIZER_NAME = \'SGD\'', 'aria-label': 'where' });
  const windowInput = h('input', { type: 'number', min: 1, value: win, 'aria-label': 'window', class: 'narrow' });
  const apply = () => ctx.set({ where: whereInput.value.trim(), window: Number(windowInput.value) > 1 ? windowInput.value : '' });
  whereInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
  main.append(h('h2', null, 'Adaptations'));
  main.append(h('div', { class: 'controls' }, whereInput,
    h('label', null, 'metric', metricSelect(spec ? spec.metrics : [], params.metric || '', (m) => ctx.set({ metric: m }), 'main metric')),
    h('label', null, 'epochs after', windowInput), h('button', { class: 'primary', onclick: apply }, 'Show')));
  const tableBox = h('div', { id: 'adapt-table' });
  const chartBox = h('div', { class: 'chart', id: 'adapt-chart' });
  main.append(card(null, h('p', { class: 'muted' }, 'Each change of a hyperparameter during training, with the metric before it and the given number of epochs after; choose a row to see its run\u2019s curve.'), tableBox));
  main.append(card(null, chartBox));

  async function draw() {
    let a;
    try {
      a = await api('adaptations', { df, metric: params.metric, window: win, where });
    } catch (e) {
      clear(tableBox).append(errorBox(e));
      return;
    }
    if (ctx.stale()) return;
    const task = a.rows.some((r) => r.task === (params.task || [])[0]) ? params.task[0] : a.rows.length ? a.rows[0].task : null;
    clear(tableBox).append(dataTable(a, { taskCol: 'task', taskHref: (id) => runHref(df, id), rowClass: (r) => (r.task === task ? 'selected' : ''),
      onRow: (r) => ctx.set({ task: [r.task] }, true) }));
    disposeCharts();
    if (!task) return;
    const metric = chosenMetric(a).metric;
    const c = await api('curve', { df, task });
    if (ctx.stale()) return;
    makeChart(chartBox, curveOption({ series: curveSeries([Object.assign({ name: task }, curvePoints(c, metric))]), metric,
      bounds: curveBounds(c, metric) }));
  }

  await draw();
  return { refresh: draw };
}
