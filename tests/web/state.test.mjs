import test from 'node:test';
import assert from 'node:assert/strict';
import { parseHash, hashOf, withParams, pageOf } from '../../serve/web/js/state.mjs';

test("a view's state round-trips through the URL", () => {
  const params = { df: 'torch-digits', where: "OPTIMIZER_NAME = 'Adam' and LEARNING_RATE <= 0.01", metric: 'val_loss',
    sort: '-best(val_loss)', page: '2', by: 'tags.stage', sel: ['a&b=c', 'x y#z'], task: [] };
  const hash = hashOf('runs', params);
  assert.ok(hash.startsWith('#runs?df=torch-digits&'));
  const back = parseHash(hash);
  assert.equal(back.view, 'runs');
  assert.deepEqual(back.params, params);
});

test('empty values are left out; lists repeat', () => {
  assert.equal(hashOf('runs', { df: 'd', where: '', page: null, sel: [] }), '#runs?df=d');
  assert.equal(hashOf('compare', { task: ['a', 'b'] }), '#compare?task=a&task=b');
  assert.deepEqual(parseHash('#compare?task=a&task=b').params.task, ['a', 'b']);
  assert.deepEqual(parseHash('').params, { sel: [], task: [] });
  assert.deepEqual(withParams({ a: '1', b: '2' }, { a: '', c: 3 }), { b: '2', c: 3 });
  assert.equal(pageOf({ page: '3' }), 3);
  assert.equal(pageOf({ page: 'x' }), 1);
  assert.equal(pageOf({}), 1);
});
