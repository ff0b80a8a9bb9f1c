/*
 * state.mjs - a view's whole state in the URL's fragment, so that a link
 * reopens what its sender saw and the browser's back button steps back:
 *
 *   #runs?df=torch-digits&where=...&metric=val_loss&sort=-best(val_loss)&page=2&by=OPTIMIZER_NAME&sel=A&sel=B
 *
 * A parameter given several times (sel, task) is a list.  Empty values
 * are left out, so that the default state has the shortest link.
 */

/* {view, params}: params maps a name to its value, or to a list of values
 * for the names in `lists`. */
export function parseHash(hash, lists = ['sel', 'task']) {
  const h = String(hash || '').replace(/^#/, '');
  const q = h.indexOf('?');
  const view = (q < 0 ? h : h.slice(0, q)) || '';
  const search = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  const params = {};
  for (const key of new Set(search.keys())) {
    const all = search.getAll(key);
    params[key] = lists.includes(key) ? all : all[all.length - 1];
  }
  for (const l of lists) if (!params[l]) params[l] = [];
  return { view, params };
}

/* The fragment of a view and its params (in the order given). */
export function hashOf(view, params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    if (Array.isArray(v)) v.forEach((x) => search.append(k, String(x)));
    else search.append(k, v === true ? '1' : String(v));
  }
  const s = search.toString();
  return '#' + view + (s ? '?' + s : '');
}

/* The params with some changed (a value of undefined or '' removes one). */
export function withParams(params, patch) {
  const out = Object.assign({}, params);
  for (const [k, v] of Object.entries(patch || {})) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) delete out[k];
    else out[k] = v;
  }
  return out;
}

/* A positive page number from a param (1 when absent or not a number). */
export function pageOf(params) {
  const n = Number.parseInt(params.page, 10);
  return Number.isFinite(n) && n >= 1 ? n : 1;
}
