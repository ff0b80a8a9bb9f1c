/*
 * diff.mjs - two runs side by side (`dnnprov diff`), or a run and the
 * best of its dataflow: what differs (hyperparameters, run facts, tags,
 * each metric's best), where each shared metric's curves part, said in a
 * sentence, the curves overlaid with that epoch marked, and both runs'
 * adaptations on one timeline.
 *
 * URL: #diff?df=&a=&b=&metric=
 */
import { h, clear, card } from '../js/dom.mjs';
import { api } from '../js/api.mjs';
import { chosenMetric } from '../js/answer.mjs';
import { fmtNum } from '../js/format.mjs';
import { curvePoints, curveSeries, curveOption, curveBounds, makeChart, escapeLabel } from '../js/charts.mjs';
import { errorBox, taskInput, taskLink, metricSelect } from '../js/ui.mjs';

const A_STYLE = { color: '#2f6fde' }, B_STYLE = { color: '#e8590c' };

/* The rows of a diff answer by section. */
export function sections(d) {
  const out = {};
  for (const r of d.rows) (out[r.section] = out[r.section] || []).push(r);
  return out;
}

/* The adaptations of a diff as points of a timeline: [epoch, 'A'|'B', text]. */
export function timeline(rows) {
  const pts = [];
  for (const r of rows || []) {
    if (r.a !== null && r.a !== undefined) pts.push([r.epoch, 'A', r.name + ' ' + r.a]);
    if (r.b !== null && r.b !== undefined) pts.push([r.epoch, 'B', r.name + ' ' + r.b]);
  }
  return pts;
}

const show = (v) => (v === null || v === undefined ? '\u2014' : typeof v === 'number' ? fmtNum(v) : String(v));

export async function render(ctx) {
  const { main, df, params } = ctx;
  const a = params.a || '', b = params.b || '';
  const aField = taskInput(df, { id: 'diff-a', value: a, 'aria-label': 'run A', placeholder: 'run A' });
  const bField = taskInput(df, { id: 'diff-b', value: b, 'aria-label': 'run B', placeholder: 'run B (empty: the best run)' });
  const metricBox = h('span');
  const go = () => ctx.set({ a: aField.firstChild.value.trim(), b: bField.firstChild.value.trim() });
  [aField, bField].forEach((f) => f.firstChild.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); }));
  main.append(h('h2', null, 'Diff of two runs'));
  main.append(h('div', { class: 'controls' }, h('label', null, 'A', aField), h('label', null, 'B', bField),
    h('label', null, 'metric', metricBox), h('button', { class: 'primary', id: 'diff-go', onclick: go }, 'Diff')));
  ctx.specReady().then((spec) => spec && !ctx.stale() &&
    metricBox.replaceChildren(metricSelect(spec.metrics, params.metric || '', (m) => ctx.set({ metric: m }), 'main metric')));
  if (!a) {
    main.append(h('p', { class: 'muted' }, 'Type run A (and B, or leave it empty for the best run of the dataflow), or tick two runs in the Runs table.'));
    return {};
  }
  const out = h('div', { id: 'diff-result' });
  main.append(out);

  async function draw() {
    let d;
    try {
      d = await api('diff', { df, task: a, other: b, metric: params.metric });
    } catch (e) {
      clear(out).append(errorBox(e, (id) => ctx.set(e.parameter === 'other' ? { b: id } : { a: id })));
      return;
    }
    const [ta, tb] = d.about.tasks;
    const [ca, cb] = await Promise.all([api('curve', { df, task: ta }), api('curve', { df, task: tb })]);
    if (ctx.stale()) return;
    const s = sections(d);
    const m = chosenMetric(d);
    clear(out);
    out.append(h('p', { class: 'verdict', id: 'diff-note' }, d.about.note || 'The runs share no metric.'));
    out.append(h('p', { class: 'muted' }, 'A ', taskLink(df, ta), ' \u00B7 B ', taskLink(df, tb), b ? '' : ' (the best run of the dataflow' + (m ? ' by ' + m.metric : '') + ')'));

    /* What differs, side by side. */
    const diffRows = ['run', 'hyperparameter', 'fact', 'tag', 'metric'].flatMap((sec) => (s[sec] || []).map((r) => h('tr', { 'data-section': sec },
      h('td', { class: 'muted' }, sec), h('td', { class: 'name' }, r.name), h('td', { class: 'side-a' }, show(r.a)),
      h('td', { class: 'side-b' }, show(r.b)), h('td', { class: 'muted' }, r.note || ''))));
    out.append(card('What differs',
      diffRows.length ? h('div', { class: 'tablewrap' }, h('table', { class: 'data', id: 'diff-table' },
        h('thead', null, h('tr', null, h('th', null, ''), h('th', null, 'name'), h('th', { class: 'side-a' }, 'A'),
          h('th', { class: 'side-b' }, 'B'), h('th', null, ''))), h('tbody', null, diffRows)))
        : h('p', { class: 'muted' }, 'Nothing differs but the runs themselves.')));

    /* Each shared metric: both curves, the parting epoch marked. */
    const grid = h('div', { class: 'grid' });
    out.append(card('Where the curves part', h('ul', { class: 'partings' }, (s.parting || []).map((r) => h('li', { 'data-metric': r.name }, r.note))), grid));
    for (const r of s.parting || []) {
      const el = h('div', { class: 'chart small', 'data-metric': r.name });
      grid.append(el);
      const pa = curvePoints(ca, r.name), pb = curvePoints(cb, r.name);
      /* A and B: the runs are named above; a click on either hides it. */
      const series = curveSeries([
        { name: 'A', data: pa.data, marks: pa.marks, itemStyle: A_STYLE, lineStyle: A_STYLE },
        { name: 'B', data: pb.data, marks: pb.marks, itemStyle: B_STYLE, lineStyle: B_STYLE },
      ]);
      if (r.epoch !== null && r.epoch !== undefined)
        series[0].markLine = { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: '#101828' },
          label: { formatter: escapeLabel('parts at ' + r.epoch), position: 'insideStartTop', color: '#101828' },
          data: [{ xAxis: r.epoch }] };
      makeChart(el, curveOption({ series, metric: r.name, bounds: curveBounds(ca, r.name), title: r.name }));
    }

    /* Both runs' adaptations on one timeline. */
    const pts = timeline(s.adaptation);
    const tl = h('div', { class: 'chart timeline', id: 'diff-timeline' });
    out.append(card('Adaptations on one timeline', pts.length ? tl : h('p', { class: 'muted' }, 'Neither run adapted a hyperparameter.')));
    if (pts.length)
      makeChart(tl, {
        tooltip: { renderMode: 'richText', formatter: (p) => escapeLabel((p.value[1] === 'A' ? ta : tb) + '\nepoch ' + p.value[0] + ': ' + p.value[2]) },
        grid: { left: 40, right: 30, top: 10, bottom: 36 },
        xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 24, minInterval: 1, min: 1,
          max: Math.max(1, ...ca.rows.map((x) => x.epoch), ...cb.rows.map((x) => x.epoch)) },
        yAxis: { type: 'category', data: ['B', 'A'] },
        series: [{ type: 'scatter', symbolSize: 14, data: pts,
          itemStyle: { color: (p) => (p.value[1] === 'A' ? A_STYLE.color : B_STYLE.color) } }],
      });
  }

  await draw();
  return { refresh: draw };
}
