/**
 * Self-test of the Prometheus + Alertmanager reference (bench/lib/prometheus-reference.ts):
 * HTTP targets stop answering (each at a random moment within one scrape interval); measures
 * failure → webhook and failure → e-mail through the real Debian daemons. Prints one JSON object
 * per configuration and writes them to bench/results/prom-smoke-<date>.json.
 *
 *   node --import tsx bench/prom-smoke.ts                # tuned (5 s scrape/eval, group_wait 0s): ~20 s
 *   node --import tsx bench/prom-smoke.ts --default      # built-in defaults (1m/1m/30s): ~3-4 min
 *   node --import tsx bench/prom-smoke.ts --both --samples 10
 *   node --import tsx bench/prom-smoke.ts --usage 50 [--seconds 60]   # RSS/CPU watching 50 targets (tuned)
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startSmtpSink, startWebhookSink } from './lib/alert-sinks.js';
import { repoRoot } from './lib/proc.js';
import { measureReferenceLatency, measureReferenceUsage, p99, type FailureTarget, type ReferenceUsage } from './lib/reference-latency.js';

const argv = process.argv.slice(2);
const args = new Set(argv);
const samples = Number(argv[argv.indexOf('--samples') + 1]) || 1;
const configs = args.has('--both') ? [true, false] : [!args.has('--default')];
const usageTargets = args.has('--usage') ? Number(argv[argv.indexOf('--usage') + 1]) || 50 : 0;
const usageSeconds = args.has('--seconds') ? Number(argv[argv.indexOf('--seconds') + 1]) || 60 : 60;

const results: Array<Record<string, unknown>> = [];
if (usageTargets > 0) results.push({ ...(await usage(usageTargets, usageSeconds)) });
else {
  for (const tuned of configs) {
    const r = await measure(tuned);
    console.log(JSON.stringify(r, null, 1));
    results.push(r);
  }
}
const out = path.join(repoRoot, 'bench/results', `${usageTargets > 0 ? 'prom-usage' : 'prom-smoke'}-${new Date().toISOString().slice(0, 10)}.json`);
fs.writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), host: `${os.cpus().length} × ${os.cpus()[0]?.model}`, results }, null, 1)}\n`);
process.stderr.write(`wrote ${path.relative(repoRoot, out)}\n`);

async function measure(tuned: boolean): Promise<Record<string, unknown>> {
  const webhook = await startWebhookSink();
  const smtp = await startSmtpSink();
  const targets: FailureTarget[] = [];
  for (let i = 0; i < samples; i++) targets.push(await metricsServer());
  try {
    let rss: Record<string, number> = {};
    const result = await measureReferenceLatency({
      targets,
      webhook,
      smtp,
      tuned,
      onReady: (ref) => {
        const u = ref.usage();
        rss = { prometheus: mb(u.prometheus.rssBytes), alertmanager: mb(u.alertmanager.rssBytes) };
        process.stderr.write(`${ref.label}: all ${samples} target(s) scraped; failing them…\n`);
      },
    });
    return {
      reference: result.label,
      samples: result.samples.map(({ instance, webhookMs, mailMs }) => ({ instance, webhookMs, mailMs })),
      httpFailureToWebhookP99Ms: p99(result.samples.map((s) => s.webhookMs)),
      httpFailureToMailP99Ms: p99(result.samples.map((s) => s.mailMs)),
      rssMb: rss,
    };
  } finally {
    await webhook.close();
    await smtp.close();
  }
}

async function usage(n: number, seconds: number): Promise<ReferenceUsage> {
  const webhook = await startWebhookSink();
  const smtp = await startSmtpSink();
  const targets: FailureTarget[] = [];
  for (let i = 0; i < n; i++) targets.push(await metricsServer());
  try {
    const r = await measureReferenceUsage({ targetUrls: targets.map((t) => t.url), webhookUrl: webhook.url, smtp, tuned: true, durationMs: seconds * 1000 });
    console.log(JSON.stringify(r));
    return r;
  } finally {
    for (const t of targets) await t.fail();
    await webhook.close();
    await smtp.close();
  }
}

/** A target serving the Prometheus text format until `fail()` closes it (connections refused). */
async function metricsServer(): Promise<FailureTarget> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('bench_alive 1\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    async fail() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function mb(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
