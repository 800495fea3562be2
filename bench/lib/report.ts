/** Targets, pass flags and the markdown table of the deploy benchmark. */
import type { BerthRunResult, ReferenceRunResult, RollbackResult } from './scenarios.js';

export const targets = {
  failedRequests: 0,
  minRequestsPerRun: 20_000,
  maxSwitchMs: 100,
  maxRollbackMs: 10_000,
} as const;

export interface Pass {
  zeroFailedRequests: boolean;
  minRequestsPerRun: boolean;
  switchWithin100ms: boolean;
  rollbackWithin10s: boolean;
  all: boolean;
}

export function passFlags(runs: readonly BerthRunResult[], rollbacks: readonly RollbackResult[]): Pass {
  const zeroFailedRequests = runs.length > 0 && runs.every((r) => r.non2xx + r.errors === targets.failedRequests && r.exitCode === 0);
  const minRequestsPerRun = runs.length > 0 && runs.every((r) => r.requests >= targets.minRequestsPerRun);
  const switchWithin100ms = runs.length > 0 && runs.every((r) => r.switchMs !== null && r.switchMs <= targets.maxSwitchMs);
  const rollbackWithin10s = rollbacks.length > 0 && rollbacks.every((r) => r.exitCode === 11 && r.rollbackMs !== null && r.rollbackMs <= targets.maxRollbackMs);
  return { zeroFailedRequests, minRequestsPerRun, switchWithin100ms, rollbackWithin10s, all: zeroFailedRequests && minRequestsPerRun && switchWithin100ms && rollbackWithin10s };
}

const f = (n: number | null | undefined, unit = ' ms', digits = 0) => (n === null || n === undefined ? '–' : `${n.toFixed(digits)}${unit}`);
const int = (n: number) => n.toLocaleString('en-US');
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function medianOf(xs: readonly (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
}

export interface TableInput {
  readonly date: string;
  readonly machine: string;
  readonly durationS: number;
  readonly concurrency: number;
  readonly runs: readonly BerthRunResult[];
  readonly referenceRuns: readonly ReferenceRunResult[];
  readonly rollbacks: readonly RollbackResult[];
  readonly pass: Pass;
}

export function markdown(t: TableInput): string {
  const out: string[] = [];
  out.push(`### Deploy under load (${t.date})`, '');
  out.push(
    `${t.machine}. Load: ${t.concurrency} keep-alive HTTP/1.1 loops on loopback for ~${t.durationS} s per run, deploy started at ~5 s. ` +
      'berth: through the HAProxy edge (`berth deploy web --image …`, health every 250 ms, drain 2 s, verify 5 s). ' +
      'Reference: what `docker compose up -d` does on an image change (`docker stop`, `docker rm`, `docker run` on the same published port).',
    '',
  );
  out.push('| run | change | requests | req/s | non-2xx | conn. errors | longest error window | slowest request | switch¹ | edge switch² | deploy total |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  t.runs.forEach((r, i) => {
    out.push(`| berth ${i + 1} | ${r.label} | ${int(r.requests)} | ${int(r.reqPerSec)} | ${r.non2xx} | ${r.errors} | ${f(r.longestErrorWindowMs)} | ${f(r.maxLatencyMs)} | ${f(r.switchMs, ' ms', 1)} | ${f(r.edgeSwitchMs, ' ms', 2)} | ${f(r.deployMs)} |`);
  });
  t.referenceRuns.forEach((r, i) => {
    out.push(`| reference ${i + 1} | ${r.label} | ${int(r.requests)} | ${int(r.reqPerSec)} | ${r.non2xx} | ${r.errors} | ${f(r.longestErrorWindowMs)} | ${f(r.maxLatencyMs)} | ${f(r.switchMs, ' ms', 1)} | – | ${f(r.deployMs)} |`);
  });
  out.push('');
  out.push('¹ berth: new color reported healthy → first response served by it; reference: `docker run` returned → first response from the new container.');
  out.push('² time HAProxy took to apply the switch through its runtime API (berth\'s own `switchMs`).');
  out.push(
    'A request fails on a connection error, a non-2xx status or no answer within 5 s (longer than HAProxy\'s connect timeout plus retries, ' +
      'so a request the edge retries counts as slow, not failed). Longest error window: first failed request sent → next request sent after it answered 2xx. ' +
      'More than 8 loops overflow the test app\'s listen backlog (busybox httpd: 9) and add 1 s SYN-retransmit stalls unrelated to deploys.',
  );
  out.push('');

  const failed = t.runs.reduce((a, r) => a + r.non2xx + r.errors, 0);
  const requests = t.runs.reduce((a, r) => a + r.requests, 0);
  const refFailed = t.referenceRuns.map((r) => r.non2xx + r.errors);
  const refWindow = medianOf(t.referenceRuns.map((r) => r.longestErrorWindowMs));
  const refGap = medianOf(t.referenceRuns.map((r) => r.gapMs));
  out.push(
    `Over ${t.runs.length} berth deploys: ${failed} failed of ${int(requests)} requests. ` +
      (t.referenceRuns.length
        ? `Reference (${t.referenceRuns.length} run${t.referenceRuns.length > 1 ? 's' : ''}): ${refFailed.join(', ')} failed requests per deploy, ` +
          `median longest error window ${f(refWindow)}, median gap between the last old and the first new response ${f(refGap)}.`
        : ''),
    '',
  );

  out.push('| rollback | failure seen → traffic restored³ | container died → rollback done⁴ | container died → old version serving⁵ | failed requests | requests | requests ≥ 1 s | slowest request |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  t.rollbacks.forEach((r, i) => {
    out.push(`| ${i + 1} | ${f(r.rollbackMs)} | ${f(r.dieToRestoreLineMs)} | ${f(r.rollbackObservedMs)} | ${r.non2xx + r.errors} | ${int(r.requests)} | ${r.slowOver1s} | ${f(r.maxLatencyMs)} |`);
  });
  out.push('');
  out.push('Rollback runs: `berth deploy web --image berth-test/app:dies-later` (exits 3 s after start, i.e. after the switch) under light load (4 keep-alive loops plus one fresh request every 10 ms).');
  out.push('³ as berth reports it ("traffic restored to … after the failure was seen").');
  out.push('⁴ the `die` event time from `docker events` → berth\'s "traffic back on …" line: detection plus switch back.');
  out.push('⁵ the `die` event → first response from the old version after the last one from the failing version, seen by the load client.');
  out.push('');

  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  out.push('| target | result |', '|---|---|');
  out.push(`| 0 failed requests over all berth deploys | ${mark(t.pass.zeroFailedRequests)} (${failed}) |`);
  out.push(`| ≥ ${int(targets.minRequestsPerRun)} requests per deploy run | ${mark(t.pass.minRequestsPerRun)} (min ${int(Math.min(...t.runs.map((r) => r.requests)))}) |`);
  out.push(`| switch ≤ ${targets.maxSwitchMs} ms | ${mark(t.pass.switchWithin100ms)} (max ${f(Math.max(...t.runs.map((r) => r.switchMs ?? Infinity)), ' ms', 1)}) |`);
  out.push(`| automatic rollback ≤ 10 s after the failure is seen | ${mark(t.pass.rollbackWithin10s)} (max ${f(Math.max(...t.rollbacks.map((r) => r.rollbackMs ?? Infinity)))}) |`);
  return `${out.join('\n')}\n`;
}
