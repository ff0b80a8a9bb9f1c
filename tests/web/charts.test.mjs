import test from 'node:test';
import assert from 'node:assert/strict';
import { niceExtent, niceStep, stackMarks, curvePoints, curveSeries, curveOption, curveBounds, bandSeries, metricScale,
  SCALE, escapeLabel, MARK_SIZE } from '../../serve/web/js/charts.mjs';
import { curve } from './fixtures.mjs';

test('an accuracy axis ends at 1, not past it', () => {
  assert.deepEqual(niceExtent([0.56, 0.93, 0.977], [0, 1]), { min: 0.5, max: 1 });
  assert.equal(niceExtent([0.2, 0.9999], [0, 1]).max, 1);
  /* open bounds: the axis rounds past the data */
  assert.ok(niceExtent([0.56, 0.99], [null, null]).max > 1);
  assert.equal(niceExtent([0.56, 0.99], [0, 1]).max, 1);
});

test('a loss axis never goes below 0, and data outside the bounds is reached', () => {
  assert.equal(niceExtent([0.01, 2.2], [0, null]).min, 0);
  assert.ok(niceExtent([-0.5, 2.2], [0, null]).min < -0.5);
  assert.ok(niceExtent([0.5, 100], [0, 1]).max >= 100);
  assert.equal(niceExtent([NaN, 'x'], [0, 1]), null);
  assert.equal(niceStep(0.083), 0.1);
  assert.equal(niceStep(3), 5);
});

test('adaptation marks at one epoch are stacked, never on each other', () => {
  const marks = stackMarks([{ epoch: 7 }, { epoch: 13 }, { epoch: 7 }, { epoch: 7 }, { epoch: 13 }]);
  assert.deepEqual(marks.map((m) => m.level), [0, 0, 1, 2, 1]);
  const a = curvePoints(curve, 'val_accuracy'), b = curvePoints(curve, 'val_accuracy');
  const series = curveSeries([Object.assign({ name: 'A' }, a), Object.assign({ name: 'B' }, b)]);
  const offsets = series.map((s) => s.markPoint.data[0].symbolOffset[1]);
  assert.equal(Math.abs(offsets[0] - offsets[1]), MARK_SIZE);
  /* the plot leaves room above for the stack, and the marks stand on its top edge */
  const opt = curveOption({ series, metric: 'val_accuracy', bounds: [0, 1] });
  assert.equal(opt.grid.top, 40 + 2 * MARK_SIZE);
  assert.deepEqual(opt.series.map((s) => s.markPoint.data[0].coord), [[2, 1], [2, 1]]);
});

test('a curve answer: its points, its adaptations in words, its bounds', () => {
  const p = curvePoints(curve, 'val_accuracy');
  assert.deepEqual(p.data, [[1, 0.86], [2, 0.93], [3, 0.99]]);
  assert.deepEqual(p.marks, [{ epoch: 2, value: 0.93, label: 'LEARNING_RATE 0.1 \u2192 0.05' }]);
  assert.deepEqual(curveBounds(curve, 'val_accuracy'), [0, 1]);
  const opt = curveOption({ series: curveSeries([Object.assign({ name: 't' }, p)]), metric: 'val_accuracy', bounds: [0, 1] });
  assert.equal(opt.yAxis.max, 1);
  assert.ok(opt.legend.selectedMode, 'a legend that hides a run');
});

test('bands: mean ± std within the bounds, the axis from their edges', () => {
  const bands = { rows: [
    { OPTIMIZER_NAME: 'Adam', epoch: 1, runs: 2, mean: 0.2, std: 0.5 },
    { OPTIMIZER_NAME: 'Adam', epoch: 2, runs: 2, mean: 0.1, std: null },
    { OPTIMIZER_NAME: 'SGD', epoch: 1, runs: 1, mean: 1, std: null },
  ] };
  const { series, groups, values } = bandSeries(bands, 'OPTIMIZER_NAME', ['#111', '#222'], [0, null]);
  assert.deepEqual(groups, ['Adam', 'SGD']);
  assert.equal(series.length, 6);
  assert.equal(series[0].data[0][1], 0, 'the band stops at the bound');
  assert.ok(values.every((v) => v >= 0));
  assert.ok(series.every((s) => s.itemStyle.color), 'the legend shows each group in its colour');
});

test("the best run gets the scale's top colour whichever way the goal points", () => {
  const lower = metricScale([0.1, 0.5, 2], true, 3);
  assert.equal(lower.inRange.color[0], SCALE[SCALE.length - 1], 'lowest value, best, top colour');
  const higher = metricScale([0.1, 0.5, 0.9], false, 3);
  assert.equal(higher.inRange.color[higher.inRange.color.length - 1], SCALE[SCALE.length - 1]);
  assert.equal(lower.min, 0.1);
  assert.equal(escapeLabel('{a|b}'), '\uFF5Ba\u2223b\uFF5D');
});
