/**
 * The reference side of `npm run bench:alert`: Debian's own `prometheus` and
 * `prometheus-alertmanager` (the real binaries, /usr/bin), started on free loopback ports with
 * temporary data dirs, scraping the given targets with one `up == 0` alert rule and sending
 * through Alertmanager to the given webhook URL and SMTP relay (plain SMTP, no TLS).
 *
 * Two configurations:
 * - default: what you get without tuning — Prometheus' built-in scrape_interval and
 *   evaluation_interval of 1m and Alertmanager's group_wait of 30s (the upstream defaults; note
 *   that the prometheus.yml Debian ships as an example sets 15s intervals);
 * - tuned: 5s scrape and evaluation, `for: 0s`, group_wait 0s, group_interval 5s.
 * In both the rule has no `for` delay, so only the pipeline's own intervals are measured.
 *
 * The targets must serve the Prometheus text format (an empty 200 body will do): a body that
 * does not parse also makes `up` 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PrometheusReferenceOptions {
  /** URL(s) Prometheus scrapes, e.g. `http://127.0.0.1:8080/metrics`. */
  readonly target: string | readonly string[];
  readonly webhookUrl: string;
  readonly smtp: { readonly host: string; readonly port: number; readonly from?: string; readonly to?: string };
  readonly tuned: boolean;
  /** Overrides of the chosen configuration, as Prometheus durations ("15s"). */
  readonly intervals?: Partial<ReferenceIntervals>;
  readonly prometheusBin?: string;
  readonly alertmanagerBin?: string;
  /** Default 30 s: how long each daemon may take to become ready. */
  readonly readyTimeoutMs?: number;
}

export interface ReferenceIntervals {
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
  readonly groupWait: string;
  readonly groupInterval: string;
}

export interface ProcessUsage {
  readonly pid: number;
  readonly rssBytes: number;
  /** User + system CPU time consumed so far. */
  readonly cpuSeconds: number;
}

export interface PrometheusReference {
  readonly label: string;
  readonly intervals: ReferenceIntervals;
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  /** RSS and CPU time of both daemons now (from /proc), for the resource comparison. */
  usage(): { prometheus: ProcessUsage; alertmanager: ProcessUsage };
  /** Resolves once Prometheus has scraped every target successfully (up == 1) at least once. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const referenceIntervals = {
  default: { scrapeInterval: '1m', evaluationInterval: '1m', groupWait: '30s', groupInterval: '5m' },
  tuned: { scrapeInterval: '5s', evaluationInterval: '5s', groupWait: '0s', groupInterval: '5s' },
} as const satisfies Record<string, ReferenceIntervals>;

export async function startPrometheusReference(opts: PrometheusReferenceOptions): Promise<PrometheusReference> {
  const bins = { prometheus: opts.prometheusBin ?? '/usr/bin/prometheus', alertmanager: opts.alertmanagerBin ?? '/usr/bin/prometheus-alertmanager' };
  for (const bin of Object.values(bins)) {
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch {
      throw new Error(`${bin} not found: apt-get install -y prometheus prometheus-alertmanager (Debian's packages are the reference)`);
    }
  }
  const intervals: ReferenceIntervals = { ...(opts.tuned ? referenceIntervals.tuned : referenceIntervals.default), ...opts.intervals };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-promref-${opts.tuned ? 'tuned' : 'default'}-`));
  const [promPort, amPort] = [await freePort(), await freePort()];
  const targets = typeof opts.target === 'string' ? [opts.target] : [...opts.target];
  fs.writeFileSync(path.join(dir, 'alertmanager.yml'), alertmanagerYaml(opts, intervals));
  fs.writeFileSync(path.join(dir, 'rules.yml'), rulesYaml(opts.tuned));
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), prometheusYaml(targets, intervals, amPort, path.join(dir, 'rules.yml')));
  fs.mkdirSync(path.join(dir, 'am-data'));
  fs.mkdirSync(path.join(dir, 'prom-data'));

  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map(terminate));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const am = daemon(bins.alertmanager, [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'am-data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=', // no gossip port on 0.0.0.0:9094
      '--log.level=warn',
    ], path.join(dir, 'alertmanager.log'));
    procs.push(am);
    const prom = daemon(bins.prometheus, [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'prom-data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--storage.tsdb.retention.time=2h',
      '--log.level=warn',
    ], path.join(dir, 'prometheus.log'));
    procs.push(prom);
    const timeout = opts.readyTimeoutMs ?? 30_000;
    await waitReady(`http://127.0.0.1:${amPort}/-/ready`, am, timeout, path.join(dir, 'alertmanager.log'));
    await waitReady(`http://127.0.0.1:${promPort}/-/ready`, prom, timeout, path.join(dir, 'prometheus.log'));
    const prometheusUrl = `http://127.0.0.1:${promPort}`;
    return {
      label: `prometheus+alertmanager (${opts.tuned ? 'tuned' : 'default'}: scrape ${intervals.scrapeInterval}, eval ${intervals.evaluationInterval}, group_wait ${intervals.groupWait})`,
      intervals,
      prometheusUrl,
      alertmanagerUrl: `http://127.0.0.1:${amPort}`,
      usage: () => ({ prometheus: usageOf(prom.pid!), alertmanager: usageOf(am.pid!) }),
      waitHealthy: (ms = 180_000) => waitAllUp(prometheusUrl, targets.length, ms),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function prometheusYaml(targets: readonly string[], iv: ReferenceIntervals, amPort: number, rules: string): string {
  // One job per scheme+path: static_configs carry host:port only.
  const jobs = new Map<string, { scheme: string; path: string; hosts: string[] }>();
  for (const t of targets) {
    const u = new URL(t);
    const key = `${u.protocol}${u.pathname}${u.search}`;
    const job = jobs.get(key) ?? { scheme: u.protocol.replace(':', ''), path: `${u.pathname}${u.search}`, hosts: [] };
    job.hosts.push(u.host);
    jobs.set(key, job);
  }
  const scrape = [...jobs.values()].map((j, i) =>
    [
      `  - job_name: bench${i}`,
      `    scheme: ${j.scheme}`,
      `    metrics_path: ${JSON.stringify(j.path)}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(j.hosts)}`,
    ].join('\n'),
  );
  return [
    'global:',
    `  scrape_interval: ${iv.scrapeInterval}`,
    `  evaluation_interval: ${iv.evaluationInterval}`,
    // The scrape timeout may not exceed the interval; Prometheus' default is 10s.
    `  scrape_timeout: ${durationSeconds(iv.scrapeInterval) < 10 ? iv.scrapeInterval : '10s'}`,
    'rule_files:',
    `  - ${JSON.stringify(rules)}`,
    'alerting:',
    '  alertmanagers:',
    '    - static_configs:',
    `        - targets: ["127.0.0.1:${amPort}"]`,
    'scrape_configs:',
    ...scrape,
    '',
  ].join('\n');
}

function rulesYaml(tuned: boolean): string {
  return [
    'groups:',
    '  - name: bench',
    '    rules:',
    '      - alert: TargetDown',
    '        expr: up == 0',
    ...(tuned ? ['        for: 0s'] : []),
    '        labels: { severity: critical }',
    '        annotations:',
    '          summary: "{{ $labels.instance }} ({{ $labels.job }}) is down"',
    '',
  ].join('\n');
}

function alertmanagerYaml(opts: PrometheusReferenceOptions, iv: ReferenceIntervals): string {
  return [
    'global:',
    `  smtp_smarthost: "${opts.smtp.host}:${opts.smtp.port}"`,
    `  smtp_from: ${JSON.stringify(opts.smtp.from ?? 'alertmanager@example.org')}`,
    '  smtp_require_tls: false',
    'route:',
    '  receiver: bench',
    "  group_by: ['alertname', 'instance']",
    `  group_wait: ${iv.groupWait}`,
    `  group_interval: ${iv.groupInterval}`,
    '  repeat_interval: 4h',
    'receivers:',
    '  - name: bench',
    '    webhook_configs:',
    `      - url: ${JSON.stringify(opts.webhookUrl)}`,
    '        send_resolved: true',
    '    email_configs:',
    `      - to: ${JSON.stringify(opts.smtp.to ?? 'ops@example.com')}`,
    '        send_resolved: true',
    '        require_tls: false',
    '',
  ].join('\n');
}

function daemon(bin: string, args: string[], logFile: string): ChildProcess {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.on('error', () => undefined);
  return child;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${path.basename(String(child.spawnfile))} exited (${child.exitCode ?? child.signalCode}): ${tail(logFile)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms: ${tail(logFile)}`);
}

async function waitAllUp(prometheusUrl: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent('sum(up)')}`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
      if (Number(body.data?.result?.[0]?.value[1]) >= n) return;
    } catch {
      // retry
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Prometheus did not see all ${n} target(s) up within ${timeoutMs} ms`);
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function usageOf(pid: number): ProcessUsage {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  // Fields after the command name "(…)": utime and stime are the 14th and 15th fields overall.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { pid, rssBytes: rssKb * 1024, cpuSeconds: ticks / 100 };
}

function durationSeconds(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) return Number.POSITIVE_INFINITY;
  return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2]!]!;
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
