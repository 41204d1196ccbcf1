// What the chart pages share: the vendored Chart.js, loaded on first use, an HTML tooltip,
// scatter options, metric defaults and grouping.
import { api, h, clear } from './core.js';

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1',
  '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#17becf'];
export const FRONTIER = '#111';

let chartLib = null;
export function loadChart() {
  if (window.Chart) return Promise.resolve(window.Chart);
  chartLib = chartLib || new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = 'vendor/chart.umd.min.js';
    s.onload = () => resolve(window.Chart);
    s.onerror = () => { chartLib = null; reject(new Error('could not load vendor/chart.umd.min.js')); };
    document.head.append(s);
  });
  return chartLib;
}

// ---- shared chart plumbing -----------------------------------------------------------------

const tip = () => document.getElementById('tooltip');
export function hideTip() { const t = tip(); if (t) t.hidden = true; }

// Chart.js draws its tooltip on the canvas; this one is HTML, so it can show any number of
// params and tests can read it.
export function htmlTooltip(linesFor) {
  return (context) => {
    const el = tip();
    const t = context.tooltip;
    if (!t || t.opacity === 0 || !t.dataPoints || !t.dataPoints.length) { el.hidden = true; return; }
    clear(el, linesFor(t.dataPoints[0]));
    el.hidden = false;
    const rect = context.chart.canvas.getBoundingClientRect();
    let left = rect.left + t.caretX + 14, top = rect.top + t.caretY + 14;
    const w = el.offsetWidth, hgt = el.offsetHeight;
    if (left + w > window.innerWidth - 8) left = rect.left + t.caretX - w - 14;
    if (top + hgt > window.innerHeight - 8) top = rect.top + t.caretY - hgt - 14;
    el.style.left = `${Math.max(4, left)}px`;
    el.style.top = `${Math.max(4, top)}px`;
  };
}

export function axisType(log, values) { return log && values.every((v) => v > 0) ? 'logarithmic' : 'linear'; }

export function scatterOptions({ xTitle, yTitle, xLog, yLog, tooltip, onClickPoint }) {
  return {
    animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
    interaction: { mode: 'nearest', intersect: true },
    scales: {
      x: { type: xLog, title: { display: true, text: xTitle } },
      y: { type: yLog, title: { display: true, text: yTitle } },
    },
    plugins: {
      legend: { position: 'bottom', labels: { boxWidth: 10 } },
      tooltip: { enabled: false, external: htmlTooltip(tooltip) },
      decimation: { enabled: false },
    },
    onClick: (ev, elements, chart) => {
      if (!elements.length || !onClickPoint) return;
      const e = elements[0];
      onClickPoint(chart.data.datasets[e.datasetIndex].data[e.index]);
    },
  };
}

export function chartBox(id, cls = '') {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': id });
  return { box: h('div', { class: 'chart ' + cls }, canvas), canvas };
}

// `base` maps a name to the one the preferences list: a join's "A:mse" is an "mse".
export function metricDefaults(metrics, base = (m) => m) {
  const useful = metrics.filter((m) => base(m) !== 'duration_ms');
  const preferred = (pref, not) => metrics.find((m) => base(m) === pref && m !== not);
  const pick = (prefs, not) => prefs.map((p) => preferred(p, not)).find(Boolean) || useful.find((m) => m !== not) || metrics.find((m) => m !== not) || '';
  const x = pick(['bits_per_weight', 'median_us', 'tokens_per_s']);
  const y = pick(['mse', 'sqnr_db', 'perplexity', 'max_abs_err'], x);
  return { x, y };
}

export function colourParamDefault(keys) {
  return ['datatype', 'device', 'label', 'model'].find((k) => keys.includes(k)) || '';
}

export function groupBy(items, keyOf) {
  const groups = new Map();
  for (const it of items) {
    const k = keyOf(it);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(it);
  }
  return [...groups.entries()].sort((a, b) => String(a[0]).localeCompare(String(b[0]), undefined, { numeric: true }));
}

export async function experimentNames(ctx) {
  const list = await api('experiments', null, ctx);
  list.sort((a, b) => (b.created_unix_ms || 0) - (a.created_unix_ms || 0) || b.id - a.id);
  return list;
}


// Starts a request now and marks it handled, so that one awaited later never counts as an
// unhandled rejection in between.
export function early(promise) { promise.catch(() => {}); return promise; }
