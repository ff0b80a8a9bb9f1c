/*
 * stats.mjs - the little arithmetic the charts need of numbers the server
 * already chose: quartiles for a box plot, a median.
 */

/* [min, q1, median, q3, max] by linear interpolation (numbers only). */
export function quantiles(values) {
  const s = values.filter((v) => typeof v === 'number' && isFinite(v)).sort((a, b) => a - b);
  if (!s.length) return null;
  const q = (p) => {
    const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i);
    return s[lo] + (s[hi] - s[lo]) * (i - lo);
  };
  return [s[0], q(0.25), q(0.5), q(0.75), s[s.length - 1]];
}

export function median(values) {
  const q = quantiles(values);
  return q ? q[2] : null;
}
