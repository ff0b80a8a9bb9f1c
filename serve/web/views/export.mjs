/*
 * export.mjs - the dataflow, or chosen runs, as W3C PROV (`dnnprov
 * export`, docs/PROV.md).
 *
 * URL: #export?df=&task=&task=
 */
import { h, card } from '../js/dom.mjs';
import { apiURL } from '../js/api.mjs';
import { taskLink } from '../js/ui.mjs';

export async function render(ctx) {
  const { main, df, params } = ctx;
  const tasks = params.task || [];
  main.append(h('h2', null, 'Export as W3C PROV'));
  main.append(card('The dataflow ' + df,
    h('p', { class: 'muted' }, 'Its specification and every run, as dnnprov export writes them (docs/PROV.md).'),
    h('div', { class: 'controls' },
      h('a', { class: 'button', id: 'export-json', href: apiURL('export', { df, format: 'prov-json' }), download: '' }, 'PROV-JSON'),
      h('a', { class: 'button', id: 'export-provn', href: apiURL('export', { df, format: 'prov-n' }), download: '' }, 'PROV-N'))));
  main.append(card('Chosen runs',
    tasks.length ? h('ul', null, tasks.map((t) => h('li', null, taskLink(df, t), ' ',
      h('a', { href: apiURL('export', { df, task: t, format: 'prov-json' }), download: '' }, 'PROV-JSON'), ' ',
      h('a', { href: apiURL('export', { df, task: t, format: 'prov-n' }), download: '' }, 'PROV-N'))))
      : h('p', { class: 'muted' }, 'Tick runs in the Runs table and choose \u201cExport selected\u201d; a run\u2019s own page links to its export too.')));
  return {};
}
