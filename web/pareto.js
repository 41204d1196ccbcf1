// The Pareto page: the runs of an experiment over two metrics, the frontier drawn as a line
// and listed beside the chart. Joined with a second experiment (DESIGN §10 "Joins"), the points
// are pairs of runs with equal `on` params and the metrics are the pair's: accuracy from one
// experiment against latency from the other.
//
// Points measured in different environments (comparability keys) get a front per environment
// (keys=group, the default) or one front over all (keys=mix), with a warning either way; points
// of fallback kernels are left out unless fallbacks=include.
import {
  api, apiUrl, ApiError, h, clear, select, labelled, fmtNum, fmtValue, fmtPairs, go, hashFor,
  table, downloads, errorBox, joinedMetricNames, shortKey,
} from './core.js';
import {
  PALETTE, FRONTIER, loadChart, hideTip, scatterOptions, chartBox, metricDefaults,
  colourParamDefault, groupBy, experimentNames, axisType, early,
} from './chart_kit.js';

export async function paretoPage(el, route, ctx) {
  const q = route.query;
  // Everything the URL already names is fetched at once, side by side with the chart library.
  const chartP = early(loadChart());
  const listP = early(experimentNames(ctx));
  const named = q.get('experiment');
  const detailP = named ? early(api(`experiments/${encodeURIComponent(named)}`, null, ctx)) : null;
  const joinNamed = named ? q.get('join') || '' : '';
  const joinP = joinNamed ? early(api(`experiments/${encodeURIComponent(joinNamed)}`, null, ctx)) : null;
  // The server keeps every frontier point and thins the rest to an even sample: a chart of
  // 100,000 runs stays quick to fetch and draw without losing its front.
  // keys=group is sent even though it is the default of a single experiment: a join whose side
  // mixes environments is refused without it, and the page shows the groups either way.
  const paretoArgs = (v) => ({
    x: v.x, y: v.y, x_dir: v.x_dir, y_dir: v.y_dir, filter: v.filter, max_points: 5000,
    join: v.join, on: v.join ? v.on : '', ...environmentArgs(v),
  });
  // A join's `on` may still be the page's default, which only the two experiments' params say.
  const first = named && q.get('x') && q.get('y') && (!joinNamed || q.get('on'))
    ? early(api(`experiments/${encodeURIComponent(named)}/pareto`, paretoArgs(Object.fromEntries(q.entries())), ctx)) : null;
  const experiments = await listP;
  clear(el, h('h1', null, 'Pareto frontier'));
  if (!experiments.length) {
    el.append(h('p', { class: 'muted', 'data-empty': '' }, 'No experiments yet.'));
    return {};
  }
  const name = named || (experiments.find((e) => e.succeeded > 0) || experiments[0]).name;
  const exp = await (detailP || api(`experiments/${encodeURIComponent(name)}`, null, ctx));
  const join = experiments.some((e) => e.name === joinNamed) && joinNamed !== name ? joinNamed : '';
  const other = join ? await joinP : null;
  const on = join ? (q.get('on') || defaultJoinKeys(exp.param_keys || [], other.param_keys || [])) : '';
  // Joined, the points carry only the `on` params: those are the keys to colour by.
  const keys = join ? on.split(',').map((k) => k.trim()).filter(Boolean) : exp.param_keys || [];
  const metrics = join ? joinedMetricNames(name, exp.metric_names || [], join, other.metric_names || []) : exp.metric_names || [];
  const prefixes = [`${name}:`, `${join}:`];
  const d = metricDefaults(metrics, (m) => {
    const prefix = join && prefixes.find((p) => m.startsWith(p));
    return prefix ? m.slice(prefix.length) : m;
  });
  // A join's metric names change with the experiment joined: a name it does not have is replaced.
  const known = (v) => (v && (!join || metrics.includes(v)) ? v : '');
  const s = {
    experiment: name, join, on, x: known(q.get('x')) || d.x, y: known(q.get('y')) || d.y, x_dir: q.get('x_dir') || '', y_dir: q.get('y_dir') || '',
    color: q.has('color') && (!join || keys.includes(q.get('color'))) ? q.get('color') : colourParamDefault(keys), filter: q.get('filter') || '',
    logx: q.get('logx') || '', logy: q.get('logy') || '',
    keys: q.get('keys') === 'mix' ? 'mix' : '', fallbacks: q.get('fallbacks') === 'include' ? 'include' : '',
  };
  const set = (patch) => go('pareto', { ...s, ...patch });
  const aJob = join ? `${name} job` : 'Job', bJob = `${join} job`;
  const dirs = [['', 'auto'], ['min', 'min'], ['max', 'max']];
  const filterInput = h('input', { type: 'text', class: 'wide', name: 'filter', value: s.filter, placeholder: 'group_size in (32, 64) or datatype = e2m1' });
  const onInput = h('input', { type: 'text', name: 'on', value: s.on, placeholder: 'datatype,group_size', title: 'params whose values must be equal in both experiments' });
  const form = h('form', { class: 'toolbar', id: 'pareto-controls' },
    labelled('Experiment', select({ name: 'experiment', onchange: (e) => go('pareto', { experiment: e.target.value }) }, experiments.map((e) => e.name), name)),
    labelled('Join with', select({ name: 'join', onchange: (e) => set({ join: e.target.value, on: '', x: '', y: '', color: '' }) },
      [['', 'none'], ...experiments.map((e) => e.name).filter((n) => n !== name)], s.join)),
    join ? labelled('on', onInput) : null,
    labelled('x', select({ name: 'x', onchange: (e) => set({ x: e.target.value }) }, metrics, s.x)),
    labelled('x is better', select({ name: 'x_dir', onchange: (e) => set({ x_dir: e.target.value }) }, dirs, s.x_dir)),
    labelled('y', select({ name: 'y', onchange: (e) => set({ y: e.target.value }) }, metrics, s.y)),
    labelled('y is better', select({ name: 'y_dir', onchange: (e) => set({ y_dir: e.target.value }) }, dirs, s.y_dir)),
    labelled('Colour by', select({ name: 'color', onchange: (e) => set({ color: e.target.value }) }, [['', 'none'], ...keys], s.color)),
    labelled('Environments', select({
      id: 'pareto-keys', name: 'keys', onchange: (e) => set({ keys: e.target.value === 'mix' ? 'mix' : '' }),
      title: 'points measured in different environments: group = a front per environment, mix = one front over all',
    }, ['group', 'mix'], s.keys || 'group')),
    labelled('Filter', filterInput),
    labelled('log x', h('input', { type: 'checkbox', checked: s.logx, onchange: (e) => set({ logx: e.target.checked ? '1' : '' }) }), 'check'),
    labelled('log y', h('input', { type: 'checkbox', checked: s.logy, onchange: (e) => set({ logy: e.target.checked ? '1' : '' }) }), 'check'),
    h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); set({ filter: filterInput.value, on: join ? onInput.value : '' }); });
  el.append(form);
  if (!s.x || !s.y) {
    el.append(h('p', { class: 'muted', 'data-empty': '' }, 'This experiment has no metrics yet.'));
    return {};
  }
  const info = h('p', { class: 'muted', id: 'pareto-info' });
  const environments = h('div', { id: 'pareto-environments' });
  const unmatched = h('div', { id: 'pareto-unmatched' });
  const refusal = h('div', { id: 'pareto-error' });
  const { box, canvas } = chartBox('pareto-chart');
  const side = h('div', { id: 'pareto-side' });
  const joinArgs = join ? { join, on: s.on } : {};
  el.append(info, environments, refusal, h('div', { class: 'chartrow' }, box, side), unmatched,
    downloads(
      { label: 'Pareto JSON', url: apiUrl(`experiments/${encodeURIComponent(name)}/pareto`, { x: s.x, y: s.y, x_dir: s.x_dir, y_dir: s.y_dir, filter: s.filter, ...joinArgs, ...environmentArgs(s) }), filename: `${name}${join ? '-' + join : ''}-pareto.json` },
      // A join is answered in JSON only: its unmatched rows have no place in one CSV table.
      join ? null : { label: 'Results CSV', url: apiUrl(`experiments/${encodeURIComponent(name)}/results`, { format: 'csv', filter: s.filter }), filename: `${name}.csv` },
      { label: join ? 'Joined results JSON' : 'Results JSON', url: apiUrl(`experiments/${encodeURIComponent(name)}/results`, { format: 'json', filter: s.filter, ...joinArgs }), filename: `${name}${join ? '-' + join : ''}.json` }));
  const Chart = await chartP;
  let chart = null;
  const extraKeys = ['group_size', 'model'].filter((k) => k !== s.color && keys.includes(k));

  async function load(started) {
    let p;
    try {
      p = await (started || api(`experiments/${encodeURIComponent(name)}/pareto`, paretoArgs(s), ctx));
    } catch (e) {
      // A join the server refuses (an `on` param neither has, an ambiguous metric) is the
      // user's to correct in the controls above, not a broken page.
      if (!(join && e instanceof ApiError && e.status === 400)) throw e;
      if (chart) { chart.destroy(); chart = null; }
      clear(info);
      clear(environments);
      clear(refusal, errorBox(e));
      clear(side);
      clear(unmatched);
      return;
    }
    clear(refusal);
    const points = p.points || [];
    const envs = p.key_groups || [];
    const byEnv = envs.length > 1;
    const frontEach = byEnv && s.keys !== 'mix';
    const envIndex = new Map(envs.map((g, i) => [g.key, i]));
    const frontier = points.filter((pt) => pt.on_frontier)
      .sort((a, b) => (frontEach ? (envIndex.get(a.key) ?? 0) - (envIndex.get(b.key) ?? 0) : 0) || a.x - b.x);
    const colourOf = (pt) => (s.color ? fmtValue(pt.params ? pt.params[s.color] : undefined) || '(none)' : 'all runs');
    const many = points.length > 5000;
    const style = { pointRadius: many ? 1.5 : 4, pointHoverRadius: many ? 4 : 6, order: 1 };
    // More than one environment: coloured by environment, with a front each unless mixed.
    const datasets = byEnv
      ? environmentDatasets(points, envs, frontEach, style)
      : [frontLine('frontier', frontier, FRONTIER), ...groupBy(points, colourOf).map(([g, pts], i) => ({
        type: 'scatter', label: String(g), data: pts.map((pt) => ({ x: pt.x, y: pt.y, pt })),
        backgroundColor: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length], ...style,
      }))];
    if (byEnv && !frontEach) datasets.unshift(frontLine('frontier', frontier, FRONTIER));
    const xs = points.map((pt) => pt.x), ys = points.map((pt) => pt.y);
    const tooltip = (dp) => {
      const pt = dp.raw.pt;
      const params = pt.params || {};
      return [
        h('div', null, h('b', null, join ? `${aJob} ${pt.job_id} · ${bJob} ${pt.job_id_b}` : `job ${pt.job_id}`), pt.on_frontier ? ' · on the frontier' : ''),
        h('div', null, `${s.x} = ${fmtNum(pt.x)}`), h('div', null, `${s.y} = ${fmtNum(pt.y)}`),
        s.color ? h('div', null, `${s.color} = ${fmtValue(params[s.color])}`) : null,
        byEnv ? h('div', null, `environment ${shortKey(pt.key)}`) : null,
        ['group_size', 'model'].map((k) => (k !== s.color ? h('div', null, `${k} = ${params[k] === undefined ? '—' : fmtValue(params[k])}`) : null)),
        h('div', { class: 'muted' }, fmtPairs(Object.fromEntries(Object.entries(params).filter(([k]) => ![s.color, 'group_size', 'model'].includes(k))))),
      ];
    };
    const xDir = p.x_maximized ? 'higher is better' : 'lower is better';
    const yDir = p.y_maximized ? 'higher is better' : 'lower is better';
    if (!chart) {
      const options = scatterOptions({
        xTitle: `${s.x} (${xDir})`, yTitle: `${s.y} (${yDir})`, xLog: axisType(s.logx, xs), yLog: axisType(s.logy, ys),
        tooltip, onClickPoint: (d) => go('job', null, d.pt.job_id),
      });
      // An environment's front line has its points' colour: the legend names the environment once.
      options.plugins.legend.labels.filter = (item, data) => !data.datasets[item.datasetIndex].hideInLegend;
      chart = new Chart(canvas, { data: { datasets }, options });
    } else {
      chart.data.datasets = datasets;
      chart.options.scales.x.title.text = `${s.x} (${xDir})`;
      chart.options.scales.y.title.text = `${s.y} (${yDir})`;
      chart.update('none');
    }
    canvas.dataset.frontier = JSON.stringify(frontier.map((pt) => [pt.x, pt.y]));
    canvas.dataset.points = String(points.length);
    canvas.dataset.environments = String(envs.length);
    const total = p.total_points ?? points.length;
    const shown = total > points.length ? ` (${fmtNum(points.length)} drawn: the frontier and an even sample of the rest)` : '';
    const runs = join ? `pairs of ${name} and ${join} runs (equal ${s.on})` : 'runs';
    const fronts = frontEach ? `the fronts of ${envs.length} environments` : 'the frontier';
    clear(info, `${fmtNum(total)} ${runs} with both metrics${shown}, ${frontier.length} on ${fronts} (${s.x}: ${xDir}, ${s.y}: ${yDir}). `,
      byEnv ? 'Coloured by environment. ' : '', `Hover a point for its run; click it to open the job${join ? ` of ${name}` : ''}.`);
    clear(environments, environmentsPart(p, s, set));
    clear(unmatched, join ? unmatchedPart(p, name, join) : null);
    const jobLink = (id) => h('a', { href: hashFor('job', null, id) }, id);
    clear(side, h('h2', { style: 'margin-top:0' }, 'Frontier'), table([
      { label: aJob, num: true, get: (pt) => jobLink(pt.job_id) },
      join ? { label: bJob, num: true, get: (pt) => jobLink(pt.job_id_b) } : null,
      byEnv ? { label: 'Environment', get: (pt) => envLabel(pt.key, envIndex.get(pt.key)) } : null,
      { label: s.x, num: true, get: (pt) => fmtNum(pt.x) },
      { label: s.y, num: true, get: (pt) => fmtNum(pt.y) },
      s.color ? { label: s.color, get: (pt) => fmtValue((pt.params || {})[s.color]) } : null,
      ...extraKeys.map((k) => ({ label: k, get: (pt) => fmtValue((pt.params || {})[k]) })),
    ].filter(Boolean), frontier, {
      id: 'frontier', empty: 'No point has both metrics.',
      rowAttrs: (pt) => ({ 'data-job-id': pt.job_id, 'data-job-id-b': pt.job_id_b, 'data-x': pt.x, 'data-y': pt.y, 'data-key': pt.key }),
    }));
  }
  // The early request asked for exactly what the controls now say only if the URL named it all.
  const asked = first && s.x === q.get('x') && s.y === q.get('y') && s.join === (q.get('join') || '') && (!join || s.on === q.get('on'));
  await load(asked ? first : null);
  return { refresh: load, dispose: () => { hideTip(); if (chart) chart.destroy(); } };
}

// The API's environment arguments of the page state `v`.
function environmentArgs(v) {
  return { keys: v.keys === 'mix' ? 'mix' : 'group', fallbacks: v.fallbacks === 'include' ? 'include' : '' };
}

const envColour = (i) => PALETTE[(i ?? 0) % PALETTE.length];

// A front drawn as a line through hollow points.
function frontLine(label, pts, colour, extra) {
  return {
    type: 'line', label, data: pts.map((pt) => ({ x: pt.x, y: pt.y, pt })),
    borderColor: colour, backgroundColor: colour, borderWidth: 2, pointRadius: 5, pointHoverRadius: 7,
    pointStyle: 'circle', pointBackgroundColor: 'rgba(0,0,0,0)', pointBorderWidth: 2, order: 0, tension: 0, ...extra,
  };
}

// A colour per environment (key group): its points, and its front when each has its own.
function environmentDatasets(points, envs, frontEach, style) {
  return envs.flatMap((g, i) => {
    const pts = points.filter((pt) => pt.key === g.key);
    const front = pts.filter((pt) => pt.on_frontier).sort((a, b) => a.x - b.x);
    return [
      frontEach ? frontLine(`front of ${shortKey(g.key)}`, front, envColour(i), { hideInLegend: true, environment: g.key }) : null,
      {
        type: 'scatter', label: `${g.summary || 'no context reported'} (${shortKey(g.key)})`, environment: g.key,
        data: pts.map((pt) => ({ x: pt.x, y: pt.y, pt })), backgroundColor: envColour(i), borderColor: envColour(i), ...style,
      },
    ].filter(Boolean);
  });
}

function envLabel(key, i) {
  return h('span', { class: 'env', title: key || 'no environment key' }, h('span', { class: 'swatch', style: `background:${envColour(i)}` }), h('code', null, shortKey(key)));
}

// The environments the points come from, when more than one, and the points of fallback kernels
// left out (or included on request).
function environmentsPart(p, s, set) {
  const envs = p.key_groups || [];
  const excluded = p.excluded_fallbacks || 0;
  const mixed = envs.length > 1 ? h('div', { class: 'notice warn', id: 'pareto-keys-notice' },
    h('p', { id: 'pareto-keys-warning', role: 'status' }, p.warning || `These points come from ${envs.length} environments (comparability keys).`),
    h('ul', { id: 'pareto-key-groups' }, envs.map((g, i) => h('li', { 'data-key': g.key, 'data-points': g.points },
      envLabel(g.key, i), ` ${fmtNum(g.points)} point${g.points === 1 ? '' : 's'} · ${g.summary || 'no context reported'}`)))) : null;
  const fallbacks = excluded > 0 || s.fallbacks ? h('p', { class: 'muted', id: 'pareto-fallbacks-note', 'data-excluded': excluded },
    excluded > 0 ? `${fmtNum(excluded)} point${excluded === 1 ? '' : 's'} from fallback kernels left out ` : 'Points from fallback kernels included ',
    h('label', { class: 'check' }, h('input', {
      type: 'checkbox', id: 'pareto-fallbacks', checked: !!s.fallbacks,
      onchange: (e) => set({ fallbacks: e.target.checked ? 'include' : '' }),
    }), ' include them')) : null;
  return [mixed, fallbacks];
}

// The params a join pairs on unless the page says otherwise: datatype and group_size where both
// experiments have them (an accuracy sweep against a latency sweep), else every param they share.
function defaultJoinKeys(keysA, keysB) {
  const common = keysA.filter((k) => keysB.includes(k));
  const usual = ['datatype', 'group_size'].filter((k) => common.includes(k));
  return (usual.length ? usual : common).join(',');
}

// The runs of either side that no run of the other pairs with: counted, and listed with their
// `on` params (the server lists at most as many as the chart draws).
function unmatchedPart(p, a, b) {
  const na = p.unmatched_a_total ?? (p.unmatched_a || []).length;
  const nb = p.unmatched_b_total ?? (p.unmatched_b || []).length;
  const side = (label, exp, n, rows) => h('div', { class: 'card' },
    h('h3', { style: 'margin-top:0' }, `${label}: ${fmtNum(n)} runs of ${exp} without a partner`),
    table([
      { label: 'Job', num: true, get: (r) => h('a', { href: hashFor('job', null, r.job_id) }, r.job_id) },
      { label: 'State', get: (r) => r.state },
      { label: 'on params', get: (r) => fmtPairs(r.on) },
    ], rows || [], { empty: 'None.', rowAttrs: (r) => ({ 'data-job-id': r.job_id }) }),
    n > (rows || []).length ? h('p', { class: 'muted' }, `${fmtNum(n - rows.length)} more in the joined results JSON.`) : null);
  return [
    h('p', { id: 'pareto-unmatched-count', 'data-a': na, 'data-b': nb },
      h('b', null, `Unmatched: ${fmtNum(na)} in ${a}, ${fmtNum(nb)} in ${b}`),
      na + nb ? ' — runs with no partner of equal params are not drawn.' : ' — every run has a partner.'),
    na + nb ? h('details', null, h('summary', null, 'Show them'),
      h('div', { class: 'grid2' }, side('A', a, na, p.unmatched_a), side('B', b, nb, p.unmatched_b))) : null,
  ];
}
