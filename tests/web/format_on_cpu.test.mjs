// "Which format on this CPU, at what accuracy and latency?" in the dashboard, in Debian's
// chromium against a real qlab-server and qlab-worker: an accuracy sweep of the shipped model
// and a CPU kernel_bench sweep of the same model's block linears (`device: cpu`, `model:`),
// joined on datatype in the Pareto page: perplexity against decode_linear_us.
//
// Run: node --test tests/web/format_on_cpu.test.mjs (ctest does, as web_format_on_cpu).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO, tempDir, checkBinaries, startServer, startWorker, submit, launchBrowser, watchErrors,
} from './cluster.mjs';

const ARTIFACTS = process.env.QLAB_WEB_ARTIFACTS || tempDir('qlab-web-screenshots-');
fs.mkdirSync(ARTIFACTS, { recursive: true });

const MODEL = path.join(REPO, 'models/kjv/model.bin');
// e2m1 is timed but not evaluated: its kernel row has no partner.
const SWEEPS = [
  { name: 'ppl', kind: 'accuracy',
    params: { model: MODEL, tokens: path.join(REPO, 'models/kjv/heldout.tok'), context: 256, max_tokens: 2048, threads: 1 },
    axes: { datatype: ['int4_asym', 'nvfp4'] } },
  { name: 'cpu', kind: 'kernel_bench',
    params: { device: 'cpu', model: MODEL, batch: 1, activations: 'int8', repetitions: 3, threads: 1 },
    axes: { datatype: ['int4_asym', 'nvfp4', 'e2m1'] } },
];

let dir, server, worker, browser, context;

before(async () => {
  checkBinaries();
  dir = tempDir();
  server = await startServer({ dir });
  worker = startWorker(server, { dir, args: ['--slots', '1'] });
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
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) fs.copyFileSync(path.join(dir, f), path.join(ARTIFACTS, `cpu-${f}`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function rendered(page, n) {
  await page.waitForFunction((k) => Number(document.getElementById('view').dataset.renders) > k && document.getElementById('view').dataset.state === 'ready', n, { timeout: 20000 });
}
const renders = (page) => page.evaluate(() => Number(document.getElementById('view').dataset.renders));

test('perplexity against the CPU decode time of the same formats, joined on datatype', async () => {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/#/pareto?experiment=ppl`);
  await page.waitForSelector('#view[data-state=ready]', { timeout: 20000 });

  let n = await renders(page);
  await page.selectOption('#pareto-controls select[name=join]', 'cpu');
  await rendered(page, n);
  n = await renders(page);
  await page.fill('#pareto-controls input[name=on]', 'datatype');
  await page.click('#pareto-controls button[type=submit]');
  await rendered(page, n);
  n = await renders(page);
  await page.selectOption('#pareto-controls select[name=x]', 'decode_linear_us');
  await rendered(page, n);
  // The page may already offer perplexity as y (accuracy's first metric of direction min).
  if (await page.inputValue('#pareto-controls select[name=y]') !== 'perplexity') {
    n = await renders(page);
    await page.selectOption('#pareto-controls select[name=y]', 'perplexity');
    await rendered(page, n);
  }
  await page.waitForSelector('#pareto-unmatched-count');

  const chart = await page.evaluate(() => {
    const c = window.Chart.getChart(document.getElementById('pareto-chart'));
    const line = c.data.datasets.find((d) => d.label === 'frontier');
    const points = c.data.datasets.filter((d) => d !== line).flatMap((d) => d.data);
    return { points: points.map((p) => [p.x, p.y]), x: c.options.scales.x.title.text, y: c.options.scales.y.title.text };
  });
  assert.equal(chart.points.length, 2, 'int4_asym and nvfp4 have both figures');
  for (const [x, y] of chart.points) {
    assert.ok(x > 0 && Number.isFinite(x), `decode_linear_us ${x}`);
    assert.ok(y > 1 && y < 1000, `perplexity ${y}`);
  }
  assert.match(chart.x, /^decode_linear_us/);
  assert.match(chart.y, /^perplexity/);
  const count = await page.$eval('#pareto-unmatched-count', (e) => [e.dataset.a, e.dataset.b]);
  assert.deepEqual(count, ['0', '1'], 'e2m1 was timed, not evaluated');
  await page.screenshot({ path: path.join(ARTIFACTS, 'format-on-cpu.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
