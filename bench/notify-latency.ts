/**
 * berth's delivery path alone: `notify()` (the SQLite outbox insert) → accepted by a real webhook
 * receiver and by a real SMTP sink, N times. The lead's `bench:alert` adds detection on top.
 *
 *   node --import tsx bench/notify-latency.ts [--samples 10]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNotifications } from '../src/notify/service.js';
import type { NotifyConfig } from '../src/project/notify-schema.js';
import { notifyDefaults, secretUrl } from '../src/project/notify-schema.js';
import { openStore } from '../src/store/db.js';
import { startSmtpSink, startWebhookSink } from './lib/alert-sinks.js';
import { p99 } from './lib/reference-latency.js';

const argv = process.argv.slice(2);
const samples = Number(argv[argv.indexOf('--samples') + 1]) || 10;
const webhook = await startWebhookSink();
const smtp = await startSmtpSink();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-notify-bench-'));
const store = openStore(dir);
const config: NotifyConfig = {
  channels: {
    hook: { type: 'webhook', name: 'hook', url: secretUrl(webhook.url), format: 'json', timeoutMs: 5000, headers: {} },
    mail: { type: 'smtp', name: 'mail', host: smtp.host, port: smtp.port, tls: 'none', from: 'berth@example.com', to: ['ops@example.com'], timeoutMs: 5000 },
  },
  routes: [{ match: {}, channels: ['hook', 'mail'], fallback: [] }],
  repeatMs: 0,
  retry: notifyDefaults.retry,
};
const running = startNotifications({ db: store.db, project: 'bench', config });
const hookMs: number[] = [];
const mailMs: number[] = [];
try {
  for (let i = 0; i < samples; i++) {
    const key = `bench-${i}`;
    const t0 = Date.now();
    running.notifier.notify({
      dedupKey: key, status: 'firing', severity: 'critical', title: `[FIRING] ${key}`, summary: 'bench', details: [], labels: { project: 'bench' }, startsAtMs: t0,
    });
    const [h, m] = await Promise.all([
      webhook.next(t0, (b) => b.dedupKey === key, 10_000),
      smtp.next(t0, (x) => x.subject.includes(key), 10_000),
    ]);
    hookMs.push(h.t - t0);
    mailMs.push(m.t - t0);
  }
} finally {
  await running.stop();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  await webhook.close();
  await smtp.close();
}
console.log(JSON.stringify({ samples, notifyToWebhookMs: hookMs, notifyToMailMs: mailMs, webhookP99Ms: p99(hookMs), mailP99Ms: p99(mailMs) }));
