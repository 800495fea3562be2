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
