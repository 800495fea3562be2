/**
 * The three measured scenarios: a berth blue-green deploy under load, a version that dies after
 * the switch (automatic rollback), and the `docker compose up -d` reference (stop, remove, run).
 */
import fs from 'node:fs';
import { analyze, failuresBetween, firstServedBy, isOk, lastServedBy, probeOnce, round, startLoad, type FailureDetail, type LoadStats, type Sample } from './load.js';
import { berth, docker, dockerOk, parseFormattedMs, sleep, watchDies } from './proc.js';

export interface LoadShape {
  readonly durationMs: number;
  readonly deployAtMs: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly errorBackoffMs: number;
  readonly openLoopEveryMs?: number;
}

/** The keys the results file promises for every run, plus detail. */
export interface RunResult {
  requests: number;
  non2xx: number;
  errors: number;
  longestErrorWindowMs: number;
  switchMs: number | null;
  deployMs: number | null;
  label: string;
  reqPerSec: number;
  durationS: number;
  maxLatencyMs: number;
  slowOver1s: number;
  slowAtS: number[];
  bodies: Record<string, number>;
  failures: FailureDetail[];
}

export interface BerthRunResult extends RunResult {
  edgeSwitchMs: number | null;
  healthyMs: number | null;
  exitCode: number;
  stderrTail?: string;
}

export interface ReferenceRunResult extends RunResult {
  /** Last response from the old container → first response from the new one. */
  gapMs: number | null;
}

export interface RollbackResult {
  rollbackMs: number | null;
  rollbackObservedMs: number | null;
  /** Container died (docker event) → berth's "traffic back on …" line arrived: detection + switch back. */
  dieToRestoreLineMs: number | null;
  /** Longest a single request took in the rollback run (a request caught by the death waits for HAProxy's retry). */
  maxLatencyMs: number;
  slowOver1s: number;
  exitCode: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** Failed requests sent between the container's death and traffic being back on the old version. */
  failedDuringRollback: number;
  longestErrorWindowMs: number;
  servedByFailingVersion: number;
  reason?: string;
  failures: FailureDetail[];
}

const loadBound = 70_000;
const stats = (samples: readonly Sample[], t0: number): LoadStats => analyze(samples, t0);
const ms = (n: number | undefined) => (n === undefined ? null : round(n, 1));

function base(s: LoadStats, label: string): Omit<RunResult, 'switchMs' | 'deployMs'> {
  const { requests, non2xx, errors, longestErrorWindowMs, reqPerSec, durationS, maxLatencyMs, slowOver1s, slowAtS, bodies, failures } = s;
  return { label, requests, non2xx, errors, longestErrorWindowMs, reqPerSec, durationS, maxLatencyMs, slowOver1s, slowAtS, bodies, failures };
}

async function until(t: number): Promise<void> {
  const wait = t - performance.now();
  if (wait > 0) await sleep(wait);
}

export interface EdgeTarget {
  readonly dir: string;
  readonly port: number;
  readonly host: string;
}

/** One `berth deploy` in the middle of a constant load through the edge. */
export async function berthDeployRun(edge: EdgeTarget, shape: LoadShape, image: string, body: string, label: string): Promise<BerthRunResult> {
  const load = startLoad({ port: edge.port, host: edge.host, concurrency: shape.concurrency, timeoutMs: shape.timeoutMs, errorBackoffMs: shape.errorBackoffMs, maxMs: loadBound });
  await until(load.t0 + shape.deployAtMs);
  const r = await berth(edge.dir, ['--json', 'deploy', 'web', '--image', image], 60_000).done;
  await until(Math.max(load.t0 + shape.durationMs, r.endedAt + 500));
  const samples = await load.stop();
  const s = stats(samples, load.t0);
  const healthy = r.lines.find((l) => /✓ web: (blue|green) healthy in/.test(l.line));
  let out: { deployMs?: number; switchMs?: number; healthyMs?: number } = {};
  try {
    out = JSON.parse(r.stdout) as typeof out;
  } catch {
    // reported through exitCode / stderrTail
  }
  const served = healthy ? firstServedBy(samples, body, healthy.t) : undefined;
  return {
    ...base(s, label),
    switchMs: healthy && served !== undefined ? round(served - healthy.t, 1) : null,
    deployMs: ms(out.deployMs),
    edgeSwitchMs: out.switchMs !== undefined ? round(out.switchMs, 2) : null,
    healthyMs: ms(out.healthyMs),
    exitCode: r.code,
    ...(r.code !== 0 ? { stderrTail: r.stderr.split('\n').slice(-12).join('\n') } : {}),
  };
}

/** Deploy a version that exits DIES_AFTER seconds after start, i.e. after the switch; berth must roll back. */
export async function rollbackRun(edge: EdgeTarget, shape: LoadShape, project: string, failingImage: string, failingBody: string, oldBody: string): Promise<RollbackResult> {
  const watch = watchDies(project, loadBound);
  await watch.ready;
  const load = startLoad({ port: edge.port, host: edge.host, concurrency: shape.concurrency, timeoutMs: shape.timeoutMs, errorBackoffMs: shape.errorBackoffMs, openLoopEveryMs: shape.openLoopEveryMs, maxMs: loadBound });
  try {
    await until(load.t0 + 1000);
    const r = await berth(edge.dir, ['deploy', 'web', '--image', failingImage], 60_000).done;
    await sleep(1000);
    const samples = await load.stop();
    await sleep(200); // late docker events
    const s = stats(samples, load.t0);
    const restored = /traffic restored to \w+ (.+?) after the failure was seen/.exec(r.stderr);
    const reason = /rolled back: (.*?) \(traffic restored/.exec(r.stderr)?.[1];
    const color = /→ web: starting (blue|green) from/.exec(r.stderr)?.[1];
    const died = watch.events.find((e) => e.t >= r.startedAt && (!color || e.name.endsWith(`-web-${color}`)));
    const restoreLine = r.lines.find((l) => /failed after the switch .*traffic back on/.test(l.line));
    let observed: number | undefined;
    let failedDuring = 0;
    if (died) {
      const lastBad = lastServedBy(samples, failingBody);
      const back = firstServedBy(samples, oldBody, Math.max(died.t, lastBad ?? died.t));
      if (back !== undefined) {
        observed = back - died.t;
        failedDuring = failuresBetween(samples, died.t - 1000, back);
      }
    }
    if (process.env.BENCH_DUMP && died) {
      const near = samples.filter((x) => x.end > died.t - 500 && x.start < died.t + 3000).map((x) => ({ ...x, start: round(x.start - died.t, 1), end: round(x.end - died.t, 1) }));
      fs.writeFileSync(`${process.env.BENCH_DUMP}-${Date.now()}.json`, JSON.stringify({ events: watch.events.map((e) => ({ ...e, t: round(e.t - died.t, 1) })), lines: r.lines.map((l) => `${round(l.t - died.t, 1)} ${l.line}`), near }, null, 1));
    }
    return {
      rollbackMs: restored ? (parseFormattedMs(restored[1]!) ?? null) : null,
      rollbackObservedMs: ms(observed),
      dieToRestoreLineMs: ms(died && restoreLine ? restoreLine.t - died.t : undefined),
      maxLatencyMs: s.maxLatencyMs,
      slowOver1s: s.slowOver1s,
      exitCode: r.code,
      requests: s.requests,
      non2xx: s.non2xx,
      errors: s.errors,
      failedDuringRollback: failedDuring,
      longestErrorWindowMs: s.longestErrorWindowMs,
      servedByFailingVersion: s.bodies[failingBody] ?? 0,
      ...(reason ? { reason } : {}),
      failures: s.failures,
    };
  } finally {
    watch.stop();
    await load.stop();
  }
}

export const referenceName = 'benchref-web';

async function waitServing(port: number, body: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const s = await probeOnce(port);
    if (isOk(s) && s.body === body) return;
    await sleep(100);
  }
  throw new Error(`reference container never served "${body}" on 127.0.0.1:${port}`);
}

/** What `docker compose up -d` does on an image change: stop the old container, remove it, start the new one on the same port. */
export async function referenceRun(port: number, shape: LoadShape, fromImage: string, toImage: string, toBody: string, fromBody: string, label: string): Promise<ReferenceRunResult> {
  const runArgs = (image: string) => ['run', '-d', '--name', referenceName, '--restart', 'unless-stopped', '-p', `127.0.0.1:${port}:80`, image];
  await docker(['rm', '-f', referenceName]);
  await dockerOk(runArgs(fromImage));
  await waitServing(port, fromBody);
  const load = startLoad({ port, concurrency: shape.concurrency, timeoutMs: shape.timeoutMs, errorBackoffMs: shape.errorBackoffMs, maxMs: loadBound });
  try {
    await until(load.t0 + shape.deployAtMs);
    const t0 = performance.now();
    await dockerOk(['stop', referenceName]);
    await dockerOk(['rm', referenceName]);
    await dockerOk(runArgs(toImage));
    const started = performance.now();
    await until(Math.max(load.t0 + shape.durationMs, started + 500));
    const samples = await load.stop();
    const s = stats(samples, load.t0);
    const served = firstServedBy(samples, toBody, started);
    const firstNew = firstServedBy(samples, toBody, t0);
    const lastOld = lastServedBy(samples, fromBody);
    return {
      ...base(s, label),
      switchMs: ms(served !== undefined ? served - started : undefined),
      deployMs: round(started - t0, 1),
      gapMs: ms(firstNew !== undefined && lastOld !== undefined ? firstNew - lastOld : undefined),
    };
  } finally {
    await load.stop();
    await docker(['rm', '-f', referenceName]);
  }
}
