// The dashboard against a server with --auth-file: it asks for a token once, sends it with every
// API call and download, shows a wrong role's refusal, and forgets the token on request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tempDir, checkBinaries, startServer, startWorker, submit, launchBrowser, createToken,
} from './cluster.mjs';

const ARTIFACTS = process.env.QLAB_WEB_ARTIFACTS || tempDir('qlab-web-screenshots-');
fs.mkdirSync(ARTIFACTS, { recursive: true });

let dir, server, worker, browser, tokens;

before(async () => {
  checkBinaries();
  dir = tempDir();
  const authFile = path.join(dir, 'auth');
  tokens = {
    viewer: await createToken(authFile, 'viewer', 'alice'),
    submitter: await createToken(authFile, 'submitter', 'ci'),
    worker: await createToken(authFile, 'worker', 'w1'),
  };
  fs.writeFileSync(path.join(dir, 'worker.token'), tokens.worker + '\n');
  server = await startServer({ dir, args: ['--auth-file', authFile] });
  worker = startWorker(server, { dir, args: ['--token-file', path.join(dir, 'worker.token')] });
  const r = await submit(server, dir, { name: 'secured', kind: 'noop', axes: { metrics: [{ x: 1, y: 2 }, { x: 2, y: 1 }] } },
    { token: tokens.submitter });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const refused = await submit(server, dir, { name: 'not-allowed', kind: 'noop' }, { token: tokens.viewer, wait: false });
  assert.equal(refused.code, 4, 'a viewer may not submit: exit code 4');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (worker) await worker.stop();
  if (server) await server.stop();
  for (const f of ['server.log', 'worker.log']) {
    if (fs.existsSync(path.join(dir, f))) fs.copyFileSync(path.join(dir, f), path.join(ARTIFACTS, `auth-${f}`));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the API refuses calls without a token, and /healthz and the page itself need none', async () => {
  assert.equal((await fetch(server.base + '/api/v1/experiments')).status, 401);
  assert.equal((await fetch(server.base + '/metrics')).status, 401);
  assert.equal((await fetch(server.base + '/healthz')).status, 200);
  assert.equal((await fetch(server.base + '/')).status, 200);
  const ok = await fetch(server.base + '/api/v1/experiments', { headers: { Authorization: 'Bearer ' + tokens.viewer } });
  assert.equal(ok.status, 200);
});

test('the dashboard asks for a token once, then every call carries it', async () => {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1300, height: 800 } });
  const page = await context.newPage();
  const apiCalls = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/')) apiCalls.push(r.headers().authorization || ''); });
  await page.goto(server.base + '/#/experiments');
  await page.waitForSelector('#token-form', { timeout: 15000 });
  assert.equal(await page.locator('#token-form').count(), 1, 'one prompt for all refused calls');
  await page.screenshot({ path: path.join(ARTIFACTS, 'auth-prompt.png') });
  await page.fill('#token-input', tokens.viewer);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#experiments tr[data-name="secured"]', { timeout: 15000 });
  await page.waitForFunction(() => /experiments ·/.test(document.getElementById('summary-text').textContent));
  const afterPrompt = apiCalls.slice(apiCalls.findIndex((a) => a !== ''));
  assert.ok(afterPrompt.length >= 2);
  assert.ok(afterPrompt.every((a) => a === 'Bearer ' + tokens.viewer), 'every call after the prompt has the token');

  // A reload keeps the token: no prompt.
  await page.reload();
  await page.waitForSelector('#experiments tr[data-name="secured"]', { timeout: 15000 });
  assert.equal(await page.locator('#token-form').count(), 0);

  // Downloads go through the token too.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#experiments tr[data-name="secured"] a[data-download="CSV"]'),
  ]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  const viaApi = await (await fetch(server.base + '/api/v1/experiments/secured/results?format=csv',
    { headers: { Authorization: 'Bearer ' + tokens.viewer } })).text();
  assert.equal(csv, viaApi);
  await page.screenshot({ path: path.join(ARTIFACTS, 'auth-signed-in.png') });

  // Forget token: the prompt comes back.
  await page.click('#forget-token');
  await page.waitForSelector('#token-form', { timeout: 15000 });
  await context.close();
});

test('a token whose role may not read shows the refusal instead of asking again', async () => {
  const context = await browser.newContext();
  await context.addInitScript((t) => localStorage.setItem('qlab.token', t), tokens.worker);
  const page = await context.newPage();
  await page.goto(server.base + '/#/experiments');
  await page.waitForSelector('.error', { timeout: 15000 });
  const text = await page.locator('.error').first().textContent();
  assert.match(text, /'w1' has role worker, which may not read/);
  assert.equal(await page.locator('#token-form').count(), 0);
  await context.close();
});
