// A mixed-precision study in the dashboard, in Debian's chromium against a real qlab-server and
// qlab-worker: NSGA-II over one format per layer of the shipped model (the CLI lists the
// layers), the study page drawing every finished trial, the front as a line and a table that
// match GetStudy's report, and the hypervolume's growth; a point leads to its job.
//
// Run: node --test tests/web/study.test.mjs (ctest does, as web_study).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO, tempDir, checkBinaries, startServer, startWorker, submit, launchBrowser, watchErrors,
} from './cluster.mjs';

const ARTIFACTS = process.env.QLAB_WEB_ARTIFACTS || tempDir('qlab-web-screenshots-');
fs.mkdirSync(ARTIFACTS, { recursive: true });

const STUDY = {
  name: 'mp', kind: 'accuracy',
  params: {
    model: path.join(REPO, 'models/kjv/model.bin'), tokens: path.join(REPO, 'models/kjv/heldout.tok'),
    context: 256, max_tokens: 1024, group_size: 128, threads: 1,
  },
  search: {
    sampler: 'nsga2', trials: 10, parallel: 2, seed: 3, population: 4,
    objectives: [{ metric: 'perplexity', direction: 'min' }, { metric: 'bits_per_weight', direction: 'min' }],
    space: { datatype: { per: 'layer', choices: ['int3_asym', 'int4_asym', 'int8_asym'] } },
  },
};

let dir, server, worker, browser, context;

before(async () => {
  checkBinaries();
  dir = tempDir();
  server = await startServer({ dir });
  worker = startWorker(server, { dir, args: ['--slots', '1'] });
  const r = await submit(server, dir, STUDY);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
});

after(async () => {
  if (context) await context.close();
  if (browser) await browser.close();
  if (worker) await worker.stop();
  if (server) await server.stop();
  if (dir) {
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) fs.copyFileSync(path.join(dir, f), path.join(ARTIFACTS, `study-${f}`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the study page draws every trial, the front and its growth', async () => {
  const report = await (await fetch(`${server.base}/api/v1/studies/mp`)).json();
  assert.equal(report.done, true);
  assert.equal(report.counts.proposed, 10);
  assert.equal(report.counts.succeeded, 10);
  // Per layer: the map has the model's four layers, each one of the choices.
  for (const t of report.trials) {
    assert.deepEqual(Object.keys(t.assignment.datatype).sort(), [0, 1, 2, 3].map((l) => `model.layers.${l}.*`));
  }

  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/#/experiment/mp`);
  await page.waitForSelector('#study-link');
  await page.click('#study-link');
  await page.waitForFunction(() => document.getElementById('view').dataset.route === 'study' && document.getElementById('view').dataset.state === 'ready', null, { timeout: 20000 });
  const chart = await page.evaluate(() => {
    const c = window.Chart.getChart(document.getElementById('study-chart'));
    const line = c.data.datasets.find((d) => d.label === 'front');
    const points = c.data.datasets.filter((d) => d !== line).flatMap((d) => d.data);
    const hv = window.Chart.getChart(document.getElementById('study-hypervolume')).data.datasets[0].data;
    return { points: points.map((p) => p.t.trial).sort((a, b) => a - b), front: line.data.map((p) => p.t.trial).sort((a, b) => a - b), hv: hv.map((p) => p.y) };
  });
  assert.deepEqual(chart.points, [...Array(10).keys()]);
  assert.deepEqual(chart.front, [...report.front].sort((a, b) => a - b));
  const rows = await page.$$eval('#front tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.trial)).sort((a, b) => a - b));
  assert.deepEqual(rows, chart.front);
  // The hypervolume never shrinks as trials finish, and ends at the report's.
  for (let i = 1; i < chart.hv.length; i++) assert.ok(chart.hv[i] >= chart.hv[i - 1] - 1e-12, `hypervolume ${chart.hv}`);
  assert.ok(Math.abs(chart.hv[chart.hv.length - 1] - report.hypervolume) < 1e-9);
  assert.match(await page.textContent('#study-info'), /10 of 10 trials proposed, 10 succeeded/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'study.png'), fullPage: true });

  // A front row's job link opens that trial's job.
  const first = report.trials[report.front[0]];
  await page.click(`#front tbody tr[data-trial="${first.trial}"] a`);
  await page.waitForFunction((id) => location.hash === `#/job/${id}` && document.getElementById('view').dataset.state === 'ready', first.job_id, { timeout: 20000 });
  assert.deepEqual(errors, []);
  await page.close();
});
