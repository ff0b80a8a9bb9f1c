/*
 * run.mjs - one run's own page: its status and message, attempts and the
 * time it was down, hyperparameters, run facts, tags and notes, every
 * metric's curve with its adaptations, the adaptations with their
 * effect, layers, test results, the elements of user-defined
 * transformations, its log segments, and links to its PROV export, a
 * diff with the best run and the compare view.
 *
 * URL: #run?df=&task=
 */
import { h, clear } from '../js/dom.mjs';
import { api, apiURL, ApiError } from '../js/api.mjs';
import { kindOf, chosenMetric } from '../js/answer.mjs';
import { cellText, fmtSecs } from '../js/format.mjs';
import { dataTable } from '../js/table.mjs';
import { quote } from '../js/where.mjs';
import { curvePoints, curveSeries, curveOption, curveBounds, makeChart } from '../js/charts.mjs';
import { errorBox, statusBadge, taskInput } from '../js/ui.mjs';
import { hashOf } from '../js/state.mjs';

/* The sections of the page, in order: each a card with this id. */
export const SECTIONS = ['summary', 'hyperparameters', 'facts', 'tags', 'metrics', 'adaptations', 'layers', 'tests',
  'elements', 'segments'];

/* describe TASK's rows of one kind, as a two-column answer. */
export function describeRows(d, kind) {
  return { columns: ['name', 'value'], kinds: [{ kind: 'text' }, { kind: 'text' }],
    rows: d.rows.filter((r) => r.kind === kind).map((r) => ({ name: r.name, value: r.value })) };
}

/* A run's times: its duration, the time it was active (its attempts'),
 * and the difference, the time it was down between attempts. */
export function runTimes(row) {
  const n = (x) => (typeof x === 'number' && isFinite(x) ? x : null);
  const duration = n(row.duration), active = n(row.active);
  return { duration, active, down: duration !== null && active !== null ? Math.max(0, duration - active) : null };
}

const ok404 = (e) => { if (e instanceof ApiError && e.status === 404) return null; throw e; };

export async function render(ctx) {
  const { main, df, params } = ctx;
  const task = params.task ? params.task[0] : '';
  const pick = h('div', { class: 'controls' }, h('label', null, 'run', taskInput(df, { id: 'run-task', value: task,
    onchange: (e) => { if (e.target.value.trim()) ctx.set({ task: [e.target.value.trim()] }); } })));
  main.append(h('h2', null, 'Run ', h('span', { class: 'task', id: 'run-id' }, task)), pick);
  if (!task) {
    main.append(h('p', { class: 'muted' }, 'Type a task id, or choose a run in the Runs table.'));
    return {};
  }
  const boxes = {};
  for (const s of SECTIONS) boxes[s] = h('section', { class: 'card', id: 'run-' + s, 'data-section': s });
  /* Short tables side by side; curves and long tables across the page. */
  main.append(boxes.summary, h('div', { class: 'row' }, boxes.hyperparameters, boxes.facts, boxes.tags), boxes.metrics,
    boxes.adaptations, h('div', { class: 'row' }, boxes.layers, boxes.tests), boxes.elements, boxes.segments);

  async function draw() {
    let d;
    try {
      d = await api('describe', { df, task });
    } catch (e) {
      clear(boxes.summary).append(errorBox(e, (id) => ctx.set({ task: [id] })));
      return;
    }
    const spec = await ctx.specReady();
    const [runs, curve, adapt, layers, tests, segments] = await Promise.all([
      api('runs', { df, where: 'task = ' + quote(task), limit: 1 }),
      api('curve', { df, task }),
      api('adaptations', { df, task, window: 1 }),
      api('layers', { df, task }),
      api('test', { df, where: 'task = ' + quote(task) }),
      api('segments', { df, task }).catch(ok404),
    ]);
    /* The elements of each user-defined transformation: the model's, or
     * every transformation describe names (the built-in ones have none). */
    const tfs = spec && spec.model ? spec.model.transformations.filter((t) => !t.builtin).map((t) => t.name)
      : ((await api('describe', { df })).rows.filter((r) => r.kind === 'transformation').map((r) => r.name));
    const elements = (await Promise.all(tfs.map((t) => api('elements', { df, transformation: t, task })
      .then((a) => ({ t, a })).catch(ok404)))).filter((x) => x && x.a.rows.length);
    if (ctx.stale()) return;
    const row = runs.rows[0] || {};
    const value = (name) => { const r = d.rows.find((x) => x.kind === 'run' && x.name === name); return r ? r.value : null; };
    const times = runTimes(row);

    /* ---- summary ---- */
    clear(boxes.summary).append(h('h3', null, 'Status'),
      h('div', { class: 'facts' },
        h('div', null, statusBadge(value('status')), value('message') ? h('span', { class: 'message ' + value('status'), id: 'run-message' }, ' ', value('message')) : null),
        h('dl', null,
          h('dt', null, 'epochs'), h('dd', null, value('epochs')),
          h('dt', null, 'attempts'), h('dd', { id: 'run-attempts' }, value('attempts')),
          h('dt', null, 'duration'), h('dd', null, fmtSecs(times.duration)),
          h('dt', null, 'active'), h('dd', null, fmtSecs(times.active)),
          h('dt', null, 'down'), h('dd', { id: 'run-down' }, times.down === null ? '' : fmtSecs(times.down)),
          h('dt', null, 'start'), h('dd', null, cellText({ kind: 'time' }, value('start'))),
          value('end') ? [h('dt', null, 'end'), h('dd', null, cellText({ kind: 'time' }, value('end')))] : null,
          h('dt', null, 'last activity'), h('dd', null, cellText({ kind: 'time' }, value('last_activity'))),
          value('host') ? [h('dt', null, 'host'), h('dd', null, value('host'))] : null,
          value('user') ? [h('dt', null, 'user'), h('dd', null, value('user'))] : null)),
      h('div', { class: 'controls links' },
        h('a', { class: 'button', id: 'run-prov-json', href: apiURL('export', { df, task, format: 'prov-json' }), download: '' }, 'PROV-JSON'),
        h('a', { class: 'button', id: 'run-prov-n', href: apiURL('export', { df, task, format: 'prov-n' }), download: '' }, 'PROV-N'),
        h('a', { class: 'button', id: 'run-diff', href: hashOf('diff', { df, a: task }) }, 'Diff with the best run'),
        h('a', { class: 'button', href: hashOf('compare', { df, task: [task] }) }, 'Compare')));

    const table = (box, title, answer, empty, opts) => clear(box).append(h('h3', null, title),
      answer && answer.rows.length ? dataTable(answer, opts) : h('p', { class: 'muted empty' }, empty));
    table(boxes.hyperparameters, 'Hyperparameters', describeRows(d, 'hyperparameter'), 'none recorded', { className: 'kv' });
    table(boxes.facts, 'Run facts', describeRows(d, 'fact'), 'none recorded (facts: false, or a writer that records none)',
      { className: 'kv' });
    table(boxes.tags, 'Tags and notes', describeRows(d, 'tag'), 'no tags (dnnprov tag adds some)',
      { className: 'kv', rowClass: (r) => (r.name === 'note' ? 'note' : '') });

    /* ---- every metric's curve, its adaptations marked ---- */
    clear(boxes.metrics).append(h('h3', null, 'Metrics by epoch'));
    const metrics = curve.columns.filter((c) => kindOf(curve, c).kind === 'metric');
    const grid = h('div', { class: 'grid' });
    boxes.metrics.append(metrics.length ? grid : h('p', { class: 'muted empty' }, 'no epochs yet'));
    for (const m of metrics) {
      const el = h('div', { class: 'chart small', 'data-metric': m });
      grid.append(el);
      const pts = curvePoints(curve, m);
      makeChart(el, curveOption({ series: curveSeries([{ name: task, data: pts.data, marks: pts.marks }]), metric: m,
        bounds: curveBounds(curve, m), title: m, legend: false }));
    }

    /* ---- adaptations and what followed them ---- */
    /* The run's own tables, without what the page says already (its id,
     * status and hyperparameters). */
    const own = (a) => new Set(a.columns.filter((c) => c === 'task' || ['status', 'hyperparameter'].includes(kindOf(a, c).kind)));
    const am = chosenMetric(adapt);
    table(boxes.adaptations, 'Adaptations' + (am ? ' and ' + am.metric + ' around them' : ''), adapt, 'no adaptations',
      { id: 'run-adaptations-table', hidden: own(adapt) });
    table(boxes.layers, 'Layers', layers, 'no layers recorded', { hidden: own(layers) });
    table(boxes.tests, 'Test results', tests, 'no test recorded', { hidden: own(tests) });
    clear(boxes.elements).append(h('h3', null, 'Elements of user-defined transformations'));
    if (!elements.length) boxes.elements.append(h('p', { class: 'muted empty' }, 'none'));
    for (const { t, a } of elements) boxes.elements.append(h('h4', null, t), dataTable(a, { hidden: own(a) }));
    table(boxes.segments, 'Log segments', segments, 'none the index knows');
  }

  await draw();
  return { refresh: draw };
}
