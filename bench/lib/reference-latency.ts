/**
 * Failure → notification latency through Prometheus + Alertmanager, several samples in one run:
 * one scrape target per sample, all watched by one Prometheus; each target is failed at a random
 * moment inside one scrape interval (so the samples cover every phase of the scrape and evaluation
 * cycles instead of one), and its alert is recognised at the sinks by its `instance` label. With
 * the default 1m intervals this keeps ten samples to one run of about five minutes.
 */
import type { SmtpSink, WebhookSink } from './alert-sinks.js';
import { type PrometheusReference, startPrometheusReference } from './prometheus-reference.js';

export interface FailureTarget {
  /** Scrape URL; must serve the Prometheus text format while healthy. */
  readonly url: string;
  /** Makes the target fail (stop the server, kill the container); resolves when it has. */
  fail(): Promise<void>;
}

export interface LatencySample {
  readonly instance: string;
  readonly failedAt: number;
  readonly webhookMs: number | null;
  readonly mailMs: number | null;
}

export interface ReferenceLatencyOptions {
  readonly targets: readonly FailureTarget[];
  readonly webhook: WebhookSink;
  readonly smtp: SmtpSink;
  readonly tuned: boolean;
  /** Per sample, after its failure; default 5 min. */
  readonly timeoutMs?: number;
  readonly random?: () => number;
  /** Called with the running reference (e.g. to sample its RSS) before the failures start. */
  readonly onReady?: (ref: PrometheusReference) => Promise<void> | void;
}

export async function measureReferenceLatency(opts: ReferenceLatencyOptions): Promise<{ label: string; samples: LatencySample[] }> {
  const ref = await startPrometheusReference({
    target: opts.targets.map((t) => t.url),
    webhookUrl: opts.webhook.url,
    smtp: opts.smtp,
    tuned: opts.tuned,
  });
  try {
    await ref.waitHealthy();
    await opts.onReady?.(ref);
    const spreadMs = seconds(ref.intervals.scrapeInterval) * 1000;
    const random = opts.random ?? Math.random;
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const samples = await Promise.all(
      opts.targets.map(async (target) => {
        const instance = new URL(target.url).host;
        await new Promise((r) => setTimeout(r, Math.floor(random() * spreadMs)));
        await target.fail();
        const failedAt = Date.now();
        const [hook, mail] = await Promise.all([
          opts.webhook
            .next(failedAt, (b) => b.status === 'firing' && alertInstances(b).includes(instance), timeoutMs)
            .then((a) => a.t - failedAt, () => null),
          opts.smtp.next(failedAt, (m) => /FIRING/.test(m.subject) && m.subject.includes(instance), timeoutMs).then((a) => a.t - failedAt, () => null),
        ]);
        return { instance, failedAt, webhookMs: hook, mailMs: mail };
      }),
    );
    return { label: ref.label, samples };
  } finally {
    await ref.stop();
  }
}

/** Alertmanager webhook body → the `instance` label of each alert in it. */
function alertInstances(body: Record<string, unknown>): string[] {
  const alerts = Array.isArray(body.alerts) ? (body.alerts as Array<{ labels?: { instance?: string } }>) : [];
  return alerts.map((a) => a.labels?.instance ?? '');
}

function seconds(d: string): number {
  const m = /^(\d+)(s|m)$/.exec(d);
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : 5;
}

export function p99(values: ReadonlyArray<number | null>): number | null {
  const xs = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (xs.length === 0 || xs.length < values.length) return null; // a missing notification has no finite percentile
  return xs[Math.min(xs.length - 1, Math.ceil(0.99 * xs.length) - 1)]!;
}

export interface ReferenceUsage {
  readonly label: string;
  readonly targets: number;
  readonly durationS: number;
  /** RSS at the end of the window, MB. */
  readonly rssMb: { readonly prometheus: number; readonly alertmanager: number; readonly total: number };
  /** CPU over the window, % of one core. */
  readonly cpuPercent: { readonly prometheus: number; readonly alertmanager: number; readonly total: number };
}

/** Resident memory and CPU of Prometheus + Alertmanager watching `targetUrls`, over `durationMs` once all are up. */
export async function measureReferenceUsage(opts: {
  readonly targetUrls: readonly string[];
  readonly webhookUrl: string;
  readonly smtp: { readonly host: string; readonly port: number };
  readonly tuned: boolean;
  readonly durationMs: number;
}): Promise<ReferenceUsage> {
  const ref = await startPrometheusReference({ target: opts.targetUrls, webhookUrl: opts.webhookUrl, smtp: opts.smtp, tuned: opts.tuned });
  try {
    await ref.waitHealthy();
    const a = ref.usage();
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, opts.durationMs));
    const b = ref.usage();
    const s = (Date.now() - t0) / 1000;
    const cpu = (k: 'prometheus' | 'alertmanager') => round1(((b[k].cpuSeconds - a[k].cpuSeconds) / s) * 100);
    const rss = (k: 'prometheus' | 'alertmanager') => round1(b[k].rssBytes / 1048576);
    return {
      label: ref.label,
      targets: opts.targetUrls.length,
      durationS: Math.round(s),
      rssMb: { prometheus: rss('prometheus'), alertmanager: rss('alertmanager'), total: round1(rss('prometheus') + rss('alertmanager')) },
      cpuPercent: { prometheus: cpu('prometheus'), alertmanager: cpu('alertmanager'), total: round1(cpu('prometheus') + cpu('alertmanager')) },
    };
  } finally {
    await ref.stop();
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
