/*
 * answer.mjs - reading an answer of the API as it describes itself: its
 * "kinds" (what each column holds) and "about" (what the question chose:
 * its metric, goal, bounds, groups).  The page holds no rule of what a
 * column or a metric means: it reads these (docs/QUERY.md).
 */

/* The kind of column `col` ({kind: 'text'} when the answer says none). */
export function kindOf(answer, col) {
  const i = answer.columns.indexOf(col);
  return (answer.kinds && answer.kinds[i]) || { kind: 'text' };
}

/* The columns whose kind passes test(kind, col). */
export function columnsWhere(answer, test) {
  return answer.columns.filter((c, i) => test((answer.kinds && answer.kinds[i]) || { kind: 'text' }, c));
}

export function hypColumns(answer) {
  return columnsWhere(answer, (k) => k.kind === 'hyperparameter');
}

export function statusColumn(answer) {
  return columnsWhere(answer, (k) => k.kind === 'status')[0] || null;
}

/* The columns of a metric (any, or `metric`), with their kinds. */
export function metricColumns(answer, metric) {
  return columnsWhere(answer, (k) => k.kind === 'metric' && (!metric || k.metric === metric));
}

/* The metric the question chose, its goal and bounds: about's. */
export function chosenMetric(answer) {
  const a = answer.about || {};
  if (!a.metric) return null;
  return {
    metric: a.metric,
    agg: a.agg || null,
    lowerIsBetter: a.lower_is_better === true,
    bounds: a.bounds || [null, null],
    declared: a.bounds_declared === true,
  };
}

/* The column that holds the chosen metric's aggregate over the epochs
 * that ranks the runs: its "best" (the aggregate the goal makes best:
 * min when lower is better) when the answer has one, else the first
 * aggregate of it. */
export function rankColumn(answer) {
  const m = chosenMetric(answer);
  if (!m) return null;
  const cols = columnsWhere(answer, (k) => k.kind === 'metric' && k.metric === m.metric && k.agg);
  const want = m.agg || (m.lowerIsBetter ? 'min' : 'max');
  return cols.find((c) => kindOf(answer, c).agg === want) || cols[0] || null;
}

/* The natural bounds of a metric column, [low, high] (null: open). */
export function boundsOf(answer, col) {
  const k = kindOf(answer, col);
  return k.bounds || [null, null];
}

/* Columns that repeat in every row a value "about" says once (effect's
 * spearman): shown once, not per row. */
export function repeatedColumns(answer) {
  return columnsWhere(answer, (k) => !!k.about);
}

/* Each group's numeric bounds (about.groups), a row each: {low, high}, or
 * null for a text value. */
export function groupBounds(answer) {
  const g = (answer.about && answer.about.groups) || [];
  return answer.rows.map((_, i) => (g[i] && g[i].low !== null && g[i].low !== undefined ? g[i] : null));
}

/* The status counts of a describe answer: {FINISHED: 6, ...} from its
 * rows of kind "tasks", in the order it gives them, zeros left out. */
export function statusCounts(describe) {
  const out = {};
  for (const r of describe.rows || []) if (r.kind === 'tasks' && Number(r.detail) > 0) out[r.name] = Number(r.detail);
  return out;
}

/* What describe says of a dataflow: its hyperparameters {name, type},
 * its metrics, its tasks by status, and its model (the "model" member:
 * transformations, sets, attributes), as data. */
export function specOf(describe) {
  const hyps = [], metrics = [];
  for (const r of describe.rows || []) {
    if (r.kind === 'hyperparameter') hyps.push({ name: r.name, type: r.detail });
    else if (r.kind === 'metric') metrics.push(r.name);
  }
  return { hyps, metrics, statuses: statusCounts(describe), model: describe.model || null };
}
