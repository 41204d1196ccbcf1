// The study page (#/study/NAME): a search's trials over its first two objectives, coloured by
// when they ran so the front is seen growing, the current front as a line and a table, and the
// hypervolume after each completed trial. Data: /api/v1/studies/NAME (GetStudy's JSON).
import { api, h, clear, fmtNum, fmtValue, go, hashFor, table } from './core.js';
import { FRONTIER, loadChart, hideTip, scatterOptions, chartBox, early } from './chart_kit.js';

// Trials are drawn in this many bands of equal size, early ones pale, late ones dark.
const BANDS = 5;
const BAND_COLOURS = ['#c6dbef', '#9ecae1', '#6baed6', '#3182bd', '#08519c'];

// A map assignment in one line: its choices counted ("int4_asym×12 nf4×16").
function assignmentText(assignment) {
  return Object.entries(assignment || {}).map(([param, value]) => {
    if (value === null || typeof value !== 'object') return `${param}: ${fmtValue(value)}`;
    const counts = new Map();
    for (const v of Object.values(value)) counts.set(String(v), (counts.get(String(v)) || 0) + 1);
    return `${param}: ` + [...counts.entries()].sort().map(([c, n]) => `${c}×${n}`).join(' ');
  }).join('; ');
}

export async function studyPage(el, route, ctx) {
  const name = route.args[0];
  const chartP = early(loadChart());
  let charts = [];
  const info = h('p', { id: 'study-info' });
  const front = h('div', { id: 'study-front' });
  const points = chartBox('study-chart', 'wide');
  const growth = chartBox('study-hypervolume');
  clear(el, h('h1', null, `Study ${name}`), info,
    h('div', { class: 'grid2' }, points.box, growth.box), h('h2', null, 'Front'), front);

  async function load() {
    const r = await api(`studies/${encodeURIComponent(name)}`, null, ctx);
    const Chart = await chartP;
    const objectives = r.objectives || [];
    const [oy, ox] = [objectives[0], objectives[1] || objectives[0]];
    const label = (o) => `${o.metric} (${o.direction === 'max' ? 'higher' : 'lower'} is better)`;
    const done = r.trials.filter((t) => Array.isArray(t.values));
    const band = (t) => Math.min(BANDS - 1, Math.floor((BANDS * t.trial) / Math.max(1, r.trials_budget)));
    const pt = (t) => ({ x: t.values[objectives.length > 1 ? 1 : 0], y: t.values[0], t });
    const onFront = new Set(r.front);
    const frontPts = done.filter((t) => onFront.has(t.trial)).map(pt).sort((a, b) => a.x - b.x || a.y - b.y);
    const per = Math.ceil(r.trials_budget / BANDS);
    const datasets = [{
      type: 'line', label: 'front', data: frontPts, borderColor: FRONTIER, backgroundColor: FRONTIER,
      borderWidth: 2, pointRadius: 5, pointBackgroundColor: 'rgba(0,0,0,0)', pointBorderWidth: 2, order: 0,
    }, ...BAND_COLOURS.map((colour, b) => ({
      type: 'scatter', label: `trials ${b * per}–${Math.min(r.trials_budget, (b + 1) * per) - 1}`,
      data: done.filter((t) => band(t) === b).map(pt), backgroundColor: colour, borderColor: colour, pointRadius: 4, order: 1,
    }))];
    const tooltip = (dp) => {
      const t = dp.raw.t;
      return [
        h('div', null, h('b', null, `trial ${t.trial} · job ${t.job_id}`), onFront.has(t.trial) ? ' · on the front' : ''),
        objectives.map((o, i) => h('div', null, `${o.metric} = ${fmtNum(t.values[i])}`)),
        h('div', { class: 'muted' }, assignmentText(t.assignment)),
      ];
    };
    const hv = (r.hypervolume_by_trial || []).map(([trial, v]) => ({ x: trial, y: v }));
    charts.forEach((c) => c.destroy());
    charts = [
      new Chart(points.canvas, {
        data: { datasets },
        options: scatterOptions({ xTitle: label(ox), yTitle: label(oy), xLog: 'linear', yLog: 'linear', tooltip, onClickPoint: (d) => go('job', null, d.t.job_id) }),
      }),
      new Chart(growth.canvas, {
        type: 'line',
        data: { datasets: [{ label: 'hypervolume of the trials so far', data: hv, borderColor: FRONTIER, pointRadius: 0, stepped: true }] },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
          scales: { x: { type: 'linear', title: { display: true, text: 'trial' } }, y: { title: { display: true, text: 'hypervolume' } } },
          plugins: { legend: { position: 'bottom' } },
        },
      }),
    ];
    points.canvas.dataset.front = JSON.stringify(r.front);
    points.canvas.dataset.points = String(done.length);
    const n = r.counts;
    clear(info, `${r.sampler}, seed ${r.seed}: ${n.proposed} of ${r.trials_budget} trials proposed, ${n.succeeded} succeeded, `,
      `${n.failed} failed, ${n.in_flight} in flight${r.done ? ', done' : ''}. Front of ${r.front.length} trials, hypervolume ${fmtNum(r.hypervolume)} `,
      `(reference point [${(r.reference || []).map(fmtNum).join(', ')}]${r.reference_derived ? ', from the trials' : ''}). `,
      'Colours run from the first trials (pale) to the last (dark); click a point for its job.');
    const jobLink = (id) => h('a', { href: hashFor('job', null, id) }, id);
    clear(front, table([
      { label: 'Trial', num: true, get: (t) => t.trial },
      { label: 'Job', num: true, get: (t) => jobLink(t.job_id) },
      ...objectives.map((o, i) => ({ label: o.metric, num: true, get: (t) => fmtNum(t.values[i]) })),
      { label: 'Assignment', get: (t) => assignmentText(t.assignment) },
    ], frontPts.map((p) => p.t), { id: 'front', empty: 'No trial has finished yet.', rowAttrs: (t) => ({ 'data-trial': t.trial }) }));
  }
  await load();
  return { refresh: load, dispose: () => { hideTip(); charts.forEach((c) => c.destroy()); } };
}
