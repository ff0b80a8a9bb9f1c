import test from 'node:test';
import assert from 'node:assert/strict';
import { kindOf, rankColumn, chosenMetric, hypColumns, statusColumn, repeatedColumns, groupBounds, statusCounts, specOf,
  boundsOf } from '../../serve/web/js/answer.mjs';
import { runs, effect, describe } from './fixtures.mjs';

test('the ranking column is the one the kinds say holds the best of the chosen metric', () => {
  assert.equal(rankColumn(runs), 'best(val_loss)');
  /* renamed columns change nothing: the kinds say what they hold */
  const renamed = Object.assign({}, runs, { columns: runs.columns.map((c) => (c === 'best(val_loss)' ? 'zzz' : c === 'last(val_loss)' ? 'best(val_loss)' : c)) });
  assert.equal(rankColumn(renamed), 'zzz');
  assert.deepEqual(chosenMetric(runs), { metric: 'val_loss', agg: null, lowerIsBetter: true, bounds: [0, null], declared: false });
  assert.deepEqual(boundsOf(runs, 'best(val_loss)'), [0, null]);
});

test('columns by kind', () => {
  assert.deepEqual(hypColumns(runs), ['OPTIMIZER_NAME', 'LEARNING_RATE']);
  assert.equal(statusColumn(runs), 'status');
  assert.deepEqual(kindOf(runs, 'nope'), { kind: 'text' });
  assert.deepEqual(repeatedColumns(effect), ['spearman']);
});

test("a box plot's groups are effect's, from about.groups", () => {
  assert.deepEqual(groupBounds(effect), [{ low: 0.001, high: 0.003 }, { low: 0.01, high: 0.1 }]);
  assert.deepEqual(groupBounds({ rows: [{}, {}], about: { groups: [{ low: null, high: null }, { low: 1, high: 1 }] } }), [null, { low: 1, high: 1 }]);
});

test('statuses come from the data, PRUNED among them', () => {
  assert.deepEqual(statusCounts(describe), { FINISHED: 5, FAILED: 1, PRUNED: 2 });
  const spec = specOf(describe);
  assert.deepEqual(spec.hyps, [{ name: 'OPTIMIZER_NAME', type: 'text' }, { name: 'LEARNING_RATE', type: 'numeric' }]);
  assert.deepEqual(spec.metrics, ['loss', 'val_loss']);
  assert.equal(spec.model.transformations.length, 3);
});
