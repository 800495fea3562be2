export type Severity = 'critical' | 'warning' | 'info';
export interface Notification {
  readonly dedupKey: string;            // incident/group key; same key+status is delivered once per channel
  readonly status: 'firing' | 'resolved';
  readonly severity: Severity;
  readonly title: string;               // one line, e.g. "[FIRING] web: container died"
  readonly summary: string;             // what failed, since when
  readonly details: ReadonlyArray<{ readonly label: string; readonly value: string }>; // last probe output…
  readonly logLines?: readonly string[];
  readonly runbook?: string;            // URL or text
  readonly labels: Readonly<Record<string, string>>; // project, service, rule, severity…
  readonly startsAtMs: number;
  readonly endsAtMs?: number;
}
export interface Notifier { notify(n: Notification): void }  // durable: a synchronous SQLite insert
