/*
 * main.mjs - the dnnprov dashboard: one page of views (views/*.mjs), each
 * drawn from the server's JSON API (docs/SERVE.md) and from the state in
 * the URL's fragment (state.mjs), so that a link reproduces a view and
 * the back button steps back.  The page follows the index: it asks
 * /api/changes every second and redraws the view when it changed.
 */
import { h, $, clear } from './dom.mjs';
import { api } from './api.mjs';
import { specOf } from './answer.mjs';
import { fmtTime } from './format.mjs';
import { parseHash, hashOf } from './state.mjs';
import { disposeCharts, resizeCharts } from './charts.mjs';
import { errorBox } from './ui.mjs';
import * as dataflows from '../views/dataflows.mjs';
import * as runs from '../views/runs.mjs';
import * as run from '../views/run.mjs';
import * as diff from '../views/diff.mjs';
import * as compare from '../views/compare.mjs';
import * as hyper from '../views/hyper.mjs';
import * as adaptations from '../views/adaptations.mjs';
import * as query from '../views/query.mjs';
import * as lineage from '../views/lineage.mjs';
import * as exporting from '../views/export.mjs';

const ECHARTS_VERSION = '6.1.0';
const POLL_MS = 1000;
const SPEC_EVERY_MS = 10000;

const views = { dataflows, runs, run, diff, compare, hyper, adaptations, query, lineage, export: exporting };
/* The page of the navigation each view belongs to. */
const navOf = { run: 'runs' };

const app = {
  df: null,
  dataflows: [],
  spec: null,       /* specOf(describe) of app.df, once read */
  specReady: null,  /* the promise of it */
  specAt: 0,
  change: null,
  view: null,       /* the view shown: {refresh()} */
  renderSeq: 0,
};

/* ---- the dataflow and its specification ---------------------------------------------------- */

async function loadDataflows() {
  const a = await api('dataflows');
  app.dataflows = a.rows.map((r) => r.dataflow);
  const sel = clear($('#df'));
  app.dataflows.forEach((d) => sel.append(h('option', { value: d }, d)));
}

/* describe counts every task: at 100,000 runs it is the slow call of the
 * page, so no view waits for it unless it needs it. */
function loadSpec(df) {
  app.specAt = Date.now();
  app.specReady = api('describe', { df }).then((a) => (app.spec = specOf(a)), () => (app.spec = null));
  return app.specReady;
}

/* ---- the URL ------------------------------------------------------------------------------- */

/* Goes to a view with its state: a new entry of the history, or (replace)
 * the current one changed in place. */
export function navigate(view, params, replace) {
  const hash = hashOf(view, Object.assign({ df: app.df }, params));
  if (hash === location.hash) return render();
  if (replace) {
    history.replaceState(null, '', hash);
    return render();
  }
  location.hash = hash; /* hashchange renders */
  return null;
}

/* ---- live updates ---------------------------------------------------------------------------- */

function showFreshness(index) {
  const live = $('#live'), note = $('#note');
  if (!index) {
    live.className = 'live off';
    live.textContent = 'no index';
    return;
  }
  live.className = 'live on';
  live.textContent = 'live \u00B7 indexer ' + index.indexer + (index.last_commit ? ' \u00B7 last commit ' + fmtTime(index.last_commit) : '');
  const lines = [];
  if (index.behind_bytes && index.indexer !== 'running')
    lines.push('index: behind its logs by ' + index.behind_segments + ' segment(s) (' + index.behind_bytes +
      ' bytes not indexed) and no indexer is running: run `dnnprov index`');
  if (index.problems) lines.push('index: ' + index.problems + ' problem(s) skipped in the logs (`dnnprov index --status` lists them)');
  note.hidden = !lines.length;
  note.textContent = lines.join('\n');
}

async function poll() {
  try {
    const a = await api('changes');
    showFreshness(a.index);
    if (app.change !== null && a.change !== app.change) {
      app.change = a.change;
      /* The view first: the specification (every task read) follows. */
      if (app.view && app.view.refresh) await app.view.refresh();
      if (Date.now() - app.specAt > SPEC_EVERY_MS) loadDataflows().then(() => loadSpec(app.df), () => {});
    }
    app.change = a.change;
  } catch (e) {
    const live = $('#live');
    live.className = 'live off';
    live.textContent = e.status === 503 ? 'no index: ' + e.message : 'server unreachable';
    app.change = '';
  }
  setTimeout(poll, POLL_MS);
}

/* ---- drawing a view -------------------------------------------------------------------------- */

async function render() {
  const seq = ++app.renderSeq;
  const { view: asked, params } = parseHash(location.hash);
  const name = views[asked] ? asked : 'runs';
  /* The dataflow of the URL, else the one chosen before, else the first. */
  const want = params.df || sessionStorage.getItem('df');
  const df = app.dataflows.includes(want) ? want : app.dataflows[0] || null;
  if (df !== app.df) {
    app.df = df;
    app.spec = null;
    if (df) loadSpec(df);
  }
  if (df) sessionStorage.setItem('df', df);
  $('#df').value = df || '';
  if (df && params.df !== df) {
    /* The URL says the dataflow, so that it can be shared. */
    params.df = df;
    history.replaceState(null, '', hashOf(name, params));
  }
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === (navOf[name] || name)));
  const main = h('main', { id: 'main', 'data-view': name });
  disposeCharts();
  $('#main').replaceWith(main);
  if (!df && name !== 'dataflows') {
    main.append(h('p', { class: 'muted' }, 'The index holds no dataflow yet.'));
    app.view = { refresh: () => render() };
    main.setAttribute('data-ready', '1');
    return;
  }
  const ctx = {
    main, df, params,
    get spec() { return app.spec; },
    specReady: () => app.specReady || Promise.resolve(null),
    go: (view, p, replace) => navigate(view, p, replace),
    set: (patch, replace) => navigate(name, Object.assign({}, params, patch), replace),
    /* Keeps a change in the URL without drawing the view again (a ticked
     * run): the link stays true, the back button skips it. */
    remember: (patch) => {
      Object.assign(params, patch);
      history.replaceState(null, '', hashOf(name, params));
    },
    stale: () => seq !== app.renderSeq,
  };
  try {
    const v = await views[name].render(ctx);
    if (seq === app.renderSeq) app.view = v || {};
  } catch (e) {
    main.append(errorBox(e));
  }
  if (seq === app.renderSeq) main.setAttribute('data-ready', '1');
}

async function start() {
  if (typeof echarts === 'undefined' || echarts.version !== ECHARTS_VERSION) {
    $('#main').textContent = 'The chart library did not load (expected ECharts ' + ECHARTS_VERSION + ').';
    return;
  }
  $('#df').addEventListener('change', (e) => {
    const { view } = parseHash(location.hash);
    app.df = null; /* read again */
    location.hash = hashOf(views[view] && view !== 'run' ? view : 'runs', { df: e.target.value });
  });
  window.addEventListener('hashchange', render);
  window.addEventListener('resize', resizeCharts);
  try {
    await loadDataflows();
  } catch (e) {
    clear($('#main')).append(errorBox(e));
  }
  await render();
  poll();
}

start();
