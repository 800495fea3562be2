/** The monitor with real SQLite: state survives a restart, alerts of removed probes are closed, intended stops do not alert. */
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
import { createStoppedStore } from '../../../src/store/stopped.js';
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

it('a service stopped on purpose (berth down) does not alert; once started again it does', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bmon-'));
  const store = openStore(dir);
  try {
    const sent: Notification[] = [];
    const stopped = createStoppedStore(store.db);
    const monitorStore = createMonitorStore(store.db, 'shop');
    const web: ProbeMeta = { id: 'container:web', kind: 'container', service: 'web', forMs: 0, severity: 'critical', labels: { service: 'web' }, alert: true };
    const m = createMonitor({
      project: project([], { monitor: { ...noMonitoring, groupWaitMs: 0 } }),
      engine: { listContainers: async () => [] } as unknown as Engine,
      store: monitorStore,
      notifier: { notify: (n: Notification) => void sent.push(n) },
      clock: Date.now,
      polled: [],
      events: [],
      tickMs: 20,
      meta: [web],
    });
    await m.start();
    stopped.mark('shop', 'web', { now: Date.now(), user: 'ops', reason: 'berth down' });
    stopped.mark('other', 'web', { now: Date.now(), user: 'ops', reason: 'berth down' });
    m.report('container:web', { ok: false, summary: 'container shop-web-blue died (exit code 137)', atMs: Date.now() });
    await settle();
    assert.equal(sent.length, 0, JSON.stringify(sent));
    const row = monitorStore.probes().find((r) => r.probeId === 'container:web');
    assert.equal(row?.ok, true);
    assert.match(row?.summary ?? '', /^web stopped on purpose \(berth down by ops at .*\); last probe: container shop-web-blue died/);

    assert.equal(stopped.clear('shop', 'web'), true);
    assert.equal(stopped.clear('shop', 'web'), false);
    assert.deepEqual(stopped.list('other').map((r) => r.service), ['web'], 'per project');
    m.report('container:web', { ok: true, summary: 'container shop-web-blue running', atMs: Date.now() });
    await settle();
    assert.equal(monitorStore.probes().find((r) => r.probeId === 'container:web')?.summary, 'container shop-web-blue running', 'the "stopped on purpose" row is replaced at once');
    m.report('container:web', { ok: false, summary: 'container shop-web-blue died (exit code 1)', atMs: Date.now() });
    await settle();
    await m.stop();
    assert.deepEqual(sent.map((n) => n.status), ['firing']);
    assert.match(sent[0]!.summary, /exit code 1/);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A started monitor on a fake clock, with one probe of `probe`'s kind, whose results the test reports; always stopped. */
async function withRowWrites(
  probe: ProbeMeta,
  use: (h: { report(text: string, ok: boolean): Promise<void>; summary(): string | undefined; atMs(): number | undefined; advance(ms: number): void }) => Promise<void>,
): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bmon-'));
  const store = openStore(dir);
  try {
    let now = Date.UTC(2026, 11, 7, 2);
    const monitorStore = createMonitorStore(store.db, 'shop');
    const m = createMonitor({
      project: project([], { monitor: { ...noMonitoring, groupWaitMs: 0 } }),
      engine: {} as Engine,
      store: monitorStore,
      notifier: { notify: () => undefined },
      clock: () => now,
      polled: [],
      events: [],
      meta: [probe],
      tickMs: 20,
    });
    await m.start();
    try {
      await use({
        async report(text, ok) {
          m.report(probe.id, { ok, summary: text, atMs: now });
          await settle();
        },
        summary: () => monitorStore.probes()[0]?.summary,
        atMs: () => monitorStore.probes()[0]?.atMs,
        advance: (ms) => void (now += ms),
      });
    } finally {
      await m.stop();
    }
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

it("a failing probe's new reason is written at once, at most every 5 s; the same reason again waits for the batch", () =>
  withRowWrites(meta, async ({ report, summary, advance }) => {
    await report('backup: db has no good backup yet', false);
    assert.equal(summary(), 'backup: db has no good backup yet');
    advance(6_000);
    await report("backup: db's last backup FAILED at 02:00: connection refused", false);
    assert.equal(summary(), "backup: db's last backup FAILED at 02:00: connection refused", 'a new reason 6 s after the last write: at once');
    advance(1_000);
    await report("backup: db's last backup FAILED at 02:01: access denied", false);
    assert.equal(summary(), "backup: db's last backup FAILED at 02:00: connection refused", '1 s later: left to the batch');
    advance(5_000);
    await report("backup: db's last backup FAILED at 02:01: access denied", false);
    assert.equal(summary(), "backup: db's last backup FAILED at 02:01: access denied", 'once 5 s have passed, the next result writes it');
    advance(10_000);
    await report('GET / → 200 in 3 ms', true);
    advance(10_000);
    await report('GET / → 200 in 4 ms', true);
    assert.equal(summary(), 'GET / → 200 in 3 ms', 'a passing probe whose text changes still waits for the batch');
  }));

it("a backup probe's changed summary is news even while passing: written at once, at most every 5 s", () =>
  withRowWrites({ ...meta, id: 'backups', kind: 'backup' }, async ({ report, summary, atMs, advance }) => {
    const retryDue = 'backup db: newest good one 0 h old; last backup failed at 02:00, retry due 02:30';
    await report('backup db: newest good one 0.1 h old', true);
    advance(6_000);
    await report('backup db: newest good one 0 h old', true);
    assert.equal(summary(), 'backup db: newest good one 0 h old', 'a new backup 6 s after the last write: at once');
    advance(1_000);
    await report(retryDue, true);
    assert.equal(summary(), 'backup db: newest good one 0 h old', '1 s later: left to the batch');
    advance(5_000);
    await report(retryDue, true);
    assert.equal(summary(), retryDue, 'once 5 s have passed, the next result writes it');
    const written = atMs();
    advance(10_000);
    await report(retryDue, true);
    assert.equal(atMs(), written, 'the same summary again waits for the batch');
  }));

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
