/**
 * Alert benchmark (`npm run bench:alert`): failure → notification received, berth's agent beside
 * Prometheus + Alertmanager (Debian's packages), same machine, same run, same receivers.
 *
 * Receivers: an SMTP sink (smtp-server) and a webhook receiver (http), both timestamping arrivals.
 *  - berth: `measureBerthAlerts` (bench/alert-berth.ts) — 10 × `docker kill` of a watched container,
 *    10 × an HTTP endpoint that stops answering (5 s probe), then the agent's RSS/CPU watching 50
 *    services — with its notifications going through the real outbox to the SMTP sink and the
 *    webhook (`notify:` channels), so latency is measured at the receivers.
 *  - Prometheus + Alertmanager, Debian defaults (1 m scrape/eval, group_wait 30 s) and tuned (5 s
 *    scrape/eval, for: 0s, group_wait 0 s): 10 containers (the same berth-test/app image, serving a
 *    metrics file) killed and 10 loopback HTTP endpoints stopped, each at a random moment of a scrape
 *    interval, alert `up == 0` → webhook and e-mail; then their RSS/CPU at 50 targets (tuned).
 *
 * Writes bench/results/alert-<date>.json ("containerDeathP99Ms", "httpFailureP99Ms" for berth and
 * for each Prometheus configuration) and bench/results/alert-latest.md (the README table).
 * Knobs (env): BENCH_ALERT_RUNS (10), BENCH_ALERT_SERVICES (50), BENCH_ALERT_WINDOW_S (60),
 * BENCH_ALERT_REFERENCE (both | tuned | none).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { measureBerthAlerts, type ArrivalSink } from './alert-berth.js';
import { startSmtpSink, startWebhookSink, type SmtpSink, type WebhookSink } from './lib/alert-sinks.js';
import { freePort, repoRoot } from './lib/proc.js';
import { measureReferenceLatency, measureReferenceUsage, p99, type FailureTarget } from './lib/reference-latency.js';
import type { Notification } from '../src/notify/types.js';
import { startNotifications } from '../src/notify/service.js';
import { loadProject } from '../src/project/load.js';
import { openStore } from '../src/store/db.js';

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const runs = Number(process.env.BENCH_ALERT_RUNS ?? 10);
const referenceMode = process.env.BENCH_ALERT_REFERENCE ?? 'both';
const metricsBody = '# HELP app_up The app answers.\n# TYPE app_up gauge\napp_up 1\n';

/** berth's notifications through the real outbox to the SMTP sink and webhook receiver. */
async function receiverSink(smtp: SmtpSink, hook: WebhookSink): Promise<ArrivalSink & { mailLatencyFor(n: Notification, webhookAt: number): number | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-notify-'));
  fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  x:\n    image: berth-test/app:v1\n');
  fs.writeFileSync(
    path.join(dir, 'berth.yaml'),
    `notify:\n  channels:\n    mail: { type: smtp, host: 127.0.0.1, port: ${smtp.port}, starttls: false, from: berth@example.com, to: [ops@example.com] }\n    hook: { type: webhook, url: "${hook.url}", format: json }\n`,
  );
  const project = await loadProject(dir, { env: {} });
  const store = openStore(path.join(dir, '.berth'));
  const n = startNotifications({ db: store.db, project: 'bench', config: project.notify, pollMs: 50 });
  return {
    notifier: n.notifier,
    // The webhook body is the notification itself (plus `project`).
    arrivals: () => hook.arrivals.filter((a) => typeof a.value.dedupKey === 'string').map((a) => ({ n: a.value as unknown as Notification, atMs: a.t })),
    mailLatencyFor(note, webhookAt) {
      const mail = smtp.arrivals.find((m) => m.value.subject.includes(note.title) || m.value.raw.includes(note.dedupKey));
      return mail ? mail.t - webhookAt : null;
    },
    async close() {
      await n.stop();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A container of the test image serving a Prometheus metrics file on a loopback port. */
async function containerTarget(i: number): Promise<FailureTarget & { remove(): void }> {
  const port = await freePort();
  const name = `berth-bench-promtarget-${process.pid}-${i}`;
  execFileSync('docker', ['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:80`, 'berth-test/app:v1'], { stdio: 'ignore' });
  execFileSync('docker', ['exec', name, 'sh', '-c', `printf '${metricsBody.replace(/\n/g, '\\n')}' > /www/metrics`]);
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    fail: async () => void execFileSync('docker', ['kill', name], { stdio: 'ignore' }),
    remove: () => void execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' }),
  };
}

/** A loopback HTTP endpoint serving metrics; fail() closes it (connection refused). */
async function httpTarget(): Promise<FailureTarget> {
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((_q, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(metricsBody));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    fail: async () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

async function referenceRun(tuned: boolean, smtp: SmtpSink, hook: WebhookSink) {
  const containers = await Promise.all(Array.from({ length: runs }, (_, i) => containerTarget(i + (tuned ? 100 : 0))));
  const endpoints = await Promise.all(Array.from({ length: runs }, () => httpTarget()));
  try {
    log(`Prometheus + Alertmanager (${tuned ? 'tuned' : 'Debian defaults'}): ${runs} container deaths + ${runs} HTTP failures`);
    const r = await measureReferenceLatency({ targets: [...containers, ...endpoints], webhook: hook, smtp, tuned, timeoutMs: tuned ? 60_000 : 300_000 });
    const urls = new Set(containers.map((c) => new URL(c.url).host));
    const death = r.samples.filter((s) => urls.has(s.instance));
    const httpS = r.samples.filter((s) => !urls.has(s.instance));
    const first = (s: { webhookMs: number | null; mailMs: number | null }) =>
      s.webhookMs === null ? s.mailMs : s.mailMs === null ? s.webhookMs : Math.min(s.webhookMs, s.mailMs);
    return {
      label: r.label,
      containerDeathMs: death.map(first),
      httpFailureMs: httpS.map(first),
      containerDeathWebhookMs: death.map((s) => s.webhookMs),
      containerDeathMailMs: death.map((s) => s.mailMs),
      httpFailureWebhookMs: httpS.map((s) => s.webhookMs),
      httpFailureMailMs: httpS.map((s) => s.mailMs),
      containerDeathP99Ms: p99(death.map(first)),
      httpFailureP99Ms: p99(httpS.map(first)),
    };
  } finally {
    for (const c of containers) c.remove();
  }
}

async function main(): Promise<void> {
  const smtp = await startSmtpSink();
  const hook = await startWebhookSink();
  const sink = await receiverSink(smtp, hook);
  log('berth agent: latency at the receivers, then footprint at 50 services');
  const berth = await measureBerthAlerts({ runs, sink });
  // E-mail latency of each firing notification, from the same arrivals.
  const firing = sink.arrivals().filter((a) => a.n.status === 'firing');
  const mailDelays = firing.map((a) => sink.mailLatencyFor(a.n, a.atMs)).filter((x): x is number => x !== null);
  await sink.close?.();

  const reference: Record<string, unknown> = {};
  if (referenceMode === 'both' || referenceMode === 'tuned') reference.tuned = await referenceRun(true, smtp, hook);
  if (referenceMode === 'both') reference.defaults = await referenceRun(false, smtp, hook);
  let referenceUsage: unknown = null;
  if (referenceMode !== 'none') {
    log('Prometheus + Alertmanager footprint at 50 targets (tuned)');
    const targets = await Promise.all(Array.from({ length: 50 }, () => httpTarget()));
    referenceUsage = await measureReferenceUsage({ targetUrls: targets.map((t) => t.url), webhookUrl: hook.url, smtp, tuned: true, durationMs: 60_000 });
    for (const t of targets) await t.fail();
  }
  await smtp.close();
  await hook.close();

  const ref = reference as Record<string, { containerDeathP99Ms: number | null; httpFailureP99Ms: number | null; label: string }>;
  const ratio = (a: number | null | undefined, b: number) => (a ? Number((a / b).toFixed(1)) : null);
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    runs,
    measuredAt: 'the receivers: webhook (berth: JSON channel; Alertmanager: webhook_config) and SMTP sink (first of the two for the p99)',
    containerDeathP99Ms: berth.containerDeathP99Ms,
    httpFailureP99Ms: berth.httpFailureP99Ms,
    berth: { ...berth, emailAfterWebhookMs: mailDelays },
    prometheusAlertmanager: reference,
    prometheusAlertmanagerTunedContainerDeathP99Ms: ref.tuned?.containerDeathP99Ms ?? null,
    prometheusAlertmanagerTunedHttpFailureP99Ms: ref.tuned?.httpFailureP99Ms ?? null,
    prometheusAlertmanagerDefaultContainerDeathP99Ms: ref.defaults?.containerDeathP99Ms ?? null,
    prometheusAlertmanagerDefaultHttpFailureP99Ms: ref.defaults?.httpFailureP99Ms ?? null,
    referenceUsage,
    ratios: {
      containerDeathTunedOverBerth: ratio(ref.tuned?.containerDeathP99Ms, berth.containerDeathP99Ms),
      containerDeathDefaultsOverBerth: ratio(ref.defaults?.containerDeathP99Ms, berth.containerDeathP99Ms),
      httpFailureTunedOverBerth: ratio(ref.tuned?.httpFailureP99Ms, berth.httpFailureP99Ms),
      httpFailureDefaultsOverBerth: ratio(ref.defaults?.httpFailureP99Ms, berth.httpFailureP99Ms),
    },
  };
  const out = path.join(repoRoot, 'bench/results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, `alert-${result.date.slice(0, 10)}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown(result);
  fs.writeFileSync(path.join(out, 'alert-latest.md'), md);
  process.stdout.write(md);
}

function markdown(r: {
  runs: number;
  berth: Awaited<ReturnType<typeof measureBerthAlerts>> & { emailAfterWebhookMs: number[] };
  prometheusAlertmanager: Record<string, unknown>;
  referenceUsage: unknown;
}): string {
  const s = (ms: number | null | undefined) => (ms === null || ms === undefined || Number.isNaN(ms) ? '–' : ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`);
  const b = r.berth;
  const ref = r.prometheusAlertmanager as Record<string, { containerDeathP99Ms: number | null; httpFailureP99Ms: number | null }>;
  const u = r.referenceUsage as { rssMb: { total: number }; cpuPercent: { total: number } } | null;
  const emailExtra = b.emailAfterWebhookMs.length ? Math.max(...b.emailAfterWebhookMs) : null;
  return [
    `Failure → notification received, p99 of ${r.runs} each (berth: at the webhook receiver; e-mail arrived at most ${s(emailExtra)} after it).`,
    '',
    '| | container death | HTTP endpoint stops (5 s probe) | RSS at 50 services | CPU at 50 services |',
    '|---|---|---|---|---|',
    `| berth agent | ${s(b.containerDeathP99Ms)} | ${s(b.httpFailureP99Ms)} | ${b.footprint.compiled.maxRssMb} MB | ${b.footprint.compiled.cpuPercentOfOneCore} % of a core |`,
    `| Prometheus + Alertmanager, tuned (5 s, group_wait 0 s) | ${s(ref.tuned?.containerDeathP99Ms)} | ${s(ref.tuned?.httpFailureP99Ms)} | ${u ? `${u.rssMb.total} MB` : '–'} | ${u ? `${u.cpuPercent.total} %` : '–'} |`,
    `| Prometheus + Alertmanager, Debian defaults | ${s(ref.defaults?.containerDeathP99Ms)} | ${s(ref.defaults?.httpFailureP99Ms)} | | |`,
    '',
  ].join('\n');
}

await main();
