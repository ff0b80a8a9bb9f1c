import test from 'node:test';
import assert from 'node:assert/strict';
import { lineageGraph, runParts, layout, cut, taskLabel, linesOf, baseName } from '../../serve/web/views/lineage.mjs';

const row = (o) => Object.assign({ dataflow: null, task: null, transformation: null, status: null, role: null,
  location: null, fingerprint: null, size: null, again: 0 }, o);
/* lineage of run r up: its data, the split that made it, the raw data; down: its model, the evaluation. */
const up = { rows: [
  row({ depth: 0, kind: 'task', dataflow: 'd', task: 'r-20261206T103011Z-vm-1', transformation: 'TrainingModel', status: 'FINISHED' }),
  row({ depth: 1, kind: 'entity', relation: 'used', role: 'train_data', location: '/x/train.npz', fingerprint: 'sha256:aaaa1111bbbb' }),
  row({ depth: 2, kind: 'task', relation: 'generated', dataflow: 'd', task: 'split-1', transformation: 'Split', status: 'FINISHED' }),
  row({ depth: 3, kind: 'entity', relation: 'used', role: 'raw_data', location: '/x/raw"<b>.csv', fingerprint: 'sha256:cccc2222' }),
] };
const down = { rows: [
  up.rows[0],
  row({ depth: 1, kind: 'entity', relation: 'generated', role: 'model', location: '/m/best.pt', fingerprint: 'sha256:dddd' }),
  row({ depth: 2, kind: 'task', relation: 'used', dataflow: 'd', task: 'eval-1', transformation: 'Evaluate', status: 'FINISHED' }),
] };

test('the graph: columns by distance from the run, edges in the direction data flows', () => {
  const g = lineageGraph(up, down);
  assert.equal(g.nodes.length, 6);
  const rank = Object.fromEntries(g.nodes.map((n) => [n.lines[0], n.rank]));
  assert.deepEqual(rank, { raw_data: -3, Split: -2, train_data: -1, TrainingModel: 0, model: 1, Evaluate: 2 });
  const flow = g.edges.map((e) => e.from.split(/[:/]/).pop() + '>' + e.to.split(/[:/]/).pop()).sort();
  /* raw data into the split, its output into the run, the model out of it into the evaluation */
  assert.deepEqual(flow, ['aaaa1111bbbb>r-20261206T103011Z-vm-1', 'cccc2222>split-1', 'dddd>eval-1',
    'r-20261206T103011Z-vm-1>dddd', 'split-1>aaaa1111bbbb']);
  assert.equal(taskLabel('r-20261206T103011Z-vm-1'), 'r');
});

test('the run: epochs collapsed to one node that expands, adaptations, test, agents', () => {
  const g = runParts(lineageGraph(up, down), 'r-20261206T103011Z-vm-1', {
    describe: { rows: [{ kind: 'run', name: 'epochs', value: '3' }, { kind: 'run', name: 'user', value: 'ana' },
      { kind: 'hyperparameter', name: 'LEARNING_RATE', value: 0.1 }, { kind: 'fact', name: 'torch', value: '2.1' }] },
    adaptations: { rows: [{ epoch: 2, hyperparameter: 'LEARNING_RATE', old: 0.1, new: 0.05 }] },
    tests: { columns: ['task', 'LEARNING_RATE', 'tested', 'accuracy'], kinds: [{ kind: 'text' }, { kind: 'hyperparameter' }, { kind: 'time' }, { kind: 'metric' }],
      rows: [{ task: 'r-20261206T103011Z-vm-1', LEARNING_RATE: 0.1, tested: 5, accuracy: 0.97 }] },
    curve: { rows: [{ epoch: 1, loss: 1 }, { epoch: 2, loss: 0.5 }, { epoch: 3, loss: 0.25 }] }, metric: 'loss' });
  const epochs = g.nodes.find((n) => n.id === 'epochs');
  assert.deepEqual(linesOf(epochs, false), ['3 epochs', 'click to expand']);
  assert.deepEqual(linesOf(epochs, true), ['epoch 1: loss 1', 'epoch 2: loss 0.5', 'epoch 3: loss 0.25']);
  assert.ok(g.nodes.find((n) => n.run).lines.includes('LEARNING_RATE=0.1'));
  assert.deepEqual(g.nodes.filter((n) => n.kind === 'agent').map((n) => n.lines), [['person', 'ana'], ['software', 'dnnprov', 'torch 2.1']]);
  assert.ok(g.nodes.some((n) => n.id === 'adaptations'));
  assert.deepEqual(g.nodes.find((n) => n.id === 'result').lines, ['test result', 'accuracy=0.97'], 'the test\'s metrics, not its hyperparameters');
  const small = layout(g, false), big = layout(g, true);
  assert.ok(big.height > small.height, 'an expanded epochs node is taller');
  const at = Object.fromEntries(small.nodes.map((n) => [n.id, n]));
  const runId = g.nodes.find((n) => n.run).id, model = g.nodes.find((n) => n.lines[0] === 'model').id;
  assert.ok(at[g.nodes.find((n) => n.lines[0] === 'raw_data').id].x < at[runId].x && at[runId].x < at[model].x, 'left to right');
  /* the run's epochs and adaptations under it, its agents last: its column, no wider picture */
  const under = ['epochs', 'adaptations', 'agent-person', 'agent-software'].map((id) => at[id]);
  assert.ok(under.every((n) => n.x + n.w / 2 === at[runId].x + at[runId].w / 2), 'in the run\'s column');
  assert.ok(under.every((n, i) => n.y > (i ? under[i - 1].y : at[runId].y)), 'run, epochs, adaptations, agents, top to bottom');
});

test('labels are cut and free of control characters; markup stays text', () => {
  assert.equal(cut('a\u001b[31mb\nc'), 'a?[31mb?c');
  assert.equal([...cut('x'.repeat(100))].length, 28);
  assert.equal(baseName('/c/sgd-lr0.1-20261206T103011Z-vm-42-3.pt'), 'sgd-lr0.1.pt', 'a task id in a file name by its label');
  assert.equal(baseName('/x/'), '/x/');
  assert.equal(lineageGraph(up, down).nodes.find((n) => n.lines[0] === 'raw_data').lines[1], 'raw"<b>.csv');
});
