// Shared helpers of the dashboard: the API client, a small DOM builder, formatting, hash
// routes, tables and downloads. No framework and no build step.

export const STATES = ['PENDING', 'LEASED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

// ---- API -----------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Query string from an object, leaving out empty values.
export function qs(params) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    out.set(k, String(v));
  }
  const s = out.toString();
  return s ? '?' + s : '';
}

// URL of an API path (relative, so the dashboard also works behind a path prefix).
export function apiUrl(path, params) { return 'api/v1/' + path + qs(params); }

// ---- Token (DESIGN §10 auth) ------------------------------------------------------------------
// A server started with --auth-file answers 401 without a bearer token: the page then asks for
// one once, keeps it in this browser (localStorage) and sends it with every API call and
// download. "Forget token" in the header removes it.

const TOKEN_KEY = 'qlab.token';

export function storedToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function forgetToken() {
  try { localStorage.removeItem(TOKEN_KEY); } catch { /* private mode */ }
}

function authHeaders(extra) {
  const token = storedToken();
  return token ? { ...extra, Authorization: 'Bearer ' + token } : { ...extra };
}

// One prompt at a time, however many calls were refused together.
let tokenPrompt = null;

function askForToken(reason) {
  if (tokenPrompt) return tokenPrompt;
  tokenPrompt = new Promise((resolve) => {
    const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', placeholder: 'qlab_…', required: true });
    const form = h('form', { id: 'token-form', class: 'token-form', role: 'dialog', 'aria-label': 'Token' },
      h('h2', {}, 'This qlab server needs a token'),
      h('p', { class: 'muted' }, reason),
      h('p', { class: 'muted' }, 'Ask its admin for one (qlab-server token create --role viewer). It is kept in this browser only.'),
      labelled('Token ', input),
      h('button', { type: 'submit' }, 'Use token'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      try { localStorage.setItem(TOKEN_KEY, input.value.trim()); } catch { /* private mode: this page only */ }
      form.remove();
      tokenPrompt = null;
      resolve();
    });
    document.body.append(form);
    input.focus();
  });
  return tokenPrompt;
}

async function authorizedFetch(url, { signal, headers } = {}) {
  for (;;) {
    const res = await fetch(url, { signal, headers: authHeaders(headers) });
    if (res.status !== 401) return res;
    let reason = 'The server refused the request.';
    try { reason = (await res.json()).error || reason; } catch { /* not JSON */ }
    await askForToken(storedToken() ? `The stored token was refused: ${reason}.` : `${reason}.`);
  }
}

// The answer's text, or an ApiError naming the server's error (its JSON "error" when it has one).
async function apiFetch(path, params, signal, accept) {
  let res;
  try {
    res = await authorizedFetch(apiUrl(path, params), { signal, headers: { Accept: accept } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'the server cannot be reached (' + e.message + ')');
  }
  const text = await res.text();
  if (!res.ok) {
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  return text;
}

export async function api(path, params, { signal } = {}) {
  const text = await apiFetch(path, params, signal, 'application/json');
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(200, 'the server answered with something that is not JSON');
  }
}

// A route that answers text (a job attempt's log).
export async function apiText(path, params, { signal } = {}) {
  return apiFetch(path, params, signal, 'text/plain');
}

// Metric names of a join (DESIGN §10 "Joins"), as the server names them: a name both
// experiments have is written "A:name" / "B:name" with their names, any other stays plain;
// A's names first.
export function joinedMetricNames(a, metricsA, b, metricsB) {
  const inA = new Set(metricsA), inB = new Set(metricsB);
  return [...metricsA.map((m) => (inB.has(m) ? `${a}:${m}` : m)), ...metricsB.map((m) => (inA.has(m) ? `${b}:${m}` : m))];
}

// ---- DOM -----------------------------------------------------------------------------------

// h('a', {href: '#/x', class: 'y'}, 'text', child, [more children]) — text is never parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

export function select(attrs, options, current) {
  return h('select', attrs, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: String(value) === String(current ?? '') }, label);
  }));
}

export function labelled(text, control, cls) { return h('label', { class: cls }, text, control); }

// ---- formatting ----------------------------------------------------------------------------

export function fmtNum(v) {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v !== 'number') return String(v);
  if (Number.isNaN(v)) return '';
  if (!isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e12) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

export function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtDuration(startMs, endMs) {
  if (!startMs || !endMs) return '';
  const ms = endMs - startMs;
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtBytes(b) {
  if (!b) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${b.toFixed(b < 10 && i ? 1 : 0)} ${units[i]}`;
}

export function fmtValue(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return fmtNum(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

// "a=1, b=x" for a params or metrics object.
export function fmtPairs(obj) {
  if (!obj || typeof obj !== 'object') return '';
  return Object.entries(obj).map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ');
}

export function badge(state) { return h('span', { class: 'badge ' + state }, state); }

// An environment key as the pages show it: its first 8 characters, each side of a joined
// "A+B" key on its own; a key nobody reported is "(none)".
export function shortKey(key) {
  return String(key || '').split('+').map((k) => k.slice(0, 8) || '(none)').join('+');
}

// ---- routes --------------------------------------------------------------------------------

// '#/jobs?state=FAILED' -> {name: 'jobs', args: [], query: URLSearchParams}
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const qi = raw.indexOf('?');
  const path = qi < 0 ? raw : raw.slice(0, qi);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'experiments', args: parts.slice(1), query: new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1)) };
}

export function hashFor(name, query, ...args) {
  return '#/' + [name, ...args.map(encodeURIComponent)].join('/') + qs(query);
}

export function go(name, query, ...args) { location.hash = hashFor(name, query, ...args); }

// ---- tables and downloads ------------------------------------------------------------------

// columns: [{label, get: row => node|string, num: bool, title: row => string}]
export function table(columns, rows, { rowAttrs, id, empty = 'Nothing here yet.' } = {}) {
  if (!rows.length) return h('p', { class: 'muted', 'data-empty': '' }, empty);
  return h('div', { class: 'scroll' }, h('table', { class: 'data', id },
    h('thead', null, h('tr', null, columns.map((c) => h('th', { title: c.help, class: c.num ? 'num' : undefined }, c.label)))),
    h('tbody', null, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : null, columns.map((c) => {
      const v = c.get(r);
      return h('td', { class: (c.num ? 'num ' : '') + (c.cls || ''), title: c.title ? c.title(r) : undefined }, v);
    }))))));
}

function csvCell(v) {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c[0])).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvCell(c[1](r))).join(','));
  return lines.join('\n') + '\n';
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// A link that saves text made here from a complete (unpaged) API list.
export function blobLink(label, filename, type, makeText) {
  return h('a', {
    href: '#', download: filename, 'data-download': label,
    onclick: (ev) => { ev.preventDefault(); saveBlob(new Blob([makeText()], { type }), filename); },
  }, label);
}

// A link to an API URL that downloads what it returns. A plain link cannot carry the token, so
// with one stored the click fetches with it and saves the answer.
export function apiLink(label, url, filename) {
  return h('a', {
    href: url, download: filename || '', 'data-download': label,
    onclick: async (ev) => {
      if (!storedToken()) return;  // an open server: the browser downloads the link itself
      ev.preventDefault();
      const res = await authorizedFetch(url);
      if (!res.ok) { alert(`Download failed: HTTP ${res.status}`); return; }
      saveBlob(await res.blob(), filename || 'download');
    },
  }, label);
}

// Download links to API URLs: the server streams every matching row.
export function downloads(...links) {
  return h('div', { class: 'downloads' }, h('span', { class: 'muted' }, 'Download:'),
    links.filter(Boolean).map((l) => (l instanceof Node ? l : apiLink(l.label, l.url, l.filename))));
}

export function errorBox(e) { return h('p', { class: 'error', role: 'alert' }, e && e.message ? e.message : String(e)); }

// Combines filter expressions with AND; each part is parenthesised.
export function andFilters(...parts) {
  const p = parts.map((x) => (x || '').trim()).filter(Boolean);
  if (p.length <= 1) return p[0] || '';
  return p.map((x) => `(${x})`).join(' and ');
}

// 'e2m1, nf4' -> 'params.datatype in ("e2m1", "nf4")'; one value -> '= "e2m1"'.
export function listFilter(field, text) {
  const values = (text || '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!values.length) return '';
  const q = (s) => (/^-?\d+(\.\d+)?$/.test(s) ? s : JSON.stringify(s));
  return values.length === 1 ? `${field} = ${q(values[0])}` : `${field} in (${values.map(q).join(', ')})`;
}

// ---- small statistics ----------------------------------------------------------------------

export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function describe(values) {
  const v = values.filter((x) => typeof x === 'number' && isFinite(x)).sort((a, b) => a - b);
  return { n: v.length, min: v[0], p10: quantile(v, 0.1), median: quantile(v, 0.5), p90: quantile(v, 0.9), max: v[v.length - 1] };
}
