/*
 * hyper.mjs - what the hyperparameters view shows, from the answers it
 * asks for, as plain data: which runs are ranked and which are left out
 * (other statuses, runs much shorter than is typical), which axes vary,
 * the lines of the parallel coordinates with the best run last (drawn on
 * top), and the --where expressions its filters and brushes amount to.
 */
import { median } from './stats.mjs';
import { wname, quote, andWhere } from './where.mjs';
import { fmtNum } from './format.mjs';

/* The typical number of epochs of a dataflow's runs: their median. */
export function typicalEpochs(runs) {
  return median(runs.map((r) => r.epochs).filter((e) => typeof e === 'number' && e > 0));
}

/* The least number of epochs a run must have to be ranked: a fraction of
 * the typical count (rounded up), 0 when there is nothing to go by. */
export function shortCutoff(typical, fraction) {
  if (!typical || !(fraction > 0)) return 0;
  return Math.ceil(typical * fraction);
}

/* Splits runs ({task, status, epochs}) into those ranked (of the ranked
 * status, not short), short ones (of that status, fewer epochs than the
 * cutoff) and the others (every other status). */
export function classify(runs, rankedStatus, cutoff) {
  const out = { ranked: [], short: [], other: [] };
  for (const r of runs) {
    if (rankedStatus && r.status !== rankedStatus) out.other.push(r);
    else if (cutoff && (r.epochs || 0) < cutoff) out.short.push(r);
    else out.ranked.push(r);
  }
  return out;
}

/* What the ranking counts and leaves out, in words. */
export function rankingNote(c, rankedStatus, cutoff, typical) {
  const byStatus = {};
  for (const r of c.other) byStatus[r.status] = (byStatus[r.status] || 0) + 1;
  const left = Object.entries(byStatus).map(([s, n]) => n + ' ' + s);
  if (c.short.length)
    left.push(c.short.length + ' shorter than ' + cutoff + ' epochs (the typical run has ' + fmtNum(typical) + ')');
  return 'n = ' + c.ranked.length + (rankedStatus ? ' ' + rankedStatus : '') + ' run' + (c.ranked.length === 1 ? '' : 's') +
    (cutoff ? ' of at least ' + cutoff + ' epochs' : '') + (left.length ? '; left out: ' + left.join(', ') : '; none left out');
}

/* The --where expression of the ranked runs: the user's, their status, at
 * least `cutoff` epochs. */
export function rankedWhere(userWhere, rankedStatus, cutoff) {
  return andWhere(userWhere, rankedStatus ? 'status = ' + quote(rankedStatus) : '', cutoff ? 'epochs >= ' + cutoff : '');
}

/* The hyperparameters ({name, type}) whose value is the same in every
 * run shown (missing counts as a value) are constant: no axis, a line
 * under the chart instead. */
export function splitAxes(hyps, rows) {
  const varied = [], constant = [];
  for (const x of hyps) {
    const vals = new Set(rows.map((r) => JSON.stringify(r[x.name] === undefined ? null : r[x.name])));
    if (vals.size > 1) varied.push(x);
    else if (rows.length) constant.push({ name: x.name, value: rows[0][x.name] === undefined ? null : rows[0][x.name] });
  }
  return { varied, constant };
}

/* Whether numbers are positive and span two decades or more: drawn on a
 * log axis. */
export function spansDecades(values) {
  const nums = values.filter((v) => typeof v === 'number' && isFinite(v));
  return nums.length > 0 && Math.min(...nums) > 0 && Math.max(...nums) / Math.min(...nums) >= 100;
}

/* The parallel-coordinates axes of the varied hyperparameters and the
 * metric's column (last): a category axis for a text hyperparameter, a
 * log axis for positive numbers that span two decades or more (learning
 * rates). */
export function parallelAxes(varied, rows, metricCol) {
  const axes = varied.map((x, i) => {
    const texts = [...new Set(rows.map((r) => r[x.name]).filter((v) => typeof v === 'string'))].sort();
    if (x.type !== 'numeric' && texts.length) return { dim: i, name: x.name, type: 'category', data: texts };
    return spansDecades(rows.map((r) => r[x.name])) ? { dim: i, name: x.name, type: 'log' } : { dim: i, name: x.name };
  });
  axes.push({ dim: axes.length, name: metricCol });
  return axes;
}

const cellValue = (v) => (v === null || v === undefined ? '-' : v === 'NaN' ? NaN : v);

/* The lines of the ranked runs, ordered so that the best is last (drawn
 * on top) and highlighted; the best is the lowest or highest metric as
 * the goal says.  {data, best}: best is the task id. */
export function parallelLines(rows, axes, metricCol, lowerIsBetter) {
  const val = (r) => (typeof r[metricCol] === 'number' && isFinite(r[metricCol]) ? r[metricCol] : null);
  const sorted = rows.slice().sort((a, b) => {
    const x = val(a), y = val(b);
    if (x === null || y === null) return (x === null ? 0 : 1) - (y === null ? 0 : 1); /* no value: below */
    return lowerIsBetter ? y - x : x - y; /* worst first, best last */
  });
  const best = sorted.length && val(sorted[sorted.length - 1]) !== null ? sorted[sorted.length - 1].task : null;
  const data = sorted.map((r) => ({
    name: r.task,
    value: axes.map((a) => cellValue(r[a.name])),
    lineStyle: r.task === best ? { width: 4.5, opacity: 1, shadowBlur: 6, shadowColor: 'rgba(0,0,0,0.35)' } : undefined,
  }));
  return { data, best };
}

/* Lines drawn apart from the ranked ones (other statuses, short runs):
 * grey, dashed or dotted, never on the metric's colour scale. */
export function otherLines(rows, axes, style) {
  return rows.map((r) => ({ name: r.task, value: axes.map((a) => cellValue(r[a.name])) }))
    .map((d) => Object.assign(d, { lineStyle: style }));
}

/* The --where expression an axis brush amounts to: per axis its
 * intervals (numbers) or its picked categories; the metric's axis as the
 * aggregate its kind names (min(val_loss)). */
export function brushWhere(axes, intervals, metricAxis) {
  const conds = [];
  axes.forEach((a, i) => {
    const iv = intervals[i] || [];
    if (!iv.length) return;
    const name = i === axes.length - 1 && metricAxis ? metricAxis.agg + '(' + wname(metricAxis.metric) + ')' : wname(a.name);
    if (a.type === 'category') {
      const picked = a.data.filter((_, k) => iv.some(([lo, hi]) => k >= lo && k <= hi));
      conds.push(name + ' in (' + picked.map(quote).join(', ') + ')');
    } else {
      conds.push(iv.map(([lo, hi]) => name + ' >= ' + lo + ' and ' + name + ' <= ' + hi)
        .map((x) => (iv.length > 1 ? '(' + x + ')' : x)).join(' or '));
    }
  });
  return conds.map((c) => (conds.length > 1 ? '(' + c + ')' : c)).join(' and ');
}

/* The runs of each group of an effect answer, from the same numbers as
 * its table: a group's bounds (about.groups) for a number, its value for
 * a text.  points: [{h, m}] (hyperparameter value, metric value). */
export function groupMembers(groupBounds, labels, points) {
  return groupBounds.map((b, i) => points.filter((p) => (b
    ? typeof p.h === 'number' && p.h >= b.low && p.h <= b.high
    : p.h === labels[i])).map((p) => p.m));
}
