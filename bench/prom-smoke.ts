/**
 * Self-test of the Prometheus + Alertmanager reference (bench/lib/prometheus-reference.ts):
 * one HTTP target stops answering; measures failure → webhook and failure → e-mail through the
 * real Debian daemons. Prints one JSON line per configuration.
 *
 *   node --import tsx bench/prom-smoke.ts            # tuned (5 s scrape/eval, group_wait 0s): ~15 s
 *   node --import tsx bench/prom-smoke.ts --default  # built-in defaults (1m/1m/30s): up to ~3 min
 *   node --import tsx bench/prom-smoke.ts --both
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSmtpSink, startWebhookSink } from './lib/alert-sinks.js';
import { startPrometheusReference } from './lib/prometheus-reference.js';

const args = new Set(process.argv.slice(2));
const configs = args.has('--both') ? [true, false] : [!args.has('--default')];

for (const tuned of configs) console.log(JSON.stringify(await measure(tuned)));

async function measure(tuned: boolean): Promise<Record<string, unknown>> {
  const target = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('bench_alive 1\n'));
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', () => resolve()));
  const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/metrics`;
  const webhook = await startWebhookSink();
  const smtp = await startSmtpSink();
  const ref = await startPrometheusReference({ target: targetUrl, webhookUrl: webhook.url, smtp, tuned });
  try {
    process.stderr.write(`${ref.label}: waiting for the first successful scrape…\n`);
    await ref.waitHealthy();
    const t0 = Date.now();
    target.closeAllConnections();
    await new Promise<void>((resolve) => target.close(() => resolve()));
    process.stderr.write('target stopped answering; waiting for the alert…\n');
    const timeout = tuned ? 60_000 : 300_000;
    const [hook, mail] = await Promise.all([
      webhook.next(t0, (b) => b.status === 'firing', timeout),
      smtp.next(t0, (m) => /FIRING/i.test(m.subject), timeout),
    ]);
    const usage = ref.usage();
    return {
      reference: ref.label,
      intervals: ref.intervals,
      httpFailureToWebhookMs: hook.t - t0,
      httpFailureToMailMs: mail.t - t0,
      mailSubject: mail.value.subject,
      rssMb: { prometheus: mb(usage.prometheus.rssBytes), alertmanager: mb(usage.alertmanager.rssBytes) },
    };
  } finally {
    await ref.stop();
    await webhook.close();
    await smtp.close();
  }
}

function mb(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
