/*
 * format.mjs - values as the page writes them.  A cell is written by the
 * kind the answer gives its column ("kinds": time, duration, integer,
 * real, metric, ...), never by the column's name.
 */

/* A number at six significant digits, exponent form only when needed. */
export function fmtNum(v) {
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

/* A duration in seconds: 12.5s, 3m05s, 2h07m, 3d04h. */
export function fmtSecs(s) {
  if (typeof s !== 'number' || !isFinite(s)) return s === null || s === undefined ? '' : String(s);
  const p = (n) => String(Math.floor(n)).padStart(2, '0');
  if (s < 60) return s.toFixed(1) + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + p(s % 60) + 's';
  if (s < 172800) return Math.floor(s / 3600) + 'h' + p((s / 60) % 60) + 'm';
  return Math.floor(s / 86400) + 'd' + p((s / 3600) % 24) + 'h';
}

/* An ISO 8601 time as the reader's local "2026-11-26 09:55:16". */
export function fmtTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
    p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
}

/* JSON's spellings of the numbers it has no literal for. */
export function asNumber(v) {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return null;
}

/* A cell's text, by its column's kind ({kind: ...} of the answer). */
export function cellText(kind, v) {
  if (v === null || v === undefined) return '';
  const k = kind && kind.kind;
  if (k === 'time' && typeof v === 'string') return fmtTime(v);
  if (k === 'duration') return fmtSecs(asNumber(v) === null ? v : asNumber(v));
  if (typeof v === 'number') return fmtNum(v);
  return String(v);
}

/* Whether a column's cells align as numbers. */
export function isNumericKind(kind) {
  const k = kind && kind.kind;
  return k === 'integer' || k === 'real' || k === 'duration' || k === 'metric' ||
    (k === 'hyperparameter' && kind.type === 'numeric');
}

/* "0.123 ± 0.004" */
export function meanStd(mean, std) {
  if (mean === null || mean === undefined) return '';
  return fmtNum(mean) + (std === null || std === undefined ? '' : ' \u00B1 ' + fmtNum(std));
}
