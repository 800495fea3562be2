/**
 * The agent against the real Docker engine and edge: container death and HTTP failure notices
 * with log lines, resolve notices, reconnect of a dropped events stream without a missed death,
 * and silences. The agent runs in-process here so the test can drop its events subscription
 * (through a wrapped engine, no hook in the agent) and read notifications as they arrive. A real
 * dockerd restart is in agent-dockerd-restart.test.ts (a private second dockerd).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { createAgentEngine } from '../../src/agent/engine.js';
import type { Engine, EventSubscription } from '../../src/engine/engine.js';
import { createContainerEventsProbe } from '../../src/monitor/probes/container-events.js';
import { createStatsProbe } from '../../src/monitor/probes/stats.js';
import type { Notification } from '../../src/notify/types.js';
import { loadProject } from '../../src/project/load.js';
import { openStore, type Store } from '../../src/store/db.js';
import { createTestProject, sleep, waitFor, type TestProject } from './harness.js';

const stack = {
  'compose.yaml': `
services:
  web:
    image: berth-test/app:v1
    restart: "no"
`,
  'berth.yaml': `
name: {{NAME}}
edge:
  listen: ["127.0.0.1:{{EDGE_PORT}}"]
services:
  web:
    route: { hosts: [app.localhost], port: 80 }
    health: { path: /healthz, interval: 500ms, timeout: 1s }
    deploy: { drain: 1s, verify: 2s }
    monitor:
      http: { path: /healthz, interval: 1s, timeout: 800ms }
      runbook: "https://runbooks.example/web — restart with berth deploy web"
monitor:
  group_wait: 200ms
  group_interval: 1s
  host: false
  stats: false
`,
};

/** The real engine, with a switch to drop and refuse the events stream as a dockerd restart would. */
function droppableEngine(real: Engine) {
  const subs: EventSubscription[] = [];
  let blocked = false;
  const engine: Engine = {
    ...real,
    async subscribeEvents(filter, onEvent) {
      if (blocked) throw new Error('engine unreachable (test)');
      const s = await real.subscribeEvents(filter, onEvent);
      subs.push(s);
      return s;
    },
  };
  return {
    engine,
    drop() {
      blocked = true;
      for (const s of subs.splice(0)) s.close();
    },
    restore() {
      blocked = false;
    },
  };
}

const docker = (...args: string[]) => {
  const r = spawnSync('docker', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};

describe('berth agent (real dockerd + edge)', () => {
  let p: TestProject;
  let store: Store;
  let agent: RunningAgent;
  let hook: ReturnType<typeof droppableEngine>;
  const received: Array<Notification & { atMs: number }> = [];
  let color = 'blue';
  const container = () => `${p.name}-web-${color}`;
  const probeOk = (id: string) => agent.monitorStore.probes().find((r) => r.probeId === id)?.ok === true;
  const notices = (status: string, since: number) => received.filter((n) => n.status === status && n.atMs >= since);

  before(async () => {
    p = await createTestProject(stack);
    const up = await p.berth(['up']);
    assert.equal(up.code, 0, up.stderr);
    const project = await loadProject(p.dir);
    store = openStore(project.stateDir);
    hook = droppableEngine(createAgentEngine());
    agent = await startAgent({
      project,
      engine: hook.engine,
      store,
      notifier: { notify: (n) => void received.push({ ...n, atMs: Date.now() }) },
      clock: Date.now,
      log: () => {},
      pid: process.pid,
      host: os.hostname(),
      listen: { hostIp: '127.0.0.1', hostPort: 0 },
    });
    await waitFor('probes ok', () => probeOk('container:web') && probeOk('http:web'), 20_000);
  });

  after(async () => {
    await agent?.stop();
    store?.close();
    await p?.cleanup();
  });

  it('serves /healthz and Prometheus /metrics', async () => {
    const h = await fetch(`http://127.0.0.1:${agent.port}/healthz`);
    assert.equal(h.status, 200);
    const m = await (await fetch(`http://127.0.0.1:${agent.port}/metrics`)).text();
    assert.match(m, /berth_probe_up\{probe="http:web",kind="http",service="web",project="[^"]+"\} 1/);
    assert.match(m, /berth_probe_latency_seconds\{probe="http:web"/);
    assert.match(m, /berth_agent_info\{version="0.1.0"/);
  });

  it('samples container CPU and memory through the read engine (stats probe)', async () => {
    const probe = createStatsProbe({ id: 'stats:web', kind: 'stats', service: 'web', cpu: 80, memory: 80, forMs: 0, severity: 'warning', labels: {}, alert: true, intervalMs: 1000, timeoutMs: 1000 }, { engine: createAgentEngine(), project: p.name, clock: Date.now });
    await probe.run(new AbortController().signal);
    const r = await probe.run(new AbortController().signal);
    assert.equal(r.ok, true, r.summary);
    assert.match(r.summary, /-web-blue: CPU [\d.]+% of its limit, memory [\d.]+% \(\d+ of \d+ MiB\)/);
  });

  it('a killed container is announced within seconds, with its log lines and runbook; start resolves it', async () => {
    const t0 = Date.now();
    docker('kill', container());
    await waitFor('firing notice', () => notices('firing', t0).length > 0, 10_000);
    const n = notices('firing', t0)[0]!;
    assert.match(n.title, /^\[FIRING\] web: container .*-web-blue died \(exit code 137\)$/);
    assert.ok(n.logLines?.some((l) => l.includes('listening on :80')), `log lines: ${JSON.stringify(n.logLines)}`);
    assert.match(n.runbook ?? '', /runbooks\.example\/web/);
    assert.equal(n.labels.service, 'web');
    assert.match(n.summary, /failing since/);
    process.stderr.write(`# container death → notification: ${n.atMs - t0} ms\n`);
    const t1 = Date.now();
    docker('start', container());
    await waitFor('resolved notice', () => notices('resolved', t1).length > 0, 20_000);
    assert.match(notices('resolved', t1)[0]!.title, /^\[RESOLVED\]/);
    assert.equal(notices('resolved', t1)[0]!.dedupKey, n.dedupKey);
    await waitFor('probes ok', () => probeOk('container:web') && probeOk('http:web'), 20_000);
  });

  it('an HTTP endpoint that stops answering fires, then resolves when it answers again', async () => {
    await sleep(1500); // past group_interval, so a fresh incident starts
    const t0 = Date.now();
    docker('pause', container());
    try {
      await waitFor('firing notice', () => notices('firing', t0).length > 0, 10_000);
    } finally {
      docker('unpause', container());
    }
    const n = notices('firing', t0)[0]!;
    assert.match(n.title, /^\[FIRING\] web: GET http:\/\/127\.0\.0\.1:\d+\/healthz: no answer within 800 ms/);
    assert.equal(n.labels.probe, 'http:web');
    process.stderr.write(`# HTTP failure → notification: ${n.atMs - t0} ms (1 s interval, 0.8 s timeout)\n`);
    await waitFor('resolved notice', () => notices('resolved', t0).length > 0, 10_000);
  });

  it('a death while the events stream is down is replayed after the reconnect', async () => {
    await waitFor('probes ok', () => probeOk('container:web') && probeOk('http:web'), 20_000);
    await sleep(1500);
    const t0 = Date.now();
    hook.drop();
    docker('kill', container());
    await sleep(1500);
    assert.equal(notices('firing', t0).filter((n) => n.labels.probe === 'container:web').length, 0, 'nothing can be seen while the stream is down');
    hook.restore();
    await waitFor('firing notice after reconnect', () => received.some((n) => n.atMs >= t0 && n.status === 'firing' && /died/.test(n.summary)), 15_000);
    docker('start', container());
    await waitFor('probes ok', () => probeOk('container:web') && probeOk('http:web'), 20_000);
  });

  it('a container restarted again and again by its restart policy is reported as a restart loop', async (t) => {
    const name = `${p.name}-crashy`;
    const reports: Array<{ id: string; ok: boolean; summary: string }> = [];
    const probe = createContainerEventsProbe({ engine: createAgentEngine(), project: p.name, services: ['crashy'], restartLoop: { count: 3, windowMs: 60_000 }, clock: Date.now });
    await probe.start((id, r) => void reports.push({ id, ...r }));
    t.after(async () => {
      await probe.stop();
      spawnSync('docker', ['rm', '-f', name]);
    });
    docker('run', '-d', '--name', name, '--restart', 'always', '--label', `berth.project=${p.name}`, '--label', 'berth.service=crashy', 'berth-test/app:crash');
    await waitFor('restart loop', () => reports.some((r) => /restart loop/.test(r.summary)), 20_000);
    const loop = reports.find((r) => /restart loop/.test(r.summary))!;
    assert.equal(loop.id, 'container:crashy');
    assert.equal(loop.ok, false);
    assert.match(loop.summary, /restart loop: container .*-crashy restarted \d+ times in 60 s/);
  });

  it('a blue-green deploy of the service raises no alert', async () => {
    await waitFor('no alerts', () => agent.monitor.alerts().length === 0 && probeOk('container:web'), 15_000);
    const t0 = Date.now();
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v2', '-q']);
    assert.equal(r.code, 0, r.stderr);
    color = 'green';
    await sleep(1500);
    assert.deepEqual(received.filter((n) => n.atMs >= t0).map((n) => n.title), []);
    assert.ok(probeOk('http:web'));
  });

  it('a silence holds the notice back; berth silence add/list/expire through the CLI', async () => {
    await waitFor('no alerts', () => agent.monitor.alerts().length === 0, 15_000);
    const add = await p.berth(['silence', 'add', '--service', 'web', '--for', '1h', '--reason', 'disk swap', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const id = JSON.parse(add.stdout).id as string;
    const t0 = Date.now();
    docker('kill', container());
    await waitFor('alert firing', () => agent.monitor.alerts().some((a) => a.state === 'firing'), 10_000);
    await sleep(1500);
    assert.equal(notices('firing', t0).length, 0, 'silenced');
    const list = await p.berth(['silence', 'list', '--json']);
    assert.deepEqual(JSON.parse(list.stdout).map((s: { id: string }) => s.id), [id]);
    const alerts = JSON.parse((await p.berth(['alerts', '--json'])).stdout);
    assert.ok(alerts.current.some((a: { probe: string; state: string }) => a.probe === 'container:web' && a.state === 'firing'));
    const exp = await p.berth(['silence', 'expire', id]);
    assert.equal(exp.code, 0, exp.stderr);
    await waitFor('notice after the silence ends', () => notices('firing', t0).length > 0, 10_000);
    const audit = await p.berth(['audit', 'list', '--json']);
    assert.ok(JSON.parse(audit.stdout).some((r: { action: string }) => r.action === 'silence.expire'));
    docker('start', container());
    await waitFor('probes ok', () => probeOk('container:web'), 20_000);
  });
});
