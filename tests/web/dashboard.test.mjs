// Browser tests of the dashboard: Debian's chromium (headless, through playwright-core) against a
// real qlab-server and qlab-worker, with experiments submitted through the qlab CLI.
//
// Run: node --test tests/web/dashboard.test.mjs (ctest does, with the binaries' paths in
// QLAB_SERVER_BIN / QLAB_WORKER_BIN / QLAB_CLI_BIN). Screenshots go to QLAB_WEB_ARTIFACTS
// (default: a temporary folder, printed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  tempDir, checkBinaries, startServer, startWorker, submit, cli, launchBrowser, watchErrors,
} from './cluster.mjs';

const ARTIFACTS = process.env.QLAB_WEB_ARTIFACTS || tempDir('qlab-web-screenshots-');
fs.mkdirSync(ARTIFACTS, { recursive: true });

// A known data set: the frontier when both metrics are minimised is (2,.9) (3,.5) (4,.2) (6,.1).
const KNOWN = [[2, 0.9], [3, 0.5], [3, 0.7], [4, 0.2], [4, 0.35], [5, 0.25], [6, 0.1], [8, 0.12], [7, 0.4], [2.5, 0.95]];
const KNOWN_FRONTIER = [[2, 0.9], [3, 0.5], [4, 0.2], [6, 0.1]];

const LATENCY = [[100, 110], [200, 190], [400, 420], [800, 700]];

let dir, server, worker, browser, context;

before(async () => {
  checkBinaries();
  dir = tempDir();
  server = await startServer({ dir });
  worker = startWorker(server, { dir, args: ['--slots', '4'] });
  const sweeps = [
    { name: 'pareto-known', kind: 'noop', axes: { metrics: KNOWN.map(([bits, err]) => ({ bits, err })) } },
    { name: 'jobs-many', kind: 'noop', axes: { label: ['a', 'b', 'c'], fail: [false, true], seq: [...Array(10).keys()] } },
    {
      name: 'quantize-small', kind: 'quantize',
      params: { distribution: 'gaussian', shape: [16, 256], seed: 1, scale_search: 'none' },
      axes: { datatype: ['int4_asym', 'e2m1', 'nf4'], group_size: [32, 128] },
    },
    { name: 'latency-pred', kind: 'noop', axes: { label: ['dev-a', 'dev-b'], metrics: LATENCY.map(([m, p]) => ({ median_us: m, predicted_us: p })) } },
  ];
  for (const s of sweeps) {
    const r = await submit(server, dir, s);
    // jobs-many has jobs that fail on purpose: --wait exits 1 there.
    assert.equal(r.code, s.name === 'jobs-many' ? 1 : 0, `${s.name}: ${r.stdout}${r.stderr}`);
  }
  // Jobs no live worker can run: they stay PENDING with a reason.
  const pending = await submit(server, dir, { name: 'needs-cuda', kind: 'noop', requirements: { device_class: 'cuda' }, axes: { seq: [1, 2] } }, { wait: false });
  assert.equal(pending.code, 0, pending.stdout + pending.stderr);
  browser = await launchBrowser();
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  console.log(`# screenshots: ${ARTIFACTS}`);
});

after(async () => {
  if (context) await context.close();
  if (browser) await browser.close();
  if (worker) await worker.stop();
  if (server) await server.stop();
  // The logs go with the screenshots; the rest (database, sweep files) is removed.
  if (dir) {
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) fs.copyFileSync(path.join(dir, f), path.join(ARTIFACTS, f));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const api = async (p) => {
  const res = await fetch(`${server.base}/api/v1/${p}`);
  assert.ok(res.ok, `GET /api/v1/${p}: ${res.status} ${await res.clone().text()}`);
  return res.json();
};

// Opens the dashboard at `hash` in a fresh page and waits for the view to finish loading.
async function open(hash) {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/#${hash}`);
  await page.waitForSelector('#view[data-state=ready], #view[data-state=error]', { timeout: 20000 });
  const state = await page.getAttribute('#view', 'data-state');
  if (state === 'error') assert.fail(`${hash}: ${await page.textContent('#view')}`);
  return { page, errors };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function nextRender(page, before) {
  await page.waitForFunction((n) => Number(document.getElementById('view').dataset.renders) > n && document.getElementById('view').dataset.state === 'ready', before, { timeout: 20000 });
}

const renders = (page) => page.evaluate(() => Number(document.getElementById('view').dataset.renders));

test('every page loads without console errors', async () => {
  const failedJob = (await api('jobs?experiment=jobs-many&state=FAILED&limit=1')).jobs[0];
  const pendingJob = (await api('jobs?experiment=needs-cuda&limit=1')).jobs[0];
  const okJob = (await api('jobs?experiment=quantize-small&limit=1')).jobs[0];
  const pages = [
    ['experiments', '/experiments'], ['experiment', '/experiment/quantize-small'], ['jobs', '/jobs'],
    ['jobs-filtered', '/jobs?experiment=jobs-many&state=FAILED&filter=seq%20%3E%3D%205'],
    ['job-succeeded', `/job/${okJob.job_id}`], ['job-failed', `/job/${failedJob.job_id}`],
    ['job-pending', `/job/${pendingJob.job_id}`], ['workers', '/workers'],
    ['pareto', '/pareto?experiment=quantize-small&x=bits_per_weight&y=mse'],
    ['pareto-known', '/pareto?experiment=pareto-known&x=bits&y=err&x_dir=min&y_dir=min'],
    ['pareto-mixed', '/pareto?experiment=quantize-small&x=bits_per_weight&y=mse&keys=mix&fallbacks=include'],
    ['latency', '/latency?experiment=latency-pred'], ['compare', '/compare?a=quantize-small&b=pareto-known'],
    ['compare-same-metrics', '/compare?a=latency-pred&b=latency-pred'],
    ['compare-unmoved', '/compare?a=latency-pred&b=latency-pred&all=1&threshold_sigma=2'], ['not-found', '/no-such-page'],
  ];
  for (const [name, hash] of pages) {
    const { page, errors } = await open(hash);
    // Let live polling run a round as well.
    await sleep(300);
    await shot(page, name);
    assert.deepEqual(errors, [], `${hash}: ${errors.join('\n')}`);
    await page.close();
  }
});

test('the Pareto chart draws the frontier of a known data set', async () => {
  const { page, errors } = await open('/pareto?experiment=pareto-known&x=bits&y=err&x_dir=min&y_dir=min');
  await page.waitForSelector('#frontier tr[data-job-id]');
  const table = await page.$$eval('#frontier tr[data-job-id]', (rows) => rows.map((r) => [Number(r.dataset.x), Number(r.dataset.y)]));
  assert.deepEqual(table, KNOWN_FRONTIER);
  // What the chart itself draws: the frontier line dataset, and every point.
  const drawn = await page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('pareto-chart'));
    const line = chart.data.datasets.find((d) => d.label === 'frontier');
    const meta = chart.getDatasetMeta(chart.data.datasets.indexOf(line));
    return {
      frontier: line.data.map((p) => [p.x, p.y]),
      type: line.type, showsLine: line.showLine !== false,
      pixels: meta.data.map((e) => [Math.round(e.x), Math.round(e.y)]),
      points: chart.data.datasets.filter((d) => d !== line).reduce((n, d) => n + d.data.length, 0),
    };
  });
  assert.deepEqual(drawn.frontier, KNOWN_FRONTIER);
  assert.equal(drawn.type, 'line');
  assert.equal(drawn.points, KNOWN.length);
  // The frontier goes down and to the right on screen: x pixels grow, y pixels grow (y down).
  for (let i = 1; i < drawn.pixels.length; i++) {
    assert.ok(drawn.pixels[i][0] > drawn.pixels[i - 1][0] && drawn.pixels[i][1] > drawn.pixels[i - 1][1], JSON.stringify(drawn.pixels));
  }
  // The API agrees.
  const p = await api('experiments/pareto-known/pareto?x=bits&y=err&x_dir=min&y_dir=min');
  assert.deepEqual(p.points.filter((pt) => pt.on_frontier).map((pt) => [pt.x, pt.y]).sort((a, b) => a[0] - b[0]), KNOWN_FRONTIER);
  // Hovering a frontier point shows its run.
  const [px, py] = drawn.pixels[1];
  const box = await page.locator('#pareto-chart').boundingBox();
  await page.mouse.move(box.x + px, box.y + py);
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.textContent('#tooltip');
  const job = p.points.find((pt) => pt.x === 3 && pt.y === 0.5);
  assert.match(tip, new RegExp(`job ${job.job_id}`));
  assert.match(tip, /on the frontier/);
  await shot(page, 'pareto-known-hover');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Pareto of a datatype sweep: coloured by datatype, hover shows run, group size and model', async () => {
  const { page, errors } = await open('/pareto?experiment=quantize-small&x=bits_per_weight&y=mse');
  await page.waitForSelector('#frontier tr[data-job-id]');
  const info = await page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('pareto-chart'));
    const groups = chart.data.datasets.filter((d) => d.label !== 'frontier');
    const target = groups[0];
    const meta = chart.getDatasetMeta(chart.data.datasets.indexOf(target));
    return { labels: groups.map((d) => d.label), colours: groups.map((d) => d.backgroundColor), px: [meta.data[0].x, meta.data[0].y], job: target.data[0].pt.job_id, gs: target.data[0].pt.params.group_size, datatype: target.label, model: target.data[0].pt.params.model };
  });
  assert.deepEqual([...info.labels].sort(), ['e2m1', 'int4_asym', 'nf4']);
  assert.equal(new Set(info.colours).size, 3);
  // The frontier matches the API's for the same query.
  const p = await api('experiments/quantize-small/pareto?x=bits_per_weight&y=mse');
  const rows = await page.$$eval('#frontier tr[data-job-id]', (r) => r.map((x) => Number(x.dataset.jobId)));
  assert.deepEqual(rows.sort(), p.points.filter((pt) => pt.on_frontier).map((pt) => pt.job_id).sort());
  const box = await page.locator('#pareto-chart').boundingBox();
  await page.mouse.move(box.x + info.px[0], box.y + info.px[1]);
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.textContent('#tooltip');
  // The tooltip names the hovered run: its job, its datatype (the colour group), group size and
  // model ('—' when the run has none), not just the labels every tooltip prints.
  const lines = await page.$$eval('#tooltip > div', (divs) => divs.map((d) => d.textContent));
  assert.match(lines[0], new RegExp(`^job ${info.job}( · on the frontier)?$`), tip);
  for (const line of [`datatype = ${info.datatype}`, `group_size = ${info.gs}`, `model = ${info.model === undefined ? '—' : info.model}`]) {
    assert.ok(lines.includes(line), `${line} in ${JSON.stringify(lines)}`);
  }
  await shot(page, 'pareto-quantize-hover');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Pareto environments: the keys control re-requests with keys=mix, warnings follow the API', async () => {
  const hash = '/pareto?experiment=pareto-known&x=bits&y=err&x_dir=min&y_dir=min';
  const { page, errors } = await open(hash);
  const p = await api('experiments/pareto-known/pareto?x=bits&y=err&x_dir=min&y_dir=min&keys=group');
  assert.equal(await page.inputValue('#pareto-keys'), 'group');
  // The notice and the fallback note appear exactly when the API has something to say.
  assert.equal(await page.$('#pareto-keys-warning') !== null, p.key_groups.length > 1);
  assert.equal(await page.$('#pareto-fallbacks') !== null, p.excluded_fallbacks > 0);
  if (p.key_groups.length > 1) assert.equal((await page.textContent('#pareto-keys-warning')).trim(), p.warning);
  const n = await renders(page);
  await page.selectOption('#pareto-keys', 'mix');
  await nextRender(page, n);
  assert.match(page.url(), /[?&]keys=mix(&|$)/);
  assert.equal(await page.inputValue('#pareto-keys'), 'mix');
  // One front over every point: the known one.
  await page.waitForSelector('#frontier tr[data-job-id]');
  const table = await page.$$eval('#frontier tr[data-job-id]', (rows) => rows.map((r) => [Number(r.dataset.x), Number(r.dataset.y)]));
  assert.deepEqual(table, KNOWN_FRONTIER);
  assert.deepEqual(errors, []);
  await page.close();
});

const rowIds = (page) => page.$$eval('#jobs tr[data-job-id]', (rows) => rows.map((r) => Number(r.dataset.jobId)));

test('job table: server-side pagination and filters change the rows', async () => {
  const { page, errors } = await open('/jobs?experiment=jobs-many&limit=25');
  assert.equal(await page.getAttribute('#job-total', 'data-total'), '60');
  const p1 = await rowIds(page);
  assert.equal(p1.length, 25);
  assert.ok(p1.every((id, i) => i === 0 || id < p1[i - 1]), 'newest first');
  let n = await renders(page);
  await page.click('#page-next');
  await nextRender(page, n);
  const p2 = await rowIds(page);
  assert.equal(p2.length, 25);
  assert.ok(Math.max(...p2) < Math.min(...p1), 'page 2 is older than page 1');
  n = await renders(page);
  await page.click('#page-next');
  await nextRender(page, n);
  const p3 = await rowIds(page);
  assert.equal(p3.length, 10);
  assert.equal(new Set([...p1, ...p2, ...p3]).size, 60);
  assert.ok(await page.isDisabled('#page-next'));
  n = await renders(page);
  await page.click('#page-prev');
  await nextRender(page, n);
  assert.deepEqual(await rowIds(page), p2);
  n = await renders(page);
  await page.click('#page-first');
  await nextRender(page, n);
  assert.deepEqual(await rowIds(page), p1);

  // State filter through the form.
  await page.selectOption('#job-filters select[name=state]', 'FAILED');
  n = await renders(page);
  await page.click('#job-filters button[type=submit]');
  await nextRender(page, n);
  assert.equal(await page.getAttribute('#job-total', 'data-total'), '30');
  const states = await page.$$eval('#jobs tr[data-job-id]', (rows) => rows.map((r) => r.dataset.state));
  assert.equal(states.length, 25);
  assert.ok(states.every((s) => s === 'FAILED'));
  // The failure reason is shown.
  assert.match(await page.textContent('#jobs tbody tr'), /asked to fail/);

  // Free filter expressions: IN, ranges, OR.
  const cases = [
    ['label in (a, b) and seq >= 5', 20],
    ['label = c or seq between 0 and 1', 28],
    ['(label = a or label = b) and not fail = true and seq < 3', 6],
  ];
  for (const [expr, count] of cases) {
    await page.selectOption('#job-filters select[name=state]', '');
    await page.fill('#job-filters input[name=filter]', expr);
    n = await renders(page);
    await page.click('#job-filters button[type=submit]');
    await nextRender(page, n);
    assert.equal(await page.getAttribute('#job-total', 'data-total'), String(count), expr);
    const shown = await rowIds(page);
    assert.equal(shown.length, Math.min(25, count), expr);
    const api1 = await api(`jobs?experiment=jobs-many&limit=25&filter=${encodeURIComponent(expr)}`);
    assert.deepEqual(shown, api1.jobs.map((j) => j.job_id), expr);
  }
  await shot(page, 'jobs-filtered-expression');

  // Datatype and kind filters.
  await page.goto(`${server.base}/#/jobs?experiment=quantize-small&datatype=e2m1`);
  await page.waitForFunction(() => document.querySelector('#job-total')?.dataset.total === '2');
  const dts = await page.$$eval('#jobs tr[data-job-id] td:nth-child(5)', (tds) => tds.map((t) => t.textContent));
  assert.ok(dts.every((t) => /datatype=e2m1/.test(t)), dts.join('\n'));
  await page.goto(`${server.base}/#/jobs?kind=quantize`);
  await page.waitForFunction(() => document.querySelector('#job-total')?.dataset.total === '6');
  assert.deepEqual(errors, []);
  await page.close();
});

test('pending jobs say why they wait, in the table and in the job page', async () => {
  const { page, errors } = await open('/jobs?state=PENDING');
  const rows = await page.$$eval('#jobs tr[data-job-id]', (r) => r.map((x) => ({ state: x.dataset.state, text: x.textContent })));
  assert.equal(rows.length, 2);
  const api1 = await api('jobs?state=PENDING');
  for (const j of api1.jobs) assert.ok(j.pending_reason, JSON.stringify(j));
  for (const [i, r] of rows.entries()) {
    assert.equal(r.state, 'PENDING');
    assert.ok(r.text.includes(api1.jobs[i].pending_reason), r.text);
  }
  await shot(page, 'jobs-pending');
  await page.close();
  const detail = await open(`/job/${api1.jobs[0].job_id}`);
  assert.equal((await detail.page.textContent('#pending-reason')).trim(), api1.jobs[0].pending_reason);
  assert.deepEqual([...errors, ...detail.errors], []);
  await detail.page.close();
});

test('job detail shows attempts and the error', async () => {
  const failed = (await api('jobs?experiment=jobs-many&state=FAILED&limit=1')).jobs[0];
  const { page, errors } = await open(`/job/${failed.job_id}`);
  const attempts = await page.$$eval('#attempts tbody tr', (r) => r.map((x) => x.textContent));
  assert.ok(attempts.length >= 1);
  assert.match(await page.textContent('#last-error'), /asked to fail/);
  const ok = (await api('jobs?experiment=pareto-known&limit=1')).jobs[0];
  await page.goto(`${server.base}/#/job/${ok.job_id}`);
  await page.waitForSelector('#metrics tbody tr');
  const metrics = await page.$$eval('#metrics tbody tr td:first-child', (t) => t.map((x) => x.textContent));
  assert.ok(metrics.includes('bits') && metrics.includes('err'), metrics.join(','));
  // Where the figure comes from: keys and backend as the API has them, the context as its leaves.
  const detail = await api(`jobs/${ok.job_id}`);
  for (const [id, field] of [['job-environment-key', 'environment_key'], ['job-comparability-key', 'comparability_key'], ['job-backend', 'backend']]) {
    assert.equal(typeof detail[field], 'string', `${field} in ${JSON.stringify(detail)}`);
    assert.equal((await page.textContent(`#${id}`)).trim(), detail[field] || 'not reported', field);
  }
  const leaves = (o, prefix = '') => Object.entries(o || {}).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length ? leaves(v, path) : [path];
  });
  const fields = await page.$$eval('#job-context tr[data-field]', (r) => r.map((x) => x.dataset.field));
  assert.deepEqual(fields, leaves(detail.context));
  if (!fields.length) assert.ok(await page.$('#job-no-context'));
  assert.equal(await page.$('#job-flag') !== null, Boolean(detail.flag));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a crashing job shows its failure class and each attempt\'s log', async () => {
  const r = await submit(server, dir, { name: 'crashing', kind: 'noop', params: { fault: 'abort' }, max_attempts: 2 }, { wait: false });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  let job;  // two attempts, each a child that loads LibTorch: seconds on a loaded machine
  for (let i = 0; i < 1200; i++) {
    job = (await api('jobs?experiment=crashing')).jobs[0];
    if (job && job.state === 'FAILED') break;
    await sleep(50);
  }
  assert.equal(job.state, 'FAILED', JSON.stringify(job));
  const { page, errors } = await open(`/job/${job.job_id}`);
  assert.equal((await page.textContent('#failure-class')).trim(), 'poison');
  const classes = await page.$$eval('#attempts tbody tr td:nth-child(8)', (t) => t.map((x) => x.textContent));
  assert.deepEqual(classes, ['crash', 'crash']);
  await page.waitForFunction(() => /injecting fault 'abort'/.test(document.querySelector('#attempt-log')?.textContent || ''));
  const tabs = await page.$$eval('#log-attempts button', (b) => b.map((x) => x.textContent));
  assert.deepEqual(tabs, ['Attempt 1 (crash)', 'Attempt 2 (crash)']);
  await page.click('#log-attempts button:first-child');
  await page.waitForFunction(() => document.querySelector('#log-attempts button:first-child')?.className === '');
  await page.waitForFunction(() => /injecting fault 'abort'/.test(document.querySelector('#attempt-log')?.textContent || ''));
  await shot(page, 'job-crash-log');
  assert.deepEqual(errors, []);
  await page.close();
});

test('workers page shows devices, last heartbeat and running jobs', async () => {
  // A job that runs until cancelled, so the worker has something to show.
  const r = await submit(server, dir, { name: 'slow', kind: 'noop', params: { duration_ms: 120000 }, axes: { seq: [1] } }, { wait: false });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  let running = [];
  for (let i = 0; i < 200 && !running.length; i++) {
    running = (await api('workers')).flatMap((w) => w.running_job_ids || []);
    if (!running.length) await sleep(50);
  }
  assert.equal(running.length, 1, 'the slow job is running');
  const { page, errors } = await open('/workers');
  const workers = await api('workers');
  const rows = await page.$$eval('#workers tr[data-worker-id]', (r) => r.map((x) => x.textContent));
  assert.equal(rows.length, workers.length);
  assert.ok(rows[0].includes('live'));
  assert.match(rows[0], /s ago|min ago/);
  assert.match(rows[0], /cpu/i);
  const links = await page.$$eval('#workers tr[data-worker-id] a', (a) => a.map((x) => x.getAttribute('href')));
  assert.ok(links.includes(`#/job/${running[0]}`), links.join(' '));
  const headers = await page.$$eval('#workers thead th', (t) => t.map((x) => x.textContent));
  assert.ok(headers.includes('Drift canary'), headers.join(','));
  assert.equal(await page.$$eval('.quarantined', (e) => e.length), workers.flatMap((w) => (w.canaries || []).filter((c) => c.quarantined)).length);
  // The capability matrix: a row per datatype any device lists (a CPU device emulates every
  // datatype), a column per worker device, each cell that device's level or '–'.
  await page.waitForSelector('#capability-matrix');
  const datatypes = [...new Set(workers.flatMap((w) => (w.devices || []).flatMap((d) => Object.keys(d.formats || {}))))].sort();
  assert.ok(datatypes.length > 0, JSON.stringify(workers.map((w) => w.devices)));
  assert.deepEqual(await page.$$eval('#capability-table tbody tr', (r) => r.map((x) => x.dataset.datatype)), datatypes);
  const matrix = await page.$$eval('#capability-table tr', (r) => r.map((x) => [...x.children].map((c) => c.textContent)));
  for (const w of workers) {
    for (const d of (w.devices || []).filter((x) => Object.keys(x.formats || {}).length)) {
      const column = matrix[0].indexOf(`${w.worker_id} ${d.name}`);
      assert.ok(column > 0, `${w.worker_id} ${d.name} in ${matrix[0]}`);
      assert.deepEqual(matrix.slice(1).map((row) => row[column]), datatypes.map((t) => d.formats[t] || '–'));
    }
  }
  await shot(page, 'workers-running');
  const c = await cli(server, ['cancel', '--experiment', 'slow']);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.deepEqual(errors, []);
  await page.close();
});

test('CSV and JSON downloads match the API, with every row', async () => {
  const { page, errors } = await open('/jobs?experiment=jobs-many&limit=25');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=CSV]')]);
  const file = path.join(ARTIFACTS, 'jobs-many.csv');
  await download.saveAs(file);
  const got = fs.readFileSync(file, 'utf8');
  const url = download.url();
  const fromApi = await (await fetch(url)).text();
  assert.equal(got, fromApi);
  assert.match(url, /\/api\/v1\/experiments\/jobs-many\/results\?format=csv/);
  assert.equal(got.trim().split('\n').length, 61, 'a header and all 60 jobs, not one page');
  const direct = await (await fetch(`${server.base}/api/v1/experiments/jobs-many/results?format=csv`)).text();
  assert.equal(got, direct);
  // The filter in the page goes with the download.
  await page.goto(`${server.base}/#/jobs?experiment=jobs-many&state=FAILED&limit=25`);
  await page.waitForFunction(() => document.querySelector('#job-total')?.dataset.total === '30');
  const [d2] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=JSON]')]);
  const rows = JSON.parse(fs.readFileSync(await d2.path(), 'utf8'));
  assert.equal(rows.length, 30);
  assert.ok(rows.every((r) => r.state === 'FAILED'));
  // Experiments table: the whole list, made from the API's complete answer.
  await page.goto(`${server.base}/#/experiments`);
  await page.waitForSelector('#experiments');
  const [d3] = await Promise.all([page.waitForEvent('download'), page.click('.toolbar [data-download=CSV]')]);
  const lines = fs.readFileSync(await d3.path(), 'utf8').trim().split('\n');
  assert.equal(lines.length - 1, (await api('experiments')).length);
  // The jobs export streams every matching job, newest first, in pages the client never sees.
  const jobsJson = await (await fetch(`${server.base}/api/v1/jobs?experiment=jobs-many&format=json`)).json();
  assert.equal(jobsJson.length, 60);
  assert.ok(jobsJson.every((j, i) => i === 0 || j.job_id < jobsJson[i - 1].job_id));
  const jobsCsv = (await (await fetch(`${server.base}/api/v1/jobs?experiment=jobs-many&state=FAILED&format=csv`)).text()).trim().split('\n');
  assert.equal(jobsCsv.length, 31, 'a header and the 30 failed jobs');
  assert.match(jobsCsv[0], /^job_id,experiment,kind,state,/);
  const afterFirst = await (await fetch(`${server.base}/api/v1/jobs?experiment=jobs-many&format=json&before=${jobsJson[0].job_id}`)).json();
  assert.deepEqual(afterFirst.map((j) => j.job_id), jobsJson.slice(1).map((j) => j.job_id));
  assert.equal((await fetch(`${server.base}/api/v1/jobs?format=csv&filter=${encodeURIComponent('x >')}`)).status, 400);
  assert.deepEqual(errors, []);
  await page.close();
});

test('live updates: a new experiment and finished jobs appear without a reload', async () => {
  const { page, errors } = await open('/experiments');
  await page.evaluate(() => { window.__noReload = true; });
  const r = await submit(server, dir, { name: 'live-added', kind: 'noop', axes: { seq: [1, 2, 3] } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await page.waitForSelector('#experiments tr[data-name=live-added]', { timeout: 15000 });
  await page.waitForFunction(() => /3/.test(document.querySelector('#experiments tr[data-name=live-added] td:nth-child(9)')?.textContent || ''), null, { timeout: 15000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  assert.match(await page.textContent('#summary-text'), /workers live/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('latency page: measured vs predicted scatter and distribution per group', async () => {
  const { page, errors } = await open('/latency?experiment=latency-pred');
  await page.waitForSelector('#prediction-stats');
  assert.equal(await page.getAttribute('#prediction-stats', 'data-n'), String(LATENCY.length * 2));
  assert.equal(Number(await page.getAttribute('#prediction-stats', 'data-spearman')), 1);
  const groups = await page.$$eval('#latency-group-stats tbody tr td:first-child', (t) => t.map((x) => x.textContent));
  assert.deepEqual(groups, ['dev-a', 'dev-b']);
  const scatter = await page.evaluate(() => window.Chart.getChart(document.getElementById('latency-scatter-chart')).data.datasets.filter((d) => d.type === 'scatter').map((d) => d.data.length));
  assert.deepEqual(scatter, [4, 4]);
  await shot(page, 'latency-pred');
  await page.goto(`${server.base}/#/latency?experiment=quantize-small`);
  await page.waitForSelector('#no-predicted');
  assert.deepEqual(errors, []);
  await page.close();
});

test('compare two experiments side by side', async () => {
  const { page, errors } = await open('/compare?a=latency-pred&b=pareto-known');
  assert.match(await page.textContent('#compare-a'), /latency-pred/);
  assert.match(await page.textContent('#compare-b'), /pareto-known/);
  const metrics = await page.$$eval('#compare-metrics tr[data-metric]', (r) => r.map((x) => x.dataset.metric));
  for (const m of ['median_us', 'predicted_us', 'bits', 'err']) assert.ok(metrics.includes(m), metrics.join(','));
  await page.goto(`${server.base}/#/compare?a=pareto-known&b=pareto-known&x=bits&y=err`);
  await page.waitForFunction(() => document.getElementById('compare-chart')?.dataset.frontierA);
  const fa = JSON.parse(await page.getAttribute('#compare-chart', 'data-frontier-a'));
  assert.equal(fa.length, KNOWN_FRONTIER.length);
  await shot(page, 'compare');
  assert.deepEqual(errors, []);
  await page.close();
});

test('compare: the regression view lists what moved beyond its noise, as /api/v1/compare does', async () => {
  // An experiment against itself: every param set pairs, and no metric moves.
  const { page, errors } = await open('/compare?a=latency-pred&b=latency-pred');
  await page.waitForSelector('#compare-regressions #compare-regressions-summary');
  const r = await api('compare?a=latency-pred&b=latency-pred');
  const summary = await page.$eval('#compare-regressions-summary', (e) => ({ ...e.dataset }));
  assert.deepEqual(summary, {
    pairs: String(r.pairs), compared: String(r.compared), moved: String(r.moved_count),
    noNoise: String(r.no_noise), threshold: String(r.threshold_sigma),
  });
  assert.equal(r.pairs, LATENCY.length * 2);
  assert.equal(r.moved_count, 0);
  assert.equal(await page.$('#compare-moved'), null);
  assert.match(await page.textContent('#compare-regressions'), /No metric moved beyond its noise/);
  assert.equal(await page.$('#compare-mixed-a') !== null, r.keys_a.length > 1);
  assert.deepEqual(await page.$$eval('#compare-context-diff tr[data-field]', (rows) => rows.map((x) => x.dataset.field)), r.context_diff.map((d) => d.field));
  // The threshold and the unmoved list go to the API from the page's controls.
  const n = await renders(page);
  await page.click('#compare-controls input[name=all]');
  await nextRender(page, n);
  assert.match(page.url(), /[?&]all=1(&|$)/);
  const all = await api('compare?a=latency-pred&b=latency-pred&all=1');
  const unmoved = await page.$$eval('#compare-unmoved tbody tr', (rows) => rows.length);
  assert.equal(unmoved, Math.min(1000, all.unmoved.length));
  await shot(page, 'compare-regressions');
  assert.deepEqual(errors, []);
  await page.close();
});
