/**
 * `berth agent` as a real process: SIGKILL while an alert is pending (fires once after restart),
 * one agent per project, clean SIGTERM stop, invalid rule config refused before anything starts,
 * and the dead-man's switch between two agents on loopback. Probe targets are loopback HTTP
 * servers the test controls, so no container is needed here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, runBerth, sleep, waitFor } from './harness.js';
import { spawn } from 'node:child_process';
import { repoRoot } from './harness.js';

interface AgentProc {
  readonly lines: () => Array<Record<string, unknown>>;
  readonly done: Promise<number>;
  /** Everything it printed, for assertion messages. */
  readonly output: () => string;
  kill(signal: NodeJS.Signals): void;
}

function spawnAgent(dir: string, listen: string, env: NodeJS.ProcessEnv = {}): AgentProc {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/berth.js'), '-C', dir, 'agent', '--listen', listen], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  return {
    lines: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    done,
    output: () => out,
    kill: (s) => child.kill(s),
  };
}

type Note = { status: string; title: string; dedupKey: string };
const notes = (a: AgentProc): Note[] => a.lines().filter((l) => l.msg === 'notify').map((l) => l.notification as Note);

function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bta-'));
  for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
  return dir;
}

const compose = 'services:\n  app:\n    image: berth-test/app:v1\n';

/** A loopback HTTP server whose answer the test switches between 200 and 500. */
async function target(): Promise<{ port: number; healthy: { value: boolean }; close(): void }> {
  const healthy = { value: true };
  const server = http.createServer((_req, res) => res.writeHead(healthy.value ? 200 : 500).end(healthy.value ? 'ok\n' : 'broken\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, healthy, close: () => server.close() };
}

describe('berth agent process', () => {
  const dirs: string[] = [];
  const agents: AgentProc[] = [];
  let t: Awaited<ReturnType<typeof target>>;
  before(async () => {
    t = await target();
  });
  after(async () => {
    for (const a of agents) a.kill('SIGKILL');
    t.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('SIGKILLed while an alert is pending, the restarted agent fires it once; SIGTERM stops cleanly; one agent per project', async () => {
    const dir = project({
      'compose.yaml': compose,
      'berth.yaml': `
services:
  app: { monitor: { container: false } }
monitor:
  group_wait: 0s
  host: false
  stats: false
  probes:
    api: { type: http, url: "http://127.0.0.1:${t.port}/", interval: 1s, timeout: 1s, for: 4s, runbook: "check the api" }
`,
    });
    dirs.push(dir);
    const listen = `127.0.0.1:${await freePort()}`;
    const a1 = spawnAgent(dir, listen);
    agents.push(a1);
    await waitFor('agent started', () => a1.lines().some((l) => l.msg === 'agent started'), 15_000);
    const second = await runBerth(dir, ['-C', dir, 'agent', '--listen', `127.0.0.1:${await freePort()}`]);
    assert.equal(second.code, 4, `a second agent must refuse: ${second.stderr}`);
    assert.match(second.stderr, /an agent for project .* already runs \(pid \d+/);

    t.healthy.value = false;
    await waitFor('pending', async () => JSON.parse((await runBerth(dir, ['-C', dir, 'alerts', '--json'])).stdout).current.some((a: { state: string }) => a.state === 'pending'), 10_000);
    a1.kill('SIGKILL');
    await a1.done;
    assert.equal(notes(a1).length, 0, 'nothing was sent before the kill');

    const a2 = spawnAgent(dir, listen);
    agents.push(a2);
    await waitFor('firing notice after restart', () => notes(a2).some((n) => n.status === 'firing'), 15_000);
    await sleep(2500);
    assert.equal(notes(a2).filter((n) => n.status === 'firing').length, 1, 'fired exactly once');
    assert.match(notes(a2)[0]!.title, /^\[FIRING\] api: GET http:\/\/127\.0\.0\.1:\d+\/ → 500/);

    const status = await runBerth(dir, ['-C', dir, 'agent', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.equal(s.running, true);
    assert.equal(s.healthz.status, 'ok');
    assert.equal(s.alerts.firing, 1);

    t.healthy.value = true;
    await waitFor('resolved notice', () => notes(a2).some((n) => n.status === 'resolved'), 10_000);
    a2.kill('SIGTERM');
    assert.equal(await a2.done, 0, a2.output());
    assert.ok(a2.lines().some((l) => l.msg === 'agent stopped'));
    const after = await runBerth(dir, ['-C', dir, 'agent', 'status', '--json']);
    assert.equal(JSON.parse(after.stdout).running, false);
  });

  it('an invalid rule is refused at load with file:line, and nothing starts', async () => {
    const dir = project({
      'compose.yaml': compose,
      'berth.yaml': `
monitor:
  rules:
    slow: { probe: "http:*", condition: "latency > 3" }
`,
    });
    dirs.push(dir);
    const port = await freePort();
    const r = await runBerth(dir, ['-C', dir, 'agent', '--listen', `127.0.0.1:${port}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /berth\.yaml:4:\d+ monitor\.rules\.slow\.condition: should be "down" or a comparison like "value > 90"/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    assert.equal(fs.existsSync(path.join(dir, '.berth', 'berth.db')), false, 'no state was written');
  });

  it("dead-man's switch: each agent alerts when its peer goes silent", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const mk = (peerPort: number, name: string) =>
      project({
        'compose.yaml': `name: ${name}\n${compose}`,
        'berth.yaml': `
services:
  app: { monitor: { container: false } }
monitor:
  group_wait: 0s
  host: false
  stats: false
  peer: { url: "http://127.0.0.1:${peerPort}", name: ${name === 'primary' ? 'backup-host' : 'primary-host'}, interval: 300ms, timeout: 2s, token_env: BERTH_PEER_TOKEN }
`,
      });
    const dirA = mk(pb, 'primary');
    const dirB = mk(pa, 'backup');
    dirs.push(dirA, dirB);
    const token = { BERTH_PEER_TOKEN: 's3cret-shared' };
    const noToken = await runBerth(dirA, ['-C', dirA, 'agent', '--listen', `127.0.0.1:${pa}`], { BERTH_PEER_TOKEN: '' });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /monitor\.peer\.token_env names BERTH_PEER_TOKEN, which is not set/);
    const a = spawnAgent(dirA, `127.0.0.1:${pa}`, token);
    const b = spawnAgent(dirB, `127.0.0.1:${pb}`, token);
    agents.push(a, b);
    await waitFor('both heard each other', () => [a, b].every((x) => x.lines().some((l) => l.msg === 'heartbeat received')), 15_000);
    const forged = await fetch(`http://127.0.0.1:${pa}/heartbeat`, { method: 'POST', body: '{"from":"intruder"}' });
    assert.equal(forged.status, 401, 'a heartbeat without the shared token is refused');
    await sleep(2500);
    assert.equal(notes(a).length + notes(b).length, 0, 'no alert while both beat');
    b.kill('SIGKILL');
    await waitFor('primary alerts on the silent peer', () => notes(a).some((n) => n.status === 'firing'), 10_000);
    assert.match(notes(a)[0]!.title, /^\[FIRING\] peer:backup-host: peer agent backup-host silent for \d+ s/);
    const m = await (await fetch(`http://127.0.0.1:${pa}/metrics`)).text();
    assert.match(m, /berth_peer_last_seen_age_seconds\{project="primary"\} [\d.]+/);
    const b2 = spawnAgent(dirB, `127.0.0.1:${pb}`, token);
    agents.push(b2);
    await waitFor('resolved once the peer beats again', () => notes(a).some((n) => n.status === 'resolved'), 10_000);
    a.kill('SIGTERM');
    b2.kill('SIGTERM');
    assert.equal(await a.done, 0, a.output());
    assert.equal(await b2.done, 0, b2.output());
  });
});
