import test from 'node:test';
import assert from 'node:assert/strict';
import { orderColumns, sortMark } from '../../serve/web/js/table.mjs';
import { apiURL, ApiError } from '../../serve/web/js/api.mjs';
import { parseSort, sortParam, defaultHidden } from '../../serve/web/views/runs.mjs';
import { runTimes, describeRows, SECTIONS } from '../../serve/web/views/run.mjs';
import { sections, timeline } from '../../serve/web/views/diff.mjs';
import { sqlName } from '../../serve/web/views/query.mjs';
import { runs } from './fixtures.mjs';

test('the task and the ranking metric are pinned first; the sort is in the header', () => {
  const { pinned, columns } = orderColumns(runs.columns, ['task', 'best(val_loss)', 'best(val_loss)', 'nope'], new Set(['start']));
  assert.deepEqual(pinned, ['task', 'best(val_loss)']);
  assert.deepEqual(columns.slice(0, 3), ['task', 'best(val_loss)', 'status']);
  assert.ok(!columns.includes('start'));
  assert.equal(sortMark({ col: 'x', desc: true }, 'x'), ' \u25BC');
  assert.equal(sortMark({ col: 'x', desc: false }, 'y'), '');
  assert.deepEqual(parseSort('-best(val_loss)'), { col: 'best(val_loss)', desc: true });
  assert.equal(sortParam(parseSort('+task')), 'task');
  assert.deepEqual([...defaultHidden(runs)].sort(), ['start']);
});

test("the API's parameters and errors", () => {
  assert.equal(apiURL('runs', { df: 'd', where: "a = 'b&c'", limit: 0, x: '', task: ['p', 'q'] }),
    "/api/runs?df=d&where=a+%3D+%27b%26c%27&limit=0&task=p&task=q");
  const e = new ApiError(404, { error: "no task 'adam'", parameter: 'task', did_you_mean: ['adam-1', 'adam-2'] });
  assert.equal(e.message, "no task 'adam'");
  assert.equal(e.parameter, 'task');
  assert.deepEqual(e.didYouMean, ['adam-1', 'adam-2']);
  assert.deepEqual(new ApiError(500, null).didYouMean, []);
});

test("a run's page: its sections, the time it was down", () => {
  assert.deepEqual(runTimes({ duration: 12.5, active: 10 }), { duration: 12.5, active: 10, down: 2.5 });
  assert.equal(runTimes({}).down, null);
  assert.deepEqual(describeRows({ rows: [{ kind: 'fact', name: 'git_commit', value: 'abc' }, { kind: 'tag', name: 'x', value: 1 }] }, 'fact').rows,
    [{ name: 'git_commit', value: 'abc' }]);
  assert.ok(SECTIONS.includes('segments') && SECTIONS.includes('elements'));
});

test('a diff: its sections, its adaptations on one timeline', () => {
  const d = { rows: [
    { section: 'hyperparameter', name: 'LEARNING_RATE', epoch: null, a: 0.01, b: 0.1 },
    { section: 'adaptation', name: 'LEARNING_RATE', epoch: 6, a: null, b: '0.01 \u2192 0.005' },
    { section: 'adaptation', name: 'LEARNING_RATE', epoch: 9, a: '0.1 \u2192 0.05', b: '0.01 \u2192 0.002' },
  ] };
  const s = sections(d);
  assert.deepEqual(Object.keys(s), ['hyperparameter', 'adaptation']);
  assert.deepEqual(timeline(s.adaptation), [[6, 'B', 'LEARNING_RATE 0.01 \u2192 0.005'], [9, 'A', 'LEARNING_RATE 0.1 \u2192 0.05'],
    [9, 'B', 'LEARNING_RATE 0.01 \u2192 0.002']]);
  assert.equal(sqlName('my-df_hyperparameters'), '"my-df_hyperparameters"');
});
