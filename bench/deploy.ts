/**
 * Deploy benchmark: zero-downtime claim of `berth deploy`, measured.
 *
 * Under constant HTTP load through the HAProxy edge (loopback only, ~20 s per run), deploy a
 * new version mid-run five times in a row (v2, v1, v2, …); then three deploys of a version that
 * dies after the switch (automatic rollback); then, as the reference, what `docker compose up -d`
 * does on an image change (stop, remove, run on the same port) under the same load.
 *
 * Writes bench/results/deploy-<date>.json and bench/results/deploy-latest.md (the README table).
 * Always exits 0 once it has measured; the pass flags say which targets were met.
 *
 * Knobs (env): BENCH_DURATION_S (20), BENCH_CONCURRENCY (8), BENCH_RUNS (5), BENCH_REF_RUNS (3),
 * BENCH_ROLLBACKS (3); BENCH_DUMP=/tmp/prefix writes each rollback's timeline (responses around the
 * container's death, berth's progress lines) to /tmp/prefix-<ms>.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { berth, docker, freePort, repoRoot, run, sleep } from './lib/proc.js';
import { markdown, medianOf, passFlags, targets } from './lib/report.js';
import {
  berthDeployRun,
  referenceName,
  referenceRun,
  rollbackRun,
  type BerthRunResult,
  type LoadShape,
  type ReferenceRunResult,
  type RollbackResult,
} from './lib/scenarios.js';

const project = 'benchdeploy';
const host = 'bench.localhost';
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const durationS = env('BENCH_DURATION_S', 20);
// 8, not more: busybox httpd listens with a backlog of 9, and 16 concurrent connections overflowed it
// (1 s SYN-retransmit stalls all through every run, berth or reference alike).
const concurrency = env('BENCH_CONCURRENCY', 8);
const nRuns = env('BENCH_RUNS', 5);
const nRef = env('BENCH_REF_RUNS', 3);
const nRollbacks = env('BENCH_ROLLBACKS', 3);

const shape: LoadShape = { durationMs: durationS * 1000, deployAtMs: 5000, concurrency, timeoutMs: 5000, errorBackoffMs: 10 };
const lightShape: LoadShape = { ...shape, concurrency: 4, openLoopEveryMs: 10 };

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

const composeYaml = `services:
  web:
    image: berth-test/app:v1
    restart: unless-stopped
    environment:
      DIES_AFTER: "3"
`;

const berthYaml = (edgePort: number) => `name: ${project}
edge:
  listen: ["127.0.0.1:${edgePort}"]
services:
  web:
    route: { hosts: [${host}], port: 80 }
    health: { path: /healthz, interval: 250ms, timeout: 1s }
    deploy: { drain: 2s, verify: 5s }
`;

async function sh(cmd: string): Promise<void> {
  await run('sh', ['-c', cmd], 60_000).done;
}

/** Everything this benchmark may have created, by label and name; safe to run twice. */
async function dockerCleanup(): Promise<void> {
  await docker(['rm', '-f', referenceName]);
  await sh(`docker ps -aq --filter label=berth.project=${project} | xargs -r docker rm -f`);
  await sh(`docker network ls -q --filter label=berth.project=${project} | xargs -r docker network rm`);
  await sh(`docker volume ls -q --filter label=berth.project=${project} | xargs -r docker volume rm`);
  await sh(`docker images --format '{{.Repository}}:{{.Tag}}' | grep '^berth-keep/${project}-' | xargs -r docker rmi`);
}

async function machine(): Promise<Record<string, unknown>> {
  const v = await docker(['version', '--format', '{{.Server.Version}}']);
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    docker: v.stdout.trim(),
  };
}

async function main(): Promise<void> {
  const images = await docker(['image', 'inspect', 'berth-test/app:v1', 'berth-test/app:v2', 'berth-test/app:dies-later', 'berth-haproxy:local']);
  if (images.code !== 0) throw new Error('test images missing: run `bash scripts/setup.sh`');
  const dir = fs.mkdtempSync(path.join('/tmp', 'bd-'));
  const edgePort = await freePort();
  const refPort = await freePort();
  let upDone = false;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    log('cleaning up');
    if (upDone) await berth(dir, ['down', '--volumes', '-q'], 60_000).done;
    await dockerCleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const runs: BerthRunResult[] = [];
  const rollbacks: RollbackResult[] = [];
  const referenceRuns: ReferenceRunResult[] = [];
  const info = await machine();
  const started = Date.now();
  try {
    await dockerCleanup();
    fs.writeFileSync(path.join(dir, 'compose.yaml'), composeYaml);
    fs.writeFileSync(path.join(dir, 'berth.yaml'), berthYaml(edgePort));
    log(`project ${dir}, edge 127.0.0.1:${edgePort}; berth up`);
    upDone = true;
    const up = await berth(dir, ['up'], 120_000).done;
    if (up.code !== 0) throw new Error(`berth up failed (${up.code}):\n${up.stderr}`);
    const edge = { dir, port: edgePort, host };
    await sleep(1000);

    let live = 'v1';
    for (let i = 0; i < nRuns; i++) {
      const next = live === 'v1' ? 'v2' : 'v1';
      log(`berth run ${i + 1}/${nRuns}: ${live} → ${next} (${durationS} s, ${concurrency} loops)`);
      const r = await berthDeployRun(edge, shape, `berth-test/app:${next}`, `app ${next}`, `${live} → ${next}`);
      runs.push(r);
      log(`  ${r.requests} requests (${r.reqPerSec}/s), ${r.non2xx} non-2xx, ${r.errors} errors, switch ${r.switchMs} ms, edge ${r.edgeSwitchMs} ms, deploy ${r.deployMs} ms, exit ${r.exitCode}`);
      if (r.exitCode !== 0) log(`  deploy failed:\n${r.stderrTail}`);
      else live = next;
      await sleep(1000);
    }

    for (let i = 0; i < nRollbacks; i++) {
      log(`rollback run ${i + 1}/${nRollbacks}: ${live} → dies-later (DIES_AFTER=3, ${lightShape.concurrency} loops)`);
      const r = await rollbackRun(edge, lightShape, project, 'berth-test/app:dies-later', 'app dies-later', `app ${live}`);
      rollbacks.push(r);
      log(`  exit ${r.exitCode}; rollback ${r.rollbackMs} ms (CLI), observed ${r.rollbackObservedMs} ms; ${r.failedDuringRollback} failed during rollback, ${r.non2xx + r.errors} failed of ${r.requests}`);
      await sleep(1000);
    }

    log('berth down');
    await berth(dir, ['down', '--volumes', '-q'], 60_000).done;
    upDone = false;
    await dockerCleanup();

    for (let i = 0; i < nRef; i++) {
      log(`reference run ${i + 1}/${nRef}: docker stop + rm + run v1 → v2 on 127.0.0.1:${refPort}`);
      const r = await referenceRun(refPort, shape, 'berth-test/app:v1', 'berth-test/app:v2', 'app v2', 'app v1', 'v1 → v2 (stop, rm, run)');
      referenceRuns.push(r);
      log(`  ${r.requests} requests (${r.reqPerSec}/s), ${r.non2xx} non-2xx, ${r.errors} errors, window ${r.longestErrorWindowMs} ms, gap ${r.gapMs} ms, deploy ${r.deployMs} ms`);
      await sleep(1000);
    }
  } finally {
    await cleanup();
  }

  const pass = passFlags(runs, rollbacks);
  const date = new Date().toISOString().slice(0, 10);
  const pick = ({ requests, non2xx, errors, longestErrorWindowMs, switchMs, deployMs }: ReferenceRunResult) => ({ requests, non2xx, errors, longestErrorWindowMs, switchMs, deployMs });
  const reference = referenceRuns.length
    ? {
        aggregate: referenceRuns.length === 1 ? 'single run' : `median of ${referenceRuns.length} runs`,
        requests: medianOf(referenceRuns.map((r) => r.requests)),
        non2xx: medianOf(referenceRuns.map((r) => r.non2xx)),
        errors: medianOf(referenceRuns.map((r) => r.errors)),
        longestErrorWindowMs: medianOf(referenceRuns.map((r) => r.longestErrorWindowMs)),
        switchMs: medianOf(referenceRuns.map((r) => r.switchMs)),
        deployMs: medianOf(referenceRuns.map((r) => r.deployMs)),
        gapMs: medianOf(referenceRuns.map((r) => r.gapMs)),
        runs: referenceRuns.map((r) => ({ ...pick(r), gapMs: r.gapMs, reqPerSec: r.reqPerSec, durationS: r.durationS, maxLatencyMs: r.maxLatencyMs, slowOver1s: r.slowOver1s, slowAtS: r.slowAtS, failures: r.failures })),
      }
    : null;
  const machineLine = `${info.cpus} × ${info.cpuModel}, ${info.memGiB} GiB, Linux ${info.kernel}, Node ${info.node}, Docker ${info.docker}`;
  const result = {
    date: new Date().toISOString(),
    machine: info,
    config: { durationS, concurrency, rollbackConcurrency: lightShape.concurrency, rollbackOpenLoopEveryMs: lightShape.openLoopEveryMs, deployAtS: shape.deployAtMs / 1000, requestTimeoutMs: shape.timeoutMs, errorBackoffMs: shape.errorBackoffMs, health: { interval: '250ms', timeout: '1s' }, deploy: { drain: '2s', verify: '5s' }, diesAfterS: 3 },
    runs: runs.map((r) => ({
      label: r.label,
      requests: r.requests,
      non2xx: r.non2xx,
      errors: r.errors,
      longestErrorWindowMs: r.longestErrorWindowMs,
      switchMs: r.switchMs,
      deployMs: r.deployMs,
      edgeSwitchMs: r.edgeSwitchMs,
      healthyMs: r.healthyMs,
      reqPerSec: r.reqPerSec,
      durationS: r.durationS,
      maxLatencyMs: r.maxLatencyMs,
      slowOver1s: r.slowOver1s,
      slowAtS: r.slowAtS,
      exitCode: r.exitCode,
      bodies: r.bodies,
      failures: r.failures,
    })),
    reference,
    rollbackMs: rollbacks.map((r) => r.rollbackMs),
    rollbackObservedMs: rollbacks.map((r) => r.rollbackObservedMs),
    edgeSwitchMs: runs.map((r) => r.edgeSwitchMs),
    rollbacks,
    targets,
    pass,
    elapsedS: Math.round((Date.now() - started) / 1000),
  };
  const outDir = path.join(repoRoot, 'bench/results');
  fs.mkdirSync(outDir, { recursive: true });
  const jsonPath = path.join(outDir, `deploy-${date}.json`);
  fs.writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown({ date, machine: machineLine, durationS, concurrency, runs, referenceRuns, rollbacks, pass });
  fs.writeFileSync(path.join(outDir, 'deploy-latest.md'), md);
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${path.relative(repoRoot, jsonPath)} and bench/results/deploy-latest.md in ${result.elapsedS} s`);
  log(pass.all ? 'all targets met' : `targets missed: ${Object.entries(pass).filter(([k, v]) => k !== 'all' && !v).map(([k]) => k).join(', ')}`);
  for (const [i, r] of runs.entries()) {
    for (const f of r.failures) log(`  run ${i + 1} failure at ${f.atS} s: ${f.status || f.error} (${f.latencyMs} ms)${f.body ? ` ${f.body}` : ''}`);
  }
}

await main();
