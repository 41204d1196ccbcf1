// Dashboard speed with N jobs and 10 N result rows (N = 100,000 by default; 1,000,000 with
// --jobs 1000000): p95 of every JSON API call the dashboard makes, export throughput with the
// server's memory before and after, and first paint (plus time until the data is on screen) of
// every page in headless Chromium. Prints a markdown report (and writes it with --out FILE).
//
//   node bench/dashboard/dashboard_bench.mjs [--db FILE] [--seed-bin PATH] [--jobs N]
//        [--runs N] [--page-runs N] [--no-pages] [--out FILE]
//
// Without --db it runs dashboard_seed (build target `dashboard_seed`) into a temporary file
// first. qlab-server comes from QLAB_SERVER_BIN or <repo>/build; chromium from /usr/bin.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { REPO, tempDir, startServer, launchBrowser, watchErrors } from '../../tests/web/cluster.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : def; };
const RUNS = Number(opt('runs', 40));
const PAGE_RUNS = Number(opt('page-runs', 7));
const JOBS = Number(opt('jobs', 100000));
const PAGES = !argv.includes('--no-pages');
const runs = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n));
const dir = tempDir('qlab-dashboard-bench-');
let db = opt('db', '');

function p95(xs) { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]; }
function median(xs) { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; }
const ms = (v) => (v === undefined || Number.isNaN(v) ? '—' : v < 10 ? v.toFixed(1) : v.toFixed(0));

let seedInfo = null;
if (!db) {
  const seedBin = opt('seed-bin', process.env.QLAB_DASHBOARD_SEED_BIN || path.join(REPO, 'build/bench/dashboard/dashboard_seed'));
  db = path.join(dir, 'bench.db');
  console.error(`seeding ${db} with ${JOBS} jobs (${seedBin})…`);
  const t0 = Date.now();
  const r = spawnSync(seedBin, [db, String(JOBS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`dashboard_seed failed (${r.status}): ${r.stdout}`);
  seedInfo = { ...JSON.parse(r.stdout.trim().split('\n').pop()), wall_s: (Date.now() - t0) / 1000 };
  console.error(`seeded in ${seedInfo.wall_s.toFixed(1)} s`);
}

const startT0 = performance.now();
const server = await startServer({ dir, db });
const startMs = performance.now() - startT0;  // process start to the first /healthz answer
const base = server.base;
// The server's resident memory now and at its peak (kB), from /proc.
function serverMemory() {
  const status = fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8');
  const kb = (k) => Number((status.match(new RegExp(`${k}:\\s+(\\d+)`)) || [])[1] || NaN);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
const memAtStart = serverMemory();
// One GET, timed from the request to the last byte. `agent` false: a new connection (what the
// server itself costs); a keep-alive agent: a reused one, as browsers do. gzip is accepted, as
// by every browser; what brotli adds is measured separately below.
const reuse = new http.Agent({ keepAlive: true, maxSockets: 1 });
function timedGet(p, { agent = false, encoding = 'gzip' } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(`${base}/${p}`, { agent, headers: { 'accept-encoding': encoding } }, (res) => {
      let bytes = 0;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${p}: HTTP ${res.statusCode}`));
        else resolve({ t: performance.now() - t0, bytes });
      });
    });
    req.on('error', reject);
  });
}
const get = (p, o) => timedGet(`api/v1/${p}`, o);
const json = async (p) => (await fetch(`${base}/api/v1/${p}`)).json();

const counts = JSON.parse(execFileSync('sqlite3', ['-json', db, 'select (select count(*) from job) as jobs, (select count(*) from result) as results'], { encoding: 'utf8' }))[0];
const big = 'bench-main';
const oneLabel = runs(JOBS / 10);
const someJob = (await json(`jobs?experiment=${big}&limit=1`)).jobs[0].job_id;
const midBefore = someJob - Math.floor(JOBS / 2);
const pendingJob = (await json('jobs?experiment=bench-pending&limit=1')).jobs[0].job_id;
const enc = encodeURIComponent;

// Every call the dashboard makes, with the query strings its pages send.
const calls = [
  ['summary (polled every 2 s)', 'summary'],
  ['experiments list', 'experiments'],
  ['experiment detail', `experiments/${big}`],
  ['jobs, newest page', 'jobs?limit=50'],
  ['jobs of an experiment', `jobs?experiment=${big}&limit=50`],
  ['jobs, deep page (before = middle)', `jobs?experiment=${big}&limit=50&before=${midBefore}`],
  ['jobs, 1,000 rows a page', `jobs?experiment=${big}&limit=1000`],
  ['jobs by state (succeeded)', 'jobs?state=SUCCEEDED&limit=50'],
  ['jobs by state (pending, with reasons)', 'jobs?state=PENDING&limit=50'],
  ['jobs by state (failed: none match)', 'jobs?state=FAILED&limit=50'],
  ['jobs by kind', 'jobs?kind=noop&limit=50'],
  ['filter: IN and range on params', `jobs?experiment=${big}&limit=50&filter=${enc('label in (dt1, dt2) and seq between 100 and 5000')}`],
  ['filter: OR over metrics', `jobs?experiment=${big}&limit=50&filter=${enc('mse < 0.0005 or sqnr_db >= 30')}`],
  ['filter: param OR metric, all experiments', `jobs?limit=50&filter=${enc('label = dt3 or median_us > 990')}`],
  ['filter: rare match (deep scan)', `jobs?experiment=${big}&limit=50&filter=${enc('seq = 9999 and label = dt0')}`],
  ['datatype field filter (params.datatype, no match)', `jobs?limit=50&filter=${enc('params.datatype = "e2m1"')}`],
  ['job detail', `jobs/${someJob}`],
  ['job detail (pending)', `jobs/${pendingJob}`],
  ['workers', 'workers'],
  ['Pareto, 200 runs', 'experiments/bench-small/pareto?x=bits_per_weight&y=mse&max_points=5000'],
  [`Pareto, ${runs(JOBS)} runs filtered to 1 label (${oneLabel}), as the page asks`, `experiments/${big}/pareto?x=bits_per_weight&y=mse&filter=${enc('label = dt4')}&max_points=5000`],
  [`Pareto, ${runs(JOBS)} runs filtered to 10k runs, every point`, `experiments/${big}/pareto?x=bits_per_weight&y=mse&filter=${enc(`label = dt4 and seq < ${Math.min(10000, JOBS / 10)}`)}`],
  [`Pareto, ${runs(JOBS)} runs, as the page asks`, `experiments/${big}/pareto?x=bits_per_weight&y=mse&max_points=5000`],
  ['latency devices', 'latency/devices'],
  ['latency sets', 'latency?limit=100'],
  ['results JSON, 200 runs (compare page)', 'experiments/bench-small/results?format=json'],
];

// The first call of each kind after start-up (columns of the big experiment not yet in memory).
const coldRows = [];
for (const [label, p] of [
  ['filter: IN and range on params (first call after start)', `jobs?experiment=${big}&limit=50&filter=${enc('label in (dt1, dt2) and seq between 100 and 5000')}`],
  ['Pareto as the page asks (first call after start)', `experiments/${big}/pareto?x=bits_per_weight&y=mse&max_points=5000`],
]) {
  coldRows.push({ label, p, t: (await get(p)).t });
  console.error(`${label}: ${ms(coldRows[coldRows.length - 1].t)} ms`);
}
const memAfterColumns = serverMemory();

const apiRows = [];
for (const [label, p] of calls) {
  for (let i = 0; i < 3; i++) await get(p);  // warm-up
  const fresh = [], reused = [];
  let bytes = 0, raw = 0;
  const n = RUNS;
  for (let i = 0; i < n; i++) {
    const r = await get(p);
    fresh.push(r.t);
    bytes = r.bytes;
    reused.push((await get(p, { agent: reuse })).t);
  }
  raw = (await get(p, { encoding: 'identity' })).bytes;
  apiRows.push({ label, p, n, median: median(fresh), p95: p95(fresh), max: Math.max(...fresh), reusedP95: p95(reused), bytes, raw });
  console.error(`${label}: p95 ${ms(p95(fresh))} ms (reused connection ${ms(p95(reused))} ms)`);
}
// Brotli: browsers ask for it first; measured once on the files and answers that are large.
const brRows = [];
for (const [label, p] of [
  ['vendor/chart.umd.min.js (210 KiB)', 'vendor/chart.umd.min.js'],
  [`Pareto, ${runs(JOBS)} runs filtered to 10k runs`, `api/v1/experiments/${big}/pareto?x=bits_per_weight&y=mse&filter=${enc(`label = dt4 and seq < ${Math.min(10000, JOBS / 10)}`)}`],
]) {
  const row = { label, p };
  for (const e of ['identity', 'gzip', 'br']) row[e] = (await timedGet(p, { encoding: e })).t;
  brRows.push(row);
  console.error(`${label}: identity ${ms(row.identity)} gzip ${ms(row.gzip)} br ${ms(row.br)} ms`);
}

// Exports stream everything: timed once each (a download, not an interactive call).
// Memory: resident size before the export and the peak during it (VmHWM only grows, so a
// peak no higher than before means the export held nothing proportional to its size).
const exportRows = [];
for (const [label, p] of [
  [`results CSV, ${runs(JOBS)} runs x 10 metrics`, `experiments/${big}/results?format=csv`],
  [`results JSON, ${runs(JOBS)} runs x 10 metrics`, `experiments/${big}/results?format=json`],
]) {
  const times = [];
  let bytes = 0;
  const before = serverMemory();
  for (let i = 0; i < 2; i++) { const r = await get(p, { encoding: 'identity' }); times.push(r.t); bytes = r.bytes; }
  const after = serverMemory();
  exportRows.push({ label, p, best: Math.min(...times), bytes, before, after });
  console.error(`${label}: ${ms(Math.min(...times))} ms, ${(bytes / 1e6 / (Math.min(...times) / 1000)).toFixed(0)} MB/s`);
}

// Pages: a fresh browser context each run (nothing cached), first paint and first contentful
// paint from the Paint Timing API, and the time until the view's data is on screen.
const browser = PAGES ? await launchBrowser() : null;
const pages = [
  ['experiments', '/experiments'],
  ['experiment detail', `/experiment/${big}`],
  ['jobs', '/jobs'],
  ['jobs, filtered', `/jobs?experiment=${big}&filter=${enc('label in (dt1, dt2) and seq between 100 and 5000')}`],
  ['jobs, pending', '/jobs?state=PENDING'],
  ['job detail', `/job/${someJob}`],
  ['workers', '/workers'],
  ['Pareto, 200 runs', '/pareto?experiment=bench-small&x=bits_per_weight&y=mse'],
  [`Pareto, ${oneLabel} runs (filtered)`, `/pareto?experiment=${big}&x=bits_per_weight&y=mse&filter=${enc('label = dt4')}`],
  [`Pareto, ${runs(JOBS)} runs`, `/pareto?experiment=${big}&x=bits_per_weight&y=mse`],
  ['latency', '/latency?experiment=bench-small'],
  ['compare (200 vs 200 runs)', '/compare?a=bench-small&b=bench-small'],
];
const pageRows = [];
const pageErrors = [];
// Each page twice: as Chromium loads it (it asks for brotli first), and with Accept-Encoding
// limited to gzip (what the page costs once the server stops answering in brotli).
async function loadPage(hash, label, extraHTTPHeaders) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, extraHTTPHeaders });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${base}/#${hash}`);
  await page.waitForSelector('#view[data-state=ready], #view[data-state=error]', { timeout: 180000 });
  const t = await page.evaluate(() => {
    const paint = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
    const mark = performance.getEntriesByType('mark').find((m) => m.name.startsWith('qlab:'));
    return { fp: paint['first-paint'], fcp: paint['first-contentful-paint'], ready: mark ? mark.startTime : NaN, state: document.getElementById('view').dataset.state };
  });
  if (t.state !== 'ready') errors.push(`view state ${t.state}: ${(await page.textContent('#view')).slice(0, 200)}`);
  if (errors.length) pageErrors.push(`${label}: ${errors.join('; ')}`);
  await context.close();
  return t;
}
for (const [label, hash] of PAGES ? pages : []) {
  const row = { label, hash };
  for (const [mode, headers] of [['br', undefined], ['gzip', { 'Accept-Encoding': 'gzip' }]]) {
    const fp = [], fcp = [], ready = [];
    const pageRuns = label.includes(runs(JOBS)) ? Math.min(2, PAGE_RUNS) : PAGE_RUNS;
    for (let i = 0; i < pageRuns; i++) {
      const t = await loadPage(hash, label, headers);
      fp.push(t.fp); fcp.push(t.fcp); ready.push(t.ready);
    }
    row[mode] = { runs: pageRuns, fp: median(fp), fpMax: Math.max(...fp), fcp: median(fcp), fcpMax: Math.max(...fcp), ready: median(ready), readyMax: Math.max(...ready) };
  }
  pageRows.push(row);
  console.error(`${label}: first paint ${ms(row.br.fp)} ms, data ${ms(row.br.ready)} ms (gzip only: ${ms(row.gzip.fp)}, ${ms(row.gzip.ready)})`);
}
if (browser) await browser.close();
await server.stop();

const cpu = (execFileSync('lscpu', { encoding: 'utf8' }).match(/Model name:\s*(.+)/) || [])[1] || 'unknown';
const chromeVersion = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const dbBytes = fs.statSync(db).size + (fs.existsSync(db + '-wal') ? fs.statSync(db + '-wal').size : 0);
const ok = (v, limit) => (v <= limit ? 'yes' : '**no**');
const kb = (b) => (b < 1024 ? `${b} B` : b < 1048576 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1048576).toFixed(1)} MiB`);

const lines = [];
lines.push(`Machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ${chromeVersion}, headless; node ${process.version}.`);
lines.push(`Database: ${counts.jobs.toLocaleString('en')} jobs, ${counts.results.toLocaleString('en')} result rows, ${kb(dbBytes)}` +
  (seedInfo ? ` (seeded through the server in ${seedInfo.wall_s.toFixed(0)} s: submit ${seedInfo.submit_s.toFixed(1)} s, completions ${seedInfo.complete_s.toFixed(1)} s).` : '.'));
lines.push('');
lines.push(`Server start on this file (process start to the first /healthz answer): ${ms(startMs)} ms; resident memory then ${(memAtStart.rss / 1024).toFixed(0)} MiB, ${(memAfterColumns.rss / 1024).toFixed(0)} MiB once the big experiment's columns were read.`);
lines.push('');
lines.push('### First calls after start (the experiment\'s columns are read from the file by the first)');
lines.push('');
lines.push('| call | query | ms |');
lines.push('|---|---|---|');
for (const r of coldRows) lines.push(`| ${r.label} | \`${r.p}\` | ${ms(r.t)} |`);
lines.push('');
lines.push(`### API calls (${RUNS} requests each after 3 warm-ups; Accept-Encoding: gzip)`);
lines.push('');
lines.push('"new connection": each request on its own connection (the server\'s own time). "reused": on one keep-alive connection, as a browser sends them.');
lines.push('');
lines.push('| call | query | n | median ms | p95 ms | max ms | p95 ms, reused connection | body (gzip / raw) | p95 ≤ 100 ms |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const r of apiRows) lines.push(`| ${r.label} | \`${r.p.replace(/\|/g, '\\|')}\` | ${r.n} | ${ms(r.median)} | ${ms(r.p95)} | ${ms(r.max)} | ${ms(r.reusedP95)} | ${kb(r.bytes)} / ${kb(r.raw)} | ${ok(r.p95, 100)} |`);
lines.push('');
lines.push('### Response encodings (one request each, new connection)');
lines.push('');
lines.push('| response | identity ms | gzip ms | br ms |');
lines.push('|---|---|---|---|');
for (const r of brRows) lines.push(`| ${r.label} | ${ms(r.identity)} | ${ms(r.gzip)} | ${ms(r.br)} |`);
lines.push('');
lines.push('### Exports (stream every row; best of 2, no compression)');
lines.push('');
lines.push('| export | query | time ms | size | MB/s | server RSS before (MiB) | server peak RSS after (MiB) |');
lines.push('|---|---|---|---|---|---|---|');
for (const r of exportRows) lines.push(`| ${r.label} | \`${r.p}\` | ${ms(r.best)} | ${kb(r.bytes)} | ${(r.bytes / 1e6 / (r.best / 1000)).toFixed(0)} | ${(r.before.rss / 1024).toFixed(0)} | ${(r.after.hwm / 1024).toFixed(0)} |`);
lines.push('');
lines.push(`### Pages (fresh browser context per run; median and max of ${PAGE_RUNS} runs, 2 for the pages of the big experiment)`);
lines.push('');
lines.push('"data on screen": until the view has drawn its data (table filled, chart drawn). "br": Chromium as it is; "gzip": Accept-Encoding limited to gzip.');
lines.push('');
lines.push('| page | hash | first paint ms (max) | first contentful paint ms (max) | data on screen ms, br (max) | data on screen ms, gzip (max) | first paint ≤ 1 s |');
lines.push('|---|---|---|---|---|---|---|');
for (const r of pageRows) {
  const fpMax = Math.max(r.br.fpMax, r.gzip.fpMax);
  lines.push(`| ${r.label} | \`#${r.hash.replace(/\|/g, '\\|')}\` | ${ms(r.br.fp)} (${ms(fpMax)}) | ${ms(r.br.fcp)} (${ms(Math.max(r.br.fcpMax, r.gzip.fcpMax))}) | ${ms(r.br.ready)} (${ms(r.br.readyMax)}) | ${ms(r.gzip.ready)} (${ms(r.gzip.readyMax)}) | ${ok(fpMax, 1000)} |`);
}
if (pageErrors.length) { lines.push(''); lines.push('Page errors:'); for (const e of pageErrors) lines.push(`- ${e}`); }
const report = lines.join('\n') + '\n';
process.stdout.write(report);
const out = opt('out', '');
if (out) fs.writeFileSync(out, report);
fs.rmSync(dir, { recursive: true, force: true });
