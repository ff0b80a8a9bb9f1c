/*
 * lineage.mjs - one run's lineage and provenance, drawn (docs/LINEAGE.md,
 * "The picture"): the datasets, the pre-processing tasks, the training
 * with its epochs collapsed to one node that expands, its adaptations,
 * the model, the evaluation and the agents, left to right, as
 * `dnnprov export --run TASK --format svg` draws them.
 *
 * The graph comes from the `lineage` question (up and down from the run,
 * /api/lineage) and describe; it is laid out here in columns by the
 * distance from the run and drawn as SVG with the DOM's own methods:
 * every text from the logs is a text node, never markup.
 *
 * The view beside the picture: what the run came from (lineage --up),
 * what was made from it (--down), and for each dataset it used, the runs
 * that used the same one (its fingerprint: the same content, on any
 * machine).
 *
 * URL: #lineage?df=&task=
 */
import { h } from '../js/dom.mjs';
import { api } from '../js/api.mjs';
import { kindOf, rankColumn, chosenMetric } from '../js/answer.mjs';
import { dataTable } from '../js/table.mjs';
import { runHref } from '../js/ui.mjs';

const SVG = 'http://www.w3.org/2000/svg';
export const FONT_PX = 12;   /* 9 pt */
const FONT = 'Helvetica, Arial, sans-serif';
const CHAR_PX = 7.2;         /* a character's width at FONT_PX where nothing measures text */
const LINE_PX = 15;
const PAD = 8, GAP_X = 28, GAP_Y = 12;
const LINE_CHARS = 28;
const EPOCH_LINES = 40;      /* an expanded epochs node lists this many */

/* A line of a label: at most LINE_CHARS characters. */
export function cut(s, n = LINE_CHARS) {
  const t = String(s === null || s === undefined ? '' : s).replace(/[\u0000-\u001f\u007f]/g, '?');
  const chars = [...t];
  return chars.length > n ? chars.slice(0, n - 1).join('') + '\u2026' : t;
}

/* A file's name, a generated task id in it by its label (the checkpoint
 * sgd-lr0.1-20261206T103011Z-vm-42-3.pt as sgd-lr0.1.pt). */
export const baseName = (p) => {
  const s = String(p || ''); const i = s.lastIndexOf('/');
  return (i >= 0 && i < s.length - 1 ? s.slice(i + 1) : s).replace(/-\d{8}T\d{6}Z-[^.]*/, '');
};
const shortPrint = (fp) => { const s = String(fp || ''); const c = s.indexOf(':'); return c >= 0 ? s.slice(0, c + 9) : s.slice(0, 15); };
/* A generated task id by its label (sgd-lr0.1 of sgd-lr0.1-20261206T103011Z-vm-42). */
export function taskLabel(id) {
  const m = /^(.+?)-\d{8}T\d{6}Z-/.exec(String(id));
  return m ? m[1] : String(id);
}

/* The graph of the lineage answers up and down from one run: nodes with
 * their column (rank: negative upstream, positive downstream) and edges
 * in the direction data flows.  A node reached twice is one node. */
export function lineageGraph(up, down) {
  const nodes = new Map(), edges = new Map();
  const keyOf = (r) => (r.kind === 'task' ? 't:' + r.dataflow + '/' + r.task : 'e:' + r.fingerprint);
  function add(answer, sign) {
    const stack = [];
    for (const r of (answer && answer.rows) || []) {
      const key = keyOf(r), depth = r.depth;
      const rank = depth ? sign * depth : 0;
      stack[depth] = key;
      if (!nodes.has(key)) {
        nodes.set(key, r.kind === 'task'
          ? { id: key, kind: 'task', rank, task: r.task, dataflow: r.dataflow,
            lines: [r.transformation || 'task', taskLabel(r.task), r.status || ''], title: r.dataflow + '/' + r.task }
          : { id: key, kind: 'entity', rank, fingerprint: r.fingerprint, model: r.role === 'model' || r.role === 'checkpoint',
            lines: [r.role || 'entity', baseName(r.location), shortPrint(r.fingerprint)], title: (r.location || '') + '\n' + (r.fingerprint || '') });
      }
      if (depth === 0) continue;
      const parent = stack[depth - 1];
      /* The task's record says it: the entity it used flows into it, the
       * one it generated flows out of it. */
      const taskKey = r.kind === 'task' ? key : parent, entKey = r.kind === 'task' ? parent : key;
      const [from, to] = r.relation === 'generated' ? [taskKey, entKey] : [entKey, taskKey];
      edges.set(from + '>' + to, { from, to, label: r.relation });
    }
  }
  add(up, -1);
  add(down, 1);
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

/* The run's own parts: its epochs (collapsed: one node) and adaptations
 * under it, then its agents, in its column (so that the picture stays as
 * wide as its lineage); its last test beside it. */
export function runParts(graph, run, { describe, adaptations, tests, curve, metric }) {
  const runKey = graph.nodes.find((n) => n.kind === 'task' && n.task === run);
  if (!runKey) return graph;
  const value = (kind, name) => { const r = ((describe && describe.rows) || []).find((x) => x.kind === kind && x.name === name); return r ? r.value : null; };
  const add = (node, from, label) => { graph.nodes.push(node); if (from) graph.edges.push({ from, to: node.id, label }); };
  const hyps = ((describe && describe.rows) || []).filter((r) => r.kind === 'hyperparameter').slice(0, 4);
  runKey.lines = runKey.lines.concat(hyps.map((r) => cut(r.name + '=' + r.value)));
  runKey.run = true;
  const epochs = Number(value('run', 'epochs')) || 0;
  if (epochs) {
    const rows = (curve && curve.rows) || [];
    const list = metric ? rows.map((r) => 'epoch ' + r.epoch + ': ' + metric + ' ' + fmt(r[metric])) : [];
    add({ id: 'epochs', kind: 'epochs', rank: runKey.rank, below: 1, collapsed: [epochs + ' epoch' + (epochs === 1 ? '' : 's'), 'click to expand'],
      expanded: list.length ? list.slice(0, EPOCH_LINES).concat(list.length > EPOCH_LINES ? ['and ' + (list.length - EPOCH_LINES) + ' more'] : [])
        : [epochs + ' epochs'], lines: null }, runKey.id, 'generated');
    graph.edges[graph.edges.length - 1].down = true;
  }
  const adapt = (adaptations && adaptations.rows) || [];
  if (adapt.length) {
    add({ id: 'adaptations', kind: 'activity', rank: runKey.rank, below: 1,
      lines: ['Adaptation'].concat(adapt.slice(0, 4).map((r) => cut('epoch ' + r.epoch + ': ' + r.hyperparameter + ' ' + fmt(r.old) + ' to ' + fmt(r.new)))) },
    runKey.id, 'informed');
    graph.edges[graph.edges.length - 1].down = true;
  }
  const test = ((tests && tests.rows) || []).filter((r) => r.task === run).pop();
  if (test) {
    add({ id: 'testing', kind: 'activity', rank: runKey.rank + 1, lines: ['TestingModel'] }, runKey.id, 'informed');
    /* the answer's metric columns, not its hyperparameters */
    const metrics = tests.columns.filter((c, i) => tests.kinds[i].kind === 'metric' && typeof test[c] === 'number').map((c) => [c, test[c]]);
    add({ id: 'result', kind: 'entity', rank: runKey.rank + 2, lines: ['test result'].concat(metrics.slice(0, 4).map(([k, v]) => cut(k + '=' + fmt(v)))) },
      'testing', 'generated');
  }
  const agents = [['person', value('run', 'user')], ['machine', value('run', 'host')], ['accelerator', value('fact', 'accelerator')]];
  const software = ['dnnprov'].concat(['python', 'torch', 'tensorflow', 'keras', 'numpy', 'sklearn']
    .filter((f) => value('fact', f)).map((f) => f + ' ' + value('fact', f)));
  for (const [kind, name] of agents) {
    if (name) add({ id: 'agent-' + kind, kind: 'agent', rank: runKey.rank, below: 2, lines: [kind, cut(name)] }, null);
  }
  add({ id: 'agent-software', kind: 'agent', rank: runKey.rank, below: 2, lines: ['software'].concat(software.map((s) => cut(s))) }, null);
  for (const n of graph.nodes) if (n.kind === 'agent') graph.edges.push({ from: runKey.id, to: n.id, label: 'wasAssociatedWith', agent: true });
  return graph;
}

function fmt(v) {
  if (typeof v !== 'number') return v === null || v === undefined ? '-' : String(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

/* A node's lines now (an epochs node expands). */
export const linesOf = (n, expanded) => (n.kind === 'epochs' ? (expanded ? n.expanded : n.collapsed) : n.lines);

/* A line's width at FONT_PX when nothing measures it (Node's tests). */
const byChars = (line) => [...String(line)].length * CHAR_PX;

/* Positions: a column per rank, left to right; in a column, the nodes in
 * the order found, the run's parts under it and its agents last, the
 * column centred.  measure(line) is a line's width in pixels.  Returns the
 * nodes with x, y, w, h and the picture's size. */
export function layout(graph, expanded, measure = byChars) {
  const ranks = [...new Set(graph.nodes.map((n) => n.rank))].sort((a, b) => a - b);
  const placed = graph.nodes.map((n) => {
    const lines = linesOf(n, expanded);
    const w = Math.ceil(Math.max(...lines.map(measure))) + 2 * PAD;
    return Object.assign({}, n, { lines, w, h: lines.length * LINE_PX + 2 * PAD });
  });
  let x = PAD;
  const columns = [];
  for (const r of ranks) {
    const col = placed.filter((n) => n.rank === r).sort((a, b) => (a.below || 0) - (b.below || 0));
    const w = Math.max(...col.map((n) => n.w));
    const h = col.reduce((s, n) => s + n.h, 0) + GAP_Y * (col.length - 1);
    columns.push({ col, x, w, h });
    x += w + GAP_X;
  }
  const height = Math.max(...columns.map((c) => c.h)) + 2 * PAD;
  for (const c of columns) {
    let y = PAD + (height - 2 * PAD - c.h) / 2;
    for (const n of c.col) {
      n.x = c.x + (c.w - n.w) / 2;
      n.y = y;
      y += n.h + GAP_Y;
    }
  }
  return { nodes: placed, width: x - GAP_X + PAD, height };
}

const FILL = { task: '#9FB1FC', activity: '#C9D3FB', entity: '#FFFC87', epochs: '#FFFC87', agent: '#FED37F' };

function el(name, attrs, ...children) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/* A line's width as the browser draws it in the picture's font. */
function textMeasure() {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return byChars;
  ctx.font = FONT_PX + 'px ' + FONT;
  return (line) => ctx.measureText(String(line)).width;
}

/* The picture as an <svg>: a click on the epochs node expands it. */
export function drawLineage(graph, onExpand, expanded) {
  const { nodes, width, height } = layout(graph, expanded, textMeasure());
  const at = new Map(nodes.map((n) => [n.id, n]));
  const svg = el('svg', { class: 'lineage', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'font-family': FONT, 'font-size': FONT_PX });
  svg.append(el('defs', null, el('marker', { id: 'lineage-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#555' }))));
  for (const e of graph.edges) {
    const a = at.get(e.from), b = at.get(e.to);
    if (!a || !b) continue;
    let d;
    if (e.agent || e.down) {
      d = `M ${a.x + a.w / 2} ${a.y + a.h} L ${b.x + b.w / 2} ${b.y}`;
    } else {
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mid = (x1 + x2) / 2;
      d = `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`;
    }
    svg.append(el('path', { d, fill: 'none', stroke: e.agent ? '#999' : '#555', 'stroke-dasharray': e.agent || e.label === 'informed' ? '3 3' : '',
      'marker-end': e.agent ? '' : 'url(#lineage-arrow)', class: 'edge', 'data-relation': e.label || '' }, el('title', null, e.label || '')));
  }
  for (const n of nodes) {
    const g = el('g', { class: 'node ' + n.kind + (n.run ? ' run' : ''), 'data-id': n.id, transform: `translate(${n.x},${n.y})` });
    const shape = n.kind === 'entity' || n.kind === 'epochs'
      ? el('rect', { width: n.w, height: n.h, rx: 10, ry: 10 })
      : n.kind === 'agent'
        ? el('path', { d: `M 0 8 L ${n.w / 2} 0 L ${n.w} 8 L ${n.w} ${n.h} L 0 ${n.h} z` })
        : el('rect', { width: n.w, height: n.h });
    shape.setAttribute('fill', n.model ? '#FFE08A' : FILL[n.kind] || '#eee');
    shape.setAttribute('stroke', '#333');
    shape.setAttribute('stroke-width', n.run ? 2.5 : 1);
    g.append(shape);
    n.lines.forEach((line, i) => g.append(el('text', { x: n.w / 2, y: PAD + (i + 1) * LINE_PX - 4, 'text-anchor': 'middle' }, line)));
    g.append(el('title', null, n.title || n.lines.join('\n')));
    if (n.kind === 'epochs' && onExpand) {
      g.setAttribute('tabindex', '0');
      g.style.cursor = 'pointer';
      g.addEventListener('click', onExpand);
    }
    svg.append(g);
  }
  return svg;
}

/* Reads what the picture needs of run `task` through the API (`api`, the
 * page's: api(name, params)). */
export async function loadLineage(api, df, task) {
  const [up, down, describe, adaptations, tests, curve] = await Promise.all([
    api('lineage', { df, node: task }), api('lineage', { df, node: task, down: 'true' }), api('describe', { df, task }),
    api('adaptations', { df, task, window: 1 }), api('test', { df, where: "task = '" + String(task).replace(/'/g, "''") + "'" }),
    api('curve', { df, task })]);
  const about = curve && curve.kinds ? curve.columns.filter((c, i) => curve.kinds[i] && curve.kinds[i].kind === 'metric') : [];
  return runParts(lineageGraph(up, down), task, { describe, adaptations, tests, curve, metric: about[0] });
}

/* Draws run `task`'s picture into box (a DOM element). */
export async function lineageSection(api, df, task, box) {
  const graph = await loadLineage(api, df, task);
  let expanded = false;
  const paint = () => {
    while (box.firstChild) box.removeChild(box.firstChild);
    box.append(drawLineage(graph, () => { expanded = !expanded; paint(); }, expanded));
  };
  paint();
  return graph;
}

const PAGE = 100;
const TREE_COLUMNS = ['depth', 'relation', 'kind', 'transformation', 'task', 'role', 'location', 'fingerprint', 'size', 'status'];

/* Answer a with only the given columns (those it has), kinds kept. */
function someColumns(a, cols) {
  const columns = cols.filter((c) => a.columns.includes(c));
  return { columns, kinds: columns.map((c) => kindOf(a, c)), rows: a.rows };
}

/* The view: the run of the URL, else the best by the main metric (the
 * runs answer names its column and goal), else the latest. */
export async function render(ctx) {
  const { main, df, params } = ctx;
  const probe = await api('runs', { df, sort: 'task', limit: 1 });
  const col = rankColumn(probe), m = chosenMetric(probe);
  const runs = await api('runs', { df, sort: col ? (m.lowerIsBetter ? '' : '-') + col : '-start', limit: PAGE });
  if (ctx.stale()) return {};
  const best = col ? runs.rows.find((r) => r[col] !== null && r[col] !== undefined) : runs.rows[0];
  const task = (params.task || [])[0] || (best || runs.rows[0] || {}).task;
  const pick = h('select', { id: 'lineage-task', 'aria-label': 'run', onchange: (e) => ctx.set({ task: [e.target.value] }) },
    runs.rows.map((r) => h('option', { value: r.task, selected: r.task === task }, r.task)));
  if (task && !runs.rows.some((r) => r.task === task)) pick.prepend(h('option', { value: task, selected: true }, task));
  main.append(h('h2', null, 'Lineage'));
  main.append(h('div', { class: 'controls' }, h('label', null, 'run', pick)));
  if (!task) {
    main.append(h('p', { class: 'muted' }, 'No run yet.'));
    return {};
  }
  const picture = h('div', { class: 'card lineage-picture', id: 'lineage-picture' });
  const used = h('div', { id: 'lineage-up' }), made = h('div', { id: 'lineage-down' }), shared = h('div', { id: 'lineage-shared' });
  main.append(picture,
    h('div', { class: 'card' }, h('h3', null, 'What it came from'), used),
    h('div', { class: 'card' }, h('h3', null, 'What was made from it'), made),
    h('div', { class: 'card' }, h('h3', null, 'Runs that used the same data'), shared));
  const [up, down] = await Promise.all([api('lineage', { df, node: task }), api('lineage', { df, node: task, down: 'true' })]);
  if (ctx.stale()) return {};
  const link = { taskCol: 'task', taskHref: (id) => runHref(df, id) };
  used.append(dataTable(someColumns(up, TREE_COLUMNS), link));
  made.append(dataTable(someColumns(down, TREE_COLUMNS), link));
  /* A dataset the run used, and every task that used it too: lineage
     --down one step from its fingerprint. */
  const inputs = up.rows.filter((r) => r.depth === 1 && r.kind === 'entity');
  const users = await Promise.all(inputs.map((r) => api('lineage', { node: r.fingerprint, down: 'true', depth: 1 })));
  if (ctx.stale()) return {};
  const rows = [];
  inputs.forEach((e, i) => users[i].rows.filter((r) => r.kind === 'task').forEach((r) =>
    rows.push({ role: e.role, location: e.location, fingerprint: e.fingerprint, dataflow: r.dataflow, task: r.task, transformation: r.transformation })));
  shared.append(rows.length ? dataTable({ columns: ['role', 'location', 'fingerprint', 'dataflow', 'task', 'transformation'], rows },
    { taskCol: 'task', rowClass: (r) => (r.task === task ? 'selected' : '') }) : h('p', { class: 'muted' }, 'The run recorded no input.'));
  await lineageSection(api, df, task, picture);
  return {};
}
