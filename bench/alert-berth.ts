/**
 * berth's side of the alert benchmark (`npm run bench:alert-berth`; the lead's bench/alert.ts adds
 * the Prometheus + Alertmanager side and the SMTP/webhook receivers).
 *
 *  1. Container death → notification, N times: `docker kill` of a running service container
 *     while the agent watches; time from the kill command to the notification's arrival.
 *  2. HTTP failure → notification, N times: a loopback HTTP endpoint (child process) stops
 *     answering (listener closed: connection refused) at a random moment of the 5 s probe cycle.
 *  3. Footprint: `berth agent` as its own process watching 50 services (50 berth-test/app:v1
 *     containers, HTTP probe every 5 s each, container events, host probes), RSS and CPU over 60 s,
 *     compiled (`npm run build`: the esbuild bundle, as deployed) and through tsx (development).
 *
 * The notifier is pluggable (`ArrivalSink`): by default notifications are timestamped in process
 * as the agent hands them over; pass one backed by an SMTP sink or webhook receiver to measure
 * end to end. Writes bench/results/alert-berth-<date>.json.
 * Knobs (env): BENCH_ALERT_RUNS (10), BENCH_ALERT_SERVICES (50), BENCH_ALERT_WINDOW_S (60),
 * BENCH_ALERT_ONLY (latency | footprint).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent } from '../src/agent/agent.js';
import { createAgentEngine } from '../src/agent/engine.js';
import type { Notification, Notifier } from '../src/notify/types.js';
import { loadProject } from '../src/project/load.js';
import { openStore } from '../src/store/db.js';
import { berth, dockerOk, freePort, repoRoot, run, sleep, watchDies } from './lib/proc.js';

export interface ArrivalSink {
  readonly notifier: Notifier;
  /** Notifications received so far, with the epoch ms they arrived. */
  arrivals(): ReadonlyArray<{ readonly n: Notification; readonly atMs: number }>;
  close?(): Promise<void>;
}

export function inProcessSink(): ArrivalSink {
  const got: Array<{ n: Notification; atMs: number }> = [];
  return { notifier: { notify: (n) => void got.push({ n, atMs: Date.now() }) }, arrivals: () => got };
}

export interface BerthAlertResults {
  readonly runs: number;
  /** From the start of `docker kill` (includes the docker CLI's own start-up) to the notification. */
  readonly containerDeathMs: number[];
  /** From the engine's `die` event time to the notification. */
  readonly containerDeathFromDieEventMs: number[];
  readonly containerDeathFromDieEventP99Ms: number;
  readonly httpFailureMs: number[];
  readonly containerDeathP50Ms: number;
  readonly containerDeathP99Ms: number;
  readonly httpFailureP50Ms: number;
  readonly httpFailureP99Ms: number;
  readonly httpProbeIntervalMs: number;
  readonly groupWaitMs: number;
  /** `compiled` is how the agent is deployed (the bundle of npm run build); `tsx` is the sources through tsx. */
  readonly footprint: { services: number; probeIntervalMs: number; compiled: Footprint; tsx: Footprint };
  readonly targets: { containerDeathP99Ms: number; httpFailureP99Ms: number; rssMb: number; cpuPercent: number };
  readonly pass: { containerDeath: boolean; httpFailure: boolean; rss: boolean; cpu: boolean };
}

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const p = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : NaN;
};

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A loopback HTTP endpoint in a child process; `stop`/`start` on stdin close and reopen its listener. */
function endpoint(port: number): { child: ChildProcess; send(cmd: 'stop' | 'start'): Promise<void> } {
  const script = `
const http = require('node:http');
let server;
const open = () => new Promise((r) => { server = http.createServer((q, s) => s.end('ok\\n')); server.listen(${port}, '127.0.0.1', r); });
const close = () => new Promise((r) => { server.close(r); server.closeAllConnections(); });
open().then(() => console.log('ready'));
process.stdin.on('data', async (d) => { for (const c of d.toString().trim().split('\\n')) { await (c === 'stop' ? close() : open()); console.log('done ' + c); } });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  return {
    child,
    async send(cmd) {
      const before = out.split(`done ${cmd}`).length;
      child.stdin!.write(`${cmd}\n`);
      await waitUntil(`endpoint ${cmd}`, () => out.split(`done ${cmd}`).length > before, 5_000);
    },
  };
}

function writeProject(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
}

async function latency(runs: number, sink: ArrivalSink): Promise<{ death: number[]; deathFromEvent: number[]; http: number[]; intervalMs: number; groupWaitMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-alert-'));
  const name = 'benchalert';
  const apiPort = await freePort();
  writeProject(dir, {
    'compose.yaml': `name: ${name}\nservices:\n  web:\n    image: berth-test/app:v1\n    restart: "no"\n`,
    'berth.yaml': `monitor:
  stats: false
  host: false
  probes:
    api: { type: http, url: "http://127.0.0.1:${apiPort}/", interval: 5s, timeout: 1s }
`,
  });
  const ep = endpoint(apiPort);
  await sleep(300);
  const up = await berth(dir, ['up', '-q']).done;
  if (up.code !== 0) throw new Error(`berth up failed: ${up.stderr}`);
  const project = await loadProject(dir);
  const store = openStore(project.stateDir);
  const agent = await startAgent({ project, engine: createAgentEngine(), store, notifier: sink.notifier, clock: Date.now, log: () => {}, pid: process.pid, host: os.hostname(), listen: { hostIp: '127.0.0.1', hostPort: 0 } });
  const probeOk = (id: string) => agent.monitorStore.probes().find((r) => r.probeId === id)?.ok === true;
  const firingSince = (t: number, probe: string) => sink.arrivals().find((a) => a.atMs >= t && a.n.status === 'firing' && a.n.labels.probe === probe);
  const resolvedSince = (t: number) => sink.arrivals().some((a) => a.atMs >= t && a.n.status === 'resolved');
  const death: number[] = [];
  const deathFromEvent: number[] = [];
  const http: number[] = [];
  const dies = watchDies(name, 30 * 60_000);
  await dies.ready;
  try {
    await waitUntil('probes ok', () => probeOk('container:web') && probeOk('api'), 30_000);
    for (let i = 0; i < runs; i++) {
      await waitUntil('quiet', () => agent.monitor.alerts().length === 0 && probeOk('container:web'), 30_000);
      await sleep(Math.random() * 1000);
      const t0 = Date.now();
      await dockerOk(['kill', `${name}-web-blue`]);
      await waitUntil('death notification', () => firingSince(t0, 'container:web') !== undefined, 30_000);
      const arrived = firingSince(t0, 'container:web')!.atMs;
      death.push(arrived - t0);
      await waitUntil('die event', () => dies.events.some((e) => e.t + performance.timeOrigin >= t0), 5_000).catch(() => undefined);
      const die = dies.events.find((e) => e.t + performance.timeOrigin >= t0);
      if (die) deathFromEvent.push(Math.round(arrived - (die.t + performance.timeOrigin)));
      log(`container death #${i + 1}: ${death.at(-1)} ms after \`docker kill\` was started, ${deathFromEvent.at(-1)} ms after the die event`);
      const t1 = Date.now();
      await dockerOk(['start', `${name}-web-blue`]);
      await waitUntil('resolved', () => resolvedSince(t1), 30_000);
    }
    for (let i = 0; i < runs; i++) {
      await waitUntil('quiet', () => agent.monitor.alerts().length === 0 && probeOk('api'), 30_000);
      await sleep(Math.random() * 5000);
      const t0 = Date.now();
      await ep.send('stop');
      await waitUntil('http notification', () => firingSince(t0, 'api') !== undefined, 30_000);
      http.push(firingSince(t0, 'api')!.atMs - t0);
      log(`HTTP failure #${i + 1}: ${http.at(-1)} ms`);
      const t1 = Date.now();
      await ep.send('start');
      await waitUntil('resolved', () => resolvedSince(t1), 30_000);
    }
  } finally {
    dies.stop();
    await agent.stop();
    store.close();
    ep.child.kill();
    await berth(dir, ['down', '-q']).done;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { death, deathFromEvent, http, intervalMs: 5_000, groupWaitMs: project.monitor.groupWaitMs };
}

function procSample(pid: number): { cpuTicks: number; rssKb: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssKb: Number(rss ?? 0) };
}

interface Footprint {
  readonly windowS: number;
  readonly rssMb: number;
  readonly maxRssMb: number;
  readonly cpuPercentOfOneCore: number;
  /** Titles of notifications the agent sent during the run (a healthy stack should give none). */
  readonly notifications: readonly string[];
  readonly probesOk: string;
}

/** The agent as deployed (the bundle `npm run build` makes, plain node) and as in development (through tsx). */
async function footprint(services: number, windowS: number): Promise<BerthAlertResults['footprint']> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-alert50-'));
  const names = Array.from({ length: services }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
  writeProject(dir, {
    'compose.yaml': `name: benchalert50\nservices:\n${names.map((n) => `  ${n}:\n    image: berth-test/app:v1\n    expose: ["80"]\n`).join('')}`,
    'berth.yaml': `monitor:\n  stats: false\nservices:\n${names.map((n) => `  ${n}: { monitor: { http: { path: /healthz, interval: 5s, timeout: 2s } } }\n`).join('')}`,
  });
  try {
    log(`starting ${services} containers`);
    const up = await berth(dir, ['up', '-q'], 600_000).done;
    if (up.code !== 0) throw new Error(`berth up failed: ${up.stderr}`);
    log('building (npm run build: the esbuild bundle) to measure the agent as deployed');
    const build = await run('npm', ['run', '--silent', 'build'], 300_000).done;
    if (build.code !== 0) throw new Error(`build failed: ${build.stdout}${build.stderr}`);
    const compiled = await measureAgent(dir, path.join(repoRoot, 'dist/bundle/berth.js'), services, windowS);
    log(`compiled: ${JSON.stringify(compiled)}`);
    // bin/berth.js would pick the fresh bundle; the development entry is the sources through tsx.
    const tsx = await measureAgent(dir, path.join(repoRoot, 'bin/berth.js'), services, windowS, { BERTH_FROM_SOURCE: '1' });
    log(`tsx: ${JSON.stringify(tsx)}`);
    return { services, probeIntervalMs: 5_000, compiled, tsx };
  } finally {
    await berth(dir, ['down', '-q'], 600_000).done;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function measureAgent(dir: string, entry: string, services: number, windowS: number, env: Record<string, string> = {}): Promise<Footprint> {
  const listen = `127.0.0.1:${await freePort()}`;
  const agent = spawn(process.execPath, [entry, '-C', dir, 'agent', '--listen', listen], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  let out = '';
  agent.stdout!.on('data', (d) => (out += d));
  try {
    await waitUntil('agent started', () => out.includes('"agent started"'), 30_000);
    await sleep(20_000); // warm-up: module loading and first probe rounds are not the steady state
    const hz = 100; // USER_HZ on Linux
    const a = procSample(agent.pid!);
    const t0 = performance.now();
    let maxRss = a.rssKb;
    for (let s = 0; s < windowS; s += 5) {
      await sleep(5_000);
      maxRss = Math.max(maxRss, procSample(agent.pid!).rssKb);
    }
    const b = procSample(agent.pid!);
    const wallS = (performance.now() - t0) / 1000;
    const notes = out.split('\n').filter((l) => l.includes('"msg":"notify"')).map((l) => (JSON.parse(l) as { notification: { title: string } }).notification.title);
    if (notes.length > 0) log(`note: notification(s) during the footprint run: ${notes.join(' | ')}`);
    return {
      windowS: Math.round(wallS),
      rssMb: Math.round((b.rssKb / 1024) * 10) / 10,
      maxRssMb: Math.round((maxRss / 1024) * 10) / 10,
      cpuPercentOfOneCore: Math.round(((b.cpuTicks - a.cpuTicks) / hz / wallS) * 100 * 100) / 100,
      notifications: notes,
      probesOk: await probesOk(dir, services),
    };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('close', r));
  }
}

/** How many of the services' HTTP probes last passed, from `berth probes --json`: the agent really watched. */
async function probesOk(dir: string, services: number): Promise<string> {
  const r = await berth(dir, ['probes', '--json']).done;
  const rows = JSON.parse(r.stdout) as Array<{ kind: string; state: string }>;
  return `${rows.filter((x) => x.kind === 'http' && x.state === 'ok').length}/${services} http ok`;
}

export async function measureBerthAlerts(o: { runs?: number; services?: number; windowS?: number; sink?: ArrivalSink } = {}): Promise<BerthAlertResults> {
  const runs = o.runs ?? env('BENCH_ALERT_RUNS', 10);
  const sink = o.sink ?? inProcessSink();
  // BENCH_ALERT_ONLY=footprint|latency runs one part (the other's figures are then empty).
  const only = process.env.BENCH_ALERT_ONLY;
  const lat = only === 'footprint' ? { death: [], deathFromEvent: [], http: [], intervalMs: 5_000, groupWaitMs: 500 } : await latency(runs, sink);
  const emptyFp = { windowS: 0, rssMb: NaN, maxRssMb: NaN, cpuPercentOfOneCore: NaN, notifications: [], probesOk: 'not run' };
  const fp = only === 'latency' ? { services: 0, probeIntervalMs: 5_000, compiled: emptyFp, tsx: emptyFp } : await footprint(o.services ?? env('BENCH_ALERT_SERVICES', 50), o.windowS ?? env('BENCH_ALERT_WINDOW_S', 60));
  const targets = { containerDeathP99Ms: 2_000, httpFailureP99Ms: lat.intervalMs + 1_000, rssMb: 80, cpuPercent: 2 };
  const r = {
    runs,
    containerDeathMs: lat.death,
    containerDeathFromDieEventMs: lat.deathFromEvent,
    containerDeathFromDieEventP99Ms: p(lat.deathFromEvent, 0.99),
    httpFailureMs: lat.http,
    containerDeathP50Ms: p(lat.death, 0.5),
    containerDeathP99Ms: p(lat.death, 0.99),
    httpFailureP50Ms: p(lat.http, 0.5),
    httpFailureP99Ms: p(lat.http, 0.99),
    httpProbeIntervalMs: lat.intervalMs,
    groupWaitMs: lat.groupWaitMs,
    footprint: fp,
    targets,
  };
  return {
    ...r,
    pass: {
      containerDeath: r.containerDeathP99Ms <= targets.containerDeathP99Ms,
      httpFailure: r.httpFailureP99Ms <= targets.httpFailureP99Ms,
      rss: fp.compiled.maxRssMb <= targets.rssMb,
      cpu: fp.compiled.cpuPercentOfOneCore < targets.cpuPercent,
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await measureBerthAlerts();
  const date = new Date().toISOString().slice(0, 10);
  const file = path.join(repoRoot, 'bench/results', `alert-berth-${date}.json`);
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.release()}`;
  fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, notifier: 'in-process (timestamped on hand-over)', ...result }, null, 2)}\n`);
  log(`wrote ${path.relative(repoRoot, file)}`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
