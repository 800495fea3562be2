/** The monitor with real SQLite: state survives a restart, and alerts of removed probes are closed. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import type { Engine } from '../../../src/engine/engine.js';
import { createMonitor } from '../../../src/monitor/monitor.js';
import type { ProbeMeta } from '../../../src/monitor/types.js';
import type { Notification } from '../../../src/notify/types.js';
import { noMonitoring } from '../../../src/project/monitor-schema.js';
import { openStore } from '../../../src/store/db.js';
import { createMonitorStore } from '../../../src/store/monitor.js';
import { project } from '../fixtures.js';

const meta: ProbeMeta = { id: 'api', kind: 'http', forMs: 0, severity: 'critical', labels: {}, alert: true };
const settle = () => new Promise((r) => setTimeout(r, 100));

it('keeps alert state across restarts and closes incidents whose probes were removed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bmon-'));
  const store = openStore(dir);
  try {
    const sent: Notification[] = [];
    const deps = {
      project: project([], { monitor: { ...noMonitoring, groupWaitMs: 0 } }),
      engine: {} as Engine, // no service labels here, so no container logs are fetched
      store: createMonitorStore(store.db, 'shop'),
      notifier: { notify: (n: Notification) => void sent.push(n) },
      clock: Date.now,
      polled: [],
      events: [],
      tickMs: 20,
    };
    const m1 = createMonitor({ ...deps, meta: [meta] });
    await m1.start();
    m1.report('api', { ok: false, summary: 'HTTP 500', atMs: Date.now() });
    await settle();
    await m1.stop();
    assert.deepEqual(sent.map((n) => n.status), ['firing']);

    const m2 = createMonitor({ ...deps, meta: [meta] });
    await m2.start();
    m2.report('api', { ok: false, summary: 'HTTP 500', atMs: Date.now() });
    await settle();
    await m2.stop();
    assert.deepEqual(sent.map((n) => n.status), ['firing'], 'a restarted monitor does not announce again');

    const m3 = createMonitor({ ...deps, meta: [] });
    await m3.start();
    await settle();
    await m3.stop();
    assert.deepEqual(sent.map((n) => n.status), ['firing', 'resolved']);
    assert.equal(sent[1]!.dedupKey, sent[0]!.dedupKey);
    assert.match(sent[1]!.title, /no longer configured/);
    assert.deepEqual(deps.store.alerts(), []);
    assert.deepEqual(deps.store.groups(), []);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('in the steady state writes a probe row when it is new or flips, the rest on stop, and still alerts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bmon-'));
  const store = openStore(dir);
  try {
    const sent: Notification[] = [];
    const monitorStore = createMonitorStore(store.db, 'shop');
    const m = createMonitor({
      project: project([], { monitor: { ...noMonitoring, groupWaitMs: 0 } }),
      engine: {} as Engine,
      store: monitorStore,
      notifier: { notify: (n: Notification) => void sent.push(n) },
      clock: Date.now,
      polled: [],
      events: [],
      meta: [meta],
      tickMs: 20,
    });
    await m.start();
    const t0 = Date.now();
    m.report('api', { ok: true, summary: 'GET / → 200 (1)', atMs: t0 });
    await settle();
    assert.equal(monitorStore.probes()[0]?.summary, 'GET / → 200 (1)', 'a new probe is written at once');
    m.report('api', { ok: true, summary: 'GET / → 200 (2)', atMs: t0 + 1 });
    await settle();
    assert.equal(monitorStore.probes()[0]?.summary, 'GET / → 200 (1)', 'an unchanged probe waits for the batch');
    assert.equal(sent.length, 0);
    m.report('api', { ok: false, summary: 'HTTP 500', atMs: t0 + 2 });
    await settle();
    assert.equal(monitorStore.probes()[0]?.ok, false, 'a flip is written at once');
    assert.deepEqual(sent.map((n) => n.status), ['firing'], 'a failing result still goes through the rules');
    m.report('api', { ok: true, summary: 'GET / → 200 (3)', atMs: t0 + 3 });
    await settle();
    assert.deepEqual(sent.map((n) => n.status), ['firing', 'resolved']);
    m.report('api', { ok: true, summary: 'GET / → 200 (4)', atMs: t0 + 4 });
    await settle();
    await m.stop();
    assert.equal(monitorStore.probes()[0]?.summary, 'GET / → 200 (4)', 'stop writes what the batch still held');
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
