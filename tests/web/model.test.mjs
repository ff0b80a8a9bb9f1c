import test from 'node:test';
import assert from 'node:assert/strict';
import { modelGraph, depths, setLabel } from '../../serve/web/js/model.mjs';
import { graphOption } from '../../serve/web/views/dataflows.mjs';
import { describe } from './fixtures.mjs';

test("the dataflows page draws describe's model member", () => {
  const model = describe.model;
  assert.deepEqual(depths(model), { TrainingModel: 0, Adaptation: 1, DenseBlock: 1 });
  const g = modelGraph(model);
  const names = g.nodes.map((n) => n.name);
  assert.deepEqual(names.filter((n) => !n.includes('.')), ['TrainingModel', 'Adaptation', 'DenseBlock']);
  assert.ok(names.includes('TrainingModel.iTrainingModel') && names.includes('DenseBlock.iDenseBlock'));
  assert.deepEqual(g.links.filter((l) => l.dependency).map((l) => l.source + '>' + l.target), ['TrainingModel>Adaptation', 'TrainingModel>DenseBlock']);
  const input = g.nodes.find((n) => n.name === 'TrainingModel.iTrainingModel');
  const tf = g.nodes.find((n) => n.name === 'TrainingModel');
  assert.ok(input.x < tf.x, 'inputs on the left');
  assert.equal(g.nodes.find((n) => n.name === 'DenseBlock').value, 'user-defined; depends on TrainingModel');
  assert.equal(setLabel(model.transformations[2].sets[0]), 'iDenseBlock\ngrowth_rate, layers_db, a, b, \u2026 (5)');
  assert.equal(graphOption(model).series[0].data.length, g.nodes.length);
});

test('a dependency on itself or a cycle does not loop', () => {
  const m = { transformations: [{ name: 'A', depends_on: ['B'] }, { name: 'B', depends_on: ['A'] }, { name: 'C', depends_on: ['C'] }] };
  const d = depths(m);
  assert.ok(Number.isFinite(d.A) && Number.isFinite(d.B) && Number.isFinite(d.C));
  assert.deepEqual(modelGraph(null), { nodes: [], links: [] });
});
