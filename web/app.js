// The dashboard shell: hash router, live updates (polls /api/v1/summary every 2 s and refreshes
// the current view when `changes` moves) and the table pages (experiments, jobs, one job,
// workers). The chart pages live in charts.js, loaded with the chart library on first use.
import {
  STATES, api, apiText, apiUrl, h, clear, select, labelled, fmtNum, fmtTime, fmtAgo, fmtDuration,
  fmtBytes, fmtPairs, fmtValue, badge, parseHash, hashFor, go, table, toCsv, blobLink,
  downloads, errorBox, andFilters, listFilter, apiLink, storedToken, forgetToken,
} from './core.js';

const view = document.getElementById('view');
const POLL_MS = 2000;

// ---- table pages ---------------------------------------------------------------------------

function stateBar(e) {
  const total = e.total || 1;
  const part = (n, color, label) => (n ? h('span', { style: `width:${(100 * n) / total}%;background:var(${color})`, title: `${n} ${label}` }) : null);
  return h('div', { class: 'bar' }, part(e.succeeded, '--succeeded', 'succeeded'), part(e.failed, '--failed', 'failed'),
    part(e.cancelled, '--cancelled', 'cancelled'), part(e.running, '--running', 'running'), part(e.pending, '--pending', 'pending'));
}

function resultLinks(name, filter) {
  return [
    { label: 'CSV', url: apiUrl(`experiments/${encodeURIComponent(name)}/results`, { format: 'csv', filter }), filename: `${name}.csv` },
    { label: 'JSON', url: apiUrl(`experiments/${encodeURIComponent(name)}/results`, { format: 'json', filter }), filename: `${name}.json` },
  ];
}

const EXPERIMENT_COLUMNS = [
  ['id', (e) => e.id], ['name', (e) => e.name], ['kind', (e) => e.kind], ['owner', (e) => e.owner],
  ['created_unix_ms', (e) => e.created_unix_ms], ['tags', (e) => (e.tags || []).join(' ')],
  ['total', (e) => e.total], ['pending', (e) => e.pending], ['running', (e) => e.running],
  ['succeeded', (e) => e.succeeded], ['failed', (e) => e.failed], ['cancelled', (e) => e.cancelled],
];

async function experimentsPage(el, route, ctx) {
  const body = h('div');
  clear(el, h('h1', null, 'Experiments'), body);
  async function load() {
    const list = await api('experiments', null, ctx);
    list.sort((a, b) => (b.created_unix_ms || 0) - (a.created_unix_ms || 0) || b.id - a.id);
    clear(body,
      h('div', { class: 'toolbar' }, downloads(
        blobLink('CSV', 'experiments.csv', 'text/csv', () => toCsv(EXPERIMENT_COLUMNS, list)),
        { label: 'JSON', url: apiUrl('experiments'), filename: 'experiments.json' })),
      table([
        { label: 'Name', get: (e) => h('a', { href: hashFor('experiment', null, e.name) }, e.name) },
        { label: 'Kind', get: (e) => e.kind },
        { label: 'Owner', get: (e) => e.owner || '' },
        { label: 'Created', get: (e) => fmtTime(e.created_unix_ms) },
        { label: 'Progress', get: stateBar },
        { label: 'Jobs', num: true, get: (e) => h('a', { href: hashFor('jobs', { experiment: e.name }) }, fmtNum(e.total)) },
        ...['pending', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => ({
          label: s[0].toUpperCase() + s.slice(1), num: true,
          get: (e) => (e[s] ? h('a', { href: hashFor('jobs', { experiment: e.name, state: s.toUpperCase() }) }, fmtNum(e[s])) : '0'),
        })),
        { label: 'Tags', get: (e) => (e.tags || []).join(', ') },
        { label: '', get: (e) => h('span', { class: 'downloads' },
          h('a', { href: hashFor('pareto', { experiment: e.name }) }, 'Pareto'),
          h('a', { href: hashFor('compare', { a: e.name }) }, 'Compare'),
          resultLinks(e.name).map((l) => apiLink(l.label, l.url, l.filename))) },
      ], list, { id: 'experiments', rowAttrs: (e) => ({ 'data-name': e.name }), empty: 'No experiments yet: submit one with `qlab submit FILE`.' }));
  }
  await load();
  return { refresh: load };
}

async function experimentPage(el, route, ctx) {
  const name = route.args[0];
  const body = h('div');
  clear(el, h('h1', null, 'Experiment ', h('code', null, name)), body);
  async function load() {
    const e = await api(`experiments/${encodeURIComponent(name)}`, null, ctx);
    clear(body,
      h('div', { class: 'card' },
        h('dl', { class: 'kv' },
          h('dt', null, 'Kind'), h('dd', null, e.kind),
          h('dt', null, 'Owner'), h('dd', null, e.owner || ''),
          h('dt', null, 'Created'), h('dd', null, fmtTime(e.created_unix_ms)),
          h('dt', null, 'Jobs'), h('dd', null, `${e.total} total · ${e.pending} pending · ${e.running} running · ${e.succeeded} succeeded · ${e.failed} failed · ${e.cancelled} cancelled`, ' ', stateBar(e)),
          h('dt', null, 'Params'), h('dd', null, (e.param_keys || []).join(', ')),
          h('dt', null, 'Metrics'), h('dd', null, (e.metric_names || []).join(', ')),
          h('dt', null, 'Tags'), h('dd', null, (e.tags || []).join(', '))),
        h('p', { class: 'downloads' },
          h('a', { href: hashFor('jobs', { experiment: name }) }, 'Jobs'),
          e.sweep && e.sweep.search ? h('a', { href: hashFor('study', null, name), id: 'study-link' }, 'Study') : null,
          h('a', { href: hashFor('pareto', { experiment: name }) }, 'Pareto'),
          h('a', { href: hashFor('latency', { experiment: name }) }, 'Latency'),
          h('a', { href: hashFor('compare', { a: name }) }, 'Compare')),
        downloads(...resultLinks(name))),
      h('h2', null, 'Sweep'), h('pre', null, JSON.stringify(e.sweep, null, 2)));
  }
  await load();
  return { refresh: load };
}

const JOB_STATE_OPTIONS = [['', 'any'], ...STATES.map((s) => [s, s.toLowerCase()])];

// A job whose figure is suspect (its device's drift canary failed after it ran): the badge's
// title says why.
function flagBadge(flag) {
  return flag ? h('span', { class: 'badge flagged', title: flag }, 'flagged') : null;
}

function jobReason(j) {
  if (j.state === 'PENDING' && j.pending_reason) return h('span', { class: 'reason' }, j.pending_reason);
  if (j.last_error) return h('span', { class: 'reason' }, j.last_error);
  return '';
}

// The jobs page's filter state lives in the hash, so every view is a link and Back works.
async function jobsPage(el, route, ctx) {
  const q = route.query;
  const f = {
    experiment: q.get('experiment') || '', state: (q.get('state') || '').toUpperCase(), kind: q.get('kind') || '',
    datatype: q.get('datatype') || '', device: q.get('device') || '', filter: q.get('filter') || '',
    limit: q.get('limit') || '50', before: q.get('before') || '',
  };
  const experiments = await api('experiments', null, ctx).catch(() => []);
  const kinds = [...new Set(['noop', 'quantize', 'kernel_bench', 'latency', 'accuracy', 'predictor', ...experiments.map((e) => e.kind)])];
  const form = h('form', { class: 'toolbar', id: 'job-filters' },
    labelled('Experiment', select({ name: 'experiment' }, [['', 'any'], ...experiments.map((e) => e.name)], f.experiment)),
    labelled('State', select({ name: 'state' }, JOB_STATE_OPTIONS, f.state)),
    labelled('Kind', select({ name: 'kind' }, [['', 'any'], ...kinds], f.kind)),
    labelled('Datatype', h('input', { type: 'text', name: 'datatype', value: f.datatype, placeholder: 'e2m1, nf4' })),
    labelled('Device', h('input', { type: 'text', name: 'device', value: f.device, placeholder: 'cpu, cuda:0' })),
    labelled('Filter', h('input', { type: 'text', name: 'filter', class: 'wide', value: f.filter, placeholder: 'group_size <= 64 and (mse < 0.01 or datatype in (e2m1, nf4))' })),
    labelled('Rows', select({ name: 'limit' }, ['25', '50', '100', '250', '1000'], f.limit)),
    h('button', { type: 'submit' }, 'Apply'),
    h('button', { type: 'button', class: 'secondary', onclick: () => go('jobs') }, 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    go('jobs', data);  // a new filter starts at the newest job
  });
  const expression = andFilters(listFilter('params.datatype', f.datatype), listFilter('params.device', f.device), f.filter);
  const body = h('div');
  clear(el, h('h1', null, 'Jobs'), form,
    expression && expression !== f.filter ? h('p', { class: 'muted' }, 'Filter sent: ', h('code', { id: 'effective-filter' }, expression)) : null,
    body);

  async function load() {
    const params = { experiment: f.experiment, state: f.state, kind: f.kind, filter: expression, limit: f.limit, before: f.before };
    const page = await api('jobs', params, ctx);
    const jobs = page.jobs || [];
    // A download covers every matching job: the experiment's results export takes the whole
    // filter (state and kind folded into it). The jobs list itself is paged, so it offers none.
    const stateKind = andFilters(f.state ? `state = ${f.state.toLowerCase()}` : '', f.kind ? `kind = ${JSON.stringify(f.kind)}` : '', expression);
    const dl = f.experiment
      ? downloads(...resultLinks(f.experiment, stateKind))
      : h('span', { class: 'muted downloads' }, 'Pick an experiment to download every matching job as CSV or JSON.');
    const first = f.before ? null : 1;
    const newer = ctx.history.get(pageKey(f));
    clear(body,
      h('div', { class: 'pager' },
        h('span', { id: 'job-total', 'data-total': page.total }, `${fmtNum(page.total)} matching job${page.total === 1 ? '' : 's'}`,
          jobs.length ? ` · showing ${jobs.length}${first ? ' newest' : ''}` : ''),
        h('button', { type: 'button', class: 'secondary', id: 'page-first', disabled: !f.before, onclick: () => go('jobs', { ...f, before: '' }) }, '« Newest'),
        h('button', { type: 'button', class: 'secondary', id: 'page-prev', disabled: !f.before, onclick: () => go('jobs', { ...f, before: newer || '' }) }, '‹ Newer'),
        h('button', { type: 'button', class: 'secondary', id: 'page-next', disabled: !page.next_before, onclick: () => {
          ctx.history.set(pageKey({ ...f, before: String(page.next_before) }), f.before);
          go('jobs', { ...f, before: page.next_before });
        } }, 'Older ›'),
        dl),
      table([
        { label: 'ID', num: true, get: (j) => h('a', { href: hashFor('job', null, j.job_id) }, j.job_id) },
        { label: 'Experiment', get: (j) => h('a', { href: hashFor('experiment', null, j.experiment) }, j.experiment) },
        { label: 'Kind', get: (j) => j.kind },
        { label: 'State', get: (j) => [badge(j.state), j.flag ? ' ' : null, flagBadge(j.flag)] },
        { label: 'Params', cls: 'trunc', get: (j) => fmtPairs(j.params), title: (j) => JSON.stringify(j.params) },
        { label: 'Metrics', cls: 'trunc', get: (j) => fmtPairs(j.metrics), title: (j) => JSON.stringify(j.metrics || {}) },
        { label: 'Attempts', num: true, get: (j) => j.attempts },
        { label: 'Worker', get: (j) => j.worker_id || '' },
        { label: 'Why pending / error', get: jobReason },
        { label: 'Created', get: (j) => fmtTime(j.created_unix_ms) },
        { label: 'Took', num: true, get: (j) => fmtDuration(j.started_unix_ms, j.finished_unix_ms) },
      ], jobs, { id: 'jobs', rowAttrs: (j) => ({ 'data-job-id': j.job_id, 'data-state': j.state }), empty: 'No job matches.' }));
  }
  await load();
  return { refresh: load };
}

function pageKey(f) {
  return JSON.stringify([f.experiment, f.state, f.kind, f.datatype, f.device, f.filter, f.limit, f.before]);
}

// What each failure class means, for the job page's tooltip (DESIGN.md §5).
const FAILURE_HELP = {
  job_error: 'the job itself is wrong (params, input, timeout_s): not retried',
  poison: 'the evaluator crashed on every attempt (max_attempts)',
  infrastructure: 'attempts were lost to workers, leases or disks past the server\'s limit',
};

// What each kernel backend says about a figure.
const BACKEND_HELP = {
  native: 'a kernel of the format itself ran on this device',
  emulated: 'the format was simulated in a higher precision: no kernel of the format ran',
  fallback: 'a fallback kernel ran instead of the format\'s own: the timing does not measure the format',
  vendor: 'the vendor library\'s kernel ran (a baseline)',
};

const notReported = () => h('span', { class: 'muted' }, 'not reported');

// The leaves of a nested object with their dotted paths: {device: {model: 'x'}} -> [['device.model', 'x']].
function leaves(obj, prefix = '') {
  return Object.entries(obj || {}).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    const nested = v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length;
    return nested ? leaves(v, path) : [[path, v]];
  });
}

// Where the job's figure comes from: its keys, backend and the context its worker reported.
function provenance(j) {
  return [
    h('dt', null, 'Backend'), h('dd', { id: 'job-backend', title: BACKEND_HELP[j.backend] || undefined }, j.backend || notReported()),
    h('dt', null, 'Environment key'), h('dd', { id: 'job-environment-key' }, j.environment_key ? h('code', null, j.environment_key) : notReported()),
    h('dt', null, 'Comparability key'), h('dd', { id: 'job-comparability-key' }, j.comparability_key ? h('code', null, j.comparability_key) : notReported()),
  ];
}

function contextPart(context) {
  const rows = leaves(context);
  return [h('h2', null, 'Context'), rows.length
    ? table([
      { label: 'Field', get: ([field]) => field },
      { label: 'Value', get: ([, value]) => fmtValue(value) },
    ], rows, { id: 'job-context', rowAttrs: ([field]) => ({ 'data-field': field }) })
    : h('p', { class: 'muted', id: 'job-no-context' }, 'No context reported: it comes with a success, from a worker that reports where its figure was measured.')];
}

async function jobPage(el, route, ctx) {
  const id = route.args[0];
  let shownAttempt = 0;  // 0: the latest
  const body = h('div');
  clear(el, h('h1', null, `Job ${id}`), body);
  async function load() {
    const j = await api(`jobs/${encodeURIComponent(id)}`, null, ctx);
    const metrics = Array.isArray(j.metrics) ? j.metrics
      : Object.entries(j.metrics || {}).map(([name, value]) => ({ name, value }));
    const attempts = j.attempts_list || (Array.isArray(j.attempts) ? j.attempts : []);
    if (shownAttempt > attempts.length || shownAttempt === 0) shownAttempt = attempts.length;
    const logView = h('div', { class: 'card' },
      h('div', { class: 'tabs', id: 'log-attempts' }, attempts.map((a, i) => h('button', {
        class: i + 1 === shownAttempt ? '' : 'secondary',
        onclick: () => { shownAttempt = i + 1; load(); },
      }, `Attempt ${i + 1}${a.failure_class ? ` (${a.failure_class})` : ''}`))),
      h('pre', { class: 'log', id: 'attempt-log' }, 'loading…'));
    if (attempts.length) {
      // The evaluator's stderr (the last 1 MiB), while it runs and after.
      apiText(`jobs/${encodeURIComponent(id)}/log`, { attempt: shownAttempt }, ctx)
        .then((text) => { logView.querySelector('#attempt-log').textContent = text || '(nothing printed)'; })
        .catch((e) => { logView.querySelector('#attempt-log').textContent = e.message; });
    }
    clear(body,
      j.flag ? h('p', { class: 'notice warn', id: 'job-flag', role: 'alert' }, h('b', null, 'Flagged: '), j.flag) : null,
      h('div', { class: 'card' },
        h('dl', { class: 'kv' },
          h('dt', null, 'State'), h('dd', null, badge(j.state), j.progress ? ` ${fmtNum(j.progress)}` : '', j.flag ? ' ' : '', flagBadge(j.flag)),
          j.state === 'PENDING' ? [h('dt', null, 'Why pending'), h('dd', { class: 'reason', id: 'pending-reason' }, j.pending_reason || 'waiting for a free worker')] : null,
          j.failure_class ? [h('dt', null, 'Failure'), h('dd', { class: 'error', id: 'failure-class', title: FAILURE_HELP[j.failure_class] || '' }, j.failure_class)] : null,
          j.last_error ? [h('dt', null, 'Last error'), h('dd', { class: 'error', id: 'last-error' }, j.last_error)] : null,
          h('dt', null, 'Experiment'), h('dd', null, h('a', { href: hashFor('experiment', null, j.experiment) }, j.experiment)),
          h('dt', null, 'Kind'), h('dd', null, j.kind),
          h('dt', null, 'Attempts'), h('dd', null, String(Array.isArray(j.attempts) ? j.attempts.length : (j.attempts ?? ''))),
          h('dt', null, 'Worker'), h('dd', null, j.worker_id || ''),
          h('dt', null, 'Created'), h('dd', null, fmtTime(j.created_unix_ms)),
          h('dt', null, 'Started'), h('dd', null, fmtTime(j.started_unix_ms)),
          h('dt', null, 'Finished'), h('dd', null, fmtTime(j.finished_unix_ms), ' ', fmtDuration(j.started_unix_ms, j.finished_unix_ms)),
          provenance(j)),
        downloads({ label: 'JSON', url: apiUrl(`jobs/${encodeURIComponent(id)}`), filename: `job-${id}.json` })),
      h('div', { class: 'grid2' },
        h('div', null, h('h2', null, 'Params'), h('pre', null, JSON.stringify(j.params, null, 2))),
        h('div', null, h('h2', null, 'Metrics'), table([
          { label: 'Metric', get: (m) => m.name },
          { label: 'Value', num: true, get: (m) => fmtNum(m.value) },
          { label: 'Unit', get: (m) => m.unit || '' },
          { label: 'Better', get: (m) => (m.higher_is_better === undefined ? '' : m.higher_is_better ? 'higher' : 'lower') },
        ], metrics, { id: 'metrics', empty: 'No metrics (the job has not succeeded).' }))),
      contextPart(j.context),
      h('h2', null, 'Attempts'),
      table([
        { label: 'Token', num: true, get: (a) => a.token },
        { label: 'Worker', get: (a) => a.worker_id },
        { label: 'Leased', get: (a) => fmtTime(a.leased_unix_ms) },
        { label: 'Started', get: (a) => fmtTime(a.started_unix_ms) },
        { label: 'Finished', get: (a) => fmtTime(a.finished_unix_ms) },
        { label: 'Lease expiry', get: (a) => fmtTime(a.lease_expiry_unix_ms) },
        { label: 'Outcome', get: (a) => a.outcome || 'live' },
        { label: 'Class', get: (a) => a.failure_class || '' },
        { label: 'Error', get: (a) => (a.error ? h('span', { class: 'reason' }, a.error) : '') },
      ], attempts, { id: 'attempts', empty: 'No attempt yet.' }),
      attempts.length ? [h('h2', null, 'Log'), logView] : null,
      (j.latency && j.latency.length) ? [h('h2', null, 'Latency sample sets'), table([
        { label: 'Architecture', cls: 'trunc', get: (s) => s.arch_key, title: (s) => s.arch_key },
        { label: 'Device', get: (s) => s.device },
        { label: 'Batch', num: true, get: (s) => s.batch },
        { label: 'Median µs', num: true, get: (s) => fmtNum(s.median_us) },
        { label: 'p10 µs', num: true, get: (s) => fmtNum(s.p10_us) },
        { label: 'p90 µs', num: true, get: (s) => fmtNum(s.p90_us) },
        { label: 'Mean µs', num: true, get: (s) => fmtNum(s.mean_us) },
        { label: 'CV', num: true, get: (s) => fmtNum(s.cv) },
        { label: 'Unstable', get: (s) => (s.unstable ? 'yes' : '') },
        { label: 'n', num: true, get: (s) => s.n },
      ], j.latency)] : null);
  }
  await load();
  return { refresh: load };
}

function deviceText(d) {
  if (!d || typeof d !== 'object') return fmtValue(d);
  const cls = d.device_class || d.class || '';
  const model = d.model || d.name || '';
  return [d.name && d.name !== model ? d.name : '', cls && !String(d.name || '').startsWith(cls) ? cls : '', model, fmtBytes(d.memory_bytes)]
    .filter(Boolean).join(' ');
}

// One drift canary of a device: its verdict, its latest median against the baseline's and how
// many times it ran. A quarantined device gets no timing job until its canary passes again.
function canaryLine(c) {
  const baseline = c.baseline_median_us ? ` vs ${fmtNum(c.baseline_median_us)} ± ${fmtNum(c.baseline_spread_us)} µs` : ' (baseline being built)';
  return h('div', {
    class: 'canary', 'data-device': c.device, 'data-verdict': c.verdict,
    title: `${c.canary}: measured ${fmtTime(c.measured_unix_ms)}; last good ${c.last_good_unix_ms ? fmtTime(c.last_good_unix_ms) : 'never'}`,
  },
  h('b', null, c.device), ' ', h('span', { class: 'badge verdict-' + c.verdict }, c.verdict),
  c.quarantined ? [' ', h('span', { class: 'badge quarantined', title: 'no timing job is leased to this device until its canary passes again' }, 'QUARANTINED')] : null,
  ' ', `${fmtNum(c.median_us)} µs${baseline}`, c.verdict === 'drift' ? ` (z ${fmtNum(c.z)})` : '',
  h('span', { class: 'muted' }, ` · ${fmtNum(c.history)} run${c.history === 1 ? '' : 's'}`));
}

function canaryCell(w) {
  const list = w.canaries || [];
  return list.length ? list.map(canaryLine) : h('span', { class: 'muted' }, 'none yet');
}

// Rows: every datatype a device lists; columns: each worker's devices. A device that reports no
// formats was not probed: the scheduler does not hold it to any.
function capabilityMatrix(workers) {
  const devices = workers.flatMap((w) => (w.devices || []).map((d) => ({
    label: `${w.worker_id} ${d.name || deviceText(d)}`, formats: d.formats && typeof d.formats === 'object' ? d.formats : {},
  })));
  const datatypes = [...new Set(devices.flatMap((d) => Object.keys(d.formats)))].sort();
  const cell = (d, t) => {
    if (!Object.keys(d.formats).length) return h('span', { class: 'muted', title: 'this device was not probed' }, '?');
    const level = d.formats[t];
    return level ? h('span', { class: 'cap ' + level }, level) : h('span', { class: 'muted', title: 'not supported' }, '–');
  };
  return h('section', { id: 'capability-matrix' },
    h('h2', null, 'Capability matrix'),
    h('p', { class: 'muted' }, 'The datatypes each device runs: native (a kernel of the format), emulated (simulated in a higher precision), – (not at all). The scheduler matches jobs against it.'),
    datatypes.length
      ? table([
        { label: 'Datatype', get: (t) => h('code', null, t) },
        ...devices.map((d) => ({ label: d.label, get: (t) => cell(d, t) })),
      ], datatypes, { id: 'capability-table', rowAttrs: (t) => ({ 'data-datatype': t }) })
      : h('p', { class: 'muted', 'data-empty': '' }, 'No device has reported the datatypes it runs.'));
}

const WORKER_COLUMNS = [
  ['worker_id', (w) => w.worker_id], ['host', (w) => w.host], ['live', (w) => w.live],
  ['devices', (w) => (w.devices || []).map(deviceText).join('; ')], ['kinds', (w) => (w.kinds || []).join(' ')],
  ['slots', (w) => w.slots], ['last_heartbeat_unix_ms', (w) => w.last_heartbeat_unix_ms],
  ['running_job_ids', (w) => (w.running_job_ids || []).join(' ')],
  ['canaries', (w) => (w.canaries || []).map((c) => `${c.device}:${c.verdict}${c.quarantined ? ':quarantined' : ''}`).join(' ')],
];

async function workersPage(el, route, ctx) {
  const body = h('div');
  clear(el, h('h1', null, 'Workers'), body);
  async function load() {
    const list = await api('workers', null, ctx);
    list.sort((a, b) => (b.live - a.live) || String(a.worker_id).localeCompare(String(b.worker_id)));
    const now = Date.now();
    clear(body,
      h('div', { class: 'toolbar' },
        h('span', null, `${list.filter((w) => w.live).length} live of ${list.length}`),
        downloads(blobLink('CSV', 'workers.csv', 'text/csv', () => toCsv(WORKER_COLUMNS, list)),
          { label: 'JSON', url: apiUrl('workers'), filename: 'workers.json' })),
      table([
        { label: 'Worker', get: (w) => w.worker_id },
        { label: 'Host', get: (w) => w.host },
        { label: 'Live', get: (w) => h('span', { class: 'badge ' + (w.live ? (w.draining ? 'PENDING' : 'SUCCEEDED') : 'CANCELLED') },
          w.live ? (w.draining ? 'draining' : 'live') : 'gone') },
        { label: 'Devices', get: (w) => (w.devices || []).map((d) => h('div', null, deviceText(d))) },
        { label: 'Kinds', get: (w) => (w.kinds || []).join(', ') },
        { label: 'Slots', num: true, get: (w) => w.slots },
        { label: 'Last heartbeat', get: (w) => h('span', { title: fmtTime(w.last_heartbeat_unix_ms) }, fmtAgo(w.last_heartbeat_unix_ms, now)) },
        { label: 'Running', get: (w) => (w.running_job_ids || []).map((id, i) => [i ? ', ' : '', h('a', { href: hashFor('job', null, id) }, id)]) },
        { label: 'Drift canary', get: canaryCell, help: 'a fixed kernel timed on each device at start and periodically, against the baseline of its first runs' },
      ], list, {
        id: 'workers', empty: 'No worker has registered: start one with `qlab-worker --coordinator HOST:PORT`.',
        rowAttrs: (w) => ({ 'data-worker-id': w.worker_id, 'data-quarantined': (w.canaries || []).some((c) => c.quarantined) ? '' : undefined }),
      }),
      capabilityMatrix(list));
  }
  await load();
  return { refresh: load };
}

const PAGES = {
  experiments: experimentsPage, experiment: experimentPage, jobs: jobsPage, job: jobPage, workers: workersPage,
};
const CHART_PAGES = ['pareto', 'latency', 'compare', 'study'];

// ---- router and live updates ---------------------------------------------------------------

let current = null;  // {key, page, controller}
let renderSeq = 0;
let chartsModule = null;
const pageHistory = new Map();  // jobs pager: page -> the page before it

function setState(state, routeName) {
  view.dataset.state = state;
  view.dataset.route = routeName;
  if (state === 'ready' || state === 'error') {
    view.dataset.renders = String(Number(view.dataset.renders || 0) + 1);
    try { performance.mark(`qlab:${state}:${routeName}`); } catch { /* marks are best effort */ }
  }
}

async function show() {
  const route = parseHash();
  for (const a of document.querySelectorAll('#nav a')) {
    const r = a.dataset.route;
    a.classList.toggle('active', r === route.name || (r === 'experiments' && route.name === 'experiment') || (r === 'jobs' && route.name === 'job'));
  }
  if (current) { current.controller.abort(); if (current.page && current.page.dispose) current.page.dispose(); }
  const seq = ++renderSeq;
  const controller = new AbortController();
  current = { key: location.hash, page: null, controller, route };
  setState('loading', route.name);
  const ctx = { signal: controller.signal, history: pageHistory };
  try {
    let render = PAGES[route.name];
    if (!render && CHART_PAGES.includes(route.name)) {
      chartsModule = chartsModule || await import('./charts.js');
      render = chartsModule.PAGES[route.name];
    }
    if (!render) {
      clear(view, h('h1', null, 'Not found'), h('p', null, 'No page ', h('code', null, location.hash), '. ', h('a', { href: '#/' }, 'Experiments')));
      setState('ready', route.name);
      return;
    }
    const page = await render(view, route, ctx);
    if (seq !== renderSeq) { if (page && page.dispose) page.dispose(); return; }
    current.page = page || {};
    setState('ready', route.name);
  } catch (e) {
    if (e.name === 'AbortError' || seq !== renderSeq) return;
    view.append(errorBox(e));
    setState('error', route.name);
  }
}

let lastChanges = null;
let refreshing = false;

async function refreshCurrent() {
  if (!current || !current.page || refreshing) return;
  refreshing = true;
  const seq = renderSeq;
  try {
    if (current.page.refresh) {
      await current.page.refresh();
      if (seq === renderSeq) setState('ready', current.route.name);
    }
  } catch (e) {
    if (e.name !== 'AbortError' && seq === renderSeq) {
      const old = view.querySelector('.error.live');
      if (old) old.remove();
      view.prepend(h('p', { class: 'error live', role: 'alert' }, 'Refresh failed: ' + e.message));
    }
  } finally {
    refreshing = false;
  }
}

const summaryText = document.getElementById('summary-text');
const liveDot = document.getElementById('live-dot');
const forgetButton = document.getElementById('forget-token');
forgetButton.addEventListener('click', () => { forgetToken(); location.reload(); });

async function poll() {
  try {
    const s = await api('summary');
    const jobs = s.jobs || {};
    const count = (k) => jobs[k] ?? jobs[k.toLowerCase()] ?? 0;
    summaryText.textContent = `${s.experiments} experiments · ${count('PENDING')} pending · ${count('LEASED') + count('RUNNING')} running · ` +
      `${count('SUCCEEDED')} succeeded · ${count('FAILED')} failed · ${s.workers_live} workers live`;
    liveDot.className = 'dot ok';
    liveDot.title = 'live: updates every 2 s';
    if (lastChanges !== null && s.changes !== lastChanges) refreshCurrent();
    lastChanges = s.changes;
    forgetButton.hidden = !storedToken();
  } catch (e) {
    liveDot.className = 'dot down';
    liveDot.title = 'server not reachable: ' + e.message;
    summaryText.textContent = 'server not reachable';
  } finally {
    setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
  }
}

window.addEventListener('hashchange', show);
// The first poll runs beside the first view, so `changes` is known from before its data.
poll();
show().finally(() => {
  // Chart pages then open without fetching their code.
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 1000));
  idle(() => {
    if (!chartsModule) import('./charts.js').then((m) => { chartsModule = chartsModule || m; }).catch(() => {});
    if (!window.Chart) document.head.append(h('link', { rel: 'prefetch', href: 'vendor/chart.umd.min.js', as: 'script' }));
  });
});
// Relative times ("3 s ago") stay true on an idle cluster too.
setInterval(() => { if (current && current.route.name === 'workers' && !document.hidden) refreshCurrent(); }, 10000);
