/*
 * where.mjs - pieces of the --where language (docs/QUERY.md) the page
 * writes: a name, a text literal, conditions joined.
 */

/* A name of the --where language: back quotes when it is not a plain word. */
export function wname(s) {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(s) ? s : '`' + String(s).replace(/`/g, '``') + '`';
}

/* A text literal of the --where language. */
export function quote(s) {
  return "'" + String(s).replace(/'/g, "''") + "'";
}

/* Conditions joined with and, each in parentheses when there are several. */
export function andWhere(...parts) {
  const p = parts.filter((x) => x && String(x).trim());
  return p.length > 1 ? p.map((x) => '(' + x + ')').join(' and ') : p[0] || '';
}
