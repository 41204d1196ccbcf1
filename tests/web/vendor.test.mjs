// The dashboard's vendored files: the chart library is the npm package pinned in
// package-lock.json, byte for byte, with its licence; no page loads anything from another host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, WEB_ROOT } from './cluster.mjs';

test('the vendored chart library is the pinned npm package, with its licence', () => {
  const hash = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  const pkg = path.join(REPO, 'tests/web/node_modules/chart.js');
  assert.equal(hash(path.join(WEB_ROOT, 'vendor/chart.umd.min.js')), hash(path.join(pkg, 'dist/chart.umd.min.js')));
  assert.equal(hash(path.join(WEB_ROOT, 'vendor/chart.js-LICENSE.md')), hash(path.join(pkg, 'LICENSE.md')));
  // No page pulls anything from another host.
  for (const f of ['index.html', 'app.js', 'core.js', 'chart_kit.js', 'charts.js', 'pareto.js', 'app.css']) {
    assert.doesNotMatch(fs.readFileSync(path.join(WEB_ROOT, f), 'utf8'), /https?:\/\//, f);
  }
});
