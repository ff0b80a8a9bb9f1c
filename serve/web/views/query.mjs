/*
 * query.mjs - SQL over the index's tables (docs/SQL.md), read-only and
 * stopped at the server's time limit; or the --where language over the
 * runs.  The statement is in the URL once run, so a link runs it again.
 *
 * URL: #query?df=&mode=sql|where&q=
 */
import { h, clear, card } from '../js/dom.mjs';
import { apiURL, apiWithHeaders } from '../js/api.mjs';
import { dataTable } from '../js/table.mjs';
import { quote } from '../js/where.mjs';
import { errorBox, runHref } from '../js/ui.mjs';

/* A name of SQL, quoted when it is not a plain word. */
export function sqlName(s) {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : '"' + String(s).replace(/"/g, '""') + '"';
}

export function sqlExample(df, metric) {
  return 'select s.task, s.best as best, s.best_epoch, h.OPTIMIZER_NAME, h.LEARNING_RATE\nfrom summaries s join ' +
    sqlName(df + '_hyperparameters') + ' h on h.task = s.task\nwhere s.dataflow = ' + quote(df) +
    ' and s.metric = ' + quote(metric || 'loss') + '\norder by s.best limit 20';
}

export async function render(ctx) {
  const { main, df, params } = ctx;
  const spec = await ctx.specReady();
  const mode = params.mode === 'where' ? 'where' : 'sql';
  const examples = { sql: sqlExample(df, spec && spec.metrics[0]), where: "max(val_accuracy) > 0.9 and OPTIMIZER_NAME = 'Adam'" };
  const text = h('textarea', { id: 'query-text', 'aria-label': 'query', rows: 6, placeholder: examples[mode] });
  text.value = params.q !== undefined ? params.q : mode === 'sql' ? examples.sql : '';
  const out = h('div', { id: 'query-result' });
  const links = h('span', { class: 'controls' });
  const modeSel = h('select', { id: 'query-mode', 'aria-label': 'language', onchange: (e) => ctx.set({ mode: e.target.value === 'where' ? 'where' : '', q: '' }) },
    h('option', { value: 'sql', selected: mode === 'sql' }, 'SQL'),
    h('option', { value: 'where', selected: mode === 'where' }, '--where over the runs'));
  main.append(h('h2', null, 'Query'));
  main.append(card(null,
    h('p', { class: 'muted' }, mode === 'sql'
      ? 'One SQL statement over the index\u2019s tables (docs/SQL.md): read-only, stopped at the server\u2019s time limit.'
      : 'The runs an expression of the --where language selects (docs/QUERY.md).'),
    h('div', { class: 'controls' }, h('label', null, 'language', modeSel)),
    text, h('div', { class: 'controls' }, h('button', { class: 'primary', id: 'query-run', onclick: () => ctx.set({ q: text.value }) }, 'Run'), links)));
  main.append(out);

  async function run() {
    if (params.q === undefined) return;
    const [name, q] = mode === 'sql' ? ['sql', { q: params.q, df }] : ['runs', { df, where: params.q, limit: 1000 }];
    try {
      const { body: a, headers } = await apiWithHeaders(name, q);
      if (ctx.stale()) return;
      const cut = headers.get('X-Dnnprov-Rows-Cut');
      clear(links).append(h('a', { class: 'button', href: apiURL(name, Object.assign({}, q, { format: 'csv' })), download: '' }, 'CSV'));
      const n = a.total !== undefined ? a.total : a.rows.length;
      clear(out).append(h('p', { class: 'muted', id: 'query-count' }, cut ? 'the first ' + cut + ' rows (add a LIMIT)' : n + ' row' + (n === 1 ? '' : 's')),
        dataTable(a, a.columns.includes('task') ? { taskCol: 'task', taskHref: (id) => runHref(df, id) } : {}));
    } catch (e) {
      clear(links);
      clear(out).append(errorBox(e));
    }
  }

  await run();
  return { refresh: run };
}
