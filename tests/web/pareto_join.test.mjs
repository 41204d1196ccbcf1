// The Pareto page joined with a second experiment (DESIGN §10 "Joins"), in Debian's chromium
// against a real qlab-server and qlab-worker: two quantize sweeps submitted through the qlab
// CLI, joined on datatype and group_size in the page, the chart drawing the pairs and the page
// counting the runs without a partner.
//
// Run: node --test tests/web/pareto_join.test.mjs (ctest does, as web_pareto_join).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tempDir, checkBinaries, startServer, startWorker, submit, launchBrowser, watchErrors,
} from './cluster.mjs';

const ARTIFACTS = process.env.QLAB_WEB_ARTIFACTS || tempDir('qlab-web-screenshots-');
fs.mkdirSync(ARTIFACTS, { recursive: true });

const TENSOR = { distribution: 'gaussian', shape: [16, 256] };
// B has nf4 besides A's datatypes: its two nf4 runs have no partner in A.
const SWEEPS = [
  { name: 'acc', kind: 'quantize', params: { ...TENSOR, seed: 1, scale_search: 'none' }, axes: { datatype: ['int4_asym', 'e2m1'], group_size: [32, 128] } },
  { name: 'lat', kind: 'quantize', params: { ...TENSOR, seed: 2, scale_search: 'mse' }, axes: { datatype: ['int4_asym', 'e2m1', 'nf4'], group_size: [32, 128] } },
];

let dir, server, worker, browser, context;

before(async () => {
  checkBinaries();
  dir = tempDir();
  server = await startServer({ dir });
  worker = startWorker(server, { dir, args: ['--slots', '4'] });
  for (const s of SWEEPS) {
    const r = await submit(server, dir, s);
    assert.equal(r.code, 0, `${s.name}: ${r.stdout}${r.stderr}`);
  }
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
});

after(async () => {
  if (context) await context.close();
  if (browser) await browser.close();
  if (worker) await worker.stop();
  if (server) await server.stop();
  if (dir) {
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) fs.copyFileSync(path.join(dir, f), path.join(ARTIFACTS, `join-${f}`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const api = async (p) => {
  const res = await fetch(`${server.base}/api/v1/${p}`);
  assert.ok(res.ok, `GET /api/v1/${p}: ${res.status} ${await res.clone().text()}`);
  return res.json();
};

const renders = (page) => page.evaluate(() => Number(document.getElementById('view').dataset.renders));

async function nextRender(page, n) {
  await page.waitForFunction((k) => Number(document.getElementById('view').dataset.renders) > k && document.getElementById('view').dataset.state === 'ready', n, { timeout: 20000 });
  const state = await page.getAttribute('#view', 'data-state');
  if (state === 'error') assert.fail(await page.textContent('#view'));
}

// What the chart draws: every point of the scatter datasets and the frontier line's.
const drawn = (page) => page.evaluate(() => {
  const chart = window.Chart.getChart(document.getElementById('pareto-chart'));
  const line = chart.data.datasets.find((d) => d.label === 'frontier');
  const scatter = chart.data.datasets.filter((d) => d !== line);
  const meta = scatter.flatMap((d) => chart.getDatasetMeta(chart.data.datasets.indexOf(d)).data);
  return {
    points: scatter.reduce((n, d) => n + d.data.length, 0),
    onCanvas: meta.filter((e) => Number.isFinite(e.x) && Number.isFinite(e.y)).length,
    frontier: line.data.map((p) => [p.x, p.y]),
    pairs: scatter.flatMap((d) => d.data.map((p) => [p.pt.job_id, p.pt.job_id_b])),
    xTitle: chart.options.scales.x.title.text,
    yTitle: chart.options.scales.y.title.text,
  };
});

test('the Pareto page joins two experiments, plots the joined metrics and counts the unmatched', async () => {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/#/pareto?experiment=acc`);
  await page.waitForSelector('#view[data-state=ready]', { timeout: 20000 });
  assert.equal(await page.$('#pareto-unmatched-count'), null, 'no join yet');

  // Join with lat: the page proposes datatype,group_size and lists the joined metric names.
  let n = await renders(page);
  await page.selectOption('#pareto-controls select[name=join]', 'lat');
  await nextRender(page, n);
  await page.waitForSelector('#pareto-unmatched-count');
  assert.equal(await page.inputValue('#pareto-controls input[name=on]'), 'datatype,group_size');
  const options = await page.$$eval('#pareto-controls select[name=x] option', (os) => os.map((o) => o.value));
  for (const m of ['acc:mse', 'lat:mse', 'acc:bits_per_weight', 'lat:bits_per_weight']) assert.ok(options.includes(m), `${m} in ${options}`);
  assert.ok(!options.includes('mse'), 'a name both sides have is only offered prefixed');

  // Accuracy of acc (the default y) against the bits of lat.
  assert.equal(await page.inputValue('#pareto-controls select[name=y]'), 'acc:mse');
  n = await renders(page);
  await page.selectOption('#pareto-controls select[name=x]', 'lat:bits_per_weight');
  await nextRender(page, n);
  await page.waitForSelector('#frontier tr[data-job-id-b]');
  let chart = await drawn(page);
  assert.equal(chart.points, 4, 'int4_asym and e2m1 at group sizes 32 and 128');
  assert.equal(chart.onCanvas, 4);
  assert.match(chart.xTitle, /^lat:bits_per_weight/);
  assert.match(chart.yTitle, /^acc:mse/);
  const count = await page.$eval('#pareto-unmatched-count', (e) => ({ a: e.dataset.a, b: e.dataset.b, text: e.textContent }));
  assert.deepEqual([count.a, count.b], ['0', '2']);
  assert.match(count.text, /Unmatched: 0 in acc, 2 in lat/);
  await page.click('#pareto-unmatched summary');
  const listed = await page.$$eval('#pareto-unmatched tr[data-job-id]', (rows) => rows.map((r) => r.textContent));
  assert.equal(listed.length, 2);
  for (const row of listed) assert.match(row, /datatype=nf4/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'pareto-join.png'), fullPage: true });

  // The chart is the API's joined front, pair by pair.
  const p = await api('experiments/acc/pareto?x=lat:bits_per_weight&y=acc:mse&join=lat&on=datatype,group_size');
  assert.equal(p.points.length, 4);
  assert.deepEqual(chart.pairs.map(([a, b]) => `${a}-${b}`).sort(), p.points.map((pt) => `${pt.job_id}-${pt.job_id_b}`).sort());
  assert.deepEqual(chart.frontier, p.points.filter((pt) => pt.on_frontier).map((pt) => [pt.x, pt.y]).sort((u, v) => u[0] - v[0]));
  assert.equal(p.unmatched_b_total, 2);

  // On datatype alone, the rows of a datatype pair each with each: 2 x 2 per datatype.
  n = await renders(page);
  await page.fill('#pareto-controls input[name=on]', 'datatype');
  await page.click('#pareto-controls button[type=submit]');
  await nextRender(page, n);
  await page.waitForSelector('#pareto-unmatched-count');
  chart = await drawn(page);
  assert.equal(chart.points, 8);
  assert.equal(await page.$eval('#pareto-unmatched-count', (e) => e.dataset.b), '2');
  assert.deepEqual(errors, []);

  // An empty param name in `on`: the server's refusal is shown under the controls.
  n = await renders(page);
  await page.fill('#pareto-controls input[name=on]', 'datatype,');
  await page.click('#pareto-controls button[type=submit]');
  await nextRender(page, n);
  await page.waitForSelector('#pareto-error .error');
  assert.match(await page.textContent('#pareto-error'), /on: a param name is empty/);
  // The one refused request, reported by the network and by the browser's console.
  const expected = [/^HTTP 400: .*\/pareto\?.*on=datatype%2C/, /^console: Failed to load resource: .* 400/];
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.deepEqual(errors.filter((e) => !expected.some((re) => re.test(e))), []);
  await page.screenshot({ path: path.join(ARTIFACTS, 'pareto-join-refused.png'), fullPage: true });
  await page.close();
});
