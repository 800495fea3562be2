/**
 * The notification contract between the monitor (producer) and the notify layer (delivery).
 * Shared with other helpers: see /work/prompts/contracts.md; keep the shape.
 */
export type Severity = 'critical' | 'warning' | 'info';

export interface Notification {
  /**
   * Incident/group key; same key+status is delivered once per channel. An incident episode is
   * (dedupKey, startsAtMs): calling `notify()` again for the same episode and status is a no-op
   * (unless berth.yaml `notify.repeat` is set and has passed since the delivery: then it is sent again);
   * a new episode of the same key (a new `startsAtMs`) is a new notification.
   */
  readonly dedupKey: string;
  readonly status: 'firing' | 'resolved';
  readonly severity: Severity;
  readonly title: string; // one line, e.g. "[FIRING] web: container died"
  readonly summary: string; // what failed, since when
  readonly details: ReadonlyArray<{ readonly label: string; readonly value: string }>; // last probe output…
  readonly logLines?: readonly string[];
  readonly runbook?: string; // URL or text
  readonly labels: Readonly<Record<string, string>>; // project, service, rule, severity…
  readonly startsAtMs: number;
  readonly endsAtMs?: number;
}

/** Durable: `notify()` is a synchronous SQLite insert into the outbox; delivery happens later. */
export interface Notifier {
  notify(n: Notification): void;
}
