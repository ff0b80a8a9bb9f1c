/*
 * api.mjs - the server's JSON API (docs/SERVE.md): every question of the
 * registry at /api/NAME, and export, SQL and the change key.
 */

/* /api/NAME?PARAMS; empty values left out, a list repeated. */
export function apiURL(name, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return '/api/' + name + (s ? '?' + s : '');
}

/* An error of the API: its message, the parameter it is about, and for an
 * unknown task the ids it may have meant ("did_you_mean"). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || String(status));
    this.status = status;
    this.parameter = (body && body.parameter) || null;
    this.didYouMean = (body && body.did_you_mean) || [];
  }
}

/* The answer of /api/NAME, or an ApiError; a 401 goes to the login. */
export async function api(name, params) {
  const res = await fetch(apiURL(name, params), { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = { error: res.status + ' ' + res.statusText };
  }
  if (!res.ok) {
    if (res.status === 401 && typeof location !== 'undefined') location.href = '/login';
    throw new ApiError(res.status, body);
  }
  return body;
}

/* The same, with the response's headers (SQL says a cut in one). */
export async function apiWithHeaders(name, params) {
  const res = await fetch(apiURL(name, params), { credentials: 'same-origin' });
  const body = await res.json().catch(() => ({ error: res.status + ' ' + res.statusText }));
  if (!res.ok) throw new ApiError(res.status, body);
  return { body, headers: res.headers };
}
