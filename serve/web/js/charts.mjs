/*
 * charts.mjs - ECharts options made from answers, as plain objects (so
 * that they can be tested without a browser), and the page's charts.
 *
 * Axes fit their data and stop at a metric's natural bounds, which the
 * server sends with each metric column ("bounds" in its kind): an
 * accuracy axis ends at 1, never 1.02; a loss axis never goes below 0.
 * A value outside its bounds is still drawn: the axis then reaches it.
 * Labels are text (richText), and the braces ECharts would read as
 * markup are replaced.
 */
import { fmtNum } from './format.mjs';

/* ECharts reads {name|...} in label text as rich-text markup: keep braces literal. */
export function escapeLabel(s) {
  return String(s).replace(/[{}|]/g, (c) => ({ '{': '\uFF5B', '}': '\uFF5D', '|': '\u2223' }[c]));
}

/* 1, 2 or 5 times a power of ten, at least x. */
export function niceStep(x) {
  if (!(x > 0) || !isFinite(x)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  const f = x / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

const round = (x) => Number(x.toPrecision(12));

/* An axis's {min, max} for these values: the data with a little room,
 * rounded to a step, and no further than the bounds [low, high] (null:
 * open) on a side the data keep within.  null without a finite value. */
export function niceExtent(values, bounds) {
  const v = values.filter((x) => typeof x === 'number' && isFinite(x));
  if (!v.length) return null;
  let lo = Math.min(...v), hi = Math.max(...v);
  const span = hi - lo || Math.abs(hi) || 1;
  const step = niceStep(span / 5);
  let min = round(Math.floor((lo - span * 0.05) / step) * step);
  let max = round(Math.ceil((hi + span * 0.05) / step) * step);
  const [low, high] = bounds || [null, null];
  if (low !== null && low !== undefined && lo >= low) min = Math.max(min, low);
  if (high !== null && high !== undefined && hi <= high) max = Math.min(max, high);
  if (min === max) max = min + step;
  return { min, max };
}

/* Adaptation marks that never overlap: marks at one epoch (of any run)
 * are stacked, each a level above the one before.  marks: [{epoch, ...}]
 * in series order; returns them with `level` (0, 1, ...). */
export function stackMarks(marks) {
  const seen = new Map();
  return marks.map((m) => {
    const level = seen.get(m.epoch) || 0;
    seen.set(m.epoch, level + 1);
    return Object.assign({}, m, { level });
  });
}

/* A curve answer's points of one metric: [[epoch, value], ...], and its
 * adaptations: [{epoch, value, label}] from the "changed" column. */
export function curvePoints(curve, metric) {
  const num = (x) => (typeof x === 'number' ? x : x === 'NaN' ? NaN : null);
  const data = curve.rows.filter((r) => r[metric] !== undefined && r[metric] !== null).map((r) => [r.epoch, num(r[metric])]);
  const marks = curve.rows.filter((r) => r.changed).map((r) => ({
    epoch: r.epoch,
    value: num(r[metric]),
    label: r.changed.split(',').map((h) => h + ' ' + fmtNum(r[h + '_old']) + ' \u2192 ' + fmtNum(r[h])).join(', '),
  })).filter((m) => m.value !== null);
  return { data, marks };
}

/* The natural bounds of a metric in a curve answer (from its kind). */
export function curveBounds(curve, metric) {
  const i = curve.columns.indexOf(metric);
  const k = i >= 0 && curve.kinds ? curve.kinds[i] : null;
  return (k && k.bounds) || [null, null];
}

/* An adaptation's pin: its size, and the step between stacked ones. */
export const MARK_SIZE = 20;

/* The highest stack of marks in these series (0: none; 1: one level). */
export function markLevels(series) {
  return Math.max(0, ...series.flatMap((s) => (s.markPoint ? s.markPoint.data.map((d) => d.level + 1) : [])));
}

/* Line series, one per run: {name, data, marks}; the marks stacked
 * (curveOption stands them on the plot's top edge). */
export function curveSeries(runs) {
  const all = stackMarks(runs.flatMap((r, i) => r.marks.map((m) => Object.assign({ run: i }, m))));
  return runs.map((r, i) => ({
    name: r.name,
    type: 'line',
    showSymbol: r.data.length < 40,
    data: r.data,
    emphasis: { focus: 'series' },
    lineStyle: r.lineStyle,
    itemStyle: r.itemStyle,
    markPoint: all.some((m) => m.run === i) ? {
      symbol: 'pin',
      symbolSize: MARK_SIZE,
      label: { show: false },
      data: all.filter((m) => m.run === i).map((m) => ({
        coord: [m.epoch, m.value], value: m.label, name: m.label, level: m.level,
        symbolOffset: [0, -MARK_SIZE / 2 - MARK_SIZE * m.level],
      })),
    } : undefined,
  }));
}

/* The option of a chart of curves (metric against epoch); a legend that
 * hides a run when clicked (legend false: none, for one run's curve).  `values` (optional): what the value axis
 * must hold, when the series' own points are not that (stacked bands). */
export function curveOption({ series, metric, bounds, log, title, values, legend }) {
  values = values || series.flatMap((s) => s.data.map((p) => p[1]));
  const ext = log ? null : niceExtent(values, bounds);
  /* The marks stand on the top edge of the plot, stacked by level: at
   * one epoch they never cover each other, whatever the curves' values. */
  const finite = values.filter((v) => typeof v === 'number' && isFinite(v));
  const top = ext ? ext.max : finite.length ? Math.max(...finite) : 0;
  series = series.map((s) => (s.markPoint ? Object.assign({}, s, { markPoint: Object.assign({}, s.markPoint, {
    data: s.markPoint.data.map((d) => Object.assign({}, d, { coord: [d.coord[0], top] })) }) }) : s));
  return {
    title: title === false ? undefined : { text: title || metric + ' by epoch', left: 'center', textStyle: { fontSize: 13 } },
    tooltip: {
      renderMode: 'richText', trigger: 'item',
      formatter: (p) => escapeLabel(p.componentType === 'markPoint'
        ? p.seriesName + '\nepoch ' + p.data.coord[0] + ': ' + p.data.value
        : p.seriesName + '\nepoch ' + p.value[0] + ': ' + fmtNum(p.value[1])),
    },
    legend: legend === false ? undefined : { type: 'scroll', bottom: 0, formatter: (n) => escapeLabel(n), selectedMode: true },
    /* Room above the plot for the stacked pins of its top values. */
    grid: { left: 64, right: 30, top: 40 + MARK_SIZE * markLevels(series), bottom: legend === false ? 40 : 60 },
    xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 25, minInterval: 1, min: 'dataMin', max: 'dataMax' },
    yAxis: Object.assign({ type: log ? 'log' : 'value', name: metric, scale: true }, ext || {}),
    series,
  };
}

/* Lines of mean ± std per group, from a bands answer: for each group a
 * band (the area between mean - std and mean + std, within the metric's
 * bounds) and its mean line.  {series, groups, values}: values are what
 * the axis must hold (the band's edges, not the stacked widths). */
export function bandSeries(bands, key, palette, bounds) {
  const [low, high] = bounds || [null, null];
  const clip = (x) => (low !== null && low !== undefined && x < low ? low : high !== null && high !== undefined && x > high ? high : x);
  const groups = [];
  for (const r of bands.rows) {
    const name = r[key] === null || r[key] === undefined ? '(none)' : String(r[key]);
    let g = groups.find((x) => x.name === name);
    if (!g) groups.push((g = { name, rows: [] }));
    g.rows.push(r);
  }
  const series = [], values = [];
  groups.forEach((g, i) => {
    const color = palette[i % palette.length];
    const sd = (r) => (typeof r.std === 'number' ? r.std : 0);
    const lo = g.rows.map((r) => clip(r.mean - sd(r))), hi = g.rows.map((r) => clip(r.mean + sd(r)));
    values.push(...lo, ...hi, ...g.rows.map((r) => r.mean));
    const band = { name: g.name, type: 'line', stack: 'band' + i, symbol: 'none', silent: true, tooltip: { show: false },
      itemStyle: { color }, lineStyle: { opacity: 0 } };
    series.push(Object.assign({}, band, { data: g.rows.map((r, k) => [r.epoch, lo[k]]) }));
    series.push(Object.assign({}, band, { data: g.rows.map((r, k) => [r.epoch, hi[k] - lo[k]]), areaStyle: { color, opacity: 0.18 } }));
    series.push({ name: g.name, type: 'line', data: g.rows.map((r) => [r.epoch, r.mean, r.std, r.runs]),
      itemStyle: { color }, lineStyle: { color, width: 2 }, showSymbol: g.rows.length < 40, z: 3 });
  });
  return { series, groups: groups.map((g) => g.name), values };
}

export const PALETTE = ['#2f6fde', '#e8590c', '#12b76a', '#9e1f63', '#7a5af8', '#0e9384', '#c4320a', '#475467'];

/* The colours of a metric's scale, from its worst values to its best:
 * the best run has the last, the "top" colour. */
export const SCALE = ['#d73027', '#f46d43', '#fdae61', '#a6d96a', '#66bd63', '#1a9850'];

/* The visualMap of a metric's scale: its range, and colours that put the
 * top colour on the best end whichever way the goal points. */
export function metricScale(values, lowerIsBetter, dim) {
  const v = values.filter((x) => typeof x === 'number' && isFinite(x));
  const min = v.length ? Math.min(...v) : 0, max = v.length ? Math.max(...v) : 1;
  return {
    type: 'continuous', dimension: dim, seriesIndex: 0, min, max: max > min ? max : min + 1e-12,
    inRange: { color: lowerIsBetter ? SCALE.slice().reverse() : SCALE.slice() },
    calculable: false, orient: 'vertical', right: 4, top: 'middle', itemHeight: 140,
    /* The ends of the scale: the top one is the highest value. */
    text: [(lowerIsBetter ? 'worse ' : 'best ') + fmtNum(max), (lowerIsBetter ? 'best ' : 'worse ') + fmtNum(min)],
    textStyle: { fontSize: 11 },
  };
}

/* ---- in the browser -------------------------------------------------------------------------- */

const live = [];

/* A chart in element el: SVG unless told otherwise, no animation, text
 * tooltips; kept to be resized and disposed of with the view. */
export function makeChart(el, option, renderer) {
  /* global echarts */
  const c = echarts.init(el, null, { renderer: renderer || 'svg' });
  c.setOption(Object.assign({
    aria: { enabled: true },
    animation: false,
    tooltip: { renderMode: 'richText', confine: true },
    textStyle: { fontFamily: 'system-ui, sans-serif' },
  }, option));
  live.push(c);
  return c;
}

export function disposeCharts() {
  live.splice(0).forEach((c) => c.dispose());
}

export function resizeCharts() {
  live.forEach((c) => c.resize());
}
