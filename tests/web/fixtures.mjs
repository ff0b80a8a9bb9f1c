/* Answers of the API as the server writes them (docs/QUERY.md, docs/SERVE.md),
 * shortened: what the page's modules read. */

export const runs = {
  columns: ['task', 'status', 'start', 'duration', 'active', 'attempts', 'epochs', 'last_activity', 'OPTIMIZER_NAME',
    'LEARNING_RATE', 'last(val_loss)', 'best(val_loss)', 'message', 'tags'],
  kinds: [{ kind: 'text' }, { kind: 'status' }, { kind: 'time' }, { kind: 'duration' }, { kind: 'duration' },
    { kind: 'integer' }, { kind: 'integer' }, { kind: 'time' }, { kind: 'hyperparameter', type: 'text' },
    { kind: 'hyperparameter', type: 'numeric' },
    { kind: 'metric', metric: 'val_loss', agg: 'last', goal: 'min', bounds: [0, null] },
    { kind: 'metric', metric: 'val_loss', agg: 'min', goal: 'min', bounds: [0, null] }, { kind: 'text' }, { kind: 'text' }],
  about: { metric: 'val_loss', goal: 'min', lower_is_better: true, bounds: [0, null], bounds_declared: false },
  rows: [
    { task: 'a', status: 'FINISHED', duration: 12.5, active: 10, attempts: 2, epochs: 20, OPTIMIZER_NAME: 'Adam', LEARNING_RATE: 0.01, 'best(val_loss)': 0.1 },
    { task: 'b', status: 'FAILED', duration: 3, active: 3, attempts: 1, epochs: 2, OPTIMIZER_NAME: 'SGD', LEARNING_RATE: 0.1, 'best(val_loss)': 0.5 },
  ],
  total: 2,
};

export const effect = {
  columns: ['LEARNING_RATE', 'tasks', 'n', 'mean', 'std', 'min', 'max', 'best_task', 'spearman'],
  kinds: [{ kind: 'hyperparameter', type: 'numeric' }, { kind: 'integer' }, { kind: 'integer' }, { kind: 'real' },
    { kind: 'real' }, { kind: 'real' }, { kind: 'real' }, { kind: 'text' }, { kind: 'real', about: 'spearman' }],
  about: { metric: 'val_loss', agg: 'min', goal: 'min', lower_is_better: true, hyperparameter: 'LEARNING_RATE', binned: true,
    groups: [{ low: 0.001, high: 0.003 }, { low: 0.01, high: 0.1 }], spearman: -0.5, spearman_n: 6 },
  rows: [
    { LEARNING_RATE: '0.001 .. 0.003', tasks: 3, spearman: -0.5 },
    { LEARNING_RATE: '0.01 .. 0.1', tasks: 3, spearman: -0.5 },
  ],
};

/* describe's answer with its "model" member (the one model of a dataflow). */
export const describe = {
  columns: ['kind', 'name', 'detail'],
  kinds: [{ kind: 'text' }, { kind: 'text' }, { kind: 'text' }],
  rows: [
    { kind: 'hyperparameter', name: 'OPTIMIZER_NAME', detail: 'text' },
    { kind: 'hyperparameter', name: 'LEARNING_RATE', detail: 'numeric' },
    { kind: 'metric', name: 'loss', detail: null },
    { kind: 'metric', name: 'val_loss', detail: null },
    { kind: 'tasks', name: 'RUNNING', detail: '0' },
    { kind: 'tasks', name: 'FINISHED', detail: '5' },
    { kind: 'tasks', name: 'FAILED', detail: '1' },
    { kind: 'tasks', name: 'PRUNED', detail: '2' },
  ],
  model: {
    dataflow: 'keras-alexnet-df',
    transformations: [
      { name: 'TrainingModel', builtin: true, depends_on: [], sets: [
        { name: 'iTrainingModel', direction: 'input', builtin: true, attributes: [
          { name: 'OPTIMIZER_NAME', type: 'text' }, { name: 'LEARNING_RATE', type: 'numeric' }] },
        { name: 'oTrainingModel', direction: 'output', builtin: true, attributes: [
          { name: 'loss', type: 'numeric' }, { name: 'val_loss', type: 'numeric' }] }] },
      { name: 'Adaptation', builtin: true, depends_on: ['TrainingModel'], sets: [
        { name: 'oAdaptation', direction: 'output', builtin: true, attributes: [{ name: 'epoch', type: 'numeric' }] }] },
      { name: 'DenseBlock', builtin: false, depends_on: ['TrainingModel'], sets: [
        { name: 'iDenseBlock', direction: 'input', builtin: false, attributes: [
          { name: 'growth_rate', type: 'numeric' }, { name: 'layers_db', type: 'numeric' }, { name: 'a', type: 'text' },
          { name: 'b', type: 'text' }, { name: 'c', type: 'file' }] }] },
    ],
  },
};

export const curve = {
  columns: ['epoch', 'elapsed', 'val_accuracy', 'LEARNING_RATE', 'LEARNING_RATE_old', 'changed'],
  kinds: [{ kind: 'integer' }, { kind: 'duration' }, { kind: 'metric', metric: 'val_accuracy', goal: 'max', bounds: [0, 1] },
    { kind: 'hyperparameter', type: 'numeric' }, { kind: 'hyperparameter', type: 'numeric' }, { kind: 'text' }],
  rows: [
    { epoch: 1, val_accuracy: 0.86, LEARNING_RATE: 0.1, LEARNING_RATE_old: null, changed: null },
    { epoch: 2, val_accuracy: 0.93, LEARNING_RATE: 0.05, LEARNING_RATE_old: 0.1, changed: 'LEARNING_RATE' },
    { epoch: 3, val_accuracy: 0.99, LEARNING_RATE: 0.05, LEARNING_RATE_old: null, changed: null },
  ],
};
