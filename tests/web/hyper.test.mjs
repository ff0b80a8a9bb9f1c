import test from 'node:test';
import assert from 'node:assert/strict';
import { typicalEpochs, shortCutoff, classify, rankingNote, rankedWhere, splitAxes, parallelAxes, parallelLines,
  otherLines, brushWhere, groupMembers } from '../../serve/web/js/hyper.mjs';
import { wname, quote, andWhere } from '../../serve/web/js/where.mjs';

const runs = [
  { task: 'a', status: 'FINISHED', epochs: 20, LR: 0.1, OPT: 'Adam', DECAY: 0, m: 0.3 },
  { task: 'b', status: 'FINISHED', epochs: 20, LR: 0.01, OPT: 'SGD', DECAY: 0, m: 0.1 },
  { task: 'c', status: 'FINISHED', epochs: 2, LR: 0.001, OPT: 'SGD', DECAY: 0, m: 0.9 },
  { task: 'd', status: 'FAILED', epochs: 1, LR: 0.5, OPT: 'SGD' },
  { task: 'e', status: 'FINISHED', epochs: 19, LR: 0.05, OPT: 'Adam', DECAY: 0, m: 0.2 },
];

test('FINISHED runs are ranked; short ones and other statuses are left out and said so', () => {
  assert.equal(typicalEpochs(runs), 19);
  const cutoff = shortCutoff(19, 0.5);
  assert.equal(cutoff, 10);
  const c = classify(runs, 'FINISHED', cutoff);
  assert.deepEqual(c.ranked.map((r) => r.task), ['a', 'b', 'e']);
  assert.deepEqual(c.short.map((r) => r.task), ['c']);
  assert.deepEqual(c.other.map((r) => r.task), ['d']);
  assert.equal(rankingNote(c, 'FINISHED', cutoff, 19),
    'n = 3 FINISHED runs of at least 10 epochs; left out: 1 FAILED, 1 shorter than 10 epochs (the typical run has 19)');
  assert.equal(rankedWhere("OPT = 'Adam'", 'FINISHED', 10), "(OPT = 'Adam') and (status = 'FINISHED') and (epochs >= 10)");
  assert.equal(shortCutoff(19, 0), 0);
  assert.deepEqual(classify(runs, null, 0).ranked.length, 5);
});

test('a hyperparameter constant among the runs shown has no axis, though a left-out run lacks it', () => {
  const c = classify(runs, 'FINISHED', 10);
  const hyps = [{ name: 'LR', type: 'numeric' }, { name: 'OPT', type: 'text' }, { name: 'DECAY', type: 'numeric' }];
  const { varied, constant } = splitAxes(hyps, c.ranked);
  assert.deepEqual(varied.map((x) => x.name), ['LR', 'OPT']);
  assert.deepEqual(constant, [{ name: 'DECAY', value: 0 }]);
  /* with the failed run shown, DECAY varies (missing there) */
  assert.ok(splitAxes(hyps, runs).varied.some((x) => x.name === 'DECAY'));
  const axes = parallelAxes(varied, c.ranked, 'm');
  assert.deepEqual(axes.map((a) => a.type || 'value'), ['value', 'category', 'value']);
  assert.equal(parallelAxes([{ name: 'LR', type: 'numeric' }], runs, 'm')[0].type, 'log');
});

test('the best run is drawn last, on top, and highlighted, for either goal', () => {
  const axes = [{ name: 'LR' }, { name: 'm' }];
  const low = parallelLines(runs.slice(0, 3), axes, 'm', true);
  assert.equal(low.best, 'b');
  assert.equal(low.data[low.data.length - 1].name, 'b');
  assert.ok(low.data[low.data.length - 1].lineStyle.width > 3);
  assert.ok(low.data.slice(0, -1).every((d) => !d.lineStyle));
  const high = parallelLines(runs.slice(0, 3), axes, 'm', false);
  assert.equal(high.best, 'c');
  /* a run without the metric is drawn first, never the best */
  const none = parallelLines([{ task: 'x', LR: 1 }, runs[0]], axes, 'm', true);
  assert.deepEqual(none.data.map((d) => d.name), ['x', 'a']);
  assert.deepEqual(otherLines([runs[3]], axes, { type: 'dashed' })[0], { name: 'd', value: [0.5, '-'], lineStyle: { type: 'dashed' } });
});

test('a brush is the --where expression it amounts to, the metric by its aggregate', () => {
  const axes = [{ name: 'LEARNING_RATE' }, { name: 'OPT', type: 'category', data: ['Adam', 'SGD'] }, { name: 'min(val loss)' }];
  assert.equal(brushWhere(axes, [[[0.05, 0.2]], [[1, 1]], []], { metric: 'val loss', agg: 'min' }),
    "(LEARNING_RATE >= 0.05 and LEARNING_RATE <= 0.2) and (OPT in ('SGD'))");
  assert.equal(brushWhere(axes, [[], [], [[0, 0.5]]], { metric: 'val loss', agg: 'min' }),
    'min(`val loss`) >= 0 and min(`val loss`) <= 0.5');
  assert.equal(wname('a.b'), 'a.b');
  assert.equal(quote("it's"), "'it''s'");
  assert.equal(andWhere('', 'x'), 'x');
});

test("the box plot's groups are the effect table's groups", () => {
  const pts = [{ h: 0.001, m: 1 }, { h: 0.003, m: 2 }, { h: 0.004, m: 9 }, { h: 0.01, m: 3 }, { h: 0.1, m: 4 }];
  assert.deepEqual(groupMembers([{ low: 0.001, high: 0.003 }, { low: 0.01, high: 0.1 }], ['0.001 .. 0.003', '0.01 .. 0.1'], pts), [[1, 2], [3, 4]]);
  assert.deepEqual(groupMembers([null, null], ['Adam', 'SGD'], [{ h: 'SGD', m: 1 }, { h: 'Adam', m: 2 }]), [[2], [1]]);
});
