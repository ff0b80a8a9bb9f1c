/*
 * dataflows.mjs - the dataflows of the index and, for the chosen one, its
 * model as a graph (DfViewer's picture: transformations, their input and
 * output sets and attributes, the dependencies), from describe's "model"
 * member, and its tasks counted by status.
 *
 * URL: #dataflows?df=
 */
import { h, card } from '../js/dom.mjs';
import { api } from '../js/api.mjs';
import { dataTable } from '../js/table.mjs';
import { modelGraph } from '../js/model.mjs';
import { makeChart, escapeLabel } from '../js/charts.mjs';

const CATEGORIES = [
  { name: 'transformation', itemStyle: { color: '#2f6fde' } },
  { name: 'input set', itemStyle: { color: '#98a2b3' } },
  { name: 'output set', itemStyle: { color: '#12b76a' } },
];

export function graphOption(model) {
  const g = modelGraph(model);
  return {
    tooltip: { renderMode: 'richText', formatter: (p) => (p.dataType === 'node' ? escapeLabel(p.name + '\n' + (p.value || '')) : '') },
    legend: { data: CATEGORIES.map((c) => c.name), bottom: 0 },
    series: [{
      type: 'graph', layout: 'none', roam: true, edgeSymbol: ['none', 'arrow'], edgeSymbolSize: 9,
      categories: CATEGORIES,
      data: g.nodes.map((n) => Object.assign({}, n, { label: Object.assign({ color: '#fff', fontSize: 11 }, n.label,
        n.label.formatter ? { formatter: escapeLabel(n.label.formatter) } : {}) })),
      links: g.links.map((l) => (l.dependency
        ? { source: l.source, target: l.target, lineStyle: { width: 2.5, type: 'solid', color: '#2f6fde', curveness: -0.25 },
          label: { show: true, formatter: 'depends on' } }
        : { source: l.source, target: l.target })),
      lineStyle: { color: '#98a2b3', curveness: 0.1 },
      edgeLabel: { fontSize: 10, color: '#475467' },
    }],
  };
}

export async function render(ctx) {
  const { main, df } = ctx;
  const all = await api('dataflows');
  main.append(h('h2', null, 'Dataflows'));
  main.append(card(null, dataTable(all, { onRow: (r) => ctx.go('dataflows', { df: r.dataflow }), rowClass: (r) => (r.dataflow === df ? 'selected' : '') }),
    h('p', { class: 'muted' }, 'Choose a row to see that dataflow\u2019s model.')));
  const spec = await ctx.specReady();
  if (!spec || ctx.stale()) return {};
  const graph = h('div', { class: 'chart graph', id: 'spec-graph' });
  main.append(card('The model of ' + df,
    h('div', { class: 'badges', id: 'status-counts' },
      Object.entries(spec.statuses).map(([k, v]) => h('a', { class: 'badge status ' + k, 'data-status': k,
        href: '#runs?' + new URLSearchParams({ df, status: k }) }, k + ' ' + v))),
    spec.model ? graph : h('p', { class: 'muted', id: 'no-model' }, 'This index answers describe without its model.')));
  if (spec.model) makeChart(graph, graphOption(spec.model));
  const d = await api('describe', { df });
  main.append(card('Hyperparameters and metrics',
    dataTable({ columns: ['kind', 'name', 'detail'], kinds: [{ kind: 'text' }, { kind: 'text' }, { kind: 'text' }],
      rows: d.rows.filter((r) => r.kind === 'hyperparameter' || r.kind === 'metric') })));
  return { refresh: null };
}
