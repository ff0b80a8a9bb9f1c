/*
 * dom.mjs - building the page.  Everything from the logs (task ids,
 * hyperparameter values, messages) reaches it as text: attributes and
 * text nodes, never markup; the server's Content-Security-Policy forbids
 * inline script and inline style besides.
 */

/* An element with attributes (set as attributes or listeners, never as
 * markup) and children (nodes, or text). */
export function h(tag, attrs, ...children) {
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

export const $ = (sel) => document.querySelector(sel);

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/* A card: a titled box of the page. */
export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h3', null, title) : null, ...children);
}
