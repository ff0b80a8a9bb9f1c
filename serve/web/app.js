/*
 * The dnnprov dashboard: one page, eight views, all of it drawn from the
 * server's JSON API (docs/SERVE.md), which answers as the CLI's
 * --format json does.
 *
 * Everything from the logs (task ids, hyperparameter values, messages) is
 * untrusted: it reaches the page only as text (textContent, attribute
 * values, chart labels drawn as SVG text), never as markup, and chart
 * tooltips are drawn as text too (renderMode "richText").  The server's
 * Content-Security-Policy forbids inline script besides.
 */
'use strict';

(function () {
  const ECHARTS_VERSION = '6.1.0';
  const PAGE = 100; /* runs per page */
  const CHART_ROWS = 10000; /* rows a chart asks for at most */
  const POLL_MS = 1000;

  const state = {
    df: null,
    dataflows: [],
    spec: null, /* {hyps: [{name, type}], metrics: [...], rows} from describe */
    selected: new Set(), /* task ids chosen in the runs table */
    change: null,
    view: null, /* the page shown: {refresh()} */
    charts: [],
    runs: { offset: 0, sort: null, where: '', metric: '', hidden: new Set(), lastTotal: null },
  };

  /* ---- DOM ------------------------------------------------------------------------ */

  /* An element with attributes (set as attributes or listeners, never as
     markup) and children (nodes, or text). */
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'checked' || k === 'value' || k === 'selected' || k === 'disabled') e[k] = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const $ = (sel) => document.querySelector(sel);

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  /* ---- the API ---------------------------------------------------------------------- */

  function apiURL(name, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v === undefined || v === null || v === '') continue;
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else q.append(k, String(v));
    }
    const s = q.toString();
    return '/api/' + name + (s ? '?' + s : '');
  }

  async function api(name, params) {
    const res = await fetch(apiURL(name, params), { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = { error: res.status + ' ' + res.statusText };
    }
    if (!res.ok) {
      if (res.status === 401) location.href = '/login';
      const err = new Error(body && body.error ? body.error : res.statusText);
      err.parameter = body ? body.parameter : null;
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function errorBox(err) {
    const where = err.parameter ? err.parameter + ': ' : '';
    return h('pre', { class: 'error', role: 'alert' }, (err.status === 404 || err.status === 400 ? where : '') + err.message);
  }

  /* ---- values ----------------------------------------------------------------------- */

  const TIME_COLS = new Set(['start', 'last_activity', 'tested', 'time']);
  const SECS_COLS = new Set(['duration', 'active']);

  function fmtNum(v) {
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toExponential(4);
    return String(Number(v.toPrecision(6)));
  }

  function fmtSecs(s) {
    if (typeof s !== 'number') return '';
    if (s < 60) return s.toFixed(1) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
    if (s < 172800) return Math.floor(s / 3600) + 'h' + String(Math.floor((s / 60) % 60)).padStart(2, '0') + 'm';
    return Math.floor(s / 86400) + 'd' + String(Math.floor((s / 3600) % 24)).padStart(2, '0') + 'h';
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function cellText(col, v) {
    if (v === null || v === undefined) return '';
    if (TIME_COLS.has(col) && typeof v === 'string') return fmtTime(v);
    if (SECS_COLS.has(col)) return fmtSecs(v);
    return typeof v === 'number' ? fmtNum(v) : String(v);
  }

  function asNumber(v) {
    if (typeof v === 'number') return v;
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    return null;
  }

  /* A text literal of the --where language. */
  function quote(s) {
    return "'" + String(s).replace(/'/g, "''") + "'";
  }

  /* A name of the --where language: back quotes when it is not a plain word. */
  function wname(s) {
    return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(s) ? s : '`' + s + '`';
  }

  function lowerIsBetter(metric) {
    return /loss|error|err|mse|mae|rmse|perplexity|ppl|cer|wer|nll/i.test(metric || '');
  }

  function andWhere(...parts) {
    const p = parts.filter((x) => x && x.trim());
    return p.length > 1 ? p.map((x) => '(' + x + ')').join(' and ') : p[0] || '';
  }

  /* ---- tables ----------------------------------------------------------------------- */

  /* A table of an API answer.  opts: hidden (Set of columns), sort
     ({col, desc}) and onSort(col), select ({has(id), toggle(id)}), rowClass(row). */
  function dataTable(answer, opts) {
    opts = opts || {};
    const cols = answer.columns.filter((c) => !(opts.hidden && opts.hidden.has(c)));
    const head = h('tr', null,
      opts.select ? h('th', null, '') : null,
      cols.map((c) => {
        const sorted = opts.sort && opts.sort.col === c;
        const th = h('th', { class: opts.onSort ? 'sortable' : '', scope: 'col', 'data-col': c,
          'aria-sort': sorted ? (opts.sort.desc ? 'descending' : 'ascending') : null },
          c, sorted ? (opts.sort.desc ? ' \u25BC' : ' \u25B2') : '');
        if (opts.onSort) th.addEventListener('click', () => opts.onSort(c));
        return th;
      }));
    const body = h('tbody', null, answer.rows.map((r) => {
      const id = r.task;
      const tr = h('tr', { class: (opts.select && opts.select.has(id) ? 'selected ' : '') + (opts.rowClass ? opts.rowClass(r) : ''), 'data-task': id });
      if (opts.select) {
        tr.append(h('td', null, h('input', { type: 'checkbox', checked: opts.select.has(id), 'aria-label': 'select ' + id,
          onchange: (ev) => { opts.select.toggle(id); tr.classList.toggle('selected', ev.target.checked); } })));
      }
      for (const c of cols) {
        const v = r[c];
        const td = h('td', { class: (typeof v === 'number' || asNumber(v) !== null) && !TIME_COLS.has(c) ? 'num' : (c === 'message' ? 'msg' : '') }, cellText(c, v));
        if (c === 'status' && v) td.className = 'status ' + v;
        if (c === 'message' && v) td.title = v;
        tr.append(td);
      }
      if (opts.onRow) tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'INPUT') opts.onRow(r); });
      return tr;
    }));
    return h('div', { class: 'tablewrap' }, h('table', { class: 'data' }, h('thead', null, head), body));
  }

  /* ---- charts ----------------------------------------------------------------------- */

  function chart(el, option, renderer) {
    const c = echarts.init(el, null, { renderer: renderer || 'svg' });
    c.setOption(Object.assign({
      aria: { enabled: true },
      animation: false,
      tooltip: { renderMode: 'richText', confine: true },
      textStyle: { fontFamily: 'system-ui, sans-serif' },
    }, option));
    state.charts.push(c);
    return c;
  }

  function disposeCharts() {
    state.charts.forEach((c) => c.dispose());
    state.charts = [];
  }

  window.addEventListener('resize', () => state.charts.forEach((c) => c.resize()));

  /* ---- the dataflow and its specification -------------------------------------------- */

  async function loadDataflows() {
    const a = await api('dataflows');
    state.dataflows = a.rows.map((r) => r.dataflow);
    const sel = clear($('#df'));
    state.dataflows.forEach((d) => sel.append(h('option', { value: d }, d)));
    const want = sessionStorage.getItem('df');
    if (!state.df || !state.dataflows.includes(state.df))
      state.df = state.dataflows.includes(want) ? want : state.dataflows[0] || null;
    sel.value = state.df || '';
    return a;
  }

  /* The specification (describe counts every task: at 100,000 tasks it is
     the slow call of the page, so the runs view does not wait for it). */
  function loadSpec() {
    state.specReady = fetchSpec();
    return state.specReady;
  }

  async function fetchSpec() {
    if (!state.df) { state.spec = null; return null; }
    const a = await api('describe', { df: state.df });
    const hyps = [], metrics = [], tfs = [], sets = [], counts = {};
    for (const r of a.rows) {
      if (r.kind === 'hyperparameter') hyps.push({ name: r.name, type: r.detail });
      else if (r.kind === 'metric') metrics.push(r.name);
      else if (r.kind === 'transformation') tfs.push(r);
      else if (r.kind === 'set') sets.push(r);
      else if (r.kind === 'tasks') counts[r.name] = Number(r.detail);
    }
    state.spec = { hyps, metrics, tfs, sets, counts, rows: a.rows };
    return state.spec;
  }

  function metricSelect(value, onchange, withEmpty) {
    const s = h('select', { 'aria-label': 'metric', onchange: (e) => onchange(e.target.value) },
      withEmpty ? h('option', { value: '' }, 'main metric') : null);
    const fill = () => {
      (state.spec ? state.spec.metrics : []).forEach((m) => s.append(h('option', { value: m, selected: m === value }, m)));
      if (value) s.value = value;
    };
    if (state.spec) fill(); else if (state.specReady) state.specReady.then(fill, () => {});
    return s;
  }

  /* The runs' main metric and its columns, as the server picks them: one
     row sorted by task costs a key lookup whatever the number of runs. */
  async function mainMetric(metric) {
    const a = await api('runs', { df: state.df, metric, sort: 'task', limit: 1 });
    const best = a.columns.find((c) => c.startsWith('best('));
    return best ? best.slice(5, -1) : null;
  }

  /* ---- live updates ------------------------------------------------------------------ */

  function showFreshness(index) {
    const live = $('#live');
    const note = $('#note');
    if (!index) {
      live.className = 'live off';
      live.textContent = 'no index';
      return;
    }
    live.className = 'live on';
    live.textContent = 'live \u00B7 indexer ' + index.indexer + (index.last_commit ? ' \u00B7 last commit ' + fmtTime(index.last_commit) : '');
    const lines = [];
    if (index.behind_bytes && index.indexer !== 'running')
      lines.push('index: behind its logs by ' + index.behind_segments + ' segment(s) (' + index.behind_bytes + ' bytes not indexed) and no indexer is running: run `dnnprov index`');
    if (index.problems) lines.push('index: ' + index.problems + ' problem(s) skipped in the logs (`dnnprov index --status` lists them)');
    note.hidden = !lines.length;
    note.textContent = lines.join('\n');
  }

  async function poll() {
    try {
      const a = await api('changes');
      showFreshness(a.index);
      if (state.change !== null && a.change !== state.change) {
        state.change = a.change;
        await refreshAll();
      }
      state.change = a.change;
    } catch (e) {
      const live = $('#live');
      live.className = 'live off';
      live.textContent = e.status === 503 ? 'no index: ' + e.message : 'server unreachable';
      state.change = '';
    }
    setTimeout(poll, POLL_MS);
  }

  /* A change redraws the view; the dataflows and the specification (their
     answers read every task) are read again at most every 10 s. */
  async function refreshAll() {
    const now = Date.now();
    if (!state.specAt || now - state.specAt > 10000) {
      state.specAt = now;
      await loadDataflows();
      await loadSpec();
    }
    if (state.view && state.view.refresh) await state.view.refresh();
  }

  /* ---- Dataflows: the specification as a graph ------------------------------------------- */

  /* The transformations of describe's rows, their sets and dependencies. */
  function specGraph(spec) {
    const nodes = [], links = [], depth = {};
    const deps = {};
    for (const t of spec.tfs) {
      const m = /depends on ([^;]*)/.exec(t.detail || '');
      deps[t.name] = m ? m[1].split(', ') : (t.name === 'TrainingModel' ? [] : ['TrainingModel']);
    }
    const d = (n, seen) => {
      if (depth[n] !== undefined) return depth[n];
      if (seen.has(n)) return 0;
      seen.add(n);
      depth[n] = deps[n] && deps[n].length ? 1 + Math.max(...deps[n].map((x) => d(x, seen))) : 0;
      return depth[n];
    };
    spec.tfs.forEach((t) => d(t.name, new Set()));
    const perDepth = {};
    const setsOf = {};
    for (const s of spec.sets) {
      const dot = s.name.indexOf('.');
      const tf = s.name.slice(0, dot);
      (setsOf[tf] = setsOf[tf] || []).push({ name: s.name.slice(dot + 1), detail: s.detail });
    }
    /* The built-in transformations name their sets in their detail. */
    for (const t of spec.tfs) {
      if (!(t.detail || '').startsWith('built-in')) continue;
      for (const dir of ['input', 'output']) {
        const m = new RegExp(dir + ' ([^;]*)').exec(t.detail);
        if (m) (setsOf[t.name] = setsOf[t.name] || []).push(...m[1].split(', ').map((n) => {
          const a = /^(\S+) \((.*)\)$/.exec(n); /* "oTrainingModel (epochs)" */
          return a ? { name: a[1], detail: dir + ': ' + a[2] } : { name: n, detail: dir + ':' };
        }));
      }
    }
    for (const t of spec.tfs) {
      const col = depth[t.name] || 0;
      const row = perDepth[col] = (perDepth[col] || 0) + 1;
      const x = col * 420, y = row * 130;
      nodes.push({ name: t.name, x, y, symbol: 'roundRect', symbolSize: [150, 44], category: 0,
        label: { show: true, fontWeight: 'bold' }, value: t.detail });
      const sets = setsOf[t.name] || [];
      const ins = sets.filter((s) => s.detail.startsWith('input'));
      const outs = sets.filter((s) => !s.detail.startsWith('input'));
      ins.forEach((s, i) => {
        const id = t.name + '.' + s.name, label = s.name + attrSuffix(s.detail);
        /* A set with attributes has them on a second line: its box holds both. */
        nodes.push({ name: id, x: x - 150, y: y - 40 + i * 46, symbol: 'rect', symbolSize: [120, label.includes('\n') ? 40 : 26],
          category: 1, label: { show: true, formatter: label, lineHeight: 15 }, value: s.detail });
        links.push({ source: id, target: t.name });
      });
      outs.forEach((s, i) => {
        const id = t.name + '.' + s.name, label = s.name + attrSuffix(s.detail);
        /* A set with attributes has them on a second line: its box holds both. */
        nodes.push({ name: id, x: x + 150, y: y - 40 + i * 46, symbol: 'rect', symbolSize: [120, label.includes('\n') ? 40 : 26],
          category: 2, label: { show: true, formatter: label, lineHeight: 15 }, value: s.detail });
        links.push({ source: t.name, target: id });
      });
      for (const dep of deps[t.name] || [])
        if (spec.tfs.some((x) => x.name === dep))
          links.push({ source: dep, target: t.name, lineStyle: { width: 2.5, type: 'solid', color: '#2f6fde' }, label: { show: true, formatter: 'depends on' } });
    }
    return { nodes, links };
  }

  function attrSuffix(detail) {
    const a = (detail || '').replace(/^(input|output):\s*/, '');
    return a ? '\n' + a.split(', ').map((x) => x.split(' ')[0]).join(', ') : '';
  }

  function escapeLabel(s) {
    /* ECharts reads {name|...} in label text as rich-text markup: keep braces literal. */
    return String(s).replace(/[{}|]/g, (c) => ({ '{': '\uFF5B', '}': '\uFF5D', '|': '\u2223' }[c]));
  }

  async function viewDataflows(main) {
    const all = await api('dataflows');
    main.append(h('h2', null, 'Dataflows'));
    main.append(h('div', { class: 'card' }, dataTable(all, { onRow: (r) => { selectDataflow(r.dataflow); } }),
      h('p', { class: 'muted' }, 'Choose a row to see that dataflow\'s specification.')));
    if (!state.spec) return {};
    const spec = state.spec;
    const card = h('div', { class: 'card' },
      h('h3', null, 'Specification of ', state.df),
      h('div', { class: 'badges', id: 'status-counts' },
        Object.entries(spec.counts).map(([k, v]) => h('span', { class: 'badge status ' + k, 'data-status': k }, k + ' ' + v))),
      h('div', { class: 'chart graph', id: 'spec-graph' }));
    main.append(card);
    const g = specGraph(spec);
    chart($('#spec-graph'), {
      tooltip: { renderMode: 'richText', formatter: (p) => p.dataType === 'node' ? escapeLabel(p.name + '\n' + (p.value || '')) : '' },
      legend: { data: ['transformation', 'input set', 'output set'], bottom: 0 },
      series: [{
        type: 'graph', layout: 'none', roam: true, edgeSymbol: ['none', 'arrow'], edgeSymbolSize: 9,
        categories: [{ name: 'transformation', itemStyle: { color: '#2f6fde' } }, { name: 'input set', itemStyle: { color: '#98a2b3' } }, { name: 'output set', itemStyle: { color: '#12b76a' } }],
        data: g.nodes.map((n) => Object.assign(n, { label: Object.assign({ color: '#fff', fontSize: 11 }, n.label, n.label.formatter ? { formatter: escapeLabel(n.label.formatter) } : {}) })),
        links: g.links, lineStyle: { color: '#98a2b3', curveness: 0.1 },
        edgeLabel: { fontSize: 10, color: '#475467' },
      }],
    });
    main.append(h('div', { class: 'card' }, h('h3', null, 'Hyperparameters and metrics'),
      dataTable({ columns: ['kind', 'name', 'detail'], rows: spec.rows.filter((r) => r.kind === 'hyperparameter' || r.kind === 'metric' || r.kind === 'set') })));
    return { refresh: () => render() };
  }

  /* ---- Runs ---------------------------------------------------------------------------- */

  function selection() {
    return {
      has: (id) => state.selected.has(id),
      toggle: (id) => {
        if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
        updateCompareButton();
      },
    };
  }

  function updateCompareButton() {
    const b = $('#compare-selected');
    if (b) {
      b.textContent = 'Compare selected (' + state.selected.size + ')';
      b.disabled = !state.selected.size;
    }
  }

  /* The hyperparameter columns of a runs answer: after last_activity, before
     the metric (or the message). */
  function runsHyps(cols) {
    const from = cols.indexOf('last_activity') + 1;
    let to = cols.findIndex((c, i) => i >= from && (c.startsWith('last(') || c === 'message'));
    if (to < 0) to = cols.length;
    return new Set(cols.slice(from, to));
  }

  async function viewRuns(main) {
    const r = state.runs;
    if (r.df !== state.df) {
      Object.assign(r, { df: state.df, offset: 0, sort: null, where: '', metric: '', hidden: new Set(), chosen: false });
    }
    if (!r.sort) {
      /* Best first by the main metric: a page the server cuts from the
         summaries alone. */
      const m = r.metric || await mainMetric(r.metric);
      r.sort = m ? { col: 'best(' + m + ')', desc: !lowerIsBetter(m) } : { col: 'start', desc: true };
    }
    const whereInput = h('input', { type: 'text', class: 'where', id: 'runs-where', value: r.where, placeholder: "--where, e.g. LEARNING_RATE <= 0.01 and status = 'finished'", 'aria-label': 'where' });
    const apply = () => { r.where = whereInput.value; r.offset = 0; show(); };
    whereInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
    const colpick = h('div', { class: 'colpick', hidden: true, id: 'colpick' });
    const tableBox = h('div', { id: 'runs-table' });
    const info = h('span', { class: 'muted', id: 'runs-info' });
    const pager = h('div', { class: 'pager' });
    const downloads = h('span', { class: 'controls' });
    main.append(h('h2', null, 'Runs of ', state.df));
    main.append(h('div', { class: 'controls' },
      whereInput, h('button', { class: 'primary', onclick: apply, id: 'runs-apply' }, 'Filter'),
      h('label', null, 'metric', metricSelect(r.metric, (m) => { r.metric = m; r.sort = null; rerender(); }, true)),
      h('button', { onclick: () => { colpick.hidden = !colpick.hidden; } }, 'Columns'),
      h('button', { id: 'compare-selected', onclick: () => { location.hash = '#compare'; } }, 'Compare selected'),
      downloads));
    main.append(colpick, h('div', { id: 'runs-error' }), tableBox, h('div', { class: 'pager' }, pager, info),
      h('p', { class: 'muted', id: 'runs-same' }));
    updateCompareButton();

    async function show() {
      const params = { df: state.df, where: r.where, metric: r.metric, sort: (r.sort.desc ? '-' : '') + r.sort.col, limit: PAGE, offset: r.offset };
      let a;
      try {
        a = await api('runs', params);
      } catch (e) {
        clear($('#runs-error')).append(errorBox(e));
        return;
      }
      clear($('#runs-error'));
      clear(downloads).append(
        h('a', { class: 'button', href: apiURL('runs', Object.assign({}, params, { format: 'csv' })), download: '' }, 'CSV'),
        h('a', { class: 'button', href: apiURL('runs', params), download: '' }, 'JSON'));
      if (!r.chosen && a.rows.length > 1) {
        /* As the CLI's table: hyperparameters with one value in every row,
           and the attempts of runs never resumed, say nothing of the
           differences (Columns shows them). */
        r.chosen = true;
        const hyps = runsHyps(a.columns);
        for (const c of a.columns) {
          const vals = new Set(a.rows.map((x) => JSON.stringify(x[c])));
          if ((hyps.has(c) && vals.size === 1) || ((c === 'attempts' || c === 'active') && a.rows.every((x) => x.attempts === 1)) || c === 'start')
            r.hidden.add(c);
        }
      }
      const hypCols = runsHyps(a.columns);
      const same = a.columns.filter((c) => r.hidden.has(c) && hypCols.has(c) && a.rows.length &&
        a.rows.every((x) => JSON.stringify(x[c]) === JSON.stringify(a.rows[0][c])) && a.rows[0][c] !== null);
      $('#runs-same').textContent = same.length ? 'same in every row: ' + same.map((c) => c + '=' + cellText(c, a.rows[0][c])).join(', ') : '';
      clear(colpick).append(a.columns.map((c) => h('label', null, h('input', { type: 'checkbox', checked: !r.hidden.has(c), onchange: (e) => { if (e.target.checked) r.hidden.delete(c); else r.hidden.add(c); show(); } }), c)));
      clear(tableBox).append(dataTable(a, {
        hidden: r.hidden, sort: r.sort, select: selection(),
        onSort: (c) => { r.sort = { col: c, desc: r.sort.col === c ? !r.sort.desc : false }; r.offset = 0; show(); },
      }));
      const total = a.total !== undefined ? a.total : a.rows.length;
      r.lastTotal = total;
      info.textContent = total ? 'runs ' + (r.offset + 1) + '\u2013' + (r.offset + a.rows.length) + ' of ' + total : 'no runs match';
      clear(pager).append(
        h('button', { disabled: r.offset === 0, onclick: () => { r.offset = 0; show(); } }, '\u00AB first'),
        h('button', { disabled: r.offset === 0, onclick: () => { r.offset = Math.max(0, r.offset - PAGE); show(); } }, '\u2039 previous'),
        h('button', { disabled: r.offset + PAGE >= total, onclick: () => { r.offset += PAGE; show(); } }, 'next \u203A'),
        h('button', { disabled: r.offset + PAGE >= total, onclick: () => { r.offset = Math.floor(Math.max(0, total - 1) / PAGE) * PAGE; show(); } }, 'last \u00BB'));
    }
    await show();
    return { refresh: show };
  }

  /* ---- curves (compare, adaptations) ------------------------------------------------------ */

  /* One series per task: metric against epoch, adaptations marked with the
     value they set. */
  async function curveSeries(tasks, metric) {
    const answers = await Promise.all(tasks.map((t) => api('curve', { df: state.df, task: t }).catch((e) => ({ error: e, task: t }))));
    const series = [], errors = [];
    answers.forEach((a, i) => {
      if (a.error) { errors.push(a.error); return; }
      const data = a.rows.filter((r) => r[metric] !== undefined && r[metric] !== null).map((r) => [r.epoch, asNumber(r[metric])]);
      const marks = a.rows.filter((r) => r.changed).map((r) => {
        const hyps = r.changed.split(',');
        const label = hyps.map((hy) => hy + ' \u2192 ' + cellText(hy, r[hy])).join(', ');
        return { coord: [r.epoch, asNumber(r[metric])], value: label, name: label };
      }).filter((m) => m.coord[1] !== null);
      series.push({ name: tasks[i], type: 'line', showSymbol: data.length < 40, data,
        markPoint: marks.length ? { symbol: 'pin', symbolSize: 26, data: marks,
          label: { show: true, position: 'top', fontSize: 10, color: '#344054', formatter: (p) => escapeLabel(p.data.value) } } : undefined,
        emphasis: { focus: 'series' } });
    });
    return { series, errors };
  }

  function curveChart(el, series, metric, log) {
    return chart(el, {
      title: { text: metric + ' by epoch', left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { renderMode: 'richText', trigger: 'item', formatter: (p) => escapeLabel(p.componentType === 'markPoint' ? p.seriesName + ' at epoch ' + p.data.coord[0] + ': ' + p.data.value : p.seriesName + '\nepoch ' + p.value[0] + ': ' + fmtNum(p.value[1])) },
      legend: { type: 'scroll', bottom: 0, formatter: (n) => escapeLabel(n) },
      // Room on the right for the label of an adaptation at the last epoch.
      grid: { left: 60, right: series.some((x) => x.markPoint) ? 120 : 30, top: 40, bottom: 60 },
      xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 25, minInterval: 1, min: 'dataMin', max: 'dataMax' },
      yAxis: { type: log ? 'log' : 'value', name: metric, scale: true },
      series,
    });
  }

  /* ---- Compare ---------------------------------------------------------------------------- */

  async function viewCompare(main) {
    const st = state.compare = state.compare || { metric: '', log: false, diffOnly: false };
    if (!st.metric || !state.spec.metrics.includes(st.metric)) st.metric = await mainMetric('') || state.spec.metrics[0];
    const tasks = [...state.selected];
    const addInput = h('input', { type: 'text', placeholder: 'task id', 'aria-label': 'add a task', id: 'add-task' });
    main.append(h('h2', null, 'Compare runs'));
    main.append(h('div', { class: 'controls' },
      h('div', { class: 'chips', id: 'chips' }, tasks.length ? tasks.map((t) => h('span', { class: 'chip' }, t,
        h('button', { 'aria-label': 'remove ' + t, onclick: () => { state.selected.delete(t); render(); } }, '\u00D7'))) : h('span', { class: 'muted' }, 'Select runs in the Runs table, or add a task id:')),
      addInput, h('button', { onclick: () => { if (addInput.value.trim()) { state.selected.add(addInput.value.trim()); render(); } } }, 'Add'),
      h('label', null, 'metric', metricSelect(st.metric, (m) => { st.metric = m; render(); })),
      h('label', null, h('input', { type: 'checkbox', id: 'log-scale', checked: st.log, onchange: (e) => { st.log = e.target.checked; render(); } }), 'log scale')));
    const chartBox = h('div', { class: 'chart', id: 'compare-chart' });
    const hypBox = h('div', { id: 'compare-hyps' });
    main.append(h('div', { class: 'card' }, chartBox, h('div', { id: 'compare-errors' })));
    main.append(h('div', { class: 'card' }, h('div', { class: 'controls' }, h('h3', null, 'Hyperparameters side by side'),
      h('label', null, h('input', { type: 'checkbox', id: 'diff-only', checked: st.diffOnly, onchange: (e) => { st.diffOnly = e.target.checked; render(); } }), 'differences only')), hypBox));
    if (!tasks.length) return {};
    async function draw() {
      const { series, errors } = await curveSeries(tasks, st.metric);
      disposeCharts();
      curveChart(chartBox, series, st.metric, st.log);
      clear($('#compare-errors')).append(errors.map(errorBox));
      const a = await api('runs', { df: state.df, where: 'task in (' + tasks.map(quote).join(', ') + ')', limit: tasks.length });
      const names = state.spec.hyps.map((x) => x.name).concat(['status', 'epochs', 'duration', 'message']);
      const rows = names.map((n) => {
        const vals = tasks.map((t) => { const r = a.rows.find((x) => x.task === t); return r ? cellText(n, r[n]) : ''; });
        return { n, vals, same: vals.every((v) => v === vals[0]) };
      }).filter((r) => !st.diffOnly || !r.same);
      clear(hypBox).append(h('div', { class: 'tablewrap' }, h('table', { class: 'data', id: 'hyp-table' },
        h('thead', null, h('tr', null, h('th', null, 'hyperparameter'), tasks.map((t) => h('th', null, t)))),
        h('tbody', null, rows.map((r) => h('tr', { class: r.same ? 'same' : 'diff' }, h('td', null, r.n), r.vals.map((v) => h('td', null, v))))))));
    }
    await draw();
    return { refresh: draw };
  }

  /* ---- Hyperparameters vs metrics ------------------------------------------------------------- */

  function quantiles(v) {
    const s = v.slice().sort((a, b) => a - b);
    const q = (p) => { const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };
    return [s[0], q(0.25), q(0.5), q(0.75), s[s.length - 1]];
  }

  async function viewHyper(main) {
    const st = state.hyper = state.hyper || { where: '', metric: '', agg: 'best', hyp: '', brush: '' };
    if (!st.metric || !state.spec.metrics.includes(st.metric)) st.metric = await mainMetric('') || state.spec.metrics[0];
    const numeric = state.spec.hyps.filter((x) => x.type === 'numeric').map((x) => x.name);
    if (!st.hyp || !state.spec.hyps.some((x) => x.name === st.hyp)) st.hyp = numeric[0] || (state.spec.hyps[0] || {}).name;
    const whereInput = h('input', { type: 'text', class: 'where', id: 'hyper-where', value: st.where, placeholder: '--where: the runs to plot', 'aria-label': 'where' });
    const apply = () => { st.where = whereInput.value; st.brush = ''; draw(); };
    whereInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
    main.append(h('h2', null, 'Hyperparameters against ', st.metric));
    main.append(h('div', { class: 'controls' }, whereInput, h('button', { class: 'primary', onclick: apply }, 'Plot'),
      h('label', null, 'metric', metricSelect(st.metric, (m) => { st.metric = m; rerender(); })),
      h('label', null, 'aggregate', h('select', { 'aria-label': 'aggregate', onchange: (e) => { st.agg = e.target.value; draw(); } },
        ['best', 'last', 'min', 'max', 'mean'].map((x) => h('option', { value: x, selected: x === st.agg }, x))))));
    const errBox = h('div', { id: 'hyper-error' });
    const pc = h('div', { class: 'chart', id: 'parallel' });
    const brushed = h('div', { id: 'brushed' });
    const brushInfo = h('p', { class: 'muted', id: 'brush-where' });
    main.append(errBox, h('div', { class: 'card' }, h('h3', null, 'Parallel coordinates (drag along an axis to select)'), pc,
      h('p', { class: 'muted', id: 'same-hyps' }), brushInfo, brushed));
    const scatterBox = h('div', { class: 'chart small', id: 'scatter' });
    const rhoBox = h('div', { class: 'rho', id: 'rho' });
    const hypSel = h('select', { 'aria-label': 'hyperparameter', onchange: (e) => { st.hyp = e.target.value; draw(); } },
      state.spec.hyps.map((x) => h('option', { value: x.name, selected: x.name === st.hyp }, x.name)));
    const effectBox = h('div', { id: 'effect' });
    const boxBox = h('div', { class: 'chart small', id: 'boxplot' });
    const rankBox = h('div', { class: 'chart small', id: 'ranking' });
    main.append(h('div', { class: 'row' },
      h('div', { class: 'card' }, h('div', { class: 'controls' }, h('h3', null, 'Scatter'), h('label', null, 'hyperparameter', hypSel)), scatterBox, rhoBox),
      h('div', { class: 'card' }, h('h3', null, 'What matters most: |\u03C1| with the metric'), rankBox)));
    main.append(h('div', { class: 'card' }, h('h3', null, 'Effect of the hyperparameter (groups, as dnnprov effect)'), effectBox, boxBox));

    async function showBrushed() {
      const where = andWhere(st.where, st.brush);
      brushInfo.textContent = st.brush ? 'selected by the axes: ' + st.brush : 'Drag along an axis to narrow the runs below.';
      try {
        /* The plot's runs, as compare ranks them: the trainings, not a
           pipeline's other steps. */
        const a = await api('compare', { df: state.df, metric: st.metric, agg: st.agg, where, limit: PAGE });
        clear(brushed).append(h('p', { class: 'muted', id: 'brushed-count' }, (a.total !== undefined ? a.total : a.rows.length) + ' runs'), dataTable(a, { select: selection() }));
      } catch (e) {
        clear(brushed).append(errorBox(e));
      }
    }

    async function draw() {
      clear(errBox);
      disposeCharts();
      let cmp;
      try {
        cmp = await api('compare', { df: state.df, metric: st.metric, agg: st.agg, where: st.where, limit: CHART_ROWS });
      } catch (e) {
        errBox.append(errorBox(e));
        return;
      }
      const mcol = cmp.columns[cmp.columns.length - 2]; /* "best(val_loss)"; at_epoch is last */
      /* A hyperparameter with one value in every run says nothing of the
         differences: a line under the chart instead of an axis. */
      const same = [];
      const varied = state.spec.hyps.filter((x) => {
        const vals = new Set(cmp.rows.map((r) => JSON.stringify(r[x.name] === undefined ? null : r[x.name])));
        if (vals.size > 1 || cmp.rows.length < 2) return true;
        const v = cmp.rows.length ? cmp.rows[0][x.name] : null;
        if (v !== null && v !== undefined) same.push(x.name + '=' + cellText(x.name, v));
        return false;
      });
      $('#same-hyps').textContent = same.length ? 'same in every run: ' + same.join(', ') : '';
      const axes = varied.map((x, i) => {
        const texts = [...new Set(cmp.rows.map((r) => r[x.name]).filter((v) => typeof v === 'string'))].sort();
        return x.type === 'numeric' || !texts.length ? { dim: i, name: x.name } : { dim: i, name: x.name, type: 'category', data: texts };
      });
      axes.push({ dim: axes.length, name: mcol });
      const colsOf = axes.map((a) => a.name);
      const data = cmp.rows.map((r) => ({ name: r.task, value: colsOf.map((c) => { const v = r[c]; return v === null || v === undefined ? '-' : (typeof v === 'string' && asNumber(v) === null ? v : asNumber(v)); }) }));
      const par = chart(pc, {
        parallelAxis: axes.map((a) => Object.assign({ nameLocation: 'end', nameTextStyle: { fontSize: 11 } }, a)),
        parallel: { left: 60, right: 90, top: 50, bottom: 30 },
        tooltip: { renderMode: 'richText', formatter: (p) => escapeLabel(p.name) },
        series: [{ name: 'runs', type: 'parallel', lineStyle: { width: 1.5, opacity: 0.55 }, data,
          inactiveOpacity: 0.05, activeOpacity: 1 }],
      }, cmp.rows.length > 2000 ? 'canvas' : 'svg');
      par.on('axisareaselected', () => {
        const conds = [];
        const model = par.getModel();
        axes.forEach((a, i) => {
          const ax = model.getComponent('parallelAxis', i);
          const iv = ax && ax.activeIntervals ? ax.activeIntervals : [];
          if (!iv.length) return;
          const name = i === axes.length - 1 ? mcol.replace(/^([a-z]+)\((.*)\)$/, (m0, f, m) => f + '(' + wname(m) + ')') : wname(a.name);
          if (a.type === 'category') {
            const picked = a.data.filter((_, k) => iv.some(([lo, hi]) => k >= lo && k <= hi));
            conds.push(name + ' in (' + picked.map(quote).join(', ') + ')');
          } else {
            conds.push(iv.map(([lo, hi]) => name + ' >= ' + lo + ' and ' + name + ' <= ' + hi).map((x) => iv.length > 1 ? '(' + x + ')' : x).join(' or '));
          }
        });
        st.brush = conds.map((c) => conds.length > 1 ? '(' + c + ')' : c).join(' and ');
        showBrushed();
      });
      showBrushed();
      /* Scatter, effect and the ranking: effect answers Spearman's rho. */
      const hyp = st.hyp;
      const pts = cmp.rows.map((r) => [asNumber(r[hyp]), asNumber(r[mcol]), r.task]).filter((p) => p[0] !== null && p[1] !== null && isFinite(p[0]) && isFinite(p[1]));
      chart(scatterBox, {
        tooltip: { renderMode: 'richText', formatter: (p) => escapeLabel(p.value[2] + '\n' + hyp + ' ' + fmtNum(p.value[0]) + ', ' + mcol + ' ' + fmtNum(p.value[1])) },
        grid: { left: 60, right: 20, top: 20, bottom: 45 },
        xAxis: { type: 'value', name: hyp, nameLocation: 'middle', nameGap: 28, scale: true },
        yAxis: { type: 'value', name: mcol, scale: true },
        series: [{ type: 'scatter', data: pts, symbolSize: 9 }],
      });
      let eff;
      try {
        eff = await api('effect', { df: state.df, hyp, metric: st.metric, agg: st.agg, where: st.where });
      } catch (e) {
        clear(effectBox).append(errorBox(e));
        eff = null;
      }
      if (eff) {
        const rho = eff.rows.length ? eff.rows[0].spearman : null;
        rhoBox.textContent = "Spearman's \u03C1 of " + hyp + ' with ' + mcol + ': ' + (rho === null || rho === undefined ? 'n/a' : fmtNum(Math.round(rho * 1000) / 1000)) + ' (' + pts.length + ' runs)';
        clear(effectBox).append(dataTable(eff));
        /* The distribution of each group, from the runs plotted. */
        const groups = eff.rows.map((g) => {
          const label = g[hyp];
          const m = typeof label === 'string' ? /^(\S+) \.\. (\S+)$/.exec(label) : null;
          const inGroup = (v) => m ? (v >= Number(m[1]) && v <= Number(m[2])) : (v === label || String(v) === String(label));
          const vals = cmp.rows.filter((r) => inGroup(r[hyp])).map((r) => asNumber(r[mcol])).filter((v) => v !== null && isFinite(v));
          return { label: cellText(hyp, label), vals };
        }).filter((g) => g.vals.length);
        chart(boxBox, {
          tooltip: { renderMode: 'richText' },
          grid: { left: 60, right: 20, top: 20, bottom: 45 },
          xAxis: { type: 'category', data: groups.map((g) => escapeLabel(g.label)), name: hyp, nameLocation: 'middle', nameGap: 28 },
          yAxis: { type: 'value', name: mcol, scale: true },
          series: [
            { type: 'boxplot', name: 'distribution', data: groups.map((g) => quantiles(g.vals)) },
            { type: 'scatter', name: 'runs', symbolSize: 6, itemStyle: { opacity: 0.6 }, data: groups.flatMap((g, i) => g.vals.map((v) => [i, v])) },
          ],
        });
      }
      /* The ranking: effect's rho for each numeric hyperparameter. */
      const ranks = await Promise.all(numeric.map((n) => api('effect', { df: state.df, hyp: n, metric: st.metric, agg: st.agg, where: st.where })
        .then((a) => ({ n, rho: a.rows.length ? a.rows[0].spearman : null })).catch(() => ({ n, rho: null }))));
      const ranked = ranks.filter((x) => typeof x.rho === 'number').sort((a, b) => Math.abs(b.rho) - Math.abs(a.rho));
      chart(rankBox, {
        tooltip: { renderMode: 'richText' },
        grid: { left: 120, right: 30, top: 10, bottom: 30 },
        xAxis: { type: 'value', min: 0, max: 1, name: '|\u03C1|' },
        yAxis: { type: 'category', inverse: true, data: ranked.map((x) => escapeLabel(x.n)) },
        series: [{ type: 'bar', data: ranked.map((x) => ({ value: Math.abs(x.rho), label: { show: true, position: 'right', formatter: (x.rho >= 0 ? '+' : '\u2212') + Math.abs(x.rho).toFixed(3) } })) }],
      });
    }
    await draw();
    return { refresh: draw };
  }

  /* ---- Adaptations ------------------------------------------------------------------------------- */

  async function viewAdaptations(main) {
    const st = state.adapt = state.adapt || { metric: '', window: 1, where: '', task: null };
    if (!st.metric || !state.spec.metrics.includes(st.metric)) st.metric = await mainMetric('') || state.spec.metrics[0];
    const whereInput = h('input', { type: 'text', class: 'where', value: st.where, placeholder: '--where', 'aria-label': 'where' });
    const windowInput = h('input', { type: 'number', min: 1, value: st.window, 'aria-label': 'window', class: 'narrow' });
    const apply = () => { st.where = whereInput.value; st.window = Number(windowInput.value) || 1; draw(); };
    main.append(h('h2', null, 'Adaptations'));
    main.append(h('div', { class: 'controls' }, whereInput,
      h('label', null, 'metric', metricSelect(st.metric, (m) => { st.metric = m; draw(); })),
      h('label', null, 'epochs after', windowInput), h('button', { class: 'primary', onclick: apply }, 'Show')));
    const tableBox = h('div', { id: 'adapt-table' });
    const chartBox = h('div', { class: 'chart', id: 'adapt-chart' });
    main.append(h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Each change of a hyperparameter during training, with the metric before it and the given number of epochs after; choose a row to see its run.'), tableBox));
    main.append(h('div', { class: 'card' }, chartBox));
    async function draw() {
      let a;
      try {
        a = await api('adaptations', { df: state.df, metric: st.metric, window: st.window, where: st.where });
      } catch (e) {
        clear(tableBox).append(errorBox(e));
        return;
      }
      clear(tableBox).append(dataTable(a, { onRow: (r) => { st.task = r.task; curve(); } }));
      if (!st.task || !a.rows.some((r) => r.task === st.task)) st.task = a.rows.length ? a.rows[0].task : null;
      await curve();
    }
    async function curve() {
      disposeCharts();
      if (!st.task) return;
      const { series } = await curveSeries([st.task], st.metric);
      curveChart(chartBox, series, st.metric, false);
    }
    await draw();
    return { refresh: draw };
  }

  /* ---- Query ------------------------------------------------------------------------------------- */

  /* SQL over the index's tables (docs/SQL.md), read-only and stopped at
     the server's time limit; or the --where language over the runs. */
  async function viewQuery(main) {
    const st = state.query = state.query || { mode: 'sql', text: {}, ran: false };
    const examples = {
      sql: "select s.task, s.best as best, s.best_epoch, h.OPTIMIZER_NAME, h.LEARNING_RATE\nfrom summaries s join " +
        sqlName(state.df + '_hyperparameters') + " h on h.task = s.task\nwhere s.dataflow = " + quote(state.df) +
        " and s.metric = " + quote((state.spec.metrics || [])[0] || 'loss') + "\norder by s.best limit 20",
      where: "max(val_accuracy) > 0.9 and OPTIMIZER_NAME = 'Adam'",
    };
    if (st.text[st.mode] === undefined) st.text[st.mode] = st.mode === 'sql' ? examples.sql : '';
    const text = h('textarea', { id: 'query-text', 'aria-label': 'query', rows: 6, placeholder: examples[st.mode] });
    text.value = st.text[st.mode];
    const out = h('div', { id: 'query-result' });
    const links = h('span', { class: 'controls' });
    const mode = h('select', { id: 'query-mode', 'aria-label': 'language', onchange: (e) => { st.text[st.mode] = text.value; st.mode = e.target.value; st.ran = false; render(); } },
      h('option', { value: 'sql', selected: st.mode === 'sql' }, 'SQL'),
      h('option', { value: 'where', selected: st.mode === 'where' }, '--where over the runs'));
    const run = async () => {
      st.text[st.mode] = text.value;
      st.ran = true;
      const [name, params] = st.mode === 'sql' ? ['sql', { q: text.value, df: state.df }] : ['runs', { df: state.df, where: text.value, limit: 1000 }];
      try {
        const res = await fetch(apiURL(name, params), { credentials: 'same-origin' });
        const a = await res.json();
        if (!res.ok) throw Object.assign(new Error(a.error), { parameter: a.parameter, status: res.status });
        const cut = res.headers.get('X-Dnnprov-Rows-Cut');
        clear(links).append(h('a', { class: 'button', href: apiURL(name, Object.assign({}, params, { format: 'csv' })), download: '' }, 'CSV'));
        const n = a.total !== undefined ? a.total : a.rows.length;
        clear(out).append(h('p', { class: 'muted', id: 'query-count' }, cut ? 'the first ' + cut + ' rows (add a LIMIT)' : n + ' row' + (n === 1 ? '' : 's')), dataTable(a));
      } catch (e) {
        clear(links);
        clear(out).append(errorBox(e));
      }
    };
    main.append(h('h2', null, 'Query'));
    main.append(h('div', { class: 'card' },
      h('p', { class: 'muted' }, st.mode === 'sql'
        ? 'One SQL statement over the index\u2019s tables (docs/SQL.md): read-only, stopped at the server\u2019s time limit.'
        : 'The runs an expression of the --where language selects (docs/QUERY.md).'),
      h('div', { class: 'controls' }, h('label', null, 'language', mode)),
      text, h('div', { class: 'controls' }, h('button', { class: 'primary', id: 'query-run', onclick: run }, 'Run'), links)));
    main.append(out);
    if (st.ran) await run();
    return { refresh: () => (st.ran ? run() : null) };
  }

  /* A name of SQL, quoted when it is not a plain word. */
  function sqlName(s) {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : '"' + s.replace(/"/g, '""') + '"';
  }

  /* ---- Export ------------------------------------------------------------------------------------- */

  async function viewExport(main) {
    const tasks = [...state.selected];
    main.append(h('h2', null, 'Export as W3C PROV'));
    main.append(h('div', { class: 'card' }, h('h3', null, 'The dataflow ', state.df),
      h('p', { class: 'muted' }, 'Its specification and every run, as dnnprov export writes them (docs/PROV.md).'),
      h('div', { class: 'controls' },
        h('a', { class: 'button', id: 'export-json', href: apiURL('export', { df: state.df, format: 'prov-json' }), download: '' }, 'PROV-JSON'),
        h('a', { class: 'button', id: 'export-provn', href: apiURL('export', { df: state.df, format: 'prov-n' }), download: '' }, 'PROV-N'))));
    main.append(h('div', { class: 'card' }, h('h3', null, 'Selected runs'),
      tasks.length ? h('ul', null, tasks.map((t) => h('li', null, t, ' ',
        h('a', { href: apiURL('export', { df: state.df, task: t, format: 'prov-json' }), download: '' }, 'PROV-JSON'), ' ',
        h('a', { href: apiURL('export', { df: state.df, task: t, format: 'prov-n' }), download: '' }, 'PROV-N'))))
        : h('p', { class: 'muted' }, 'Select runs in the Runs table to export them alone.')));
    return {};
  }

  /* ---- Lineage ------------------------------------------------------------------------------------ */

  /* One run's provenance (docs/LINEAGE.md): its picture, drawn by the
     module views/lineage.mjs as `dnnprov export --run --format svg` draws
     it, what it was made from (lineage --up), what was made from it
     (--down), and for each dataset it used, the runs that used the same
     one (its fingerprint: the same content, on any machine). */
  let lineageModule = null;

  async function viewLineage(main) {
    const asked = new URLSearchParams(location.hash.split('?')[1] || '').get('task');
    const metric = await mainMetric('');
    const runs = await api('runs', { df: state.df, sort: metric ? (lowerIsBetter(metric) ? '' : '-') + 'best(' + metric + ')' : '-start', limit: PAGE });
    const best = metric ? runs.rows.find((r) => r['best(' + metric + ')'] !== null) : runs.rows[0];
    const task = asked || (best || runs.rows[0] || {}).task;
    const pick = h('select', { id: 'lineage-task', 'aria-label': 'run',
      onchange: (e) => { location.hash = '#lineage?task=' + encodeURIComponent(e.target.value); } },
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
    lineageModule = lineageModule || import('/assets/views/lineage.mjs');
    const [mod, up, down] = await Promise.all([lineageModule,
      api('lineage', { df: state.df, node: task }), api('lineage', { df: state.df, node: task, down: 'true' })]);
    const cols = ['depth', 'relation', 'kind', 'transformation', 'task', 'role', 'location', 'fingerprint', 'size', 'status'];
    const table = (a) => dataTable({ columns: cols.filter((c) => a.columns.includes(c)), rows: a.rows });
    used.append(table(up));
    made.append(table(down));
    /* A dataset the run used, and every task that used it too: lineage
       --down one step from its fingerprint. */
    const inputs = up.rows.filter((r) => r.depth === 1 && r.kind === 'entity');
    const users = await Promise.all(inputs.map((r) => api('lineage', { node: r.fingerprint, down: 'true', depth: 1 })));
    const rows = [];
    inputs.forEach((e, i) => users[i].rows.filter((r) => r.kind === 'task').forEach((r) =>
      rows.push({ role: e.role, location: e.location, fingerprint: e.fingerprint, dataflow: r.dataflow, task: r.task, transformation: r.transformation })));
    shared.append(rows.length ? dataTable({ columns: ['role', 'location', 'fingerprint', 'dataflow', 'task', 'transformation'], rows },
      { rowClass: (r) => (r.task === task ? 'selected' : '') }) : h('p', { class: 'muted' }, 'The run recorded no input.'));
    await mod.lineageSection(api, state.df, task, picture);
    return {};
  }

  /* ---- routing ------------------------------------------------------------------------------------ */

  const views = { dataflows: viewDataflows, runs: viewRuns, compare: viewCompare, hyper: viewHyper, adaptations: viewAdaptations, query: viewQuery, lineage: viewLineage, export: viewExport };
  let renderSeq = 0;

  async function render() {
    const seq = ++renderSeq;
    const name = (location.hash || '#runs').slice(1).split('?')[0];
    const view = views[name] || viewRuns;
    document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === (views[name] ? name : 'runs')));
    const main = h('main', { id: 'main', 'data-view': views[name] ? name : 'runs' });
    disposeCharts();
    $('#main').replaceWith(main);
    if (!state.df && name !== 'dataflows') {
      main.append(h('p', { class: 'muted' }, 'The index holds no dataflow yet.'));
      state.view = { refresh: () => render() };
      return;
    }
    try {
      if (view !== viewRuns) await state.specReady;
      const v = await view(main);
      if (seq === renderSeq) state.view = v;
      main.setAttribute('data-ready', '1');
    } catch (e) {
      main.append(errorBox(e));
      main.setAttribute('data-ready', '1');
    }
  }

  function rerender() { return render(); }

  async function selectDataflow(df) {
    state.df = df;
    sessionStorage.setItem('df', df);
    $('#df').value = df;
    state.selected.clear();
    loadSpec().catch(() => {});
    await render();
  }

  async function start() {
    if (typeof echarts === 'undefined' || echarts.version !== ECHARTS_VERSION) {
      $('#main').textContent = 'The chart library did not load (expected ECharts ' + ECHARTS_VERSION + ').';
      return;
    }
    $('#df').addEventListener('change', (e) => selectDataflow(e.target.value));
    window.addEventListener('hashchange', render);
    try {
      await loadDataflows();
      loadSpec().catch(() => {});
    } catch (e) {
      clear($('#main')).append(errorBox(e));
    }
    await render();
    poll();
  }

  start();
})();
