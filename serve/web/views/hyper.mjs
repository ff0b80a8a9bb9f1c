/*
 * hyper.mjs - hyperparameters against a metric, honestly: the runs that
 * are ranked are the FINISHED ones (when there are some) of at least a
 * chosen fraction of the dataflow's typical epoch count; the others are
 * left out of the colours, the ranking, the effect and the scatter, and
 * said so.  Parallel coordinates coloured by the metric on a scale with
 * its legend, the best run drawn last and highlighted, axes only for the
 * hyperparameters that vary among the runs shown; a toggle draws the
 * other statuses apart (grey, dashed), short runs are dotted; a brush
 * along an axis narrows the table under it.  Then a scatter, the ranking
 * by |Spearman's rho| with the n it counts and what it leaves out, and
 * effect's table with a box plot of the same groups (about.groups).
 *
 * URL: #hyper?df=&where=&metric=&agg=&hyp=&all=1&short=0.5
 */
import { h, clear, card } from '../js/dom.mjs';
import { api } from '../js/api.mjs';
import { chosenMetric, rankColumn, kindOf, repeatedColumns, groupBounds } from '../js/answer.mjs';
import { cellText, fmtNum, asNumber } from '../js/format.mjs';
import { dataTable } from '../js/table.mjs';
import { quantiles } from '../js/stats.mjs';
import { typicalEpochs, shortCutoff, classify, rankingNote, rankedWhere, splitAxes, parallelAxes, parallelLines,
  otherLines, brushWhere, groupMembers, spansDecades } from '../js/hyper.mjs';
import { andWhere } from '../js/where.mjs';
import { defaultHidden } from './runs.mjs';
import { makeChart, disposeCharts, escapeLabel, metricScale, niceExtent } from '../js/charts.mjs';
import { errorBox, runHref, metricSelect, choice } from '../js/ui.mjs';

const CHART_ROWS = 10000;
const RANKED_STATUS = 'FINISHED';
const SHORT_STYLE = { color: '#98a2b3', type: 'dotted', width: 1.5, opacity: 0.9 };
const OTHER_STYLE = { color: '#667085', type: 'dashed', width: 1.2, opacity: 0.7 };

export async function render(ctx) {
  const { main, df, params } = ctx;
  const spec = await ctx.specReady();
  if (!spec) throw new Error('the specification of ' + df + ' could not be read');
  const where = params.where || '', agg = params.agg || 'best', showAll = params.all === '1';
  const fraction = params.short === undefined ? 0.5 : Number(params.short) || 0;
  const numeric = spec.hyps.filter((x) => x.type === 'numeric').map((x) => x.name);
  const hyp = spec.hyps.some((x) => x.name === params.hyp) ? params.hyp : numeric[0] || (spec.hyps[0] || {}).name;

  const whereInput = h('input', { type: 'text', class: 'where', id: 'hyper-where', value: where, 'aria-label': 'where',
    placeholder: '--where: the runs to plot, e.g.  OPTIMIZER_NAME = \'Adam\'' });
  const apply = () => ctx.set({ where: whereInput.value.trim() });
  whereInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
  const shortInput = h('input', { type: 'number', class: 'narrow', id: 'hyper-short', min: 0, max: 1, step: 0.05, value: fraction,
    'aria-label': 'short runs', onchange: (e) => ctx.set({ short: e.target.value === '0.5' ? '' : e.target.value }) });
  main.append(h('h2', null, 'Hyperparameters against ', h('span', { id: 'hyper-metric' }, params.metric || 'the main metric')));
  main.append(h('div', { class: 'controls' }, whereInput, h('button', { class: 'primary', onclick: apply }, 'Plot'),
    h('label', null, 'metric', metricSelect(spec.metrics, params.metric || '', (m) => ctx.set({ metric: m }), 'main metric')),
    choice('aggregate', ['best', 'last', 'min', 'max', 'mean'], agg, (v) => ctx.set({ agg: v === 'best' ? '' : v })),
    h('label', { title: 'runs with fewer epochs than this fraction of the typical run are marked and left out of the ranking' },
      'short below', shortInput, '\u00D7 typical'),
    h('label', null, h('input', { type: 'checkbox', id: 'hyper-all', checked: showAll,
      onchange: (e) => ctx.set({ all: e.target.checked ? '1' : '' }) }), 'show the other statuses')));
  const errBox = h('div', { id: 'hyper-error' });
  const note = h('p', { class: 'ranking-note', id: 'ranking-note' });
  const pc = h('div', { class: 'chart tall', id: 'parallel' });
  const same = h('p', { class: 'muted', id: 'same-hyps' });
  const brushInfo = h('p', { class: 'muted', id: 'brush-where' });
  const brushed = h('div', { id: 'brushed' });
  main.append(errBox, card('Parallel coordinates (drag along an axis to select)', note, pc, same, brushInfo, brushed));
  const scatterBox = h('div', { class: 'chart small', id: 'scatter' });
  const rhoBox = h('div', { class: 'rho', id: 'rho' });
  const rankBox = h('div', { class: 'chart small', id: 'ranking' });
  const rankNote = h('p', { class: 'muted', id: 'ranking-n' });
  const effectBox = h('div', { id: 'effect' });
  const boxBox = h('div', { class: 'chart small', id: 'boxplot' });
  main.append(h('div', { class: 'row' },
    card(null, h('div', { class: 'controls' }, h('h3', null, 'Scatter'),
      choice('hyperparameter', spec.hyps.map((x) => x.name), hyp, (v) => ctx.set({ hyp: v }))), scatterBox, rhoBox),
    card('What matters most: |\u03C1| with the metric', rankBox, rankNote)));
  main.append(card('Effect of ' + hyp + ' (groups, as dnnprov effect)', effectBox, boxBox));

  async function draw() {
    clear(errBox);
    disposeCharts();
    let cmp, all;
    try {
      [cmp, all] = await Promise.all([
        api('compare', { df, metric: params.metric, agg, where, limit: CHART_ROWS }),
        api('runs', { df, metric: params.metric, limit: CHART_ROWS }),
      ]);
    } catch (e) {
      errBox.append(errorBox(e));
      return;
    }
    if (ctx.stale()) return;
    const m = chosenMetric(cmp), mcol = rankColumn(cmp);
    document.getElementById('hyper-metric').textContent = m.metric;
    /* Epochs come from runs; the typical count is the whole dataflow's. */
    const epochs = new Map(all.rows.map((r) => [r.task, r.epochs]));
    const typical = typicalEpochs(all.rows);
    const cutoff = shortCutoff(typical, fraction);
    const rows = cmp.rows.map((r) => Object.assign({ epochs: epochs.get(r.task) || 0 }, r));
    const ranked = rows.some((r) => r.status === RANKED_STATUS) ? RANKED_STATUS : null;
    const c = classify(rows, ranked, cutoff);
    const rw = rankedWhere(where, ranked, cutoff);
    note.textContent = 'Coloured and ranked: ' + rankingNote(c, ranked, cutoff, typical) + '.' +
      (c.short.length ? ' Short runs are dotted.' : '') + (c.other.length && !showAll ? ' Tick \u201cshow the other statuses\u201d to draw them.' : '');

    /* ---- parallel coordinates ---- */
    const shown = c.ranked.concat(c.short, showAll ? c.other : []);
    const { varied, constant } = splitAxes(spec.hyps, shown);
    same.textContent = constant.length ? 'same in every run shown (no axis): ' +
      constant.map((x) => x.name + '=' + cellText(kindOf(cmp, x.name), x.value)).join(', ') : '';
    const axes = parallelAxes(varied, shown, mcol);
    const lines = parallelLines(c.ranked, axes, mcol, m.lowerIsBetter);
    const ext = niceExtent(shown.map((r) => asNumber(r[mcol])), m.bounds);
    const axisOpts = axes.map((a, i) => Object.assign({ nameLocation: 'end', nameTextStyle: { fontSize: 11 } }, a,
      i === axes.length - 1 && ext ? ext : {}));
    const series = [{ name: 'ranked runs', type: 'parallel', data: lines.data, lineStyle: { width: 1.8, opacity: 0.85 },
      inactiveOpacity: 0.05, activeOpacity: 1, z: 3 }];
    /* Apart from the colour scale: grey, dotted (short) or dashed (other statuses), as their legend shows. */
    if (c.short.length) series.push({ name: 'short runs', type: 'parallel', data: otherLines(c.short, axes, SHORT_STYLE), z: 2,
      color: SHORT_STYLE.color, lineStyle: SHORT_STYLE });
    if (showAll && c.other.length) series.push({ name: 'other statuses', type: 'parallel', data: otherLines(c.other, axes, OTHER_STYLE), z: 1,
      color: OTHER_STYLE.color, lineStyle: OTHER_STYLE });
    const par = makeChart(pc, {
      parallelAxis: axisOpts,
      parallel: { left: 60, right: 120, top: 50, bottom: 40 },
      visualMap: metricScale(c.ranked.map((r) => asNumber(r[mcol])), m.lowerIsBetter, axes.length - 1),
      legend: series.length > 1 ? { bottom: 0, data: series.slice(1).map((s) => ({ name: s.name, icon: 'path://M0,5L30,5L30,7L0,7Z' })) } : undefined,
      tooltip: { renderMode: 'richText', formatter: (p) => escapeLabel(p.name + (p.name === lines.best ? ' (best)' : '')) },
      series,
    }, shown.length > 2000 ? 'canvas' : 'svg');
    pc.dataset.best = lines.best || '';
    let brush = '';
    const showBrushed = async () => {
      const w = andWhere(rw, brush);
      brushInfo.textContent = brush ? 'selected by the axes: ' + brush : 'Drag along an axis to narrow the runs below.';
      try {
        const a = await api('runs', { df, metric: m.metric, where: w, limit: 100, sort: (m.lowerIsBetter ? '' : '-') + rankColumn(all) });
        clear(brushed).append(h('p', { class: 'muted', id: 'brushed-count' }, (a.total !== undefined ? a.total : a.rows.length) + ' runs'),
          dataTable(a, { taskCol: 'task', taskHref: (id) => runHref(df, id), pinned: ['task', rankColumn(a)], hidden: defaultHidden(a) }));
      } catch (e) {
        clear(brushed).append(errorBox(e));
      }
    };
    par.on('axisareaselected', () => {
      const model = par.getModel();
      const intervals = axes.map((_, i) => { const ax = model.getComponent('parallelAxis', i); return ax && ax.activeIntervals ? ax.activeIntervals : []; });
      brush = brushWhere(axes, intervals, kindOf(cmp, mcol));
      showBrushed();
    });
    showBrushed();

    /* ---- scatter, effect and its box plot, the ranking: of the ranked runs ---- */
    const pts = c.ranked.map((r) => [asNumber(r[hyp]), asNumber(r[mcol]), r.task]).filter((p) => p[0] !== null && p[1] !== null && isFinite(p[0]) && isFinite(p[1]));
    const sx = niceExtent(pts.map((p) => p[1]), m.bounds);
    makeChart(scatterBox, {
      tooltip: { renderMode: 'richText', formatter: (p) => escapeLabel(p.value[2] + '\n' + hyp + ' ' + fmtNum(p.value[0]) + ', ' + mcol + ' ' + fmtNum(p.value[1])) },
      grid: { left: 64, right: 20, top: 20, bottom: 45 },
      xAxis: { type: spansDecades(pts.map((p) => p[0])) ? 'log' : 'value', name: hyp, nameLocation: 'middle', nameGap: 28, scale: true },
      yAxis: Object.assign({ type: 'value', name: mcol, scale: true }, sx || {}),
      series: [{ type: 'scatter', data: pts, symbolSize: 9 }],
    });
    let eff = null;
    try {
      eff = await api('effect', { df, hyp, metric: m.metric, agg, where: rw });
    } catch (e) {
      clear(effectBox).append(errorBox(e));
    }
    if (eff && !ctx.stale()) {
      const rho = eff.about.spearman;
      rhoBox.textContent = eff.about.spearman !== undefined
        ? "Spearman's \u03C1 of " + hyp + ' with ' + mcol + ': ' + (rho === null ? 'n/a' : fmtNum(Math.round(rho * 1000) / 1000)) +
          ' (n = ' + eff.about.spearman_n + ')'
        : hyp + ' is not numeric: no rank correlation';
      /* The correlation, said once above the table, not in every row. */
      const once = new Set(repeatedColumns(eff));
      clear(effectBox).append(h('p', { class: 'muted', id: 'effect-rho' }, rhoBox.textContent),
        dataTable(eff, { hidden: once, taskCol: 'best_task', taskHref: (id) => runHref(df, id), id: 'effect-table' }));
      const labels = eff.rows.map((r) => r[hyp]);
      const members = groupMembers(groupBounds(eff), labels, c.ranked.map((r) => ({ h: r[hyp], m: asNumber(r[mcol]) })));
      const groups = members.map((vals, i) => ({ label: cellText(kindOf(eff, hyp), labels[i]), vals: vals.filter((v) => v !== null && isFinite(v)) }))
        .filter((g) => g.vals.length);
      const bx = niceExtent(groups.flatMap((g) => g.vals), m.bounds);
      makeChart(boxBox, {
        tooltip: { renderMode: 'richText' },
        grid: { left: 64, right: 20, top: 20, bottom: 45 },
        xAxis: { type: 'category', data: groups.map((g) => escapeLabel(g.label)), name: hyp, nameLocation: 'middle', nameGap: 28 },
        yAxis: Object.assign({ type: 'value', name: mcol, scale: true }, bx || {}),
        series: [
          { type: 'boxplot', name: 'distribution', data: groups.map((g) => quantiles(g.vals)) },
          { type: 'scatter', name: 'runs', symbolSize: 6, itemStyle: { opacity: 0.6 }, data: groups.flatMap((g, i) => g.vals.map((v) => [i, v])) },
        ],
      });
    }
    /* The ranking: effect's rho for each numeric hyperparameter that varies. */
    const candidates = varied.filter((x) => x.type === 'numeric').map((x) => x.name);
    const ranks = await Promise.all(candidates.map((n) => api('effect', { df, hyp: n, metric: m.metric, agg, where: rw })
      .then((a) => ({ n, rho: a.about.spearman, count: a.about.spearman_n })).catch(() => ({ n, rho: null }))));
    if (ctx.stale()) return;
    const ranked2 = ranks.filter((x) => typeof x.rho === 'number').sort((a, b) => Math.abs(b.rho) - Math.abs(a.rho));
    rankNote.textContent = rankingNote(c, ranked, cutoff, typical) + (ranks.some((x) => x.rho === null) ? '; n/a: ' +
      ranks.filter((x) => x.rho === null).map((x) => x.n).join(', ') : '');
    makeChart(rankBox, {
      tooltip: { renderMode: 'richText' },
      grid: { left: 120, right: 50, top: 10, bottom: 30 },
      xAxis: { type: 'value', min: 0, max: 1, name: '|\u03C1|' },
      yAxis: { type: 'category', inverse: true, data: ranked2.map((x) => escapeLabel(x.n)) },
      series: [{ type: 'bar', barMaxWidth: 26, data: ranked2.map((x) => ({ value: Math.abs(x.rho),
        label: { show: true, position: 'right', formatter: (x.rho >= 0 ? '+' : '\u2212') + Math.abs(x.rho).toFixed(3) } })) }],
    });
  }

  await draw();
  return { refresh: draw };
}
