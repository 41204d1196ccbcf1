// Real qlab processes for the browser tests and the dashboard benchmark: a qlab-server on free
// loopback ports with its own SQLite file and the dashboard's folder, qlab-worker processes,
// the qlab CLI, and Debian's chromium through playwright-core.
//
// Binaries come from QLAB_SERVER_BIN, QLAB_WORKER_BIN and QLAB_CLI_BIN (ctest sets them), else
// from <repo>/build. Every child is killed when this process exits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const BIN = {
  server: process.env.QLAB_SERVER_BIN || path.join(REPO, 'build/server/qlab-server'),
  worker: process.env.QLAB_WORKER_BIN || path.join(REPO, 'build/worker/qlab-worker'),
  cli: process.env.QLAB_CLI_BIN || path.join(REPO, 'build/cli/qlab'),
};
export const WEB_ROOT = process.env.QLAB_WEB_ROOT || path.join(REPO, 'web');

const children = new Set();
function killAll() { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } }
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });

export function tempDir(prefix = 'qlab-web-') { return fs.mkdtempSync(path.join(os.tmpdir(), prefix)); }

// Throws a readable error when one of the binaries is missing.
export function checkBinaries(which = Object.keys(BIN)) {
  for (const k of which) {
    if (!fs.existsSync(BIN[k])) throw new Error(`${BIN[k]} does not exist: build it (scripts/build) or set QLAB_${k.toUpperCase()}_BIN`);
  }
}

function start(argv, logPath) {
  if (!fs.existsSync(argv[0])) throw new Error(`${argv[0]} does not exist: build it (scripts/build) or set QLAB_*_BIN`);
  const log = fs.openSync(logPath, 'a');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function stop(child, timeoutMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await done;
  clearTimeout(timer);
}

// Starts qlab-server; resolves once it has written its port file and answers /healthz.
export async function startServer({ dir, db = path.join(dir, 'qlab.db'), args = [] } = {}) {
  const portFile = path.join(dir, 'ports.json');
  fs.rmSync(portFile, { force: true });
  const logPath = path.join(dir, 'server.log');
  const proc = start([BIN.server, '--db', db, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0',
    '--port-file', portFile, '--web-root', WEB_ROOT, ...args], logPath);
  const deadline = Date.now() + 30000;
  while (!fs.existsSync(portFile)) {
    if (proc.exitCode !== null) throw new Error(`qlab-server exited with ${proc.exitCode}; see ${logPath}`);
    if (Date.now() > deadline) throw new Error(`qlab-server did not start; see ${logPath}`);
    await sleep(25);
  }
  const ports = JSON.parse(fs.readFileSync(portFile, 'utf8'));
  const base = `http://${ports.http}`;
  for (;;) {
    try { if ((await fetch(base + '/healthz')).ok) break; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`qlab-server /healthz never answered; see ${logPath}`);
    await sleep(25);
  }
  return { proc, grpc: ports.grpc, http: ports.http, base, db, log: logPath, stop: () => stop(proc) };
}

// Appends a token of `role` to the auth file (qlab-server token create); resolves the token.
export function createToken(authFile, role, name) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN.server, ['token', 'create', '--auth-file', authFile, '--role', role, '--name', name],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`token create: ${err}`))));
  });
}

export function startWorker(server, { dir, args = [], name = 'worker' } = {}) {
  const proc = start([BIN.worker, '--coordinator', server.grpc, ...args], path.join(dir, `${name}.log`));
  return { proc, stop: () => stop(proc) };
}

// Runs the qlab CLI against the server; resolves {code, stdout, stderr}. `token` is sent as
// QLAB_TOKEN.
export function cli(server, args, { timeoutMs = 120000, token } = {}) {
  return new Promise((resolve, reject) => {
    const env = token ? { ...process.env, QLAB_TOKEN: token } : process.env;
    const child = spawn(BIN.cli, ['--server', server.grpc, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`qlab ${args.join(' ')} timed out`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

// Writes the sweep to a JSON file and submits it; `wait` adds --wait.
export async function submit(server, dir, sweep, { wait = true, token } = {}) {
  const file = path.join(dir, `${sweep.name}.json`);
  fs.writeFileSync(file, JSON.stringify(sweep));
  const r = await cli(server, ['submit', file, ...(wait ? ['--wait', '--quiet'] : [])], { token });
  return r;
}

export async function launchBrowser() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error('playwright-core is missing: run scripts/setup (npm ci in tests/web)');
  }
  return chromium.launch({
    executablePath: process.env.QLAB_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
}

// Collects everything on a page that counts as an error: console errors, uncaught exceptions,
// failed requests (other than ones the page aborted on purpose) and HTTP error responses.
export function watchErrors(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const why = r.failure() ? r.failure().errorText : '';
    if (!/ERR_ABORTED/.test(why)) errors.push(`request failed: ${r.url()} ${why}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  return errors;
}
