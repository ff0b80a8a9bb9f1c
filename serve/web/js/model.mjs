/*
 * model.mjs - a dataflow's model as a graph (DfViewer's picture): the
 * transformations by depth of their dependencies, each with its input
 * sets on the left and output sets on the right, and their attributes.
 * Drawn from describe's "model" member, the one model of a dataflow the
 * server keeps (transformations, sets, attributes, each built-in or
 * not): never from describe's prose.
 */

const ATTRS_SHOWN = 4;

/* A set's label: its name, and its attributes on a second line. */
export function setLabel(set) {
  const attrs = (set.attributes || []).map((a) => a.name);
  if (!attrs.length) return set.name;
  const shown = attrs.slice(0, ATTRS_SHOWN).join(', ') + (attrs.length > ATTRS_SHOWN ? ', \u2026 (' + attrs.length + ')' : '');
  return set.name + '\n' + shown;
}

/* Each transformation's depth: 0 without dependencies on others of the
 * model, else one more than its deepest dependency (a cycle counts 0). */
export function depths(model) {
  const tfs = model.transformations || [];
  const names = new Set(tfs.map((t) => t.name));
  const deps = Object.fromEntries(tfs.map((t) => [t.name, (t.depends_on || []).filter((d) => names.has(d))]));
  const depth = {};
  const d = (n, seen) => {
    if (depth[n] !== undefined) return depth[n];
    if (seen.has(n)) return 0;
    seen.add(n);
    depth[n] = deps[n].length ? 1 + Math.max(...deps[n].map((x) => d(x, seen))) : 0;
    return depth[n];
  };
  tfs.forEach((t) => d(t.name, new Set()));
  return depth;
}

/* {nodes, links} for an ECharts graph with fixed positions. */
export function modelGraph(model) {
  const tfs = (model && model.transformations) || [];
  const depth = depths(model || {});
  const nodes = [], links = [], rows = {};
  for (const t of tfs) {
    const col = depth[t.name] || 0;
    const row = (rows[col] = (rows[col] || 0) + 1);
    const x = col * 460, y = row * 150;
    nodes.push({ name: t.name, x, y, symbol: 'roundRect', symbolSize: [150, 44], category: 0,
      value: (t.builtin ? 'built-in' : 'user-defined') + ((t.depends_on || []).length ? '; depends on ' + t.depends_on.join(', ') : ''),
      label: { show: true, fontWeight: 'bold' } });
    const sets = t.sets || [];
    for (const dir of ['input', 'output']) {
      sets.filter((s) => s.direction === dir).forEach((s, i) => {
        const id = t.name + '.' + s.name, label = setLabel(s);
        nodes.push({ name: id, x: x + (dir === 'input' ? -170 : 170), y: y - 44 + i * 50, symbol: 'rect',
          symbolSize: [150, label.includes('\n') ? 42 : 26], category: dir === 'input' ? 1 : 2,
          value: dir + ': ' + (s.attributes || []).map((a) => a.name + ' ' + a.type).join(', '),
          label: { show: true, formatter: label, lineHeight: 14, width: 140, overflow: 'truncate' } });
        links.push(dir === 'input' ? { source: id, target: t.name } : { source: t.name, target: id });
      });
    }
    for (const dep of t.depends_on || [])
      if (tfs.some((x) => x.name === dep))
        links.push({ source: dep, target: t.name, dependency: true });
  }
  return { nodes, links };
}
