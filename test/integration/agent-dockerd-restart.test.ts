/**
 * A real dockerd restart under `berth agent`. The machine's dockerd is shared, so the test starts
 * a PRIVATE second dockerd (own data-root, exec-root, pidfile, socket and its own containerd under
 * the exec-root; in a network namespace of its own, no iptables, no default bridge, its own address
 * pool) and points berth at it with
 * DOCKER_HOST. Two services are `berth up`-ed there (app: no restart policy; worker: restart
 * always) and the agent runs as a process sending to a webhook receiver.
 *   (a) restart the daemon (live-restore): the agent reconnects, a `docker kill` after the restart
 *       is notified exactly once;
 *   (b) live-restore: stop the daemon, kill -9 both service processes from the host, start it
 *       again: both deaths are notified (app stays down; worker was started again by the daemon on
 *       restore and no `die` event exists for it) in exactly one notice;
 *   (c) no live-restore: the daemon's own shutdown stops the containers: one grouped incident.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createTestProject, freePort, type RunResult, type TestProject } from './harness.js';
import { createWebhookReceiver, webhookNotifyYaml, waitFor, type WebhookReceiver } from './notify-harness.js';

const isRoot = process.getuid?.() === 0;
const hasDockerd = spawnSync('sh', ['-c', 'command -v dockerd && command -v containerd'], { stdio: 'ignore' }).status === 0;
const skip = !isRoot ? 'a private dockerd needs root' : !hasDockerd ? 'dockerd/containerd binaries not installed' : false;

/** A private dockerd: started and stopped by the test, cleaned up completely. */
class PrivateDockerd {
  readonly root = fs.mkdtempSync('/tmp/bdr-');
  readonly sock = `${this.root}/docker.sock`;
  readonly host = `unix://${this.sock}`;
  private proc: ChildProcess | undefined;
  private readonly logFile = `${this.root}/dockerd.log`;

  async start(liveRestore: boolean): Promise<number> {
    const t0 = Date.now();
    const log = fs.openSync(this.logFile, 'a');
    const args = [
      `--data-root=${this.root}/data`,
      `--exec-root=${this.root}/exec`,
      `--pidfile=${this.root}/dockerd.pid`,
      `--host=${this.host}`,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--default-address-pool=base=10.231.0.0/16,size=24',
      '--shutdown-timeout=2',
      ...(liveRestore ? ['--live-restore'] : []),
    ];
    // Its own network namespace (`unshare --net` execs dockerd in place): dockerd's netlink work
    // stays there. On the host's, a second dockerd deletes `docker0` (with --bridge=none at start,
    // and when it clears its stale default network on a restart), cutting the system daemon off.
    this.proc = spawn('unshare', ['--net', '--', 'dockerd', ...args], { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    const proc = this.proc;
    await waitForAsync('the private dockerd to answer', async () => proc.exitCode === null && (await ping(this.sock)), 30_000, () => this.tail());
    return Date.now() - t0;
  }

  /** SIGTERM, wait for the process to exit (SIGKILL after 20 s). */
  async stop(): Promise<number> {
    const t0 = Date.now();
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return 0;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
    this.proc = undefined;
    return Date.now() - t0;
  }

  docker(args: readonly string[], input?: Buffer): string {
    return execFileSync('docker', ['-H', this.host, ...args], { encoding: 'utf8', timeout: 30_000, ...(input ? { input } : {}) });
  }

  tail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  }

  /** Containers, networks (their host bridges), daemon (and its containerd and shims), mounts, folders. */
  async destroy(): Promise<void> {
    let bridges: string[] = [];
    if (this.proc) {
      try {
        const ids = this.docker(['ps', '-aq']).split('\n').filter(Boolean);
        if (ids.length) this.docker(['rm', '-f', ...ids]);
        const nets = this.docker(['network', 'ls', '-q', '--filter', 'driver=bridge']).split('\n').filter(Boolean);
        bridges = nets.map((id) => `br-${id.slice(0, 12)}`);
        if (nets.length) this.docker(['network', 'rm', ...nets]);
      } catch {
        // the daemon is already unusable; the shims and bridges are removed below
      }
      await this.stop();
    }
    // A bridge left behind (daemon gone before `network rm`) keeps its 10.231.x address on the host.
    for (const b of bridges) if (fs.existsSync(`/sys/class/net/${b}`)) spawnSync('ip', ['link', 'delete', b], { stdio: 'ignore', timeout: 10_000 });
    // Shims left by live-restore (they outlive dockerd and containerd), found by their socket address.
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes(`${this.root}/`)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    const mounts = fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${this.root}/`) || m === this.root)
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore', timeout: 10_000 });
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

function ping(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: sock, path: '/_ping', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function waitForAsync(what: string, check: () => Promise<boolean>, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function metric(port: number, name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', timeout: 3_000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          const line = body.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
          resolve(line ? Number(line.split(' ').at(-1)) : undefined);
        });
      })
      .on('error', () => resolve(undefined));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('berth agent across a real dockerd restart (private second dockerd)', { skip, timeout: 150_000 }, () => {
  let d: PrivateDockerd;
  let p: TestProject;
  let hook: WebhookReceiver;
  let agent: ReturnType<TestProject['spawnBerth']> | undefined;
  let metricsPort: number;
  const env = () => ({ DOCKER_HOST: d.host });
  const berth = async (args: string[]): Promise<RunResult> => p.berth(args, env());
  const notices = () => hook.accepted().map((r) => ({ status: String(r.body.status), text: JSON.stringify(r.body) }));
  const firing = (from: number) => notices().slice(from).filter((n) => n.status === 'firing');
  const timings: string[] = [];
  const restartAndWaitReconnect = async (liveRestore: boolean, between?: () => void) => {
    const before = await metric(metricsPort, 'berth_engine_events_reconnects');
    const stopMs = await d.stop();
    between?.();
    const startMs = await d.start(liveRestore);
    const t0 = Date.now();
    await waitForAsync('the agent to reopen the events stream', async () => (await metric(metricsPort, 'berth_engine_events_reconnects')) === (before ?? 0) + 1 && (await metric(metricsPort, 'berth_engine_events_connected')) === 1, 20_000, () => agent!.output().slice(-2000));
    timings.push(`stop ${stopMs} ms, start ${startMs} ms, reconnect ${Date.now() - t0} ms after the daemon answered`);
  };
  const pidOf = (name: string) => Number(d.docker(['inspect', '-f', '{{.State.Pid}}', name]).trim());

  before(async () => {
    d = new PrivateDockerd();
    await d.start(true);
    d.docker(['load', '-q'], execFileSync('docker', ['save', 'berth-test/app:v1'], { maxBuffer: 512 * 1024 * 1024, timeout: 30_000 }));
    hook = await createWebhookReceiver();
    metricsPort = await freePort();
    p = await createTestProject({
      'compose.yaml': `
services:
  app:
    image: berth-test/app:v1
  worker:
    image: berth-test/app:v1
    restart: always
`,
      'berth.yaml': `
name: {{NAME}}
monitor:
  listen: "127.0.0.1:${metricsPort}"
  group_wait: 1500ms
  group_interval: 5m
  host: false
  stats: false
${webhookNotifyYaml(hook.url, 'hook')}`,
    });
    const up = await berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
    agent = p.spawnBerth(['agent'], env());
    await waitFor('the agent to open the events stream', () => agent!.output().includes('"events stream open"'), 20_000);
  });

  after(async () => {
    if (timings.length) process.stderr.write(`# dockerd restarts: ${timings.join('; ')}\n`);
    agent?.kill('SIGKILL');
    await agent?.done;
    await d?.destroy();
    await hook?.close();
    if (p) fs.rmSync(p.dir, { recursive: true, force: true });
  });

  it('(a) the agent reconnects after a dockerd restart and reports a kill done after it exactly once', async () => {
    await restartAndWaitReconnect(true);
    await sleep(2_000); // group_wait + margin: a restart with live-restore is not an incident
    assert.equal(notices().length, 0, `no notice for the restart itself: ${notices().map((n) => n.text).join('\n')}`);
    const status = await berth(['agent', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /docker events\s+connected, reopened 1 time since the agent started/, status.stdout);
    const from = notices().length;
    const t0 = Date.now();
    d.docker(['kill', `${p.name}-app-blue`]);
    await waitFor('the firing notice for the kill', () => firing(from).length >= 1, 15_000);
    timings.push(`kill → notice ${Date.now() - t0} ms`);
    await sleep(2_500); // a duplicate would come within group_wait
    assert.equal(firing(from).length, 1, notices().map((n) => n.text).join('\n'));
    assert.match(firing(from)[0]!.text, /app-blue died \(exit code 137\)/);
    assert.doesNotMatch(firing(from)[0]!.text, /worker/);
    // Back up for the next case: the resolve closes the incident.
    const up = await berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
    await waitFor('the resolved notice', () => notices().slice(from).some((n) => n.status === 'resolved'), 20_000);
  });

  it('(b) live-restore: deaths while the daemon is down are reported after it returns, once', async () => {
    const appPid = pidOf(`${p.name}-app-blue`);
    const workerPid = pidOf(`${p.name}-worker-blue`);
    assert.ok(appPid > 0 && workerPid > 0, 'containers running before the restart');
    const from = notices().length;
    await restartAndWaitReconnect(true, () => {
      // The daemon is down; with live-restore the shims keep the containers running until now.
      process.kill(appPid, 'SIGKILL');
      process.kill(workerPid, 'SIGKILL');
    });
    const t0 = Date.now();
    await waitFor('the firing notice for both deaths', () => firing(from).some((n) => /app/.test(n.text) && /worker/.test(n.text)), 15_000);
    timings.push(`missed deaths → notice ${Date.now() - t0} ms after the reconnect`);
    // The daemon started the worker again on restore (restart: always) — no die event exists for it.
    assert.equal(d.docker(['inspect', '-f', '{{.State.Running}}', `${p.name}-worker-blue`]).trim(), 'true');
    assert.equal(d.docker(['inspect', '-f', '{{.State.Running}}', `${p.name}-app-blue`]).trim(), 'false');
    await sleep(4_000); // past the 3 s stability time of the restarted worker and group_wait
    const fired = firing(from);
    assert.equal(fired.length, 1, fired.map((n) => n.text).join('\n'));
    assert.match(fired[0]!.text, /app-blue is exited \(exit code 137\)/);
    assert.match(fired[0]!.text, /worker-blue died while the Docker events stream was down/);
    const up = await berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
    await waitFor('the resolved notice', () => notices().slice(from).some((n) => n.status === 'resolved'), 20_000);
  });

  it('(c) no live-restore: the daemon stopping every container is one grouped incident', async () => {
    // The running daemon has live-restore; restart it without. Starting without live-restore kills
    // what the previous run left running (itself an incident): bring the app back, wait for the resolve.
    let from = notices().length;
    await restartAndWaitReconnect(false);
    await waitFor('the incident of the switch', () => firing(from).length >= 1, 15_000);
    const up = await berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
    await waitFor('its resolved notice', () => notices().slice(from).some((n) => n.status === 'resolved'), 20_000);
    from = notices().length;
    await restartAndWaitReconnect(false);
    await waitFor('the firing notice', () => firing(from).length >= 1, 15_000);
    await sleep(4_000);
    const fired = firing(from);
    process.stderr.write(`# no live-restore: ${notices().slice(from).length} notice(s): ${notices().slice(from).map((n) => `${JSON.parse(n.text).title as string}: ${String(JSON.parse(n.text).summary).replace(/\s+/g, ' ').slice(0, 400)}`).join(' | ')}\n`);
    assert.equal(fired.length, 1, fired.map((n) => n.text).join('\n'));
    assert.match(fired[0]!.text, /app/);
    assert.match(fired[0]!.text, /worker/);
    assert.equal(d.docker(['inspect', '-f', '{{.State.Running}}', `${p.name}-worker-blue`]).trim(), 'true', 'restart: always brings the worker back');
  });
});
