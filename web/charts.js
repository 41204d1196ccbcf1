// The chart pages: latency and compare, the Pareto page (pareto.js) and the study page
// (study.js). Loaded on first use together with the vendored Chart.js
// (vendor/chart.umd.min.js), so the table pages never pay for it.
import {
  api, apiUrl, h, clear, select, labelled, fmtNum, fmtValue, fmtPairs, go, hashFor, table,
  downloads, describe, errorBox, shortKey,
} from './core.js';
import {
  PALETTE, loadChart, hideTip, htmlTooltip, scatterOptions, chartBox, metricDefaults, groupBy,
  experimentNames, early,
} from './chart_kit.js';
import { paretoPage } from './pareto.js';
import { studyPage } from './study.js';

// ---- latency -------------------------------------------------------------------------------

// Histogram of positive values on shared log-spaced bins: [{x: bin centre, y: count}] per series.
function logHistogram(seriesValues, bins = 30) {
  const all = seriesValues.flat().filter((v) => v > 0 && isFinite(v));
  if (!all.length) return seriesValues.map(() => []);
  let lo = Math.log10(Math.min(...all)), hi = Math.log10(Math.max(...all));
  if (hi - lo < 1e-9) { lo -= 0.05; hi += 0.05; }
  const width = (hi - lo) / bins;
  return seriesValues.map((values) => {
    const counts = new Array(bins).fill(0);
    for (const v of values) {
      if (!(v > 0)) continue;
      counts[Math.min(bins - 1, Math.floor((Math.log10(v) - lo) / width))]++;
    }
    return counts.map((c, i) => ({ x: 10 ** (lo + (i + 0.5) * width), y: c }));
  });
}

function ranks(values) {
  const idx = values.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const r = new Array(values.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function spearman(a, b) {
  if (a.length < 2) return NaN;
  const ra = ranks(a), rb = ranks(b);
  const mean = (ra.length + 1) / 2;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i] - mean) * (rb[i] - mean);
    da += (ra[i] - mean) ** 2;
    db += (rb[i] - mean) ** 2;
  }
  return num / Math.sqrt(da * db);
}

function statsColumns() {
  return [
    { label: 'n', num: true, get: (r) => fmtNum(r.n) },
    { label: 'min', num: true, get: (r) => fmtNum(r.min) },
    { label: 'p10', num: true, get: (r) => fmtNum(r.p10) },
    { label: 'median', num: true, get: (r) => fmtNum(r.median) },
    { label: 'p90', num: true, get: (r) => fmtNum(r.p90) },
    { label: 'max', num: true, get: (r) => fmtNum(r.max) },
  ];
}

function histogramChart(Chart, canvas, names, histos, xTitle) {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: names.map((n, i) => ({ label: n, data: histos[i], borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length], pointRadius: 0, pointHitRadius: 6, stepped: 'middle', borderWidth: 1.5 })) },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      interaction: { mode: 'nearest', intersect: false },
      scales: { x: { type: 'logarithmic', title: { display: true, text: xTitle } }, y: { beginAtZero: true, title: { display: true, text: 'count' } } },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 10 } },
        tooltip: { enabled: false, external: htmlTooltip((dp) => [h('div', null, h('b', null, dp.dataset.label)), h('div', null, `≈ ${fmtNum(dp.raw.x)}: ${dp.raw.y}`)]) } },
    },
  });
}

async function latencyPage(el, route, ctx) {
  const q = route.query;
  const chartP = early(loadChart());
  let Chart = null;
  const charts = [];
  const devicesPart = h('section', { id: 'latency-devices' });
  const expPart = h('section', { id: 'latency-experiment' });
  clear(el, h('h1', null, 'Latency'), devicesPart, expPart);

  async function loadDevices() {
    const devices = await api('latency/devices', null, ctx);
    const content = [h('h2', null, 'Distribution per device (latency sample sets)')];
    if (!devices.length) {
      content.push(h('p', { class: 'muted', 'data-empty': '' }, 'No latency sample sets yet: latency jobs store them.'));
      clear(devicesPart, content);
      return;
    }
    const shown = devices.slice(0, PALETTE.length);
    const sets = await Promise.all(shown.map((d) => api('latency', { device: d.device }, ctx)));
    Chart = await chartP;
    const medians = sets.map((rows) => rows.map((r) => r.median_us));
    const { box, canvas } = chartBox('latency-devices-chart', 'small');
    const stats = shown.map((d, i) => ({ device: d.device, count: d.count, unstable: sets[i].filter((r) => r.unstable).length, ...describe(medians[i]) }));
    content.push(box,
      table([{ label: 'Device', get: (r) => r.device }, { label: 'Sets', num: true, get: (r) => fmtNum(r.count) },
        ...statsColumns().slice(1), { label: 'Unstable', num: true, get: (r) => fmtNum(r.unstable) },
        { label: '', get: (r) => h('a', { href: apiUrl('latency', { device: r.device, format: 'csv' }), download: `latency-${r.device}.csv` }, 'CSV') }],
      stats, { id: 'latency-device-stats', rowAttrs: (r) => ({ 'data-device': r.device }) }),
      devices.length > shown.length ? h('p', { class: 'muted' }, `${devices.length - shown.length} more devices in the download.`) : null,
      downloads({ label: 'CSV', url: apiUrl('latency', { format: 'csv' }), filename: 'latency.csv' }, { label: 'JSON', url: apiUrl('latency', { format: 'json' }), filename: 'latency.json' }));
    clear(devicesPart, content);
    charts.push(histogramChart(Chart, canvas, shown.map((d) => d.device), logHistogram(medians), 'median latency (µs), log bins'));
  }

  async function loadExperiment() {
    const experiments = await experimentNames(ctx);
    const content = [h('h2', null, 'Measured vs predicted')];
    if (!experiments.length) { clear(expPart, content, h('p', { class: 'muted', 'data-empty': '' }, 'No experiments yet.')); return; }
    const details = q.get('experiment') ? null : await Promise.all(experiments.slice(0, 20).map((e) => api(`experiments/${encodeURIComponent(e.name)}`, null, ctx)));
    const withPred = details && details.find((e) => (e.metric_names || []).some((m) => /pred/i.test(m)));
    const name = q.get('experiment') || (withPred || experiments[0]).name;
    const exp = (details && details.find((e) => e.name === name)) || await api(`experiments/${encodeURIComponent(name)}`, null, ctx);
    const metrics = exp.metric_names || [];
    const keys = exp.param_keys || [];
    const predicted = q.get('predicted') || metrics.find((m) => /pred/i.test(m)) || '';
    const measured = q.get('measured') || ['median_us', 'latency_us', 'mean_us'].find((m) => metrics.includes(m)) || metrics.find((m) => m !== predicted && m !== 'duration_ms') || '';
    const group = q.has('group') ? q.get('group') : ['device', 'label'].find((k) => keys.includes(k)) || '';
    const set = (patch) => go('latency', { experiment: name, measured, predicted, group, ...patch });
    content.push(h('form', { class: 'toolbar', id: 'latency-controls' },
      labelled('Experiment', select({ name: 'experiment', onchange: (e) => go('latency', { experiment: e.target.value }) }, experiments.map((e) => e.name), name)),
      labelled('Measured', select({ name: 'measured', onchange: (e) => set({ measured: e.target.value }) }, metrics, measured)),
      labelled('Predicted', select({ name: 'predicted', onchange: (e) => set({ predicted: e.target.value }) }, [['', 'none'], ...metrics], predicted)),
      labelled('Group by', select({ name: 'group', onchange: (e) => set({ group: e.target.value }) }, [['', 'none'], ...keys], group))));
    if (!measured) { clear(expPart, content, h('p', { class: 'muted', 'data-empty': '' }, 'This experiment has no metrics yet.')); return; }
    const rows = await api(`experiments/${encodeURIComponent(name)}/results`, { format: 'json', filter: `metrics.${measured} exists` }, ctx);
    Chart = await chartP;
    const groups = groupBy(rows.filter((r) => r.metrics && typeof r.metrics[measured] === 'number'), (r) => (group ? fmtValue((r.params || {})[group]) || '(none)' : 'all runs'));
    const dist = chartBox('latency-dist-chart', 'small');
    content.push(h('h2', null, `Distribution of ${measured}${group ? ' per ' + group : ''}`), dist.box,
      table([{ label: group || 'group', get: (r) => r.group }, ...statsColumns()],
        groups.map(([g, rs]) => ({ group: g, ...describe(rs.map((r) => r.metrics[measured])) })), { id: 'latency-group-stats' }),
      downloads(
        { label: 'CSV', url: apiUrl(`experiments/${encodeURIComponent(name)}/results`, { format: 'csv' }), filename: `${name}.csv` },
        { label: 'JSON', url: apiUrl(`experiments/${encodeURIComponent(name)}/results`, { format: 'json' }), filename: `${name}.json` }));
    let scatter = null;
    if (!predicted) {
      content.push(h('p', { class: 'muted', id: 'no-predicted' }, 'This experiment has no predicted metric (a metric whose name contains "pred"): no measured-vs-predicted scatter.'));
    } else {
      const pairs = groups.map(([g, rs]) => [g, rs.filter((r) => typeof r.metrics[predicted] === 'number')]);
      const flat = pairs.flatMap(([, rs]) => rs);
      const m = flat.map((r) => r.metrics[measured]), p = flat.map((r) => r.metrics[predicted]);
      const ape = m.map((v, i) => Math.abs(p[i] - v) / Math.abs(v)).filter(isFinite);
      const mape = ape.length ? (100 * ape.reduce((a, b) => a + b, 0)) / ape.length : NaN;
      const within = ape.length ? (100 * ape.filter((e) => e <= 0.1).length) / ape.length : NaN;
      const rho = spearman(m, p);
      scatter = chartBox('latency-scatter-chart');
      content.push(h('h2', null, `${measured} (measured) vs ${predicted} (predicted)`),
        h('p', { id: 'prediction-stats', 'data-n': flat.length, 'data-spearman': rho },
          h('span', { class: 'stat' }, 'runs ', h('b', null, fmtNum(flat.length))),
          h('span', { class: 'stat' }, 'Spearman ρ ', h('b', null, fmtNum(rho))),
          h('span', { class: 'stat' }, 'MAPE ', h('b', null, `${fmtNum(mape)} %`)),
          h('span', { class: 'stat' }, '±10 % ', h('b', null, `${fmtNum(within)} %`))),
        scatter.box);
      clear(expPart, content);
      const lo = Math.min(...m, ...p), hi = Math.max(...m, ...p);
      charts.push(new Chart(scatter.canvas, {
        data: { datasets: [
          { type: 'line', label: 'predicted = measured', data: [{ x: lo, y: lo }, { x: hi, y: hi }], borderColor: '#999', borderDash: [5, 4], pointRadius: 0, borderWidth: 1 },
          ...pairs.map(([g, rs], i) => ({ type: 'scatter', label: String(g), data: rs.map((r) => ({ x: r.metrics[measured], y: r.metrics[predicted], r })), backgroundColor: PALETTE[i % PALETTE.length], pointRadius: flat.length > 5000 ? 1.5 : 3.5 })),
        ] },
        options: scatterOptions({
          xTitle: `${measured} (measured)`, yTitle: `${predicted} (predicted)`, xLog: 'linear', yLog: 'linear',
          tooltip: (dp) => (dp.raw.r ? [h('div', null, h('b', null, `job ${dp.raw.r.job_id}`)), h('div', null, `measured ${fmtNum(dp.raw.x)}`), h('div', null, `predicted ${fmtNum(dp.raw.y)}`), h('div', { class: 'muted' }, fmtPairs(dp.raw.r.params))] : [h('div', null, 'predicted = measured')]),
          onClickPoint: (d) => d.r && go('job', null, d.r.job_id),
        }),
      }));
    }
    if (!scatter) clear(expPart, content);
    charts.push(histogramChart(Chart, dist.canvas, groups.map(([g]) => String(g)), logHistogram(groups.map(([, rs]) => rs.map((r) => r.metrics[measured]))), `${measured}, log bins`));
  }

  async function load() {
    for (const c of charts.splice(0)) c.destroy();
    hideTip();
    await Promise.all([loadDevices(), loadExperiment()]);
  }
  await load();
  return { refresh: load, dispose: () => { hideTip(); for (const c of charts) c.destroy(); } };
}

// ---- compare -------------------------------------------------------------------------------

function distinct(rows, key) {
  const seen = new Set();
  for (const r of rows) { const v = (r.params || {})[key]; if (v !== undefined) seen.add(fmtValue(v)); }
  return [...seen];
}

async function comparePage(el, route, ctx) {
  const q = route.query;
  const chartP = early(loadChart());
  const detail = (n) => api(`experiments/${encodeURIComponent(n)}`, null, ctx);
  const results = (n, filter) => api(`experiments/${encodeURIComponent(n)}/results`, { format: 'json', filter }, ctx);
  // Both sides named in the URL: their details and results are fetched at once.
  const named = q.get('a') && q.get('b')
    ? early(Promise.all([detail(q.get('a')), detail(q.get('b')), results(q.get('a'), q.get('filter') || ''), results(q.get('b'), q.get('filter') || '')])) : null;
  const experiments = await experimentNames(ctx);
  clear(el, h('h1', null, 'Compare experiments'));
  if (!experiments.length) { el.append(h('p', { class: 'muted', 'data-empty': '' }, 'No experiments yet.')); return {}; }
  const names = experiments.map((e) => e.name);
  const a = q.get('a') || names[0];
  const b = q.get('b') || names.find((n) => n !== a) || a;
  const [ea, eb] = named ? (await named).slice(0, 2) : await Promise.all([detail(a), detail(b)]);
  const metricsA = ea.metric_names || [], metricsB = eb.metric_names || [];
  const common = metricsA.filter((m) => metricsB.includes(m));
  const d = metricDefaults(common);
  const pick = (v, def) => (v && common.includes(v) ? v : def);
  const s = {
    a, b, x: pick(q.get('x'), d.x), y: pick(q.get('y'), d.y), filter: q.get('filter') || '',
    threshold_sigma: q.get('threshold_sigma') || '', all: q.get('all') === '1' ? '1' : '',
  };
  const set = (patch) => go('compare', { ...s, ...patch });
  const filterInput = h('input', { type: 'text', class: 'wide', name: 'filter', value: s.filter, placeholder: 'applies to both experiments' });
  const sigmaInput = h('input', { type: 'number', name: 'threshold_sigma', min: 0, step: 0.5, value: s.threshold_sigma, placeholder: '3', title: 'a metric moved when its change exceeds this many times its noise' });
  const form = h('form', { class: 'toolbar', id: 'compare-controls' },
    labelled('A', select({ name: 'a', onchange: (e) => set({ a: e.target.value }) }, names, a)),
    labelled('B', select({ name: 'b', onchange: (e) => set({ b: e.target.value }) }, names, b)),
    labelled('x', select({ name: 'x', onchange: (e) => set({ x: e.target.value }) }, common, s.x)),
    labelled('y', select({ name: 'y', onchange: (e) => set({ y: e.target.value }) }, common, s.y)),
    labelled('Filter', filterInput), labelled('Threshold (σ)', sigmaInput),
    labelled('list unmoved', h('input', { type: 'checkbox', name: 'all', checked: !!s.all, onchange: (e) => set({ all: e.target.checked ? '1' : '' }) }), 'check'),
    h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); set({ filter: filterInput.value, threshold_sigma: sigmaInput.value }); });
  const body = h('div');
  el.append(form, body);
  const Chart = await chartP;
  let chart = null;

  async function load(started) {
    const paretoOf = (n) => api(`experiments/${encodeURIComponent(n)}/pareto`, { x: s.x, y: s.y, filter: s.filter }, ctx);
    const paretoP = s.x && s.y ? early(Promise.all([paretoOf(a), paretoOf(b)])) : null;
    const regressionsP = early(api('compare', { a, b, threshold_sigma: s.threshold_sigma, all: s.all }, ctx));
    const [da, db, ra, rb] = await (started || Promise.all([detail(a), detail(b), results(a, s.filter), results(b, s.filter)]));
    const card = (e, rows, side) => h('div', { class: 'card', id: `compare-${side}` },
      h('h2', { style: 'margin-top:0' }, `${side.toUpperCase()}: `, h('a', { href: hashFor('experiment', null, e.name) }, e.name)),
      h('dl', { class: 'kv' },
        h('dt', null, 'Kind'), h('dd', null, e.kind),
        h('dt', null, 'Jobs'), h('dd', null, `${e.total} total · ${e.succeeded} succeeded · ${e.failed} failed · ${e.pending} pending · ${e.running} running`),
        h('dt', null, 'Rows shown'), h('dd', null, fmtNum(rows.length))),
      downloads({ label: 'CSV', url: apiUrl(`experiments/${encodeURIComponent(e.name)}/results`, { format: 'csv', filter: s.filter }), filename: `${e.name}.csv` },
        { label: 'JSON', url: apiUrl(`experiments/${encodeURIComponent(e.name)}/results`, { format: 'json', filter: s.filter }), filename: `${e.name}.json` }),
      h('details', null, h('summary', null, 'Sweep'), h('pre', null, JSON.stringify(e.sweep, null, 2))));
    const allMetrics = [...new Set([...(da.metric_names || []), ...(db.metric_names || [])])];
    const statRows = allMetrics.map((m) => ({
      metric: m,
      A: describe(ra.map((r) => (r.metrics || {})[m])),
      B: describe(rb.map((r) => (r.metrics || {})[m])),
    }));
    const side = (k) => ['n', 'min', 'median', 'max'].map((f) => ({ label: `${k} ${f}`, num: true, get: (r) => fmtNum(r[k][f]) }));
    const paramKeys = [...new Set([...(da.param_keys || []), ...(db.param_keys || [])])];
    const paramRows = paramKeys.map((k) => {
      const va = distinct(ra, k), vb = distinct(rb, k);
      return { key: k, A: va, B: vb, same: va.join('|') === vb.join('|') };
    });
    const { box, canvas } = chartBox('compare-chart');
    const regressions = h('section', { id: 'compare-regressions' }, h('h2', null, 'Regressions'), h('p', { class: 'muted' }, 'loading…'));
    clear(body,
      h('div', { class: 'grid2' }, card(da, ra, 'a'), card(db, rb, 'b')),
      h('h2', null, 'Metrics'),
      table([{ label: 'Metric', get: (r) => r.metric }, ...side('A'), ...side('B')], statRows, { id: 'compare-metrics', rowAttrs: (r) => ({ 'data-metric': r.metric }) }),
      h('h2', null, 'Params'),
      table([{ label: 'Param', get: (r) => r.key },
        { label: 'A values', cls: 'trunc', get: (r) => r.A.slice(0, 12).join(', ') + (r.A.length > 12 ? ` … (${r.A.length})` : ''), title: (r) => r.A.join(', ') },
        { label: 'B values', cls: 'trunc', get: (r) => r.B.slice(0, 12).join(', ') + (r.B.length > 12 ? ` … (${r.B.length})` : ''), title: (r) => r.B.join(', ') },
        { label: '', get: (r) => (r.same ? 'same' : 'differs') }], paramRows, { id: 'compare-params' }),
      s.x && s.y ? [h('h2', null, `${s.y} vs ${s.x}, both experiments with their frontiers`), box] : h('p', { class: 'muted', id: 'compare-no-common' }, 'The two experiments share no two metrics to plot against each other.'),
      regressions);
    await showRegressions(regressions, regressionsP, s);
    if (chart) { chart.destroy(); chart = null; }
    if (!(s.x && s.y)) return;
    const [pa, pb] = await paretoP;
    const datasets = [];
    [[a, pa], [b, pb]].forEach(([n, p], i) => {
      const colour = PALETTE[i];
      const pts = p.points || [];
      datasets.push({ type: 'scatter', label: `${i ? 'B' : 'A'}: ${n}`, data: pts.map((pt) => ({ x: pt.x, y: pt.y, pt, n })), backgroundColor: colour, pointRadius: pts.length > 5000 ? 1.5 : 3.5, order: 1 });
      datasets.push({ type: 'line', label: `${i ? 'B' : 'A'} frontier`, data: pts.filter((pt) => pt.on_frontier).sort((u, v) => u.x - v.x).map((pt) => ({ x: pt.x, y: pt.y, pt, n })), borderColor: colour, backgroundColor: colour, borderWidth: 2, pointRadius: 4, order: 0 });
    });
    chart = new Chart(canvas, {
      data: { datasets },
      options: scatterOptions({
        xTitle: s.x, yTitle: s.y, xLog: 'linear', yLog: 'linear',
        tooltip: (dp) => [h('div', null, h('b', null, `${dp.raw.n} · job ${dp.raw.pt.job_id}`)), h('div', null, `${s.x} = ${fmtNum(dp.raw.x)}`), h('div', null, `${s.y} = ${fmtNum(dp.raw.y)}`), h('div', { class: 'muted' }, fmtPairs(dp.raw.pt.params))],
        onClickPoint: (pt) => go('job', null, pt.pt.job_id),
      }),
    });
    canvas.dataset.frontierA = JSON.stringify(datasets[1].data.map((p) => [p.x, p.y]));
    canvas.dataset.frontierB = JSON.stringify(datasets[3].data.map((p) => [p.x, p.y]));
  }
  await load(named);
  return { refresh: load, dispose: () => { hideTip(); if (chart) chart.destroy(); } };
}

// ---- compare: regressions (/api/v1/compare) --------------------------------------------------

// B's change relative to A's value, signed; none when A is 0.
function changeText(m) {
  if (typeof m.relative !== 'number' || (m.a === 0 && m.delta !== 0)) return '';
  return `${m.relative > 0 ? '+' : ''}${fmtNum(100 * m.relative)} %`;
}

function jobLinks(ids) {
  const list = ids || [];
  return [list.slice(0, 3).map((id, i) => [i ? ', ' : '', h('a', { href: hashFor('job', null, id) }, id)]), list.length > 3 ? ` … (${list.length})` : ''];
}

const MOVE_COLUMNS = [
  { label: 'Params', cls: 'trunc', get: (m) => fmtPairs(m.params), title: (m) => JSON.stringify(m.params) },
  { label: 'Metric', get: (m) => m.metric },
  { label: 'A', num: true, get: (m) => fmtNum(m.a) },
  { label: 'B', num: true, get: (m) => fmtNum(m.b) },
  { label: 'Change', num: true, get: changeText, title: (m) => `B − A = ${fmtNum(m.delta)}` },
  { label: 'σ', num: true, get: (m) => fmtNum(m.sigmas), title: (m) => `noise ${fmtNum(m.noise)}`, help: 'the change in units of its noise' },
  { label: 'Noise from', get: (m) => m.noise_source, help: 'repeats: the spread of repeated runs; stderr: the error the evaluator reported; none: no estimate' },
  { label: 'Runs A / B', num: true, get: (m) => `${m.runs_a} / ${m.runs_b}` },
  { label: 'Jobs A', get: (m) => jobLinks(m.job_ids_a) },
  { label: 'Jobs B', get: (m) => jobLinks(m.job_ids_b) },
  { label: 'Direction', get: (m) => h('span', { class: 'direction ' + m.direction }, m.direction) },
];

const moveRow = (m) => ({ 'data-metric': m.metric, 'data-direction': m.direction });

// The environments (comparability keys) of one side's succeeded jobs.
function keysList(keys) {
  if (!keys || !keys.length) return h('span', { class: 'muted' }, 'no succeeded job');
  return keys.map((k) => h('div', { 'data-key': k.key }, h('code', { title: k.key || 'no environment key' }, shortKey(k.key)),
    ` · ${fmtNum(k.jobs)} job${k.jobs === 1 ? '' : 's'} · ${k.summary}`));
}

function regressionsPart(r, s) {
  const mixed = [['A', r.a, r.keys_a], ['B', r.b, r.keys_b]].filter(([, , keys]) => (keys || []).length > 1);
  const moved = r.moved || [];
  const reported = (keys) => (keys || []).some((k) => k.key);
  return [
    h('p', {
      id: 'compare-regressions-summary',
      dataset: { pairs: r.pairs, compared: r.compared, moved: r.moved_count, noNoise: r.no_noise, threshold: r.threshold_sigma },
    },
    h('span', { class: 'stat' }, 'param sets in both ', h('b', null, fmtNum(r.pairs))),
    h('span', { class: 'stat' }, 'metrics compared ', h('b', null, fmtNum(r.compared))),
    h('span', { class: 'stat' }, `moved beyond ${fmtNum(r.threshold_sigma)} σ `, h('b', null, fmtNum(r.moved_count))),
    h('span', { class: 'stat', title: 'a metric with no noise estimate on either side is never called moved' }, 'without a noise estimate ', h('b', null, fmtNum(r.no_noise)))),
    s.filter ? h('p', { class: 'muted' }, 'Every succeeded job of both experiments is compared: the filter above does not apply here.') : null,
    mixed.map(([side, name, keys]) => h('p', { class: 'notice warn', 'data-side': side, id: `compare-mixed-${side.toLowerCase()}` },
      `${side} (${name}) mixes ${keys.length} environments: a move can come from where a figure was measured rather than from what changed.`)),
    moved.length
      ? [table(MOVE_COLUMNS, moved, { id: 'compare-moved', rowAttrs: moveRow }),
        r.moved_count > moved.length ? h('p', { class: 'muted' }, `${fmtNum(r.moved_count - moved.length)} more moved metrics not listed.`) : null]
      : h('p', { class: 'muted', id: 'compare-no-moves', 'data-empty': '' },
        'No metric moved beyond its noise', r.pairs ? '.' : ': the two experiments have no param set in common.'),
    r.unmoved ? [h('h3', null, `Within noise (${fmtNum(r.unmoved.length)})`),
      table(MOVE_COLUMNS, r.unmoved.slice(0, 1000), { id: 'compare-unmoved', rowAttrs: moveRow, empty: 'None.' }),
      r.unmoved.length > 1000 ? h('p', { class: 'muted' }, `The first 1000 of ${fmtNum(r.unmoved.length)}.`) : null] : null,
    h('h3', null, 'Environments'),
    h('dl', { class: 'kv', id: 'compare-environments' },
      h('dt', null, `A: ${r.a}`), h('dd', null, keysList(r.keys_a)),
      h('dt', null, `B: ${r.b}`), h('dd', null, keysList(r.keys_b))),
    h('h3', null, 'What differs between the environments'),
    h('div', { id: 'compare-context-diff' }, table([
      { label: 'Field', get: (d) => d.field },
      { label: 'A', get: (d) => d.a },
      { label: 'B', get: (d) => d.b },
    ], r.context_diff || [], {
      rowAttrs: (d) => ({ 'data-field': d.field }),
      empty: reported(r.keys_a) || reported(r.keys_b) ? 'Nothing: both report the same context.' : 'Neither side\'s jobs reported their context.',
    })),
  ];
}

async function showRegressions(section, pending, s) {
  let r;
  try {
    r = await pending;
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    clear(section, h('h2', null, 'Regressions'), errorBox(e));
    return;
  }
  clear(section, h('h2', null, 'Regressions'),
    h('p', { class: 'muted' }, 'Jobs of A and B with equal params, each metric\'s change against its noise (the spread of repeated runs, else the error its evaluator reported).'),
    regressionsPart(r, s));
}

export const PAGES = { pareto: paretoPage, latency: latencyPage, compare: comparePage, study: studyPage };
